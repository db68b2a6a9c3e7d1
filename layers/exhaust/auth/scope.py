"""Who may act on what inside a channel: the role model of docs/security.md, in one place.

- ORG_ADMIN and REPORT_ADMIN (and the operators' ADMIN) act on the whole channel.
- COURSE_ADMIN acts only on its courses: those named on its token (`exhaust token create --course`) and those of
  which the lake names its user as a batch's `created_by` or among the batch's `mentors` (the course directory,
  exhaust.auth.directory). A submit naming batches outside them is refused with a 403 naming those batches.
- Any other role (ON_BEHALF alone, an unknown role) acts on nothing: deny by default.
- Each dataset's `authorizedRoles` applies on top, to seeing a request and downloading its files as to submitting.
- A request the caller may not see is answered exactly as one that does not exist (404): callers see only
  `Visibility.sees`.
- Cancel and delete are for the requester and the org's admins (ORG_ADMIN; ADMIN operators).

Everything here is pure: the lake is reached through the CourseDirectory port, the registry through a function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from exhaust.errors import Forbidden
from exhaust.principal import (
    ADMIN_ROLE,
    COURSE_ADMIN_ROLE,
    ORG_ADMIN_ROLE,
    REPORT_ADMIN_ROLE,
    Principal,
)

# Roles that act on every course of the channel.
CHANNEL_WIDE_ROLES = (ORG_ADMIN_ROLE, REPORT_ADMIN_ROLE, ADMIN_ROLE)
# Besides the requester, who may cancel or delete a request: the org's admins (and the operators).
ENDING_ROLES = (ORG_ADMIN_ROLE, ADMIN_ROLE)
# Who is shown a request's audit trail.
AUDIT_ROLES = (ORG_ADMIN_ROLE, ADMIN_ROLE)
# The roles of a request whose dataset is no longer registered: deny by default, but the org's admin keeps it.
UNREGISTERED_DATASET_ROLES = (ORG_ADMIN_ROLE,)
COURSE_CONTENT_TYPE = "Course"
# seed 002: a limit-based searchFilter selects at most this many collections.
SEARCH_LIMIT_MAX = 50
NAMED_AT_MOST = 20
WHERE_COURSES_COME_FROM = (
    "a COURSE_ADMIN token acts on the courses named at its creation (`exhaust token create --course`) and on "
    "those whose batches name its user as created_by or among mentors in the lake"
)


@dataclass(frozen=True)
class Batch:
    batch_id: str
    name: str = ""
    created_by: str | None = None
    mentors: tuple[str, ...] = ()
    start_date: str | None = None
    end_date: str | None = None

    def names(self, user_id: str) -> bool:
        """Whether the lake names this user as the batch's creator or one of its mentors."""
        return bool(user_id) and (self.created_by == user_id or user_id in self.mentors)


@dataclass(frozen=True)
class Course:
    course_id: str
    name: str = ""
    content_type: str = COURSE_CONTENT_TYPE
    status: str = ""
    batches: tuple[Batch, ...] = ()

    def names(self, user_id: str) -> bool:
        return any(batch.names(user_id) for batch in self.batches)


class CourseDirectory(Protocol):
    """The courses of a channel and their batches, as the lake says (exhaust.auth.directory reads them)."""

    def courses(self, channel: str) -> list[Course]: ...


def is_course_scoped(principal: Principal) -> bool:
    """Whether the principal acts on courses rather than on the whole channel (COURSE_ADMIN without a wider role)."""
    return COURSE_ADMIN_ROLE in principal.roles and not set(principal.roles) & set(CHANNEL_WIDE_ROLES)


@dataclass(frozen=True)
class Scope:
    """The part of one channel a principal acts on: all of it, or some of its courses (possibly none)."""

    channel: str
    whole_channel: bool
    courses: frozenset[str] = frozenset()

    def covers(self, courses: Iterable[str] | None) -> bool:
        """Whether a request on these courses is inside the scope (a request of no known course only for the
        whole channel: an organisation-wide dataset, or batches the lake did not know at submit)."""
        if self.whole_channel:
            return True
        wanted = set(courses or ())
        return bool(wanted) and wanted <= self.courses


def scope_of(principal: Principal, channel: str, directory: CourseDirectory | None) -> Scope:
    """The principal's scope in `channel` (already checked to be one it may act for). The lake is read only for a
    course-scoped principal."""
    return _scope(principal, channel, lambda: directory.courses(channel) if directory is not None else [])


def _scope(principal: Principal, channel: str, courses: Callable[[], Iterable[Course]]) -> Scope:
    if set(principal.roles) & set(CHANNEL_WIDE_ROLES):
        return Scope(channel, whole_channel=True)
    if COURSE_ADMIN_ROLE not in principal.roles:
        return Scope(channel, whole_channel=False)
    return course_scope(principal, channel, courses())


def course_scope(principal: Principal, channel: str, courses: Iterable[Course]) -> Scope:
    """A COURSE_ADMIN's courses: those named on its token, and those whose batches the lake says its user created
    or mentors."""
    entitled = {course.course_id for course in courses if course.names(principal.user_id)}
    return Scope(channel, whole_channel=False, courses=frozenset({*principal.courses, *entitled}))


def courses_for(principal: Principal, channel: str, directory: CourseDirectory) -> list[Course]:
    """The courses (with their batches) of `channel` this principal may act on, by course id: the console's course
    listing. A course named on the token that the lake does not know is listed by its id alone."""
    courses = directory.courses(channel)
    known = {course.course_id: course for course in courses}
    scope = _scope(principal, channel, lambda: courses)
    if scope.whole_channel:
        return [known[course_id] for course_id in sorted(known)]
    return [known.get(course_id, Course(course_id)) for course_id in sorted(scope.courses)]


def has_dataset_role(principal: Principal, authorized_roles: Sequence[str]) -> bool:
    """A dataset's authorizedRoles: the operators' ADMIN passes (it sees statuses, never links: `downloads`)."""
    return principal.is_admin or bool(set(principal.roles) & set(authorized_roles))


# -- submit ---------------------------------------------------------------------------------------------------
def _listed(values: Sequence[str]) -> str:
    shown = ", ".join(values[:NAMED_AT_MOST])
    return shown + (f" and {len(values) - NAMED_AT_MOST} more" if len(values) > NAMED_AT_MOST else "")


def _search_request(config: Mapping[str, Any]) -> Mapping[str, Any]:
    search = config.get("searchFilter") or {}
    request = search.get("request", search) if isinstance(search, Mapping) else {}
    return request if isinstance(request, Mapping) else {}


def submit_courses(
    principal: Principal, channel: str, dataset_config: Mapping[str, Any], directory: CourseDirectory
) -> tuple[str, ...]:
    """The courses a submit's batch selector reaches in `channel`, as recorded on the request; a 403 when the
    principal is course-scoped and the selector reaches outside its courses (it never narrows silently either:
    the submit is refused, not trimmed)."""
    scoped = is_course_scoped(principal)
    if not any(dataset_config.get(name) for name in ("batchId", "batchFilter", "searchFilter")):
        # An organisation-wide dataset: no course, so only the whole channel's roles see it.
        if scoped:
            raise Forbidden(f"request.dataset: it covers the whole organisation; {WHERE_COURSES_COME_FROM}")
        return ()
    courses = directory.courses(channel)
    course_of = {batch.batch_id: course.course_id for course in courses for batch in course.batches}
    scope = course_scope(principal, channel, courses) if scoped else Scope(channel, whole_channel=True)
    mine = ", ".join(sorted(scope.courses)) or "none"
    if dataset_config.get("batchId") or dataset_config.get("batchFilter"):
        field_name = "batchId" if dataset_config.get("batchId") else "batchFilter"
        raw = dataset_config[field_name]
        batch_ids = [str(raw)] if field_name == "batchId" else [str(value) for value in raw]
        outside = [batch_id for batch_id in batch_ids if not scope.covers([course_of.get(batch_id, "")])]
        if scoped and outside:
            raise Forbidden(
                f"request.datasetConfig.{field_name}: batches {_listed(outside)} are outside the courses this token "
                f"acts on ({mine}); {WHERE_COURSES_COME_FROM}"
            )
        return tuple(sorted({course_of[batch_id] for batch_id in batch_ids if batch_id in course_of}))
    request = _search_request(dataset_config)
    filters = request.get("filters") or {}
    identifiers = filters.get("identifier")
    if identifiers is None:
        if scoped:
            raise Forbidden(
                "request.datasetConfig.searchFilter: without filters.identifier it selects among every course "
                f"of the channel; name your courses ({mine}) in searchFilter.request.filters.identifier"
            )
        return _limit_search_courses(courses, channel, filters, request.get("limit"))
    named = [str(value) for value in identifiers]
    outside = [course_id for course_id in named if not scope.covers([course_id])]
    if scoped and outside:
        raise Forbidden(
            f"request.datasetConfig.searchFilter.request.filters.identifier: courses {_listed(outside)} are "
            f"outside the courses this token acts on ({mine}); {WHERE_COURSES_COME_FROM}"
        )
    return tuple(sorted(set(named)))


def _limit_search_courses(
    courses: list[Course], channel: str, filters: Mapping[str, Any], limit: Any
) -> tuple[str, ...]:
    """The collections a limit-based searchFilter selects, as the Plan step does (exhaust.lake.catalog)."""
    if str(filters.get("channel", "")) != channel:
        return ()
    content_type = str(filters.get("contentType", COURSE_CONTENT_TYPE))
    matches = sorted(course.course_id for course in courses if course.content_type == content_type)
    count = SEARCH_LIMIT_MAX if limit is None else int(limit)
    return tuple(matches[: max(count, 0)])


# -- seeing, downloading, ending ------------------------------------------------------------------------------
@dataclass
class Visibility:
    """What one caller may do with the requests of one channel: built once per operation (registry lookups and the
    lake's directory are read at most once each)."""

    principal: Principal
    scope: Scope
    roles_of: Callable[[str], Sequence[str] | None]
    _roles: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def authorized_roles(self, dataset_id: str) -> tuple[str, ...]:
        if dataset_id not in self._roles:
            roles = self.roles_of(dataset_id)
            self._roles[dataset_id] = tuple(roles) if roles is not None else UNREGISTERED_DATASET_ROLES
        return self._roles[dataset_id]

    def sees(self, channel: str, dataset_id: str, courses: Sequence[str] | None) -> bool:
        """Whether the request exists for this caller at all (otherwise: the same 404 as a missing one)."""
        if channel != self.scope.channel and not self.principal.is_admin:
            return False
        if not has_dataset_role(self.principal, self.authorized_roles(dataset_id)):
            return False
        return self.principal.is_admin or self.scope.covers(courses)

    def downloads(self, channel: str, dataset_id: str) -> bool:
        """Links are signed for a caller of the request's own channel holding one of the dataset's roles (an
        operator's ADMIN alone sees statuses, never files)."""
        return channel in self.principal.channels and bool(
            set(self.principal.roles) & set(self.authorized_roles(dataset_id))
        )

    def shows_audit(self, channel: str) -> bool:
        return self.principal.is_admin or (
            ORG_ADMIN_ROLE in self.principal.roles and self.principal.may_act_for(channel)
        )


def visibility(
    principal: Principal,
    channel: str,
    directory: CourseDirectory,
    roles_of: Callable[[str], Sequence[str] | None],
) -> Visibility:
    """What `principal` may see of `channel` (an operator's ADMIN: of every channel)."""
    return Visibility(principal, scope_of(principal, channel, directory), roles_of)


def require_may_end(principal: Principal, requested_by: str, submitted_by: Sequence[str], operation: str) -> None:
    """Cancel and delete: the requester (its user, or the credential that submitted it) and the org's admins."""
    if set(principal.roles) & set(ENDING_ROLES):
        return
    if principal.user_id == requested_by or principal.credential_id in submitted_by:
        return
    raise Forbidden(
        f"requestId: only the requester ({requested_by}) or the organisation's admins (ORG_ADMIN) may {operation} "
        "this request"
    )
