"""The course listing operation: the courses and batches the caller may request exports of (exhaust.lake.courses),
scoped by the role model (exhaust.auth.scope): the whole channel for its admins, its own courses for a COURSE_ADMIN.

The lake is read with pyarrow, so this operation's function is a container image; the modules that read it are
imported when the operation runs, never when the route table is loaded (every zip function loads the table).
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, Field

from exhaust.api.operation import Query, operation
from exhaust.api.parameters import Channel
from exhaust.auth.checks import require_any_role, require_channel
from exhaust.principal import DEFAULT_DATASET_ROLES, Principal
from exhaust.requests.limits import COURSES_DEFAULT_LIMIT, COURSES_MAX_LIMIT
from exhaust.settings import get_settings
from exhaust.validation import refused

if TYPE_CHECKING:
    from exhaust.auth.scope import CourseDirectory
    from exhaust.lake.courses import CourseScope
    from exhaust.lake.store import Lake

API_ID = "ekstep.analytics.dataset.courses"
QUERY_MAX_CHARS = 100
CoursesLimit = Annotated[
    int, Field(ge=1, le=COURSES_MAX_LIMIT), refused(f"must be an integer from 1 to {COURSES_MAX_LIMIT}")
]
SearchText = Annotated[str, Field(max_length=QUERY_MAX_CHARS), refused(f"must be at most {QUERY_MAX_CHARS} characters")]


class ListedBatch(BaseModel):
    batchId: str
    name: str
    startDate: str | None = Field(default=None, description="YYYY-MM-DD")
    endDate: str | None = Field(default=None, description="YYYY-MM-DD; none for a batch without an end")
    enrolments: int = Field(description="Users enrolled in the batch")


class ListedCourse(BaseModel):
    courseId: str
    name: str
    status: str
    requiresConsent: bool = Field(description="userinfo-exhaust holds only the users who consented to share")
    batches: list[ListedBatch]


class CourseList(BaseModel):
    count: int = Field(description="Courses matching q within the caller's scope (all pages)")
    scope: str = Field(description="Which courses the caller may list, in words")
    courses: list[ListedCourse]
    nextCursor: str | None = Field(default=None, description="The next page: pass as ?cursor=")


def lake() -> Lake:
    from exhaust.lake.store import Lake

    return Lake.open(get_settings().lake_uri)


def directory() -> CourseDirectory:
    from exhaust.auth.directory import LakeCourseDirectory

    return LakeCourseDirectory(get_settings().lake_uri)


def course_scope(principal: Principal, channel: str) -> CourseScope:
    """The role model's scope of the caller in `channel`, as the listing applies it."""
    from exhaust.auth.scope import scope_of
    from exhaust.lake.courses import CourseScope

    scope = scope_of(principal, channel, directory())
    if scope.whole_channel:
        return CourseScope(channel=channel, why=f"every course of channel {channel}")
    return CourseScope(
        channel=channel,
        course_ids=scope.courses,
        why=f"the courses you create or mentor in channel {channel} (or that your token names)",
    )


@operation(
    "GET /api/dataset/v1/courses",
    API_ID,
    "The courses and batches the caller may request exports of: names, dates, enrolments (searchable, paged)",
    auth="token",
    tag="exhaust requests",
)
def courses(
    principal: Principal,
    channel: Channel,
    q: Annotated[
        SearchText,
        Query("Only courses whose name or id, or one of whose batches' name or id, contains this (any letter case)"),
    ] = "",
    limit: Annotated[CoursesLimit, Query("Courses per page")] = COURSES_DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query("nextCursor of the previous page")] = None,
) -> CourseList:
    from exhaust.lake.catalog import Catalog
    from exhaust.lake.courses import course_page, enrolment_counts

    principal, channel = require_channel(principal, channel)
    require_any_role(principal, DEFAULT_DATASET_ROLES, "the course list")
    opened = lake()
    page = course_page(
        Catalog(opened),
        course_scope(principal, channel),
        partial(enrolment_counts, opened),
        today=dt.datetime.now(dt.UTC).date(),
        expiry_days=get_settings().batch_expiry_days,
        query=q.strip().casefold(),
        limit=limit,
        cursor=cursor,
    )
    return CourseList.model_validate(page.as_dict())
