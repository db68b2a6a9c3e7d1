"""Submit validation and the deterministic requestId. Pure functions: no AWS, no clock reads."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from exhaust.datasets.ids import ORG_SCOPED_DATASETS
from exhaust.datasets.registry import Dataset
from exhaust.errors import BadRequest
from exhaust.identifiers import IDENTIFIER_RULE, is_identifier

SELECTORS = ("batchId", "batchFilter", "searchFilter")
MAX_TAG_LENGTH = 100
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


@dataclass(frozen=True)
class SubmitInput:
    tag: str
    dataset: str
    dataset_config: dict[str, Any]
    encryption_key: str | None
    callback_url: str | None


def _non_empty_string(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())


def parse_submit(body: dict[str, Any]) -> SubmitInput:
    """The fields of `request` every dataset needs; messages name the field and the rule."""
    request = body.get("request")
    if not isinstance(request, dict) or not request:
        raise BadRequest("request: must be an object with tag, dataset and datasetConfig")
    tag = request.get("tag")
    if not _non_empty_string(tag):
        raise BadRequest("request.tag: tag is empty (must be a non-empty string)")
    if not is_identifier(tag.strip()):
        raise BadRequest(f"request.tag: {IDENTIFIER_RULE}")
    dataset = request.get("dataset")
    if not _non_empty_string(dataset):
        raise BadRequest("request.dataset: dataset is empty (must be a dataset id such as progress-exhaust)")
    if not is_identifier(dataset.strip()):
        raise BadRequest(f"request.dataset: {IDENTIFIER_RULE}")
    config = request.get("datasetConfig")
    if dataset.strip() in ORG_SCOPED_DATASETS:
        config = org_scoped_config(dataset.strip(), config)
    elif not isinstance(config, dict) or not config:
        raise BadRequest(
            "request.datasetConfig: datasetConfig is empty (must be an object with one of "
            "batchId, batchFilter or searchFilter)"
        )
    # Seed 002's searchFilter sample puts encryptionKey beside `request` instead of inside it; accept both.
    key = request.get("encryptionKey", body.get("encryptionKey"))
    if key is not None and not isinstance(key, str):
        raise BadRequest("request.encryptionKey: must be a string")
    if key is not None and len(key) > MAX_KEY_LENGTH:
        raise BadRequest(f"request.encryptionKey: must be at most {MAX_KEY_LENGTH} characters")
    refuse_misplaced_secrets(body)
    callback = request.get("callbackUrl")
    if callback is not None:
        check_callback_url(callback)
    normalized = config if dataset.strip() in ORG_SCOPED_DATASETS else normalize_config(config)
    return SubmitInput(tag.strip(), dataset.strip(), normalized, key or None, callback)


def org_scoped_config(dataset: str, config: Any) -> dict[str, Any]:
    """An org-scoped dataset's datasetConfig: absent or an object, without a batch selector (the org is the scope)."""
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise BadRequest("request.datasetConfig: must be an object ({} is enough)")
    selectors = [name for name in SELECTORS if name in config]
    if selectors:
        raise BadRequest(
            f"request.datasetConfig.{selectors[0]}: {dataset} takes no batch selector; its scope is the "
            "organisation of X-Channel-Id (send datasetConfig {})"
        )
    return dict(config)


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


def check_callback_url(callback: Any) -> None:
    where = "request.callbackUrl"
    if not isinstance(callback, str) or len(callback) > MAX_URL_LENGTH or not _printable_ascii(callback):
        raise BadRequest(f"{where}: must be an https:// URL of at most {MAX_URL_LENGTH} printable ASCII characters")
    try:
        parts = urlsplit(callback)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise BadRequest(f"{where}: must be an https:// URL") from None
    if parts.scheme != "https" or not parts.hostname:
        raise BadRequest(f"{where}: must be an https:// URL")
    if "@" in parts.netloc:
        raise BadRequest(
            f"{where}: must not carry credentials (user:password@): they would be stored and shown; "
            "check the X-Exhaust-Signature header instead"
        )


def _printable_ascii(value: str) -> bool:
    return value.isascii() and value.isprintable()


def check_idempotency_key(key: str) -> str:
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not _printable_ascii(key):
        raise BadRequest(
            f"Idempotency-Key: must be at most {MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters, "
            f"got {len(key)} characters"
        )
    return key


def check_user_id(user_id: str) -> str:
    if len(user_id) > MAX_USER_ID_LENGTH or not user_id.isprintable():
        raise BadRequest(f"X-Authenticated-Userid: must be at most {MAX_USER_ID_LENGTH} printable characters")
    return user_id


def normalize_config(config: dict[str, Any]) -> dict[str, Any]:
    """Check the batch selector (exactly one of batchId, batchFilter, searchFilter) and deduplicate batchFilter."""
    present = [name for name in SELECTORS if config.get(name) is not None]
    if len(present) != 1:
        raise BadRequest(
            "request.datasetConfig: must have exactly one of batchId, batchFilter or searchFilter"
            + (f" (got {', '.join(present)})" if present else "")
        )
    normalized = dict(config)
    selector = present[0]
    value = config[selector]
    if selector == "batchId" and not _non_empty_string(value):
        raise BadRequest("request.datasetConfig.batchId: must be a batch id string")
    if selector == "batchFilter":
        if not isinstance(value, list) or not value or not all(_non_empty_string(item) for item in value):
            raise BadRequest("request.datasetConfig.batchFilter: must be an array of batch ids")
        normalized["batchFilter"] = list(dict.fromkeys(item.strip() for item in value))
    if selector == "searchFilter":
        _check_search_filter(value)
    return normalized


def _check_search_filter(value: Any) -> None:
    where = "request.datasetConfig.searchFilter"
    request = value.get("request") if isinstance(value, dict) else None
    filters = request.get("filters") if isinstance(request, dict) else None
    if not isinstance(request, dict) or not isinstance(filters, dict):
        raise BadRequest(f'{where}: must be {{"request": {{"filters": {{...}}, "limit": N}}}}')
    if filters.get("contentType") != "Course":
        raise BadRequest(f'{where}.request.filters.contentType: must be "Course"')
    if not _non_empty_string(filters.get("channel")):
        raise BadRequest(f"{where}.request.filters.channel: must be a channel id string")
    identifiers = filters.get("identifier")
    if identifiers is not None and (
        not isinstance(identifiers, list) or not identifiers or not all(_non_empty_string(i) for i in identifiers)
    ):
        raise BadRequest(f"{where}.request.filters.identifier: must be an array of collection ids")
    limit = request.get("limit")
    if limit is not None and (
        not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_SEARCH_LIMIT
    ):
        raise BadRequest(f"{where}.request.limit: must be an integer from 1 to {MAX_SEARCH_LIMIT}")


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
    if submit.encryption_key is not None and len(submit.encryption_key) < MIN_KEY_LENGTH:
        raise BadRequest(f"request.encryptionKey: must be at least {MIN_KEY_LENGTH} characters")
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
