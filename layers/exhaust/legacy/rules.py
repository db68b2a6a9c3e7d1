"""The legacy API's request rules, as pure functions: body shape, date defaults and limits (seed 000)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from exhaust.legacy.errors import DateRangeTooLarge, InvalidData, InvalidDate

# The seed: "Maximum one month's (31 days) data could be downloaded in one API call".
MAX_RANGE_DAYS = 31
MAX_BODY_BYTES = 64 * 1024
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class DateRange:
    first: dt.date
    last: dt.date

    @property
    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=offset) for offset in range((self.last - self.first).days + 1)]


def check_body_size(size: int) -> None:
    if size > MAX_BODY_BYTES:
        raise InvalidData(f"Request body must be at most {MAX_BODY_BYTES} bytes")


def unparsable(reason: str) -> InvalidData:
    return InvalidData(f"Request JSON is not parsable: {reason}")


def license_key_of(document: Any) -> str:
    """`request.licensekey` of the parsed body (None: no body); INVALID_DATA_ERROR when it is not of that shape.

    A body without a key is of the shape: the key is then empty and authentication answers LOGIN_FAILED.
    """
    return LegacyRequestBody.model_validate(document).request.licensekey.strip()


def parse_date(name: str, value: str) -> dt.date:
    if not DATE_PATTERN.match(value):
        raise InvalidDate(f"{name} must be in YYYY-MM-DD format, got '{value[:40]}'")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidDate(f"{name} is not a valid date: '{value}'") from None


def date_range(from_text: str | None, to_text: str | None, today: dt.date, max_days: int = MAX_RANGE_DAYS) -> DateRange:
    """The days asked for: both default to yesterday; toDate >= fromDate, toDate < today, at most max_days."""
    yesterday = today - dt.timedelta(days=1)
    first = parse_date("fromDate", from_text) if from_text else yesterday
    last = parse_date("toDate", to_text) if to_text else yesterday
    if first > last:
        raise InvalidDate(f"fromDate ({first}) must not be after toDate ({last})")
    if last >= today:
        raise InvalidDate(f"toDate ({last}) must be before today ({today}, UTC)")
    days = (last - first).days + 1
    if days > max_days:
        raise DateRangeTooLarge(f"At most {max_days} days can be downloaded in one call; {first}..{last} is {days}")
    return DateRange(first, last)


class LicenseKeyRequest(BaseModel):
    licensekey: str = Field(
        default="",
        description="The license key issued for the resource and dataset (never returned); without one, the "
        "answer is 401 LOGIN_FAILED",
    )

    @field_validator("licensekey", mode="before")
    @classmethod
    def _text(cls, key: Any) -> Any:
        if not isinstance(key, str):
            raise unparsable("'request.licensekey' must be a string")
        return key


class LegacyRequestBody(BaseModel):
    """Seed 000's request: only `request.licensekey` is read, `params.msgid` echoed; other keys are ignored."""

    id: Any = Field(default=None, examples=["ekstep.data_exhaust_dataset_service"])
    ver: Any = Field(default=None, examples=["1.0"])
    ts: Any = None
    params: Any = Field(default=None, description="msgid is echoed in the answer's params")
    request: LicenseKeyRequest = Field(default_factory=LicenseKeyRequest)

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, document: Any) -> Any:
        if not isinstance(document, dict):
            raise unparsable("it must be an object with a 'request' object")
        if not isinstance(document.get("request", {}), dict):
            raise unparsable("'request' must be an object")
        return document
