"""The role model's rules on a directory fake: scopes, submit selectors, who may end a request, the course listing."""

from __future__ import annotations

import pytest
from exhaust.auth.scope import Batch, Course, Scope, courses_for, require_may_end, scope_of, submit_courses
from exhaust.errors import Forbidden
from exhaust.principal import Principal

COURSES = [
    Course("C1", batches=(Batch("B1", created_by="creator", mentors=("mentor",)),)),
    Course("C2", batches=(Batch("B2", created_by="someone"),)),
    Course("C3", content_type="Resource", batches=(Batch("B3"),)),
]


class Directory:
    def __init__(self) -> None:
        self.reads = 0

    def courses(self, channel: str) -> list[Course]:
        self.reads += 1
        return COURSES if channel == "ch" else []


def principal(*roles: str, user: str = "u", courses: tuple[str, ...] = ()) -> Principal:
    return Principal(credential_id="cred", name="n", channels=("ch",), roles=roles, user_id=user, courses=courses)


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        (principal("ORG_ADMIN"), Scope("ch", whole_channel=True)),
        (principal("COURSE_ADMIN", "REPORT_ADMIN"), Scope("ch", whole_channel=True)),
        (principal("COURSE_ADMIN", user="mentor"), Scope("ch", False, frozenset({"C1"}))),
        (principal("COURSE_ADMIN", user="creator", courses=("C9",)), Scope("ch", False, frozenset({"C1", "C9"}))),
        (principal("ON_BEHALF"), Scope("ch", whole_channel=False)),
        (principal("VIEWER", user="mentor"), Scope("ch", whole_channel=False)),
    ],
)
def test_the_scope_of_each_role(who, expected):
    directory = Directory()
    assert scope_of(who, "ch", directory) == expected
    assert directory.reads == (
        1 if expected.courses or ("COURSE_ADMIN" in who.roles and not expected.whole_channel) else 0
    )


def test_a_course_scope_covers_a_request_only_when_all_its_courses_are_in_it():
    scope = Scope("ch", False, frozenset({"C1"}))
    assert scope.covers(["C1"])
    assert not scope.covers(["C1", "C2"])
    assert not scope.covers([])  # organisation-wide, or courses unknown at submit
    assert Scope("ch", whole_channel=True).covers([])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"batchFilter": ["B1", "B2", "B9"]},
            "request.datasetConfig.batchFilter: batches B2, B9 are outside the courses",
        ),
        (
            {"batchId": "B2"},
            "request.datasetConfig.batchId: batches B2 are outside the courses this token acts on (C1)",
        ),
        ({"searchFilter": {"request": {"filters": {"channel": "ch"}}}}, "without filters.identifier"),
        ({"searchFilter": {"request": {"filters": {"identifier": ["C1", "C2"]}}}}, "courses C2 are outside"),
        ({}, "request.dataset: it covers the whole organisation"),
    ],
)
def test_a_mentors_submit_outside_its_courses_is_refused_naming_what_is_outside(config, message):
    with pytest.raises(Forbidden) as refused:
        submit_courses(principal("COURSE_ADMIN", user="mentor"), "ch", config, Directory())
    assert message in refused.value.message


@pytest.mark.parametrize(
    ("config", "courses"),
    [
        ({"batchFilter": ["B1", "B2", "B9"]}, ("C1", "C2")),
        ({"searchFilter": {"request": {"filters": {"channel": "ch", "contentType": "Course"}, "limit": 1}}}, ("C1",)),
        ({"searchFilter": {"request": {"filters": {"channel": "other"}}}}, ()),
        ({}, ()),
    ],
)
def test_an_org_admins_submit_records_the_courses_it_reaches(config, courses):
    assert submit_courses(principal("ORG_ADMIN"), "ch", config, Directory()) == courses


def test_a_mentor_submitting_its_own_course_records_it():
    config = {"batchId": "B1"}
    assert submit_courses(principal("COURSE_ADMIN", user="mentor"), "ch", config, Directory()) == ("C1",)


def test_cancel_and_delete_are_for_the_requester_and_the_org_admins():
    require_may_end(principal("ORG_ADMIN"), "someone", [], "cancel")
    require_may_end(principal("COURSE_ADMIN", user="someone"), "someone", [], "cancel")
    require_may_end(principal("COURSE_ADMIN", user="portal"), "end-user", ["cred"], "cancel")
    with pytest.raises(Forbidden, match=r"only the requester \(someone\) or the organisation's admins"):
        require_may_end(principal("REPORT_ADMIN"), "someone", ["other"], "delete")


def test_the_course_listing():
    directory = Directory()
    assert [c.course_id for c in courses_for(principal("REPORT_ADMIN"), "ch", directory)] == ["C1", "C2", "C3"]
    listed = courses_for(principal("COURSE_ADMIN", user="mentor", courses=("C9",)), "ch", directory)
    assert [(c.course_id, len(c.batches)) for c in listed] == [("C1", 1), ("C9", 0)]
    assert courses_for(principal("ON_BEHALF"), "ch", directory) == []
