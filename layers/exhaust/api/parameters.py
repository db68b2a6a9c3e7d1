"""Parameter types several operations share: each says its rule once, for the validation and the document."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from exhaust.api.operation import Header, Path, Query
from exhaust.auth.checks import CHANNEL_HEADER, not_a_channel_id
from exhaust.identifiers import IDENTIFIER_RULE
from exhaust.requests.models import REQUEST_ID_PATTERN, REQUEST_ID_RULE
from exhaust.validation import IDENTIFIER_PATTERN, refused

# Every path parameter follows the identifier rule (exhaust.api.http checks it first, in these words).
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
PathIdentifier = Annotated[Identifier, Path(IDENTIFIER_RULE)]
CHANNEL_MEANING = "The channel (organisation id) you act for"
ChannelId = Annotated[str, Field(pattern=IDENTIFIER_PATTERN), refused(not_a_channel_id)]
Channel = Annotated[
    ChannelId,
    Header(CHANNEL_MEANING, CHANNEL_HEADER, missing="header is required (the channel / organisation id you act for)"),
]
# Search: admins may leave it out (all channels).
OptionalChannel = Annotated[ChannelId | None, Header(f"{CHANNEL_MEANING} (admins: optional)", CHANNEL_HEADER)]
RequestId = Annotated[
    str,
    Field(pattern=REQUEST_ID_PATTERN),
    refused(REQUEST_ID_RULE),
    Query("The submit answer's requestId", "requestId", missing="query parameter is required"),
]
DatasetId = Annotated[Identifier, Path(IDENTIFIER_RULE, "datasetId")]
