"""HTTP glue of the course listing: the courses and batches the caller may request exports of (exhaust.lake.courses),
scoped by the role model (exhaust.auth.scope): the whole channel for its admins, its own courses for a COURSE_ADMIN."""

from __future__ import annotations

import datetime as dt
from typing import Any

from exhaust.api.http import ApiRequest
from exhaust.api.requests import channel_of
from exhaust.auth.checks import require_any_role
from exhaust.auth.directory import LakeCourseDirectory
from exhaust.auth.scope import CourseDirectory, scope_of
from exhaust.lake.catalog import Catalog
from exhaust.lake.courses import CourseScope, course_page, parse_limit, parse_query
from exhaust.lake.store import Lake
from exhaust.principal import DEFAULT_DATASET_ROLES, Principal
from exhaust.settings import get_settings

API_ID = "ekstep.analytics.dataset.courses"


def lake() -> Lake:
    return Lake.open(get_settings().lake_uri)


def directory() -> CourseDirectory:
    return LakeCourseDirectory(get_settings().lake_uri)


def course_scope(principal: Principal, channel: str) -> CourseScope:
    """The role model's scope of the caller in `channel`, as the listing applies it."""
    scope = scope_of(principal, channel, directory())
    if scope.whole_channel:
        return CourseScope(channel=channel, why=f"every course of channel {channel}")
    return CourseScope(
        channel=channel,
        course_ids=scope.courses,
        why=f"the courses you create or mentor in channel {channel} (or that your token names)",
    )


def list_courses(request: ApiRequest) -> dict[str, Any]:
    principal, channel = channel_of(request)
    require_any_role(principal, DEFAULT_DATASET_ROLES, "the course list")
    limit = parse_limit(request.query_value("limit"))
    query = parse_query(request.query_value("q"))
    opened = lake()
    page = course_page(
        Catalog(opened),
        course_scope(principal, channel),
        lambda batch_id: opened.count("enrolments", equals={"batch_id": batch_id}),
        today=dt.datetime.now(dt.UTC).date(),
        expiry_days=get_settings().batch_expiry_days,
        query=query,
        limit=limit,
        cursor=request.query_value("cursor"),
    )
    return page.as_dict()
