"""The role model over every route: each role x own request / same course / other course / other channel.

One moto account for the module: a lake whose course directory (written by the index's own writer, read from S3 as
in AWS) puts batch B1 in course C1 (created by creator-1, mentored by mentor-1), B2 in C2 (no mentors) and B3 in
C3 of channel-b; a token of every role; and requests of every kind of ownership, three of them built (with files).
Every answer is checked for status and for never holding another user's request, link or row.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from exhaust import aws
from exhaust.auth.directory import LakeCourseDirectory
from exhaust.auth.scope import courses_for
from exhaust.lake import schemas
from exhaust.lake.directory import write_directory
from exhaust.lake.store import Lake
from exhaust.principal import Principal
from exhaust.requests.models import OutputFile, Status
from exhaust.requests.store import RequestStore

from tests.conftest import call_api, load_event, moto_environment, set_query, stored_request

TAG = "matrix-tag"
A, B = "channel-a", "channel-b"
KEY = "matrix-key-123"
NOT_FOUND = "no job available with the given request_id and tag"


@dataclass(frozen=True)
class Role:
    name: str
    roles: tuple[str, ...]
    channel: str
    user: str
    courses: tuple[str, ...] = ()


ROLES = {
    role.name: role
    for role in (
        Role("org_admin", ("ORG_ADMIN",), A, "org-admin-a"),
        Role("report_admin", ("REPORT_ADMIN",), A, "report-admin-a"),
        Role("mentor", ("COURSE_ADMIN",), A, "mentor-1"),  # the lake: a mentor of B1, so course C1
        Role("creator", ("COURSE_ADMIN",), A, "creator-1"),  # the lake: B1's created_by, so course C1
        Role("named", ("COURSE_ADMIN",), A, "named-2", ("C2",)),  # the token names course C2
        Role("portal", ("ON_BEHALF",), A, "portal-a"),  # no dataset role: acts on nothing
        Role("other_org", ("ORG_ADMIN",), B, "org-admin-b"),
        Role("admin", ("ADMIN",), "*", "operator"),
    )
}


def search_filter(*courses: str, channel: str = A) -> dict[str, Any]:
    filters: dict[str, Any] = {"contentType": "Course", "channel": channel}
    if courses:
        filters["identifier"] = list(courses)
    return {"searchFilter": {"request": {"filters": filters}}}


@dataclass(frozen=True)
class Kind:
    """A request of the matrix: who submits it, what, and which course it is on."""

    owner: str
    dataset: str
    config: dict[str, Any]
    course: str | None


KINDS = {
    "c1_by_org_admin": Kind("org_admin", "progress-exhaust", {"batchId": "B1"}, "C1"),
    "c1_by_mentor": Kind("mentor", "userinfo-exhaust", {"batchFilter": ["B1"]}, "C1"),
    "c2_by_named": Kind("named", "response-exhaust", search_filter("C2"), "C2"),
    "pii_by_org_admin": Kind("org_admin", "org-pii-exhaust", {}, None),
    "channel_b_by_its_admin": Kind("other_org", "progress-exhaust", {"batchId": "B3"}, "C3"),
}
BUILT = ("c1_by_org_admin", "c1_by_mentor", "pii_by_org_admin")

# Who sees which request (read, list, search); everything else answers as if it did not exist.
SEES = {
    "org_admin": {"c1_by_org_admin", "c1_by_mentor", "c2_by_named", "pii_by_org_admin"},
    "report_admin": {"c1_by_org_admin", "c1_by_mentor", "c2_by_named"},  # org-pii-exhaust: ORG_ADMIN only
    "mentor": {"c1_by_org_admin", "c1_by_mentor"},
    "creator": {"c1_by_org_admin", "c1_by_mentor"},
    "named": {"c2_by_named"},
    "portal": set(),
    "other_org": {"channel_b_by_its_admin"},
    "admin": set(KINDS),
}
# Who may cancel or delete a request it sees: its requester and the org's admins (and the operators).
ENDS = {
    "org_admin": SEES["org_admin"],
    "report_admin": set(),
    "mentor": {"c1_by_mentor"},
    "creator": set(),
    "named": {"c2_by_named"},
    "portal": set(),
    "other_org": {"channel_b_by_its_admin"},
    "admin": set(KINDS),
}


def relation(actor: str, kind: str) -> str:
    """own / same-course / other-course / other-channel, for the test ids."""
    role, target = ROLES[actor], KINDS[kind]
    target_channel = ROLES[target.owner].channel
    if target.owner == actor:
        return "own"
    if role.channel not in (target_channel, "*"):
        return "other-channel"
    mine = {"mentor": {"C1"}, "creator": {"C1"}, "named": {"C2"}}.get(actor)
    if mine is None:
        return "same-channel"
    return "same-course" if target.course in mine else "other-course"


MATRIX = [(actor, kind) for actor in ROLES for kind in KINDS]
MATRIX_IDS = [f"{actor}-{relation(actor, kind)}-{kind}" for actor, kind in MATRIX]


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


def write_lake(root: Path) -> None:
    def course(collection_id: str, channel: str) -> dict[str, Any]:
        return {"collection_id": collection_id, "name": f"Course {collection_id}", "channel": channel,
                "content_type": "Course", "status": "Live", "requires_consent": True, "leaf_count": 1,
                "leaf_ids": ["L1"], "units": [], "assessments": [], "created_on": at("2026-01-01")}  # fmt: skip

    def batch(batch_id: str, collection_id: str, created_by: str, mentors: list[str] | None) -> dict[str, Any]:
        return {"batch_id": batch_id, "collection_id": collection_id, "name": f"Batch {batch_id}",
                "enrolment_type": "open", "start_date": dt.date(2026, 8, 1), "end_date": None,
                "created_by": created_by, "mentors": mentors}  # fmt: skip

    lake = Lake.open(str(root))
    collections = [course("C1", A), course("C2", A), course("C3", B)]
    batches = [
        batch("B1", "C1", "creator-1", ["mentor-1"]),
        batch("B2", "C2", "creator-2", None),
        batch("B3", "C3", "creator-1", ["mentor-1"]),
    ]
    lake.write("collections", pa.Table.from_pylist(collections, schema=schemas.COLLECTIONS))
    lake.write("batches", pa.Table.from_pylist(batches, schema=schemas.BATCHES))
    write_directory(lake)


@dataclass
class World:
    tokens: dict[str, str]
    principals: dict[str, Principal]
    ids: dict[str, str]  # kind -> requestId
    settings: Any


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("lake")
    write_lake(root)
    with moto_environment() as settings:
        for path in sorted((root / "_directory").glob("*.json")):
            key = f"{settings.lake_prefix.strip('/')}/_directory/{path.name}"
            aws.client("s3").put_object(Bucket=settings.lake_bucket, Key=key, Body=path.read_bytes())
        from exhaust.auth.credentials import CredentialStore

        store = CredentialStore()
        tokens, principals = {}, {}
        for role in ROLES.values():
            secret, credential = store.create(
                "token", role.name, channels=[role.channel], roles=list(role.roles), user_id=role.user,
                courses=list(role.courses),
            )  # fmt: skip
            tokens[role.name] = secret
            principals[role.name] = Principal(
                credential_id=credential.credentialId, name=role.name, channels=(role.channel,), roles=role.roles,
                user_id=role.user, courses=role.courses,
            )  # fmt: skip
        world = World(tokens, principals, {}, settings)
        for kind in KINDS:
            world.ids[kind] = submit_kind(world, kind, TAG)
        for kind in BUILT:
            finish(world.ids[kind])
        yield world


def submit_body(dataset: str, config: dict[str, Any], tag: str) -> dict[str, Any]:
    return {"request": {"tag": tag, "dataset": dataset, "datasetConfig": config, "encryptionKey": KEY}}


def submit_as(world: World, actor: str, body: dict[str, Any], channel: str | None = None) -> tuple[int, Any]:
    event = load_event("submit/seed002_batch_filter")
    event["body"] = json.dumps(body)
    status, _, answer = call_api(event, world.tokens[actor], X_Channel_Id=channel or ROLES[actor].channel)
    return status, answer


def submit_kind(world: World, kind: str, tag: str) -> str:
    target = KINDS[kind]
    status, answer = submit_as(world, target.owner, submit_body(target.dataset, target.config, tag))
    assert status == 200, answer
    return str(answer["result"]["requestId"])


def finish(request_id: str) -> None:
    """The request built: SUCCESS with a file and a manifest under its prefix."""
    stored = stored_request(request_id)
    prefix = f"requests/{stored.channel}/{request_id}/"
    bucket = aws_bucket()
    aws.client("s3").put_object(Bucket=bucket, Key=f"{prefix}part-0.zip", Body=b"zip")
    aws.client("s3").put_object(Bucket=bucket, Key=f"{prefix}manifest.json", Body=b"{}")
    output = OutputFile(name="part-0.zip", key=f"{prefix}part-0.zip", rows=1, bytes=3, sha256="ab" * 32)
    done = stored.model_copy(
        update={"status": Status.SUCCESS, "files": [output], "completedAt": stored.submittedAt + 1000}
    )
    RequestStore().replace(done, stored.version)


def aws_bucket() -> str:
    from exhaust.settings import get_settings

    return get_settings().exhaust_bucket


def acting_channel(actor: str, kind: str) -> str:
    """The X-Channel-Id of the call: the actor's own channel (an operator: the request's)."""
    role = ROLES[actor]
    return ROLES[KINDS[kind].owner].channel if role.channel == "*" else role.channel


def call_on(world: World, operation: str, actor: str, request_id: str, tag: str, channel: str) -> tuple[int, Any]:
    event = load_event(f"{'read' if operation == 'read' else operation}/by_request_id")
    event["pathParameters"] = {"tag": tag}
    event["path"] = f"/api/dataset/v1/request/{operation}/{tag}"
    set_query(event, {"requestId": request_id})
    status, _, answer = call_api(event, world.tokens[actor], X_Channel_Id=channel)
    return status, answer


def links_of(job: dict[str, Any]) -> list[str]:
    return [*job.get("downloadUrls", []), *(file["url"] for file in job.get("files", [])), job.get("manifestUrl")]


def assert_links_are_its_own(job: dict[str, Any]) -> None:
    for link in filter(None, links_of(job)):
        assert f"/{job['requestId']}/" in link


def downloads(actor: str, kind: str) -> bool:
    """Links for a built request the caller sees, with a role of the dataset, in its own channel."""
    return kind in BUILT and kind in SEES[actor] and actor != "admin"


# -- read ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("actor", "kind"), MATRIX, ids=MATRIX_IDS)
def test_read_answers_a_request_the_caller_may_not_see_exactly_as_a_missing_one(world, actor, kind):
    channel = acting_channel(actor, kind)
    status, answer = call_on(world, "read", actor, world.ids[kind], TAG, channel)
    if kind not in SEES[actor]:
        missing_status, missing = call_on(world, "read", actor, "0" * 32, TAG, channel)
        assert (status, answer["params"]["errmsg"], answer["responseCode"]) == (
            missing_status, missing["params"]["errmsg"], missing["responseCode"],
        )  # fmt: skip
        assert (status, answer["params"]["errmsg"]) == (404, NOT_FOUND)
        assert "result" not in answer or not answer["result"]
        return
    assert status == 200, answer
    job = answer["result"]
    assert job["requestId"] == world.ids[kind]
    assert bool(job.get("downloadUrls")) == downloads(actor, kind)
    assert_links_are_its_own(job)
    # The trail is shown to the org's admins only.
    assert ("audit" in job) == (actor in ("org_admin", "other_org", "admin"))


# -- list and search -----------------------------------------------------------------------------------------
def expected_ids(world: World, actor: str, channel: str) -> set[str]:
    return {world.ids[kind] for kind in SEES[actor] if ROLES[KINDS[kind].owner].channel == channel}


@pytest.mark.parametrize("actor", list(ROLES))
def test_list_shows_only_the_requests_the_caller_may_see(world, actor):
    channel = A if actor == "admin" else ROLES[actor].channel
    event = load_event("list/by_tag")
    event["pathParameters"] = {"tag": TAG}
    event["path"] = f"/api/dataset/v1/request/list/{TAG}"
    status, _, answer = call_api(event, world.tokens[actor], X_Channel_Id=channel)
    assert status == 200, answer
    jobs = answer["result"]["jobs"]
    assert {job["requestId"] for job in jobs} == expected_ids(world, actor, channel)
    assert answer["result"]["count"] == len(jobs)
    for job in jobs:
        assert_links_are_its_own(job)
        kind = next(name for name, rid in world.ids.items() if rid == job["requestId"])
        assert bool(job.get("downloadUrls")) == downloads(actor, kind)


@pytest.mark.parametrize("actor", list(ROLES))
@pytest.mark.parametrize("filters", [{"channel": "mine"}, {"dataset": "progress-exhaust"}, {"status": "SUCCESS"}])
def test_search_shows_and_counts_only_the_requests_the_caller_may_see(world, actor, filters):
    channel = A if actor == "admin" else ROLES[actor].channel
    # An operator searches every channel unless it names one: here it names channel-a.
    wanted = {name: channel if value == "mine" else value for name, value in filters.items()}
    if actor == "admin":
        wanted["channel"] = channel
    event = load_event("search/seed004_filters")
    event["body"] = json.dumps({"request": {"filters": wanted, "limit": 1000}})
    status, _, answer = call_api(event, world.tokens[actor], X_Channel_Id=channel)
    assert status == 200, answer
    jobs = answer["result"]["jobs"]
    found = {job["requestId"] for job in jobs}
    expected = {
        world.ids[kind]
        for kind in SEES[actor]
        if ROLES[KINDS[kind].owner].channel == channel
        and ("dataset" not in wanted or KINDS[kind].dataset == wanted["dataset"])
        and ("status" not in wanted or kind in BUILT)
    }
    # The matrix's requests only (other tests of the module add their own, under other tags).
    assert found & set(world.ids.values()) == expected
    for job in jobs:
        assert job["requestId"] in found
        assert_links_are_its_own(job)
        stored = stored_request(job["requestId"])
        assert stored.channel == channel
    assert answer["result"]["count"] == len(jobs)


# -- cancel and delete ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("operation", ["cancel", "delete"])
@pytest.mark.parametrize(("actor", "kind"), MATRIX, ids=MATRIX_IDS)
def test_cancel_and_delete_are_for_the_requester_and_the_orgs_admins(world, operation, actor, kind):
    tag = f"{operation}-{actor}-{kind}".replace("_", "-")
    request_id = submit_kind(world, kind, tag)
    if operation == "delete":
        stored = stored_request(request_id)
        RequestStore().replace(stored.model_copy(update={"status": Status.FAILED}), stored.version)
    before = stored_request(request_id)
    status, answer = call_on(world, operation, actor, request_id, tag, acting_channel(actor, kind))
    if kind not in SEES[actor]:
        assert (status, answer["params"]["errmsg"]) == (404, NOT_FOUND)
    elif kind not in ENDS[actor]:
        assert status == 403, answer
        assert "only the requester" in answer["params"]["errmsg"]
    else:
        assert status == 200, answer
        after = stored_request(request_id)
        assert (after.status, after.deletedAt is not None) == (
            (Status.CANCELLED, False) if operation == "cancel" else (Status.FAILED, True)
        )
        assert after.audit[-1].action.value == ("cancelled" if operation == "cancel" else "deleted")
        assert after.audit[-1].credentialId == world.principals[actor].credential_id
        return
    after = stored_request(request_id)
    assert (after.status, after.deletedAt, after.audit) == (before.status, before.deletedAt, before.audit)


# -- submit --------------------------------------------------------------------------------------------------
SUBMITS: dict[str, tuple[str, dict[str, Any]]] = {
    "own-course-batch": ("progress-exhaust", {"batchId": "B1"}),
    "other-course-batch": ("progress-exhaust", {"batchFilter": ["B1", "B2"]}),
    "other-channel-batch": ("progress-exhaust", {"batchId": "B3"}),
    "unknown-batch": ("progress-exhaust", {"batchId": "B404"}),
    "own-course-search": ("response-exhaust", search_filter("C1")),
    "other-course-search": ("response-exhaust", search_filter("C1", "C2")),
    "limit-search": ("response-exhaust", search_filter()),
    "org-pii": ("org-pii-exhaust", {}),
}
# (role, submit) -> 200, or 403 with what the message must name.
SUBMIT_REFUSED: dict[tuple[str, str], str] = {
    **{("mentor", name): named for name, named in (
        ("other-course-batch", "batches B2 are outside"), ("other-channel-batch", "batches B3 are outside"),
        ("unknown-batch", "batches B404 are outside"), ("other-course-search", "courses C2 are outside"),
        ("limit-search", "without filters.identifier"), ("org-pii", "needs one of the roles ORG_ADMIN"))},
    **{("creator", name): named for name, named in (
        ("other-course-batch", "batches B2 are outside"), ("other-channel-batch", "batches B3 are outside"),
        ("unknown-batch", "batches B404 are outside"), ("other-course-search", "courses C2 are outside"),
        ("limit-search", "without filters.identifier"), ("org-pii", "needs one of the roles ORG_ADMIN"))},
    **{("named", name): named for name, named in (
        ("own-course-batch", "batches B1 are outside"), ("other-course-batch", "batches B1 are outside"),
        ("other-channel-batch", "batches B3 are outside"), ("unknown-batch", "batches B404 are outside"),
        ("own-course-search", "courses C1 are outside"), ("other-course-search", "courses C1 are outside"),
        ("limit-search", "without filters.identifier"), ("org-pii", "needs one of the roles ORG_ADMIN"))},
    **{("portal", name): "needs one of the roles" for name in SUBMITS},
    ("report_admin", "org-pii"): "needs one of the roles ORG_ADMIN",
}  # fmt: skip


@pytest.mark.parametrize("submit", list(SUBMITS))
@pytest.mark.parametrize("actor", [name for name in ROLES if ROLES[name].channel == A])
def test_a_submit_outside_the_callers_courses_is_a_403_naming_them(world, actor, submit):
    dataset, config = SUBMITS[submit]
    status, answer = submit_as(world, actor, submit_body(dataset, config, f"submit-{actor}-{submit}"))
    refused = SUBMIT_REFUSED.get((actor, submit))
    if refused is None and submit == "limit-search" and status == 409:
        # Allowed; but seed 002 keeps one limit-based searchFilter request open per dataset, and another role's
        # is open already.
        assert "only one limit-based searchFilter" in answer["params"]["errmsg"]
        return
    if refused is None:
        assert status == 200, answer
        return
    assert status == 403, answer
    assert refused in answer["params"]["errmsg"]
    assert "result" not in answer or not answer["result"]


def test_the_named_course_token_submits_its_own_course(world):
    status, answer = submit_as(world, "named", submit_body("progress-exhaust", {"batchId": "B2"}, "named-own"))
    assert status == 200, answer
    assert stored_request(answer["result"]["requestId"]).courses == ["C2"]


# -- dataset get and the course listing ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("actor", "expected"),
    [("org_admin", 200), ("report_admin", 200), ("mentor", 403), ("creator", 403), ("named", 403),
     ("portal", 403), ("other_org", 403), ("admin", 200)],
)  # fmt: skip
def test_standard_dataset_get_is_for_the_whole_channels_roles(world, actor, expected):
    event = load_event("dataset_get/defaults")
    status, _, answer = call_api(event, world.tokens[actor], X_Channel_Id=A)
    assert status == expected, answer
    if expected == 403:
        assert answer["responseCode"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("actor", "expected"),
    [("org_admin", ["C1", "C2"]), ("report_admin", ["C1", "C2"]), ("mentor", ["C1"]), ("creator", ["C1"]),
     ("named", ["C2"]), ("portal", [])],
)  # fmt: skip
def test_the_courses_a_principal_acts_on(world, actor, expected):
    directory = LakeCourseDirectory(world.settings.lake_uri)
    listed = courses_for(world.principals[actor], A, directory)
    assert [course.course_id for course in listed] == expected
    assert all(batch.batch_id != "B3" for course in listed for batch in course.batches)


# -- the reproductions -------------------------------------------------------------------------------
def test_a_mentors_token_no_longer_lists_reads_or_deletes_the_org_admins_personal_data_requests(world):
    tag = "issue-pii"
    userinfo = submit_as(world, "org_admin", submit_body("userinfo-exhaust", {"batchId": "B2"}, tag))[1]["result"]
    pii = submit_as(world, "org_admin", submit_body("org-pii-exhaust", {}, tag))[1]["result"]
    for job in (userinfo, pii):
        finish(job["requestId"])
    event = load_event("list/by_tag")
    event["pathParameters"] = {"tag": tag}
    event["path"] = f"/api/dataset/v1/request/list/{tag}"
    status, _, listed = call_api(event, world.tokens["mentor"], X_Channel_Id=A)
    assert (status, listed["result"]["jobs"]) == (200, [])
    for job in (userinfo, pii):
        for operation in ("read", "delete"):
            status, answer = call_on(world, operation, "mentor", job["requestId"], tag, A)
            assert (status, answer["params"]["errmsg"]) == (404, NOT_FOUND)
        assert stored_request(job["requestId"]).deletedAt is None
        status, answer = call_on(world, "read", "org_admin", job["requestId"], tag, A)
        assert status == 200
        assert answer["result"]["downloadUrls"]


def test_a_mentors_token_cannot_submit_personal_data_of_another_courses_batch(world):
    body = submit_body("userinfo-exhaust", {"batchFilter": ["B1", "B2"]}, "issue-other-course")
    status, answer = submit_as(world, "mentor", body)
    assert status == 403
    assert answer["params"]["errmsg"].startswith("request.datasetConfig.batchFilter: batches B2 are outside")


@pytest.mark.parametrize("actor", ["mentor", "portal", "report_admin"])
def test_an_org_pii_request_is_not_read_by_a_token_its_dataset_does_not_authorize(world, actor):
    status, answer = call_on(world, "read", actor, world.ids["pii_by_org_admin"], TAG, A)
    assert (status, answer["params"]["errmsg"]) == (404, NOT_FOUND)
    assert "downloadUrls" not in json.dumps(answer)


# -- the audit trail -----------------------------------------------------------------------------------------
def test_the_audit_trail_says_who_submitted_got_links_and_deleted_and_survives_the_delete(world, caplog):
    tag = "audit-trail"
    caplog.set_level("INFO")
    submitted = submit_as(world, "mentor", submit_body("progress-exhaust", {"batchId": "B1"}, tag))[1]["result"]
    request_id = submitted["requestId"]
    finish(request_id)
    status, by_mentor = call_on(world, "read", "mentor", request_id, tag, A)
    assert status == 200
    assert by_mentor["result"]["downloadUrls"]
    assert "audit" not in by_mentor["result"]  # shown to the org's admins only
    status, _ = call_on(world, "read", "mentor", request_id, tag, A)  # within the hour: the same event
    status, deleted = call_on(world, "delete", "org_admin", request_id, tag, A)
    assert status == 200, deleted
    status, after = call_on(world, "read", "org_admin", request_id, tag, A)
    assert status == 200
    mentor, org_admin = world.principals["mentor"], world.principals["org_admin"]
    trail = [(event["action"], event["userId"], event["credentialId"]) for event in after["result"]["audit"]]
    assert trail == [
        ("submitted", "mentor-1", mentor.credential_id),
        ("links", "mentor-1", mentor.credential_id),
        ("deleted", "org-admin-a", org_admin.credential_id),
    ]
    times = [event["at"] for event in after["result"]["audit"]]
    assert times == sorted(times)
    assert times[0] >= submitted["jobStats"]["dtJobSubmitted"]
    assert deleted["result"]["audit"] == after["result"]["audit"]
    logged = [record for record in caplog.records if record.getMessage() == "audit"]
    assert [(record.audit_action, record.request_id) for record in logged] == [
        ("submitted", request_id),
        ("links", request_id),
        ("deleted", request_id),
    ]
    everything_logged = "\n".join(str(record.__dict__) for record in caplog.records)
    assert not any(token in everything_logged for token in world.tokens.values())
    assert KEY not in everything_logged


def test_the_audit_trail_is_shown_by_the_clients_read(world, capsys):
    from exhaust_client.client import _show_request

    tag = "audit-client"
    request_id = submit_as(world, "org_admin", submit_body("progress-exhaust", {"batchId": "B1"}, tag))[1]["result"]
    status, answer = call_on(world, "read", "org_admin", request_id["requestId"], tag, A)
    assert status == 200
    _show_request(answer["result"])
    shown = capsys.readouterr().out
    credential = world.principals["org_admin"].credential_id
    at = dt.datetime.fromtimestamp(answer["result"]["audit"][0]["at"] / 1000, dt.UTC)
    expected_time = at.isoformat(timespec="seconds").replace("+00:00", "Z")
    assert f"  {expected_time}  submitted by org-admin-a (credential {credential})" in shown.splitlines()


# -- the dataset registry ------------------------------------------------------------------------------------
@pytest.mark.parametrize("actor", list(ROLES))
def test_the_registry_is_listed_to_every_token_and_extended_by_operators_only(world, actor):
    status, _, listed = call_api(load_event("dataset_list/all"), world.tokens[actor], X_Channel_Id=ROLES[actor].channel)
    assert status == 200
    assert "org-pii-exhaust" in [dataset["datasetId"] for dataset in listed["result"]["datasets"]]
    status, _, added = call_api(load_event("dataset_add/new_dataset"), world.tokens[actor])
    assert status == (200 if actor == "admin" else 403), added
