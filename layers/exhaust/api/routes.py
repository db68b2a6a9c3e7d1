"""The route table: the single source of truth for API Gateway (infra/api.py), the local gateway and the document.

Each route says everything the OpenAPI document tells about it (exhaust.api.openapi builds it from this table
alone): its parameters with their schemas, its body and result models (named, so that this module, which every
handler loads, imports none of them), the statuses beyond those every route of its kind answers, its tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from exhaust.export.query import FORMATS
from exhaust.identifiers import any_case_of
from exhaust.requests.limits import (
    COURSES_DEFAULT_LIMIT,
    COURSES_MAX_LIMIT,
    LIST_DEFAULT_LIMIT,
    LIST_MAX_LIMIT,
    READ_FILES_DEFAULT_LIMIT,
    READ_FILES_MAX_LIMIT,
)
from exhaust.standard.dates import DAY_PATTERN, PRESETS

Auth = Literal["token", "none"]
DAY = {"type": "string", "format": "date", "pattern": DAY_PATTERN.pattern}


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter: its name, what it means, and the JSON schema of what is accepted."""

    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"}, hash=False, compare=False)


@dataclass(frozen=True)
class Outcome:
    """A status a route answers beyond those of its kind; `description` says what it means there."""

    status: int
    description: str = ""


Query = tuple[Param, ...]

# Read, cancel and delete name one request by its tag (the path) and this query parameter.
REQUEST_ID_QUERY: Query = (Param("requestId", "The submit answer's requestId", {"type": "string", "minLength": 1}),)
# The days of a dataset get call (docs/datasets.md).
DATASET_DAYS: Query = (
    Param("from", "YYYY-MM-DD, first day; default yesterday (UTC)", DAY),
    Param("since", "Alias of from", DAY),
    Param("to", "YYYY-MM-DD, last day (inclusive); default today (UTC)", DAY),
)
NOT_FOUND = Outcome(404)
# cancel and delete: the request's status does not allow the operation.
STATUS_CONFLICT = Outcome(409, "The request's status does not allow it (cancel: SUCCESS or FAILED; delete: still open)")
# The legacy and export APIs answer zips; a large one by a redirect to a presigned link (docs/legacy-and-export.md).
ZIP = "application/zip"
HTML = "text/html"
REDIRECT = Outcome(303, "The zip is large: follow Location, a presigned link valid for a limited time")
TOO_LARGE = Outcome(422, "Valid, but too big to answer within API Gateway's 29 s: errmsg says how to narrow it")
EXPORT_DAY = {"type": "string", "format": "date", "description": "or an ISO 8601 date-time; UTC unless it says"}


def _paging(per_page: str, default: int, maximum: int, cursor: str) -> Query:
    """A page's `limit` (1..maximum) and the `cursor` of the previous answer."""
    return (
        Param("limit", per_page, {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}),
        Param("cursor", cursor),
    )


def _repeated(name: str, description: str) -> Param:
    return Param(
        name,
        f"{description}; repeat the parameter or separate values with commas",
        {"type": "array", "items": {"type": "string"}, "maxItems": 100},
    )


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str  # folder under functions/ holding handler.py
    api_id: str
    auth: Auth
    summary: str
    # Every query parameter the route accepts: any other one is a 400 naming these (a typo must not pass silently).
    query: Query = ()
    tag: str = "service"
    body: str | None = None  # "module:Model" of the JSON body
    result: str | None = None  # "module:Model" of the envelope's result
    statuses: tuple[Outcome, ...] = ()
    headers: tuple[Param, ...] = ()
    # Path parameters with more to say than the identifier rule every one of them follows.
    path_params: tuple[Param, ...] = ()
    # What a 200 is: the envelope (JSON), or a document of its own of this media type.
    media_type: str = "application/json"
    enveloped: bool = True

    @property
    def query_names(self) -> tuple[str, ...]:
        return tuple(param.name for param in self.query)

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(f"^{regex}$")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method.upper() != self.method:
            return None
        found = self.pattern.match(path)
        return found.groupdict() if found else None


REQUESTS = "exhaust requests"
MODELS = "exhaust.requests.models"
SCHEMAS = "exhaust.api.schemas"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/health", "health", "api.health", "none", "Service health", result=f"{SCHEMAS}:Health"),
    Route(
        "GET",
        "/api/openapi.json",
        "openapi",
        "api.openapi",
        "none",
        "OpenAPI 3.1 document of every route",
        enveloped=False,
    ),
    Route("GET", "/api/docs", "docs", "api.docs", "none", "Swagger UI of the API", media_type=HTML),
    Route(
        "POST",
        "/api/dataset/v1/request/submit",
        "submit",
        "ekstep.analytics.dataset.request.submit",
        "token",
        "Submit an on-demand exhaust request",
        tag=REQUESTS,
        body="exhaust.requests.rules:SubmitBody",
        result=f"{MODELS}:JobStatusResponse",
        statuses=(
            Outcome(409, "Idempotency-Key reused with a different body, or a second open limit-based searchFilter"),
            Outcome(429, "The channel's open-request limit (or the stage's throttling); see Retry-After"),
        ),
        headers=(
            Param("Idempotency-Key", "Replays the first answer for 24 hours; another body under the same key is a 409"),
            Param("X-Authenticated-Userid", "requestedBy, for tokens with the ON_BEHALF role"),
        ),
    ),
    Route(
        "GET",
        "/api/dataset/v1/request/read/{tag}",
        "read",
        "ekstep.analytics.dataset.request.info",
        "token",
        "Read one request, with fresh download links (a page of them, and the manifest's)",
        query=(
            *REQUEST_ID_QUERY,
            *_paging(
                "File links per answer",
                READ_FILES_DEFAULT_LIMIT,
                READ_FILES_MAX_LIMIT,
                "filesNextCursor of the previous answer: the next page of file links",
            ),
        ),
        tag=REQUESTS,
        result=f"{MODELS}:JobStatusResponse",
        statuses=(NOT_FOUND,),
    ),
    Route(
        "GET",
        "/api/dataset/v1/request/list/{tag}",
        "list",
        "ekstep.analytics.dataset.request.list",
        "token",
        "List a tag's requests, newest first",
        query=_paging("Jobs per page", LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT, "nextCursor of the previous page"),
        tag=REQUESTS,
        result=f"{SCHEMAS}:JobList",
    ),
    Route(
        "POST",
        "/api/dataset/v1/request/search",
        "search",
        "ekstep.analytics.dataset.request.search",
        "token",
        "Search requests by dataset, channel, status and date",
        tag=REQUESTS,
        body="exhaust.requests.rules:SearchBody",
        result=f"{SCHEMAS}:JobList",
    ),
    Route(
        "POST",
        "/api/dataset/v1/request/cancel/{tag}",
        "cancel",
        "ekstep.analytics.dataset.request.cancel",
        "token",
        "Cancel a SUBMITTED or PROCESSING request: its execution stops, files built so far are removed",
        query=REQUEST_ID_QUERY,
        tag=REQUESTS,
        result=f"{MODELS}:JobStatusResponse",
        statuses=(NOT_FOUND, STATUS_CONFLICT),
    ),
    Route(
        "POST",
        "/api/dataset/v1/request/delete/{tag}",
        "delete",
        "ekstep.analytics.dataset.request.delete",
        "token",
        "Delete a finished request's files and manifest now; the request stays readable, without links",
        query=REQUEST_ID_QUERY,
        tag=REQUESTS,
        result=f"{MODELS}:JobStatusResponse",
        statuses=(NOT_FOUND, STATUS_CONFLICT),
    ),
    Route(
        "POST",
        "/api/dataset/v1/add",
        "dataset_add",
        "ekstep.analytics.dataset.add",
        "token",
        "Register a dataset",
        tag="dataset registry",
        body="exhaust.datasets.registry:DatasetAddBody",
        result=f"{SCHEMAS}:DatasetAdded",
    ),
    Route(
        "GET",
        "/api/dataset/v1/list",
        "dataset_list",
        "ekstep.analytics.dataset.list",
        "token",
        "List datasets",
        query=(
            Param(
                "type",
                "Only datasets of this type (any other value lists none)",
                {"type": "string", "examples": ["on-demand", "standard", "public", "legacy"]},
            ),
        ),
        tag="dataset registry",
        result=f"{SCHEMAS}:DatasetList",
    ),
    Route(
        "GET",
        "/api/dataset/v1/courses",
        "courses",
        "ekstep.analytics.dataset.courses",
        "token",
        "The courses and batches the caller may request exports of: names, dates, enrolments (searchable, paged)",
        query=(
            Param(
                "q",
                "Only courses whose name or id, or one of whose batches' name or id, contains this (any letter case)",
                {"type": "string", "maxLength": 100},
            ),
            *_paging("Courses per page", COURSES_DEFAULT_LIMIT, COURSES_MAX_LIMIT, "nextCursor of the previous page"),
        ),
        tag=REQUESTS,
        result=f"{SCHEMAS}:CourseList",
    ),
    Route(
        "POST",
        "/v1/datasets/{datasetId}/{resourceId}/{fromDate}/{toDate}",
        "legacy",
        "ekstep.data_exhaust_dataset_service",
        "none",
        "Legacy dataset API: a partner's data as a zip of per-day zips (license key in the body)",
        tag="legacy dataset API",
        body="exhaust.legacy.rules:LegacyRequestBody",
        statuses=(REDIRECT, Outcome(401), Outcome(403), TOO_LARGE),
        path_params=(Param("fromDate", "First day, YYYY-MM-DD"), Param("toDate", "Last day, YYYY-MM-DD, before today")),
        media_type=ZIP,
    ),
    Route(
        "POST",
        "/v1/datasets/{datasetId}/{resourceId}",
        "legacy",
        "ekstep.data_exhaust_dataset_service",
        "none",
        "Legacy dataset API for yesterday (license key in the body)",
        tag="legacy dataset API",
        body="exhaust.legacy.rules:LegacyRequestBody",
        statuses=(REDIRECT, Outcome(401), Outcome(403), TOO_LARGE),
        media_type=ZIP,
    ),
    # Before /api/export/{format}: the local gateway takes the first match, as API Gateway prefers static paths.
    Route(
        "GET",
        "/api/export/ui",
        "export_ui",
        "api.export.ui",
        "none",
        "Swagger UI of the export API",
        tag="export",
        media_type=HTML,
    ),
    Route(
        "GET",
        "/api/export/{format}",
        "export",
        "api.export",
        "none",
        "Export observations as a CKAN-compliant CSV, JSON or XML zip (public, throttled): observations.<format> "
        "and its datapackage.json",
        query=(
            Param("date_from", "Only data from this day on (UTC, inclusive)", EXPORT_DAY),
            Param("date_to", "Only data up to this day (UTC, inclusive)", EXPORT_DAY),
            _repeated("types", "Only these producer types (e.g. sensor)"),
            _repeated("units", "Only these units of measurement (e.g. celsius)"),
        ),
        tag="export",
        statuses=(
            Outcome(204, "Empty dataset: the filters leave no rows"),
            REDIRECT,
            TOO_LARGE,
            Outcome(429, "Throttled: retry later"),
        ),
        path_params=(
            Param("format", "Output format, any letter case", {"type": "string", "pattern": any_case_of(FORMATS)}),
        ),
        media_type=ZIP,
    ),
    Route(
        "GET",
        "/api/data/v3/dataset/get/{datasetId}",
        "dataset_get",
        "org.ekstep.analytics.telemetry",
        "token",
        "Presigned links to a channel's daily files of a standard dataset",
        query=DATASET_DAYS,
        tag="standard and public datasets",
        result="exhaust.standard.files:DatasetFiles",
        statuses=(NOT_FOUND,),
    ),
    Route(
        "GET",
        "/api/data/v3/public/dataset/get/{datasetId}",
        "public_dataset_get",
        "org.ekstep.analytics.telemetry",
        "none",
        "CDN links to the daily files of a public dataset (no authentication)",
        query=(
            *DATASET_DAYS,
            Param("date", "YYYY-MM-DD: exactly one day", DAY),
            Param("date_range", "A preset range of days", {"type": "string", "enum": list(PRESETS)}),
        ),
        tag="standard and public datasets",
        result="exhaust.standard.files:DatasetFiles",
        statuses=(NOT_FOUND,),
        headers=(Param("X-Channel-Id", "The channel whose files to list (datasets with files per channel)"),),
    ),
)


def find_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


def route_of(method: str, resource: str, path: str) -> Route | None:
    """The route of an API Gateway event: by its resource template, else (hand-made events) by its path."""
    for route in ROUTES:
        if route.method == method.upper() and route.path == resource:
            return route
    found = find_route(method, path)
    return found[0] if found else None


def paths_for(path: str) -> list[Route]:
    return [route for route in ROUTES if route.pattern.match(path)]
