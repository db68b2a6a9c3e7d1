"""The route table: the single source of truth for API Gateway (infra/api.py) and the local gateway."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Auth = Literal["token", "none"]
Query = tuple[tuple[str, str], ...]  # (name, description) of each accepted query parameter

# Read, cancel and delete name one request by its tag (the path) and this query parameter.
REQUEST_ID_QUERY: Query = (("requestId", "The submit answer's requestId"),)
# The days of a dataset get call (docs/datasets.md).
DATASET_DAYS: Query = (
    ("from", "YYYY-MM-DD, first day; default yesterday (UTC)"),
    ("since", "Alias of from"),
    ("to", "YYYY-MM-DD, last day (inclusive); default today (UTC)"),
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

    @property
    def query_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.query)

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(f"^{regex}$")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method.upper() != self.method:
            return None
        found = self.pattern.match(path)
        return found.groupdict() if found else None


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/health", "health", "api.health", "none", "Service health"),
    Route("GET", "/api/openapi.json", "openapi", "api.openapi", "none", "OpenAPI 3.1 document of every route"),
    Route("GET", "/api/docs", "docs", "api.docs", "none", "Swagger UI of the API"),
    Route(
        "POST",
        "/api/dataset/v1/request/submit",
        "submit",
        "ekstep.analytics.dataset.request.submit",
        "token",
        "Submit an on-demand exhaust request",
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
            ("limit", "file links per answer, 1..500, default 100"),
            ("cursor", "filesNextCursor of the previous answer: the next page of file links"),
        ),
    ),
    Route(
        "GET",
        "/api/dataset/v1/request/list/{tag}",
        "list",
        "ekstep.analytics.dataset.request.list",
        "token",
        "List a tag's requests, newest first",
        query=(("limit", "1..100, default 10"), ("cursor", "nextCursor of the previous page")),
    ),
    Route(
        "POST",
        "/api/dataset/v1/request/search",
        "search",
        "ekstep.analytics.dataset.request.search",
        "token",
        "Search requests by dataset, channel, status and date",
    ),
    Route(
        "POST",
        "/api/dataset/v1/request/cancel/{tag}",
        "cancel",
        "ekstep.analytics.dataset.request.cancel",
        "token",
        "Cancel a SUBMITTED or PROCESSING request: its execution stops, files built so far are removed",
        query=REQUEST_ID_QUERY,
    ),
    Route(
        "POST",
        "/api/dataset/v1/request/delete/{tag}",
        "delete",
        "ekstep.analytics.dataset.request.delete",
        "token",
        "Delete a finished request's files and manifest now; the request stays readable, without links",
        query=REQUEST_ID_QUERY,
    ),
    Route("POST", "/api/dataset/v1/add", "dataset_add", "ekstep.analytics.dataset.add", "token", "Register a dataset"),
    Route(
        "GET",
        "/api/dataset/v1/list",
        "dataset_list",
        "ekstep.analytics.dataset.list",
        "token",
        "List datasets",
        query=(("type", "on-demand, standard, public or legacy"),),
    ),
    Route(
        "POST",
        "/v1/datasets/{datasetId}/{resourceId}/{fromDate}/{toDate}",
        "legacy",
        "ekstep.data_exhaust_dataset_service",
        "none",
        "Legacy dataset API: a partner's data as a zip of per-day zips (license key in the body)",
    ),
    Route(
        "POST",
        "/v1/datasets/{datasetId}/{resourceId}",
        "legacy",
        "ekstep.data_exhaust_dataset_service",
        "none",
        "Legacy dataset API for yesterday (license key in the body)",
    ),
    # Before /api/export/{format}: the local gateway takes the first match, as API Gateway prefers static paths.
    Route("GET", "/api/export/ui", "export_ui", "api.export.ui", "none", "Swagger UI of the export API"),
    Route(
        "GET",
        "/api/export/{format}",
        "export",
        "api.export",
        "none",
        "Export observations as a CKAN-compliant CSV, JSON or XML zip (public, throttled)",
        query=(
            ("date_from", "yyyy-mm-dd (UTC, inclusive): only data from this date on"),
            ("date_to", "yyyy-mm-dd (UTC, inclusive): only data up to this date"),
            ("types", "producer types, repeated or comma-separated (e.g. sensor)"),
            ("units", "units of measurement, repeated or comma-separated (e.g. celsius)"),
        ),
    ),
    Route(
        "GET",
        "/api/data/v3/dataset/get/{datasetId}",
        "dataset_get",
        "org.ekstep.analytics.telemetry",
        "token",
        "Presigned links to a channel's daily files of a standard dataset",
        query=DATASET_DAYS,
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
            ("date", "YYYY-MM-DD: exactly one day"),
            ("date_range", "LAST_DAY, LAST_2_DAYS, LAST_7_DAYS, LAST_14_DAYS, LAST_30_DAYS or LAST_WEEK"),
        ),
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
