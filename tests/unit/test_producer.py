"""The daily producer on a hand-made telemetry table: every expected CSV line written out (golden files)."""

import datetime as dt

import pyarrow as pa
import pytest
from exhaust.errors import BadRequest
from exhaust.lake import schemas
from exhaust.lake.store import Lake
from exhaust.standard.dates import DateRange
from exhaust.standard.producer import Producer, days_to_produce

DAY = dt.date(2026, 11, 18)
UTC = dt.UTC


def event(channel, session, actor, content, eid, duration=0.0, day=DAY):
    return {
        "event_date": day,
        "channel": channel,
        "partner_id": "p",
        "event_id": f"{session}-{actor}-{content}-{eid}",
        "eid": eid,
        "ets": dt.datetime.combine(day, dt.time(10), tzinfo=UTC),
        "session_id": session,
        "actor_id": actor,
        "content_id": content,
        "duration_seconds": duration,
        "event_json": "{}",
    }


TELEMETRY = [
    # ch-a: C1 has 5 users (public), C2 has 2 (suppressed), one event has no content.
    event("ch-a", "s1", "u1", "C1", "START"),
    event("ch-a", "s1", "u1", "C1", "END", 120.0),
    event("ch-a", "s2", "u2", "C1", "START"),
    event("ch-a", "s2", "u2", "C1", "END", 60.5),
    event("ch-a", "s3", "u3", "C1", "START"),
    event("ch-a", "s4", "u4", "C1", "START"),
    event("ch-a", "s5", "u5", "C1", "INTERACT"),
    event("ch-a", "s1", "u1", "C2", "START"),
    event("ch-a", "s6", "u6", "C2", "END", 30.0),
    event("ch-a", "s7", "u7", None, "IMPRESSION"),
    # ch-b: one content with 6 users and nothing hidden, so its total is public too.
    *(event("ch-b", f"t{n}", f"b{n}", "C9", "START") for n in range(1, 7)),
    event("ch-b", "t1", "b1", "C9", "END", 10.0),
    # ch-c: a single user: nothing of it is public.
    event("ch-c", "x", "x1", "C1", "START"),
    # Another day and an event without a channel: in no file of DAY.
    event("ch-a", "s9", "u9", "C1", "START", day=DAY - dt.timedelta(days=1)),
    event(None, "s8", "u8", "C1", "START"),
]

HEADER = "date,channel,content_id,sessions,users,time_spent_seconds,content_plays,events,enrolments,completions"
PUBLIC_HEADER = "date,channel,content_id,sessions,users,time_spent_seconds,content_plays"
SESSION_HEADER = (
    "date,channel,session_id,user_id,partner_id,first_event_at,last_event_at,time_spent_seconds,content_plays,"
    "contents,events"
)
AT_TEN = "2026-11-18T10:00:00Z,2026-11-18T10:00:00Z"
EXPECTED = {
    ("exhaust", "data-exhaust/summary-rollup/ch-a/2026-11-18.csv"): [
        HEADER,
        "2026-11-18,ch-a,,7,7,210.5,5,10,0,0",
        "2026-11-18,ch-a,C1,5,5,180.5,4,7,0,0",
        "2026-11-18,ch-a,C2,2,2,30.0,1,2,0,0",
    ],
    ("exhaust", "data-exhaust/summary-rollup/ch-b/2026-11-18.csv"): [
        HEADER,
        "2026-11-18,ch-b,,6,6,10.0,6,7,0,0",
        "2026-11-18,ch-b,C9,6,6,10.0,6,7,0,0",
    ],
    ("exhaust", "data-exhaust/summary-rollup/ch-c/2026-11-18.csv"): [
        HEADER,
        "2026-11-18,ch-c,,1,1,0.0,1,1,0,0",
        "2026-11-18,ch-c,C1,1,1,0.0,1,1,0,0",
    ],
    # One row per session and user: s1 played C1 and C2 (2 contents, 3 events); s7's event has no content.
    ("exhaust", "data-exhaust/summary-channel-exhaust/ch-a/2026-11-18.csv"): [
        SESSION_HEADER,
        f"2026-11-18,ch-a,s1,u1,p,{AT_TEN},120.0,2,2,3",
        f"2026-11-18,ch-a,s2,u2,p,{AT_TEN},60.5,1,1,2",
        f"2026-11-18,ch-a,s3,u3,p,{AT_TEN},0.0,1,1,1",
        f"2026-11-18,ch-a,s4,u4,p,{AT_TEN},0.0,1,1,1",
        f"2026-11-18,ch-a,s5,u5,p,{AT_TEN},0.0,0,1,1",
        f"2026-11-18,ch-a,s6,u6,p,{AT_TEN},30.0,0,1,1",
        f"2026-11-18,ch-a,s7,u7,p,{AT_TEN},0.0,0,0,1",
    ],
    ("exhaust", "data-exhaust/summary-channel-exhaust/ch-b/2026-11-18.csv"): [
        SESSION_HEADER,
        f"2026-11-18,ch-b,t1,b1,p,{AT_TEN},10.0,1,1,2",
        *(f"2026-11-18,ch-b,t{n},b{n},p,{AT_TEN},0.0,1,1,1" for n in range(2, 7)),
    ],
    ("exhaust", "data-exhaust/summary-channel-exhaust/ch-c/2026-11-18.csv"): [
        SESSION_HEADER,
        f"2026-11-18,ch-c,x,x1,p,{AT_TEN},0.0,1,1,1",
    ],
    # The total of ch-a is withheld: minus C1's row it would show the 3 users of C2 and the content-less event.
    ("public", "public-summary-rollup/ch-a/2026-11-18.csv"): [PUBLIC_HEADER, "2026-11-18,ch-a,C1,5,5,180.5,4"],
    ("public", "public-summary-rollup/ch-b/2026-11-18.csv"): [
        PUBLIC_HEADER,
        "2026-11-18,ch-b,,6,6,10.0,6",
        "2026-11-18,ch-b,C9,6,6,10.0,6",
    ],
    ("public", "public-summary-rollup/ch-c/2026-11-18.csv"): [PUBLIC_HEADER],
}


class MemoryStore:
    def __init__(self):
        self.objects = {}
        self.cache_control = {}

    def put(self, bucket, key, body, *, cache_control=None):
        self.objects[(bucket, key)] = body
        self.cache_control[(bucket, key)] = cache_control


@pytest.fixture
def lake(tmp_path):
    lake = Lake.open(str(tmp_path / "lake"))
    lake.write("telemetry", pa.Table.from_pylist(TELEMETRY, schema=schemas.TELEMETRY))
    return lake


def test_golden_files_of_one_day(lake):
    store = MemoryStore()
    report = Producer(lake, "exhaust", "public", store).produce_day(DAY)
    assert report.channels == ["ch-a", "ch-b", "ch-c"]
    assert {key: body.decode("utf-8").split("\r\n")[:-1] for key, body in store.objects.items()} == EXPECTED
    assert store.cache_control[("public", "public-summary-rollup/ch-b/2026-11-18.csv")] == "public, max-age=3600"


def test_public_files_hold_no_user_ids(lake):
    store = MemoryStore()
    Producer(lake, "exhaust", "public", store).produce_day(DAY)
    public = b"".join(body for (bucket, _), body in store.objects.items() if bucket == "public")
    assert b"u1" not in public
    assert b"b1" not in public


def test_a_day_without_telemetry_writes_nothing(lake, tmp_path):
    store = MemoryStore()
    assert Producer(lake, "exhaust", "public", store).produce_day(DAY + dt.timedelta(days=1)).files == []
    assert store.objects == {}
    empty = Lake.open(str(tmp_path / "no-lake"))
    assert Producer(empty, "exhaust", "public", store).produce_day(DAY).files == []


def test_backfill_produces_each_day_and_rerunning_replaces(lake):
    store = MemoryStore()
    producer = Producer(lake, "exhaust", "public", store)
    reports = producer.produce(DateRange(DAY - dt.timedelta(days=1), DAY))
    assert [(report.day, report.channels) for report in reports] == [
        (DAY - dt.timedelta(days=1), ["ch-a"]),
        (DAY, ["ch-a", "ch-b", "ch-c"]),
    ]
    first = dict(store.objects)
    producer.produce(DateRange(DAY - dt.timedelta(days=1), DAY))
    assert store.objects == first
    assert len(first) == 12


def test_a_session_spans_its_first_to_its_last_event_and_each_user_is_a_row(tmp_path):
    late = dict(event("ch-a", "s1", "u1", "C1", "END", 45.0), ets=dt.datetime(2026, 11, 18, 11, 30, 5, tzinfo=UTC))
    shared = event("ch-a", "s1", "u2", "C1", "START")
    lake = Lake.open(str(tmp_path / "lake"))
    rows = [event("ch-a", "s1", "u1", "C1", "START"), late, shared]
    lake.write("telemetry", pa.Table.from_pylist(rows, schema=schemas.TELEMETRY))
    store = MemoryStore()
    Producer(lake, "exhaust", "public", store).produce_day(DAY)
    body = store.objects[("exhaust", "data-exhaust/summary-channel-exhaust/ch-a/2026-11-18.csv")].decode()
    assert body.split("\r\n")[1:-1] == [
        "2026-11-18,ch-a,s1,u1,p,2026-11-18T10:00:00Z,2026-11-18T11:30:05Z,45.0,1,1,2",
        f"2026-11-18,ch-a,s1,u2,p,{AT_TEN},0.0,1,1,1",
    ]


@pytest.mark.parametrize(
    ("event", "start", "end"),
    [
        ({}, "2026-11-18", "2026-11-18"),
        ({"date": "2026-11-01"}, "2026-11-01", "2026-11-01"),
        ({"from": "2026-11-01", "to": "2026-11-05"}, "2026-11-01", "2026-11-05"),
        ({"scheduledTime": "2026-11-19T01:30:00Z"}, "2026-11-18", "2026-11-18"),
    ],
)
def test_days_to_produce(event, start, end):
    today = dt.date(2026, 11, 19)
    assert days_to_produce(event, today) == DateRange(dt.date.fromisoformat(start), dt.date.fromisoformat(end))


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"date": "2026-11-20"}, "to: 2026-11-20 is after today"),
        ({"from": "2026-11-05", "to": "2026-11-01"}, "from: 2026-11-05 is after to"),
        ({"from": "2026-11-05"}, "from, to: a backfill needs both"),
        ({"date": "11/05/2026"}, "date: '11/05/2026' is not a date"),
        ({"from": "2024-01-01", "to": "2026-11-01"}, "from: a backfill covers at most 366 days"),
    ],
)
def test_days_to_produce_refusals(event, message):
    with pytest.raises(BadRequest) as caught:
        days_to_produce(event, dt.date(2026, 11, 19))
    assert caught.value.message.startswith(message)


def enrolment(collection_id: str, batch_id: str, user_id: str, enrolled: dt.datetime, completed=None) -> dict:
    return {
        "batch_id": batch_id,
        "user_id": user_id,
        "collection_id": collection_id,
        "enrolled_on": enrolled,
        "completed_on": completed,
        "status": 2 if completed else 1,
    }


def test_summary_rollup_counts_the_days_enrolments_and_completions_of_each_course_and_the_channel(lake):
    """Course C1 of ch-a: 2 enrolments that day (one more the day before, one in ch-b's course C9), 1 completion."""
    at = dt.datetime(2026, 11, 18, 23, 30, tzinfo=UTC)
    lake.write(
        "collections",
        pa.Table.from_pylist(
            [{"collection_id": "C1", "channel": "ch-a"}, {"collection_id": "C3", "channel": "ch-a"},
             {"collection_id": "C9", "channel": "ch-b"}],
            schema=schemas.COLLECTIONS,
        ),
    )  # fmt: skip
    lake.write(
        "enrolments",
        pa.Table.from_pylist(
            [
                enrolment("C1", "b1", "u1", at),
                enrolment("C1", "b1", "u2", at - dt.timedelta(hours=1), completed=at),
                enrolment("C1", "b2", "u3", at - dt.timedelta(days=1), completed=at + dt.timedelta(hours=1)),
                enrolment("C3", "b3", "u4", at),  # a course without telemetry that day: in the total only
                enrolment("C9", "b9", "b1", at - dt.timedelta(days=1)),
            ],
            schema=schemas.ENROLMENTS,
        ),
    )
    for produce in (
        lambda store: Producer(lake, "exhaust", "public", store).produce_day(DAY),
        lambda store: Producer(lake, "exhaust", "public", store).produce(DateRange(DAY - dt.timedelta(days=1), DAY)),
    ):
        store = MemoryStore()
        produce(store)
        rows = store.objects[("exhaust", "data-exhaust/summary-rollup/ch-a/2026-11-18.csv")].decode().split("\r\n")
        assert rows[1:4] == [
            "2026-11-18,ch-a,,7,7,210.5,5,10,3,1",
            "2026-11-18,ch-a,C1,5,5,180.5,4,7,2,1",
            "2026-11-18,ch-a,C2,2,2,30.0,1,2,0,0",
        ]
        ch_b = store.objects[("exhaust", "data-exhaust/summary-rollup/ch-b/2026-11-18.csv")].decode().split("\r\n")
        assert ch_b[1] == "2026-11-18,ch-b,,6,6,10.0,6,7,0,0"
        public = store.objects[("public", "public-summary-rollup/ch-a/2026-11-18.csv")].decode()
        assert public.split("\r\n")[0] == PUBLIC_HEADER
