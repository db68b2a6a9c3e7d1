"""summary-channel-exhaust end to end on moto (issue 16): the producer writes it, dataset get answers its links."""

import datetime as dt
import json

import pyarrow as pa
import pytest
import requests

from tests.conftest import call_api, load_event, moto_environment, set_query

TODAY = dt.datetime.now(dt.UTC).date()
DATASET = "summary-channel-exhaust"


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def telemetry(offset: int, channel: str) -> list[dict]:
    when = dt.datetime.combine(TODAY + dt.timedelta(days=offset), dt.time(9), tzinfo=dt.UTC)
    return [
        {
            "event_date": when.date(),
            "channel": channel,
            "partner_id": "portal",
            "event_id": f"{channel}-{offset}-{eid}",
            "eid": eid,
            "ets": when + dt.timedelta(minutes=minutes),
            "session_id": f"s{offset}",
            "actor_id": "learner-1",
            "content_id": "do_1",
            "duration_seconds": duration,
            "event_json": "{}",
        }
        for eid, minutes, duration in (("START", 0, 0.0), ("END", 5, 300.0))
    ]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from exhaust.auth.credentials import CredentialStore
    from exhaust.lake import schemas
    from exhaust.lake.store import Lake
    from exhaust.standard.dates import DateRange
    from exhaust.standard.producer import Producer

    with moto_environment() as settings:
        store = CredentialStore()
        tokens = {
            channel: store.create("token", channel, channels=[channel], roles=["ORG_ADMIN"], user_id="u")[0]
            for channel in ("channel-a", "channel-b")
        }
        lake = Lake.open(str(tmp_path_factory.mktemp("lake")))
        rows = [row for offset in (-3, -2, -1) for row in telemetry(offset, "channel-a")] + telemetry(-1, "channel-b")
        lake.write("telemetry", pa.Table.from_pylist(rows, schema=schemas.TELEMETRY))
        Producer(lake, settings.exhaust_bucket, settings.public_bucket).produce(
            DateRange(TODAY - dt.timedelta(days=3), TODAY - dt.timedelta(days=1))
        )
        yield tokens


def get(tokens, query, channel="channel-a"):
    event = load_event("dataset_get/seed001_since_to")
    event["path"] = f"/api/data/v3/dataset/get/{DATASET}"
    event["pathParameters"] = {"datasetId": DATASET}
    set_query(event, query)
    return call_api(event, tokens[channel], X_Channel_Id=channel)


def test_since_to_answers_the_channels_days_with_presigned_links_to_its_session_rows(world):
    status, _, body = get(world, {"since": day(-2), "to": day(-1)})
    assert status == 200, body
    result = body["result"]
    assert sorted(result["periodWiseFiles"]) == [day(-2), day(-1)]
    assert result["expiresAt"] > 0
    answer = requests.get(result["periodWiseFiles"][day(-1)][0], timeout=5)
    assert answer.status_code == 200
    lines = answer.content.decode("utf-8").splitlines()
    assert lines == [
        "date,channel,session_id,user_id,partner_id,first_event_at,last_event_at,time_spent_seconds,"
        "content_plays,contents,events",
        f"{day(-1)},channel-a,s-1,learner-1,portal,{day(-1)}T09:00:00Z,{day(-1)}T09:05:00Z,300.0,1,1,2",
    ]


def test_from_to_and_channel_isolation(world):
    status, _, body = get(world, {"from": day(-3), "to": day(-1)})
    assert sorted(body["result"]["periodWiseFiles"]) == [day(-3), day(-2), day(-1)]
    status, _, body = get(world, {"from": day(-3), "to": day(-1)}, channel="channel-b")
    assert status == 200
    assert list(body["result"]["periodWiseFiles"]) == [day(-1)]
    assert all("/channel-b/" in url for url in body["result"]["files"])


def test_the_dataset_is_listed_as_a_standard_dataset(world):
    status, _, body = call_api(load_event("dataset_list/all"), world["channel-a"], X_Channel_Id="channel-a")
    assert status == 200
    found = {item["datasetId"]: item for item in body["result"]["datasets"]}
    assert found[DATASET]["type"] == "standard"
    assert json.dumps(found[DATASET]["limits"]) == json.dumps(
        {"maxBatchesPerRequest": 100, "maxDateRangeDays": 10, "retentionDays": 90}
    )
