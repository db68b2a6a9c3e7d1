"""The producer's files in (moto) S3: where they land, their content type, and re-runs that replace them."""

import datetime as dt

import pyarrow as pa
from exhaust.lake import schemas
from exhaust.lake.store import Lake
from exhaust.standard.dates import DateRange
from exhaust.standard.producer import Producer, run

DAY = dt.date(2026, 11, 18)


def telemetry_rows(users: int, day: dt.date = DAY):
    return [
        {
            "event_date": day,
            "channel": "channel-a",
            "partner_id": "p",
            "event_id": f"e{n}",
            "eid": "START",
            "ets": dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC),
            "session_id": f"s{n}",
            "actor_id": f"u{n}",
            "content_id": "do_1",
            "duration_seconds": 0.0,
            "event_json": "{}",
        }
        for n in range(users)
    ]


def all_objects(bucket):
    from exhaust import aws

    answer = aws.client("s3").list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in answer.get("Contents", [])]


def test_rerun_replaces_the_day_in_both_buckets(aws_resources, tmp_path):
    from exhaust import aws

    lake = Lake.open(str(tmp_path / "lake"))
    lake.write("telemetry", pa.Table.from_pylist(telemetry_rows(6), schema=schemas.TELEMETRY))
    producer = Producer(lake, aws_resources.exhaust_bucket, aws_resources.public_bucket)
    producer.produce_day(DAY)
    # The lake is corrected (more users that day) and the day produced again.
    lake.write("telemetry", pa.Table.from_pylist(telemetry_rows(8), schema=schemas.TELEMETRY))
    producer = Producer(Lake.open(str(tmp_path / "lake")), aws_resources.exhaust_bucket, aws_resources.public_bucket)
    producer.produce(DateRange(DAY, DAY))

    assert all_objects(aws_resources.exhaust_bucket) == [
        "data-exhaust/summary-channel-exhaust/channel-a/2026-11-18.csv",
        "data-exhaust/summary-rollup/channel-a/2026-11-18.csv",
    ]
    assert all_objects(aws_resources.public_bucket) == ["public-summary-rollup/channel-a/2026-11-18.csv"]
    s3 = aws.client("s3")
    standard = s3.get_object(Bucket=aws_resources.exhaust_bucket, Key=all_objects(aws_resources.exhaust_bucket)[1])
    assert standard["ContentType"] == "text/csv; charset=utf-8"
    assert standard["Body"].read().decode().splitlines()[1] == "2026-11-18,channel-a,,8,8,0.0,8,8,0,0"
    public = s3.get_object(Bucket=aws_resources.public_bucket, Key=all_objects(aws_resources.public_bucket)[0])
    assert public["CacheControl"] == "public, max-age=3600"
    assert public["Body"].read().decode().splitlines()[1:] == [
        "2026-11-18,channel-a,,8,8,0.0,8",
        "2026-11-18,channel-a,do_1,8,8,0.0,8",
    ]


def test_run_event_backfills_a_range(aws_resources, tmp_path):
    lake = Lake.open(str(tmp_path / "lake"))
    rows = [row for offset in range(3) for row in telemetry_rows(5, DAY - dt.timedelta(days=offset))]
    lake.write("telemetry", pa.Table.from_pylist(rows, schema=schemas.TELEMETRY))
    producer = Producer(lake, aws_resources.exhaust_bucket, aws_resources.public_bucket)
    result = run({"from": "2026-11-15", "to": "2026-11-18"}, producer, today=dt.date(2026, 11, 19))
    assert [(day["date"], day["channels"]) for day in result["days"]] == [
        ("2026-11-15", []),
        ("2026-11-16", ["channel-a"]),
        ("2026-11-17", ["channel-a"]),
        ("2026-11-18", ["channel-a"]),
    ]
    assert len(all_objects(aws_resources.exhaust_bucket)) == 6


def test_the_producer_lambda_handles_a_scheduler_event(aws_resources, tmp_path, monkeypatch):
    from exhaust.standard import producer as producer_module
    from exhaust_devkit.local.functions import invoke

    lake = Lake.open(str(tmp_path / "lake"))
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    lake.write("telemetry", pa.Table.from_pylist(telemetry_rows(5, yesterday), schema=schemas.TELEMETRY))
    # The deployed function opens the lake in S3 with pyarrow, which moto's in-process mock cannot serve.
    monkeypatch.setattr(
        producer_module,
        "producer_from_settings",
        lambda: Producer(lake, aws_resources.exhaust_bucket, aws_resources.public_bucket),
    )
    scheduled = f"{yesterday + dt.timedelta(days=1)}T01:30:00Z"
    answer = invoke("producer", {"scheduledTime": scheduled})
    assert [day["date"] for day in answer["days"]] == [yesterday.isoformat()]
    assert all_objects(aws_resources.exhaust_bucket) == [
        f"data-exhaust/summary-channel-exhaust/channel-a/{yesterday.isoformat()}.csv",
        f"data-exhaust/summary-rollup/channel-a/{yesterday.isoformat()}.csv",
    ]
