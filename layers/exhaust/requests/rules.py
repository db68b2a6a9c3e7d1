"""Submit and search validation, and the deterministic requestId. Pure functions: no AWS, no clock reads.

The bodies are pydantic models (exhaust.validation) that validate and are the OpenAPI document's schemas; the
dataset's own rules (its registration, its JSON schema, the open-request limits) are checked after, against the
registry (`check_against_dataset`, exhaust.requests.service).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, ConfigDict, Field, StrictBool, ValidationInfo, field_validator, model_validator

from exhaust.cross_field import AllOf, AnyOf, ExactlyOne, Given, Matches, Not, Present, Rule, Within
from exhaust.datasets.ids import ORG_SCOPED_DATASETS
from exhaust.datasets.registry import BUILT_IN, Dataset
from exhaust.errors import BadRequest
from exhaust.identifiers import IDENTIFIER_RULE, any_case, any_case_of
from exhaust.requests.models import Status
from exhaust.validation import IDENTIFIER_PATTERN, NOT_BLANK, Body, RequestParams, is_text, parse, refused

SELECTORS = ("batchId", "batchFilter", "searchFilter")
MIN_KEY_LENGTH = 8
# KMS Encrypt takes at most 4096 bytes of plaintext (AWS KMS API reference, Encrypt: Plaintext); 256 characters of
# UTF-8 stay far below it and above any zip password a person types.
MAX_KEY_LENGTH = 256
# Stripe's limit, and far inside DynamoDB's 2048-byte partition key (the record key adds channel and credential).
MAX_IDEMPOTENCY_KEY_LENGTH = 255
MAX_USER_ID_LENGTH = 256
MAX_URL_LENGTH = 2048
# The two places a submit may carry the zip password; a field elsewhere whose name holds one of the words is a 400.
SECRET_PLACES = frozenset({"request.encryptionKey", "encryptionKey"})
SECRET_NAME_WORDS = ("password", "passwd", "passphrase", "secret", "encryptionkey", "apikey", "privatekey", "token")
MAX_SEARCH_LIMIT = 49  # seed 002: "limit should be less than 50"
SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT = 20, 1000
SEARCH_FILTERS = ("dataset", "channel", "status", "requestedDate")
# Seed 002 makes encryptionKey mandatory for the on-demand datasets the service defines (a registered dataset says
# its own): the document names them.
KEY_REQUIRED_DATASETS = tuple(d.datasetId for d in BUILT_IN if d.type == "on-demand" and d.encryptionKeyRequired)
# Tags and dataset ids may come with spaces around them (they are trimmed); inside, the identifier rule.
TRIMMED_IDENTIFIER = rf"^\s*{IDENTIFIER_PATTERN[1:-1]}\s*$"
# An empty key is no key; any other is 8 to 256 characters.
KEY_PATTERN = rf"^$|^[\s\S]{{{MIN_KEY_LENGTH},}}$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def _text_or(rule: str, empty: str) -> Any:
    return lambda value: rule if is_text(value) else empty


def _dedupe(values: list[str]) -> list[str]:
    return list(dict.fromkeys(value.strip() for value in values))


BatchIds = Annotated[list[Annotated[str, Field(pattern=NOT_BLANK)]], Field(min_length=1), AfterValidator(_dedupe)]


# -- submit ----------------------------------------------------------------------------------------------------
class SearchCriteriaFilters(Body):
    contentType: Annotated[Literal["Course"], refused('must be "Course"')]
    channel: Annotated[str, Field(pattern=NOT_BLANK), refused("must be a channel id string")]
    identifier: Annotated[
        list[Annotated[str, Field(pattern=NOT_BLANK)]] | None,
        Field(min_length=1, description="Collection ids; without them, the limit-based search (one open at a time)"),
        refused("must be an array of collection ids"),
    ] = None


class SearchCriteriaRequest(Body):
    filters: SearchCriteriaFilters
    limit: Annotated[
        int | None,
        Field(strict=True, ge=1, le=MAX_SEARCH_LIMIT),
        refused(f"must be an integer from 1 to {MAX_SEARCH_LIMIT}"),
    ] = None


class SearchCriteria(Body):
    """Seed 002's searchFilter: the collections of a channel, by id or the first `limit` of them."""

    request: SearchCriteriaRequest

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        request = data.get("request") if isinstance(data, dict) else None
        if not isinstance(request, dict) or not isinstance(request.get("filters"), dict):
            raise ValueError('must be {"request": {"filters": {...}, "limit": N}}')
        return data


class DatasetConfig(Body):
    """One of batchId, batchFilter or searchFilter (none for org-pii-exhaust); other keys are kept for the dataset."""

    batchId: Annotated[str | None, Field(pattern=NOT_BLANK), refused("must be a batch id string")] = None
    batchFilter: Annotated[BatchIds | None, refused("must be an array of batch ids")] = None
    searchFilter: SearchCriteria | None = None
    # Opt-in: Excel reads a CSV without a byte-order mark in the machine's code page, so Hindi or Tamil names open
    # garbled. Off by default: the seeds' files stay byte for byte as they are.
    csvBom: Annotated[
        StrictBool | None,
        Field(description="true: each CSV starts with a UTF-8 byte-order mark, for Excel (default false)"),
        refused("must be true or false"),
    ] = None


# The cross-field rules of a submit, each declared once (exhaust.cross_field): the models check them and the
# document states them (its if/then/else) from the same declaration.
SELECTOR_PRESENT = tuple(Present((name,)) for name in SELECTORS)
# A selector sent as null is no selector (the model reads it as absent).
SELECTOR_GIVEN = tuple(Given((name,)) for name in SELECTORS)
# An org-scoped dataset takes no batch selector, not even a null one; any other takes exactly one.
BATCH_SELECTION = Rule(
    when=Matches(("dataset",), sorted(ORG_SCOPED_DATASETS)),
    then=Not(Within(("datasetConfig",), AnyOf(SELECTOR_PRESENT))),
    otherwise=Within(("datasetConfig",), ExactlyOne(SELECTOR_GIVEN)),
)
# An empty key is no key; request's own key wins when it is there (even empty), the one beside it otherwise.
KEY_GIVEN = AnyOf(
    (
        Given(("request", "encryptionKey"), blank=(None, "")),
        AllOf((Not(Present(("request", "encryptionKey"))), Given(("encryptionKey",), blank=(None, "")))),
    )
)
# The document's form of the registry's encryptionKeyRequired for the datasets the service defines; the code asks
# the registry (check_against_dataset), where a dataset may be registered with its own answer.
KEY_REQUIRED = Rule(when=Matches(("request", "dataset"), KEY_REQUIRED_DATASETS), then=KEY_GIVEN)


def _batch_selection_rules(schema: dict[str, Any]) -> None:
    schema["allOf"] = [BATCH_SELECTION.schema()]


def _key_message(value: Any) -> str:
    if not isinstance(value, str):
        return "must be a string"
    if len(value) > MAX_KEY_LENGTH:
        return f"must be at most {MAX_KEY_LENGTH} characters"
    return f"must be at least {MIN_KEY_LENGTH} characters"


EncryptionKey = Annotated[
    str | None,
    Field(
        pattern=KEY_PATTERN,
        max_length=MAX_KEY_LENGTH,
        description="Password of the AES-256 zips (stored encrypted with KMS, never shown); required for "
        + ", ".join(KEY_REQUIRED_DATASETS),
    ),
    refused(_key_message),
    AfterValidator(lambda key: key or None),
]


def callback_url_problem(callback: str) -> str | None:
    """What is wrong with a callbackUrl that is a string of printable ASCII, or None."""
    try:
        parts = urlsplit(callback)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "must be an https:// URL"
    if parts.scheme != "https" or not parts.hostname:
        return "must be an https:// URL"
    if "@" in parts.netloc:
        return (
            "must not carry credentials (user:password@): they would be stored and shown; "
            "check the X-Exhaust-Signature header instead"
        )
    return None


def _checked_callback(callback: str | None) -> str | None:
    problem = None if callback is None else callback_url_problem(callback)
    if problem:
        raise ValueError(problem)
    return callback


def _callback_message(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH or not _printable_ascii(value):
        return f"must be an https:// URL of at most {MAX_URL_LENGTH} printable ASCII characters"
    return "must be an https:// URL"


CallbackUrl = Annotated[
    str | None,
    Field(
        max_length=MAX_URL_LENGTH,
        # The scheme in any case (urlsplit lowers it), then printable ASCII.
        pattern=f"^{any_case('https')}://" + r"[\x20-\x7e]+$",
        json_schema_extra={"format": "uri"},
        description="https URL POSTed (HMAC signed) when the request ends",
    ),
    refused(_callback_message),
    AfterValidator(_checked_callback),
]


class SubmitRequest(Body):
    model_config = ConfigDict(json_schema_extra=_batch_selection_rules)

    tag: Annotated[
        str,
        Field(pattern=TRIMMED_IDENTIFIER, description="Your name for the request (trimmed)", examples=["c1-2026"]),
        refused(_text_or(IDENTIFIER_RULE, "tag is empty (must be a non-empty string)")),
        AfterValidator(str.strip),
    ]
    dataset: Annotated[
        str,
        Field(pattern=TRIMMED_IDENTIFIER, examples=["progress-exhaust"]),
        refused(_text_or(IDENTIFIER_RULE, "dataset is empty (must be a dataset id such as progress-exhaust)")),
        AfterValidator(str.strip),
    ]
    datasetConfig: DatasetConfig | None = Field(default=None, validate_default=True)
    encryptionKey: EncryptionKey = None
    callbackUrl: CallbackUrl = None

    @field_validator("datasetConfig", mode="before")
    @classmethod
    def _selection(cls, config: Any, info: ValidationInfo) -> Any:
        """BATCH_SELECTION, answered in the service's words (over the dataset as validated: trimmed)."""
        dataset = info.data.get("dataset")
        request = {"dataset": dataset, "datasetConfig": config}
        if BATCH_SELECTION.when.holds(request):
            if config is None:
                return {}
            if not isinstance(config, dict):
                raise ValueError("must be an object ({} is enough)")
            if not BATCH_SELECTION.holds(request):
                sent = [name for name, test in zip(SELECTORS, SELECTOR_PRESENT, strict=True) if test.holds(config)]
                raise BadRequest(
                    f"request.datasetConfig.{sent[0]}: {dataset} takes no batch selector; its scope is the "
                    "organisation of X-Channel-Id (send datasetConfig {})"
                )
            return config
        if not BATCH_SELECTION.holds(request):
            if not isinstance(config, dict) or not config:
                raise ValueError(
                    "datasetConfig is empty (must be an object with one of batchId, batchFilter or searchFilter)"
                )
            given = [name for name, test in zip(SELECTORS, SELECTOR_GIVEN, strict=True) if test.holds(config)]
            raise ValueError(
                "must have exactly one of batchId, batchFilter or searchFilter"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return config


def _secret_name(name: str) -> bool:
    folded = "".join(character for character in name.lower() if character.isalnum())
    return any(word in folded for word in SECRET_NAME_WORDS)


def refuse_misplaced_secrets(body: dict[str, Any]) -> None:
    """A 400 for a secret anywhere but request.encryptionKey (or encryptionKey beside `request`, seed 002).

    Everything else of the body is stored as it came and shown by read, list and search; only those two places
    are encrypted with KMS and never shown. Moving a misplaced key there silently would guess at intent.
    """
    pending: list[tuple[Any, str]] = [(body, "")]
    while pending:
        value, where = pending.pop()
        if isinstance(value, dict):
            for name, item in value.items():
                path = f"{where}.{name}" if where else str(name)
                if path in SECRET_PLACES:
                    continue
                if _secret_name(str(name)):
                    raise BadRequest(
                        f"{path}: looks like a secret; the only place for the zip password is request.encryptionKey "
                        "(stored encrypted, never shown): anything else would be stored and shown as it is"
                    )
                pending.append((item, path))
        elif isinstance(value, list):
            pending.extend((item, f"{where}[{index}]") for index, item in enumerate(value))


# Seed 002's sample submit, as the document's example.
SUBMIT_EXAMPLE = {
    "params": {"msgid": "4f04da60-1e24-4d31-aa7b-1daf91c46341"},
    "request": {
        "tag": "0131091142547947521011112020",
        "dataset": "progress-exhaust",
        "datasetConfig": {"batchFilter": ["01310911425479475210", "batch2"]},
        "encryptionKey": "uKW)Afn9D5",
    },
}


def _submit_schema(schema: dict[str, Any]) -> None:
    schema["allOf"] = [KEY_REQUIRED.schema()]
    schema["examples"] = [SUBMIT_EXAMPLE]


class SubmitBody(Body):
    model_config = ConfigDict(json_schema_extra=_submit_schema)

    params: RequestParams | None = None
    request: SubmitRequest
    encryptionKey: EncryptionKey = Field(default=None, description="Seed 002's place: beside request (request's wins)")

    @model_validator(mode="before")
    @classmethod
    def _request_secrets_and_key_place(cls, body: Any) -> Any:
        if not isinstance(body, dict):
            return body
        request = body.get("request")
        if not isinstance(request, dict) or not request:
            # At this level: a refusal wrapping `request` would also replace the messages of its fields.
            raise ValueError("request: must be an object with tag, dataset and datasetConfig")
        refuse_misplaced_secrets(body)
        # Seed 002's searchFilter sample puts encryptionKey beside `request` instead of inside it; both are taken.
        if "encryptionKey" not in request and "encryptionKey" in body:
            return {**body, "request": {**request, "encryptionKey": body["encryptionKey"]}}
        return body


@dataclass(frozen=True)
class SubmitInput:
    tag: str
    dataset: str
    dataset_config: dict[str, Any]
    encryption_key: str | None
    callback_url: str | None

    @classmethod
    def of(cls, body: SubmitBody) -> SubmitInput:
        """The fields of `request` every dataset needs."""
        request = body.request
        config = request.datasetConfig.model_dump(exclude_unset=True) if request.datasetConfig else {}
        return cls(request.tag, request.dataset, config, request.encryptionKey, request.callbackUrl)


def parse_submit(body: dict[str, Any]) -> SubmitInput:
    """The fields of `request` every dataset needs; messages name the field and the rule."""
    return SubmitInput.of(parse(SubmitBody, body))


# -- search ----------------------------------------------------------------------------------------------------
def _filter_message(rule: str) -> Any:
    return _text_or(rule, "must be a non-empty string")


def _date_message(value: Any) -> str:
    return f"'{value}' is not a date in the form yyyy-mm-dd" if is_text(value) else "must be a non-empty string"


def _real_date(text: str) -> str:
    date.fromisoformat(text)  # a ValueError (2021-02-30) is answered by the field's refusal
    return text


def _statuses_first(schema: dict[str, Any]) -> None:
    """The statuses as an enum before the any-case pattern they are checked by: what clients pick from."""
    schema["anyOf"].insert(0, {"type": "string", "enum": list(Status.__members__)})


SearchIdentifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN), refused(_filter_message(IDENTIFIER_RULE))]


class SearchFilters(Body):
    """At least one of the filters; any other key is refused (a typo must not widen the search)."""

    dataset: SearchIdentifier | None = None
    channel: SearchIdentifier | None = Field(default=None, description="Your channel (admins: any)")
    status: Annotated[
        str | None,
        Field(
            pattern=any_case_of(tuple(Status.__members__)),
            description="A status, in any letter case",
            json_schema_extra=_statuses_first,
        ),
        refused(_filter_message(f"must be one of {', '.join(Status.__members__)}")),
        AfterValidator(lambda status: status and status.upper()),
    ] = None
    requestedDate: Annotated[
        str | None,
        Field(pattern=DATE_PATTERN, json_schema_extra={"format": "date"}, description="UTC day of submission"),
        AfterValidator(lambda day: day and _real_date(day)),
        refused(_date_message),
    ] = None

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    @model_validator(mode="before")
    @classmethod
    def _known_filters(cls, filters: Any) -> Any:
        if not isinstance(filters, dict) or not filters:
            raise BadRequest("Filters are empty")
        if not set(filters) & set(SEARCH_FILTERS):
            raise BadRequest(f"Unsupported filters: use one or more of {', '.join(SEARCH_FILTERS)}")
        unknown = sorted(set(filters) - set(SEARCH_FILTERS))
        if unknown:
            raise BadRequest(f"Unsupported filters: {', '.join(unknown)}")
        return filters


class SearchRequest(Body):
    filters: SearchFilters
    limit: Annotated[
        int,
        Field(strict=True, ge=1, le=SEARCH_MAX_LIMIT),
        refused(f"must be an integer from 1 to {SEARCH_MAX_LIMIT}"),
    ] = SEARCH_DEFAULT_LIMIT
    cursor: Annotated[
        str | None,
        Field(description="A previous answer's nextCursor: the next page"),
        refused("must be the nextCursor string of a previous answer"),
    ] = None


class SearchBody(Body):
    # Seed 004's sample search, as the document's example.
    model_config = ConfigDict(json_schema_extra={"examples": [{"request": {
        "filters": {"dataset": "progress-exhaust", "status": "SUBMITTED"}, "limit": 50}}]})  # fmt: skip

    params: RequestParams | None = None
    request: Annotated[SearchRequest, Field(description="The filters, and the page")]

    @model_validator(mode="before")
    @classmethod
    def _request(cls, body: Any) -> Any:
        if isinstance(body, dict) and not isinstance(body.get("request"), dict):
            raise ValueError("request: must be an object with filters")
        if isinstance(body, dict) and "filters" not in body["request"]:
            raise BadRequest("Filters are empty")
        return body


def parse_search(body: dict[str, Any]) -> SearchRequest:
    return parse(SearchBody, body).request


IdempotencyKey = Annotated[
    str,
    # Empty is no key (an empty header is no header).
    Field(max_length=MAX_IDEMPOTENCY_KEY_LENGTH, pattern=r"^[\x20-\x7e]*$"),
    refused(
        lambda key: (
            f"must be at most {MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters, got {len(key)} characters"
        )
    ),
]


def _printable_ascii(value: str) -> bool:
    return value.isascii() and value.isprintable()


def check_user_id(user_id: str) -> str:
    if len(user_id) > MAX_USER_ID_LENGTH or not user_id.isprintable():
        raise BadRequest(f"X-Authenticated-Userid: must be at most {MAX_USER_ID_LENGTH} printable characters")
    return user_id


def is_limit_search(dataset_config: dict[str, Any]) -> bool:
    """A searchFilter without identifiers: seed 002 allows only one such request per dataset at a time."""
    search = dataset_config.get("searchFilter")
    if not isinstance(search, dict):
        return False
    filters = (search.get("request") or {}).get("filters") or {}
    return filters.get("identifier") is None


def check_against_dataset(submit: SubmitInput, dataset: Dataset) -> None:
    """The dataset's own rules: encryption key and its JSON schema of datasetConfig."""
    if dataset.type != "on-demand":
        raise BadRequest(f"request.dataset: {dataset.datasetId} is a {dataset.type} dataset, not an on-demand one")
    if dataset.encryptionKeyRequired and submit.encryption_key is None:
        raise BadRequest(f"request.encryptionKey: is required for {dataset.datasetId}")
    if dataset.validationJson:
        import fastjsonschema  # only submits validate: the other request handlers' cold start skips it

        try:
            fastjsonschema.validate(dataset.validationJson, submit.dataset_config)
        except fastjsonschema.JsonSchemaValueException as error:
            name = error.name or "data"
            field = name.replace("data", "request.datasetConfig", 1)
            raise BadRequest(f"{field}: {error.message.removeprefix(name + ' ')}") from None
        except fastjsonschema.JsonSchemaDefinitionException:
            raise BadRequest(f"request.dataset: the registered schema of {dataset.datasetId} is invalid") from None


def request_id(
    *,
    channel: str,
    tag: str,
    dataset: str,
    dataset_config: dict[str, Any],
    requested_by: str,
    encryption_key: str | None,
    day: date,
) -> str:
    """Same caller, tag, dataset, config, key and UTC day -> the same request; any difference -> another one.

    The key enters only as its hash, so two partners' different keys never share one encrypted output.
    """
    key_digest = hashlib.sha256(encryption_key.encode()).hexdigest() if encryption_key else ""
    canonical = json.dumps(
        {
            "channel": channel,
            "tag": tag,
            "dataset": dataset,
            "datasetConfig": dataset_config,
            "requestedBy": requested_by,
            "key": key_digest,
            "date": day.isoformat(),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32].upper()
