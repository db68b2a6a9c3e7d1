"""An API operation declared once: a typed function whose signature is its validation and its OpenAPI entry.

`@operation("GET /path", api_id, summary, ...)` reads the function's parameters in order, the order they are checked in:

- `Annotated[T, Path(...)]`, `Query(...)` or `Header(...)`: a path, query or header parameter. T, with its pydantic
  constraints (`Field(ge=..., max_length=...)`, `refused(...)` for the service's wording), validates the value
  and is the parameter's schema in the document; a parameter without a default is required. A query parameter
  declared as a model stands for the model's fields, each a query parameter (the days of a dataset get).
- a pydantic model (or `Model | None` with a default): the JSON body, validated by the model.
- `Principal`: the authenticated caller (only on token routes).
- `ApiRequest`: the request itself, for the one API that reads its body its own way (the legacy API, which
  names the body's model with `body_read_as` for the document).

The return annotation is the result: a model, answered in the envelope (`Envelope[Model]` in the document), or a
RawResponse (files, pages, redirects) of the declared media type. `statuses` are the answers beyond those every
operation of its kind gives (exhaust.api.openapi adds those). A function folder's handler serves its operations
with `serve` (functions/<function>/handler.py), and exhaust.api.routes collects every declared operation.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from dataclasses import replace as replaced
from functools import cached_property, partial
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from exhaust.api.http import ApiRequest, answer, check_shared_inputs
from exhaust.errors import BadRequest
from exhaust.principal import Principal
from exhaust.responses import RawResponse
from exhaust.validation import describe_validation_error, parse

Auth = Literal["token", "none"]
Where = Literal["path", "query", "header"]
Nulls = Literal["left out", "as set"]
JSON = "application/json"
PATH_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Param:
    """Marks an operation's parameter as read from the request: where, what it means, its name there (default:
    the Python parameter's), and what a missing required one is told."""

    where: Where
    description: str
    name: str = ""
    missing: str = "is required"
    # An empty query value is the parameter's absence (`?limit=` is the default), unless this says it is a value to
    # validate: where an empty value can only be a client's unset variable (export's dates), it is refused.
    empty_is_a_value: bool = False


Path = partial(Param, "path")
Query = partial(Param, "query")
Header = partial(Param, "header")


@dataclass(frozen=True)
class Outcome:
    """A status an operation answers beyond those of its kind; `description` says what it means there."""

    status: int
    description: str = ""


@dataclass(frozen=True)
class Input:
    """One parameter of an operation: where it comes from and the type (with constraints) that validates it."""

    argument: str
    kind: Literal["path", "query", "header", "body", "principal", "request"]
    annotation: Any = None
    param: Param | None = None
    required: bool = True
    default: Any = None

    @property
    def name(self) -> str:
        return (self.param.name if self.param else "") or self.argument

    @property
    def group(self) -> type[BaseModel] | None:
        """The model of a query parameter declared as a model: its fields are the query parameters."""
        model = _bare(self.annotation)
        is_model = isinstance(model, type) and issubclass(model, BaseModel)
        return model if self.kind == "query" and is_model else None

    @property
    def names(self) -> tuple[str, ...]:
        """The names it is sent under: its own, or its model's fields' (by their aliases)."""
        if self.group is None:
            return (self.name,)
        return tuple(field.alias or name for name, field in self.group.model_fields.items())

    @property
    def many(self) -> bool:
        """A query parameter of several values (repeated, or separated by commas)."""
        return self.kind == "query" and _without_none(_bare(self.annotation)) is list

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        # Built at the first use: a cold start loads every operation of its module but answers one.
        return TypeAdapter(self.annotation)

    def read(self, request: ApiRequest) -> Any:
        """The argument for this request: validated, or a 400 naming the parameter and the rule."""
        if self.kind == "principal":
            return request.principal
        if self.kind == "request":
            return request
        if self.kind == "body":
            return self._body(request)
        if self.group is not None:
            given = {name: request.query_value(name) for name in self.names}
            return parse(self.group, {name: value for name, value in given.items() if value})
        raw = self._raw(request)
        if raw is None:
            if self.required:
                raise BadRequest(f"{self.name}: {self.param.missing if self.param else 'is required'}")
            return self.default
        try:
            return self.adapter.validate_python(raw)
        except ValidationError as error:
            raise BadRequest(describe_validation_error(error, prefix=self.name)) from None

    def _raw(self, request: ApiRequest) -> Any:
        if self.kind == "path":
            return request.path_params.get(self.name)
        if self.kind == "header":
            return request.header(self.name)
        if self.many:
            return request.query_values(self.name) or None
        value = request.query_value(self.name)
        if value == "" and self.param is not None and self.param.empty_is_a_value:
            return value
        return value or None  # an empty value is its absence: `?limit=` is the default

    def _body(self, request: ApiRequest) -> Any:
        if not self.required and not request.body.strip():
            return self.default
        return parse(self.body_model, request.json_body())

    @property
    def body_model(self) -> type[BaseModel]:
        model = _without_none(self.annotation)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(f"{self.argument}: not a body model")
        return model


@dataclass(frozen=True)
class Operation:
    """A declared operation: its route, its inputs and result read from the function, and the function."""

    method: str
    path: str
    function: str  # folder under functions/ whose handler serves it
    api_id: str
    auth: Auth
    summary: str
    tag: str
    statuses: tuple[Outcome, ...]
    media_type: str
    # "as set": a result field the operation set to None is answered as null (the registry's answers, as the
    # reference API's), one it left unset is left out; "left out": every null is left out.
    nulls: Nulls
    # The body's model, for the document, of an operation that reads its body itself (from its ApiRequest).
    body_read_as: type[BaseModel] | None
    call: Callable[..., Any] = field(repr=False)
    inputs: tuple[Input, ...] = ()
    result: type[BaseModel] | None = None

    # -- the route ---------------------------------------------------------------------------------------
    def inputs_in(self, where: str) -> tuple[Input, ...]:
        return tuple(item for item in self.inputs if item.kind == where)

    @property
    def query_names(self) -> tuple[str, ...]:
        return tuple(name for item in self.inputs_in("query") for name in item.names)

    @property
    def body(self) -> Input | None:
        return next(iter(self.inputs_in("body")), None)

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(f"^{regex}$")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method.upper() != self.method:
            return None
        found = self.pattern.match(path)
        return found.groupdict() if found else None

    def also_at(self, path: str, summary: str) -> Operation:
        """The same operation at another path, which leaves out path parameters it does not have (they then take
        their defaults): the legacy API with and without its dates."""
        in_path = set(PATH_PARAMETER.findall(path))
        left_out = [item.name for item in self.inputs_in("path") if item.name not in in_path]
        if any(item.required for item in self.inputs_in("path") if item.name in left_out):
            raise TypeError(f"{path}: leaves out a path parameter without a default ({', '.join(left_out)})")
        inputs = tuple(item for item in self.inputs if item.name not in left_out or item.kind != "path")
        other = replaced(self, path=path, summary=summary, inputs=inputs)
        _check(other)
        return other

    # -- serving -----------------------------------------------------------------------------------------
    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """The Lambda proxy answer of this operation to an API Gateway event."""
        return answer(self.api_id, event, self._work)

    def _work(self, request: ApiRequest) -> Any:
        check_shared_inputs(request, self.query_names)
        result = self.call(**{item.argument: item.read(request) for item in self.inputs})
        if isinstance(result, BaseModel):
            if self.nulls == "as set":
                return result.model_dump(mode="json", by_alias=True, exclude_unset=True)
            return result.model_dump(mode="json", by_alias=True, exclude_none=True)
        return result


def operation(
    route: str,
    api_id: str,
    summary: str,
    *,
    function: str = "",
    auth: Auth = "none",
    tag: str = "service",
    statuses: tuple[Outcome, ...] = (),
    media_type: str = JSON,
    nulls: Nulls = "left out",
    body_read_as: type[BaseModel] | None = None,
) -> Callable[[Callable[..., Any]], Operation]:
    """Declare `fn` as the operation `route` ("GET /path"), served by the function folder `function` (default: the
    function's own name); see the module's doc for what its signature says."""
    method, path = route.split(" ", 1)

    def declare(fn: Callable[..., Any]) -> Operation:
        hints = typing.get_type_hints(fn, include_extras=True)
        inputs = tuple(_input(name, hints[name], parameter) for name, parameter in _parameters(fn))
        declared = Operation(
            method=method,
            path=path,
            function=function or fn.__name__,
            api_id=api_id,
            auth=auth,
            summary=summary,
            tag=tag,
            statuses=statuses,
            media_type=media_type,
            nulls=nulls,
            body_read_as=body_read_as,
            call=fn,
            inputs=inputs,
            result=_result_model(hints.get("return")),
        )
        _check(declared)
        return declared

    return declare


@dataclass(frozen=True)
class Served:
    """The Lambda handler of a function folder (`serve(...)`): the operation the event's route names (its first,
    when the event names none, as a test's hand-made event may)."""

    operations: tuple[Operation, ...]

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        method, resource = str(event.get("httpMethod", "")).upper(), str(event.get("resource") or "")
        path = str(event.get("path") or "")
        chosen = next((op for op in self.operations if op.method == method and op.path == resource), None)
        chosen = chosen or next((op for op in self.operations if op.match(method, path) is not None), None)
        return (chosen or self.operations[0]).handle(event, context)


def serve(*operations: Operation) -> Served:
    return Served(operations)


# -- reading a signature ---------------------------------------------------------------------------------
def _parameters(fn: Callable[..., Any]) -> list[tuple[str, inspect.Parameter]]:
    return list(inspect.signature(fn).parameters.items())


def _input(name: str, hint: Any, parameter: inspect.Parameter) -> Input:
    required = parameter.default is inspect.Parameter.empty
    default = None if required else parameter.default
    if hint is Principal:
        return Input(name, "principal")
    if hint is ApiRequest:
        return Input(name, "request")
    markers = [item for item in getattr(hint, "__metadata__", ()) if isinstance(item, Param)]
    if markers:
        (marker,) = markers
        rest = tuple(item for item in hint.__metadata__ if item is not marker)
        annotation = Annotated[(hint.__origin__, *rest)] if rest else hint.__origin__
        return Input(name, marker.where, annotation, marker, required, default)
    model = _without_none(_bare(hint))
    if isinstance(model, type) and issubclass(model, BaseModel):
        return Input(name, "body", hint, None, required, default)
    raise TypeError(f"{name}: declare it as a Path, Query or Header parameter, a body model, Principal or ApiRequest")


def _bare(hint: Any) -> Any:
    """The type without Annotated's metadata."""
    return hint.__origin__ if get_origin(hint) is Annotated else hint


def _without_none(hint: Any) -> Any:
    """`X` of `X | None`; the origin of a generic (`list` of `list[str]`)."""
    hint = _bare(hint)
    arguments = [item for item in get_args(hint) if item is not type(None)]
    if type(None) in get_args(hint) and len(arguments) == 1:
        hint = _bare(arguments[0])
    return get_origin(hint) or hint


def _result_model(hint: Any) -> type[BaseModel] | None:
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return hint
    if hint is RawResponse:
        return None
    raise TypeError(f"the result must be a pydantic model or a RawResponse, not {hint}")


def _check(declared: Operation) -> None:
    """A declaration that cannot be served as written is refused at import, not at the first request."""
    where = f"{declared.method} {declared.path}"
    if declared.method not in ("GET", "POST"):
        raise TypeError(f"{where}: GET or POST")
    in_path = set(PATH_PARAMETER.findall(declared.path))
    declared_path = {item.name for item in declared.inputs_in("path") if item.required or item.name in in_path}
    if in_path != declared_path:
        raise TypeError(f"{where}: path parameters {sorted(in_path)} declared as {sorted(declared_path)}")
    if declared.inputs_in("principal") and declared.auth != "token":
        raise TypeError(f"{where}: only a token route has a Principal")
    if len(declared.inputs_in("body")) + (declared.body_read_as is not None) > 1:
        raise TypeError(f"{where}: one body at most")
    if declared.body_read_as is not None and not declared.inputs_in("request"):
        raise TypeError(f"{where}: body_read_as is for an operation that reads its body from its ApiRequest")
