"""The course listing (the console's course picker) on moto, through the authorizer and the handler, from events/."""

import base64
import datetime as dt
import json

import pytest
from exhaust.settings import RuntimeSettings

from tests.conftest import call_api, load_event, moto_environment, set_query

CHANNEL = "local-channel"
BATCH_EXPIRY_DAYS = RuntimeSettings.model_fields["batch_expiry_days"].default


def mentored_courses(lake, user_id):
    """The courses whose batches the lake says this user created or mentors (read here from the batches table)."""
    return {
        row["collection_id"]
        for row in lake.read("batches", ["collection_id", "created_by", "mentors"]).to_pylist()
        if row["created_by"] == user_id or user_id in (row["mentors"] or ())
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny generated lake (two channels, a retired course, mentors on batches), its catalog, tokens of each role."""
    from exhaust.api import courses as api
    from exhaust.auth.credentials import CredentialStore
    from exhaust.auth.directory import LakeCourseDirectory
    from exhaust.lake.catalog import Catalog
    from exhaust.lake.store import Lake
    from exhaust_devkit.lake.generator import OTHER_ORG, generate

    root = tmp_path_factory.mktemp("lake")
    generate("tiny", 7, str(root), channel=CHANNEL)
    lake = Lake.open(str(root))
    catalog = Catalog(lake)
    # A mentor of some, not all, of the channel's courses.
    own = {cid for cid, c in catalog.collections.items() if c.channel == CHANNEL}
    mentor = next(f"mentor-{n}" for n in range(20) if 0 < len(mentored_courses(lake, f"mentor-{n}") & own) < len(own))
    named_course = sorted(own - mentored_courses(lake, mentor))[0]
    with moto_environment() as _settings, pytest.MonkeyPatch.context() as patch:
        patch.setattr(api, "lake", lambda: lake)
        patch.setattr(api, "directory", lambda: LakeCourseDirectory(str(root)))
        store = CredentialStore()

        def token(roles, channel=CHANNEL, user_id="someone", courses=None):
            return store.create("token", user_id, channels=[channel], roles=roles, user_id=user_id, courses=courses)[0]

        tokens = {
            "admin": token(["ORG_ADMIN"]),
            "report": token(["REPORT_ADMIN"]),
            "mentor": token(["COURSE_ADMIN"], user_id=mentor),
            "named": token(["COURSE_ADMIN"], user_id="no-batch-names-me", courses=[named_course]),
            "unentitled": token(["COURSE_ADMIN"], user_id="no-batch-names-me"),
            "other": token(["ORG_ADMIN"], channel=OTHER_ORG),
            "on_behalf": token(["ON_BEHALF"]),
        }
        yield {
            "tokens": tokens,
            "catalog": catalog,
            "lake": lake,
            "other_channel": OTHER_ORG,
            "mentor": mentor,
            "named_course": named_course,
        }


def courses(token, query=None, channel=CHANNEL):
    event = set_query(load_event("courses/search"), query)
    return call_api(event, token, X_Channel_Id=channel)


def all_pages(token, query=None, limit="2", channel=CHANNEL):
    seen, cursor = [], None
    while True:
        paging = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        status, _, body = courses(token, {**(query or {}), **paging}, channel)
        assert status == 200, body
        seen.extend(body["result"]["courses"])
        cursor = body["result"].get("nextCursor")
        if cursor is None:
            return seen, body["result"]["count"]


def live_courses(world):
    catalog = world["catalog"]
    today = dt.datetime.now(dt.UTC).date()
    return {
        collection_id
        for collection_id, collection in catalog.collections.items()
        if collection.channel == CHANNEL
        and not collection.retired
        and any(not b.expired(today, BATCH_EXPIRY_DAYS) for b in catalog.batches_of(collection_id))
    }


def test_the_org_admin_sees_every_requestable_course_of_its_channel_with_batches_and_enrolments(world):
    listed, count = all_pages(world["tokens"]["admin"])
    catalog = world["catalog"]
    today = dt.datetime.now(dt.UTC).date()

    def live_batches(collection_id):
        return {b.batch_id for b in catalog.batches_of(collection_id) if not b.expired(today, BATCH_EXPIRY_DAYS)}

    expected = {
        collection_id
        for collection_id, collection in catalog.collections.items()
        if collection.channel == CHANNEL and not collection.retired and live_batches(collection_id)
    }
    assert {course["courseId"] for course in listed} == expected
    assert count == len(expected) == len(listed)
    assert any(c.retired and c.channel == CHANNEL for c in catalog.collections.values()), "the lake has a retired one"
    assert any(c.channel == world["other_channel"] for c in catalog.collections.values()), "and another channel"
    assert any(b.expired(today, BATCH_EXPIRY_DAYS) for b in catalog.batches.values()), "and an expired batch"
    names = [course["name"].casefold() for course in listed]
    assert names == sorted(names)
    for course in listed:
        batches = {batch["batchId"]: batch for batch in course["batches"]}
        assert set(batches) == live_batches(course["courseId"])
        for batch_id, batch in batches.items():
            assert batch["enrolments"] == world["lake"].read("enrolments", equals={"batch_id": batch_id}).num_rows
            assert batch["startDate"] == catalog.batch(batch_id).start_date


def test_a_mentor_sees_only_the_courses_the_lake_says_it_creates_or_mentors(world):
    listed, count = all_pages(world["tokens"]["mentor"])
    expected = mentored_courses(world["lake"], world["mentor"]) & live_courses(world)
    assert expected
    assert expected != live_courses(world)
    assert {course["courseId"] for course in listed} == expected
    assert count == len(expected)
    _, _, body = courses(world["tokens"]["mentor"], {"limit": "1"})
    assert f"the courses you create or mentor in channel {CHANNEL}" in body["result"]["scope"]


def test_a_course_admin_sees_the_courses_its_token_names_and_without_any_none(world):
    listed, _ = all_pages(world["tokens"]["named"])
    assert [course["courseId"] for course in listed] == [world["named_course"]]
    listed, count = all_pages(world["tokens"]["unentitled"])
    assert listed == []
    assert count == 0


def test_the_other_channels_token_sees_its_own_courses_not_the_first_channels(world):
    mine, _ = all_pages(world["tokens"]["admin"])
    theirs, _ = all_pages(world["tokens"]["other"], limit="50", channel=world["other_channel"])
    assert theirs
    assert not {c["courseId"] for c in mine} & {c["courseId"] for c in theirs}
    status, _, body = courses(world["tokens"]["other"], channel=CHANNEL)
    assert status == 403
    assert f"may not act for channel '{CHANNEL}'" in body["params"]["errmsg"]


def test_search_matches_course_and_batch_names_and_ids_in_any_case(world):
    everything, _ = all_pages(world["tokens"]["admin"])
    course = everything[0]
    word = course["name"].split()[0].upper()
    found, count = all_pages(world["tokens"]["admin"], {"q": word})
    assert course["courseId"] in {c["courseId"] for c in found}
    assert all(word.casefold() in c["name"].casefold() or any(
        word.casefold() in f"{b['name']} {b['batchId']}".casefold() for b in c["batches"]) for c in found)  # fmt: skip
    batch_id = course["batches"][0]["batchId"]
    found, count = all_pages(world["tokens"]["admin"], {"q": batch_id})
    assert [c["courseId"] for c in found] == [course["courseId"]]
    assert count == 1
    found, count = all_pages(world["tokens"]["admin"], {"q": "no course is called this"})
    assert found == []
    assert count == 0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": "0"}, "limit: must be an integer from 1 to 50"),
        ({"limit": "51"}, "limit: must be an integer from 1 to 50"),
        ({"cursor": "not-a-cursor"}, "cursor: not a nextCursor this route answered"),
        # Brackets nested deeper than the JSON parser recurses (the hostile matrix found it a 500).
        ({"cursor": base64.urlsafe_b64encode(b"[" * 100_000).decode()}, "cursor: not a nextCursor this route answered"),
        ({"q": "x" * 101}, "q: must be at most 100 characters"),
        ({"page": "2"}, "page: unknown query parameter"),
    ],
)
def test_bad_input_is_a_400_that_says_what_is_wrong(world, query, message):
    status, _, body = courses(world["tokens"]["mentor"], query)
    assert status == 400
    assert message in body["params"]["errmsg"]


def test_who_may_not_list_is_told_why(world):
    status, _, body = courses(world["tokens"]["on_behalf"])
    assert status == 403
    assert "the course list: needs one of the roles ORG_ADMIN, REPORT_ADMIN, COURSE_ADMIN" in body["params"]["errmsg"]
    status, _, body = courses(None)
    assert status == 401
    status, _, body = courses(world["tokens"]["mentor"], channel=None)
    assert status == 400
    assert "X-Channel-Id: header is required" in body["params"]["errmsg"]


def test_the_dataset_list_says_which_datasets_the_caller_may_request_as_submit_decides(world):
    """A REPORT_ADMIN, as a mentor, is offered the course datasets, not org-pii-exhaust (ORG_ADMIN only): submit
    agrees (a REPORT_ADMIN acts on the whole channel, so no course scope is in the way of the comparison)."""
    status, _, body = call_api(load_event("dataset_list/all"), world["tokens"]["mentor"], X_Channel_Id=CHANNEL)
    assert status == 200, body
    mentor_offered = {
        d["datasetId"] for d in body["result"]["datasets"] if d["type"] == "on-demand" and d["requestable"]
    }
    assert mentor_offered == {"progress-exhaust", "userinfo-exhaust", "response-exhaust"}
    status, _, body = call_api(load_event("dataset_list/all"), world["tokens"]["report"], X_Channel_Id=CHANNEL)
    assert status == 200, body
    requestable = {d["datasetId"]: d["requestable"] for d in body["result"]["datasets"] if d["type"] == "on-demand"}
    assert requestable == {
        "progress-exhaust": True,
        "userinfo-exhaust": True,
        "response-exhaust": True,
        "org-pii-exhaust": False,
    }
    batch_id = next(iter(world["catalog"].batches))
    for dataset, allowed in requestable.items():
        event = load_event("submit/seed002_batch_filter")
        body = {"request": {"tag": "console-check", "dataset": dataset, "encryptionKey": "a-long-enough-key"}}
        body["request"]["datasetConfig"] = {} if dataset == "org-pii-exhaust" else {"batchId": batch_id}
        event["body"] = json.dumps(body)
        status, _, answer = call_api(event, world["tokens"]["report"], X_Channel_Id=CHANNEL)
        assert (status != 403) == allowed, (dataset, status, answer)
