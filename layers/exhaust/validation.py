"""Request bodies validated by pydantic models that keep the service's messages (`field.path: the rule`).

The models are the validators and the source of the OpenAPI document alike, so what the document says is what
the code accepts. A field's constraints (types, lengths, patterns) are pydantic's own, and therefore in the
document; `refused` only replaces pydantic's wording of a failed constraint with the service's. A required field
that is missing reaches its refusal as None, so it is refused in the same words as an empty one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WrapValidator, model_validator
from pydantic_core.core_schema import ValidatorFunctionWrapHandler

from exhaust.errors import BadRequest
from exhaust.identifiers import IDENTIFIER

Message = str | Callable[[Any], str]
Contract = TypeVar("Contract", bound=BaseModel)
# A string holding something other than whitespace.
NOT_BLANK = r"\S"
IDENTIFIER_PATTERN = f"^{IDENTIFIER.pattern}$"
VALUE_ERROR_PREFIX = "Value error, "


class Refusal(WrapValidator):
    """Marks a field whose failed constraints are answered with the service's message (see `refused`)."""


def refused(message: Message) -> Refusal:
    """Validate with pydantic, answer a failure with `message` (or `message(raw value)`)."""

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(message(value) if callable(message) else message) from None

    return Refusal(validate)


def is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


class Body(BaseModel):
    """A request body's model: other keys are kept, and missing required fields meet their refusal as None."""

    # Built at the first validation, not at import: a handler loads every body model of its module (the request
    # handlers load submit's and search's) but validates one at most.
    model_config = ConfigDict(extra="allow", defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _missing_as_none(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        missing = {
            name: None
            for name, info in cls.model_fields.items()
            if info.is_required() and name not in data and any(isinstance(m, Refusal) for m in info.metadata)
        }
        return {**data, **missing} if missing else data


# What the answer echoes of a msgid (exhaust.api.http): a longer one is refused rather than cut.
MAX_MSGID_LENGTH = 256


class RequestParams(Body):
    """The `params` of a request body: only msgid is read (echoed in the answer's params.msgid)."""

    msgid: Annotated[
        str | None,
        Field(description="Caller's message id, echoed in params.msgid", max_length=MAX_MSGID_LENGTH),
        refused(f"must be a string of at most {MAX_MSGID_LENGTH} characters (it is echoed in params.msgid)"),
    ] = None

    @model_validator(mode="before")
    @classmethod
    def _object(cls, params: Any) -> Any:
        if not isinstance(params, dict):
            raise ValueError("must be an object; its msgid is echoed in the answer")
        return params


def describe_validation_error(error: ValidationError, prefix: str = "request") -> str:
    """`request.datasetConfig.batchFilter: must be ...` for the first problem pydantic found."""
    first = error.errors()[0]
    location = ".".join(str(part) for part in (prefix, *first["loc"]) if part != "")
    message = first["msg"].removeprefix(VALUE_ERROR_PREFIX)
    return f"{location}: {message}" if location else message


def parse(model: type[Contract], data: Any) -> Contract:
    """`data` as `model`, or a BadRequest naming the first field that is wrong and its rule."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise BadRequest(describe_validation_error(error, prefix="")) from None
