"""The daily producer: the lake's telemetry of one day -> summary-rollup, summary-channel-exhaust and
public-summary-rollup CSV files.

For every channel with telemetry that day it writes
  s3://{exhaust bucket}/data-exhaust/summary-rollup/{channel}/{yyyy-mm-dd}.csv
  s3://{exhaust bucket}/data-exhaust/summary-channel-exhaust/{channel}/{yyyy-mm-dd}.csv
  s3://{public bucket}/public-summary-rollup/{channel}/{yyyy-mm-dd}.csv
at fixed keys, so producing a day again replaces its files (never a second copy), and then invalidates the
public files in CloudFront (when there is a distribution), so a corrected day reaches readers at once. Columns
and the suppression rule are in docs/datasets.md. It needs pyarrow: it runs in its own container image and in
the CLI, never in an API Lambda.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from uuid import uuid4

import pyarrow as pa
import pyarrow.compute as pc

from exhaust import aws
from exhaust.errors import BadRequest
from exhaust.lake import schemas
from exhaust.lake.store import Lake
from exhaust.settings import RuntimeSettings, get_settings
from exhaust.standard.dates import DateRange, parse_day
from exhaust.standard.files import public_key, standard_key

SUMMARY_ROLLUP = "summary-rollup"
SUMMARY_CHANNEL_EXHAUST = "summary-channel-exhaust"
PUBLIC_SUMMARY_ROLLUP = "public-summary-rollup"
# A content's row, and the day's total, reach the public file only when at least this many distinct users
# are behind it; below that a count could point at a person.
MIN_PUBLIC_USERS = 5
PLAY_EVENT = "START"
# One run stays well inside Lambda's 15 minutes; longer backfills are split into several runs.
MAX_BACKFILL_DAYS = 366
TELEMETRY_COLUMNS = ["channel", "session_id", "actor_id", "content_id", "eid", "duration_seconds", "partner_id", "ets"]
# The day's total row of a channel has an empty content_id (like SQL's ROLLUP), and comes first.
TOTAL_CONTENT_ID = ""
ROLLUP_COLUMNS = (
    "date",
    "channel",
    "content_id",
    "sessions",
    "users",
    "time_spent_seconds",
    "content_plays",
    "events",
    "enrolments",
    "completions",
)
ENROLMENT_COLUMNS = ["collection_id", "enrolled_on", "completed_on"]
# summary-channel-exhaust: one row per session and user of the channel that day (docs/datasets.md).
SESSION_COLUMNS = (
    "date",
    "channel",
    "session_id",
    "user_id",
    "partner_id",
    "first_event_at",
    "last_event_at",
    "time_spent_seconds",
    "content_plays",
    "contents",
    "events",
)
SESSION_KEYS = ["channel", "session_id", "actor_id", "partner_id"]
PUBLIC_COLUMNS = ("date", "channel", "content_id", "sessions", "users", "time_spent_seconds", "content_plays")
TELEMETRY_SLICE = pa.schema([schemas.TELEMETRY.field(name) for name in TELEMETRY_COLUMNS])
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
# CloudFront keeps a public file at most this long, so a re-produced day reaches readers within the hour.
PUBLIC_CACHE_CONTROL = "public, max-age=3600"


@dataclass(frozen=True)
class Usage:
    """The usage behind one row: distinct sessions and users, seconds spent, plays and events."""

    content_id: str
    sessions: int
    users: int
    time_spent_seconds: float
    content_plays: int
    events: int
    # Enrolments and completions that day: of the content when it is a course, of every course on the total row.
    enrolments: int = 0
    completions: int = 0

    def row(self, day: dt.date, channel: str, columns: Sequence[str]) -> list[str]:
        values = {
            "date": day.isoformat(),
            "channel": channel,
            "content_id": self.content_id,
            "sessions": str(self.sessions),
            "users": str(self.users),
            "time_spent_seconds": f"{self.time_spent_seconds:.1f}",
            "content_plays": str(self.content_plays),
            "events": str(self.events),
            "enrolments": str(self.enrolments),
            "completions": str(self.completions),
        }
        return [values[column] for column in columns]


@dataclass
class ChannelDay:
    """One channel's rollup of one day: its total and one Usage per content, by content id."""

    channel: str
    total: Usage
    contents: list[Usage]
    # Distinct users of the events no published content row shows (events without a content, and the
    # contents under the threshold): the public total is withheld when this group is small but not empty.
    hidden_users_if_suppressed: int = 0
    hidden_events_if_suppressed: int = 0

    def public_rows(self) -> list[Usage]:
        shown = [usage for usage in self.contents if usage.users >= MIN_PUBLIC_USERS]
        hidden_small = self.hidden_events_if_suppressed > 0 and self.hidden_users_if_suppressed < MIN_PUBLIC_USERS
        # Without that check, the total minus the shown rows would reveal the hidden group's counts.
        total = [] if hidden_small or self.total.users < MIN_PUBLIC_USERS else [self.total]
        return total + shown


_AGGREGATES = [
    ("session_id", "count_distinct"),
    ("actor_id", "count_distinct"),
    ("duration_seconds", "sum"),
    ("play", "sum"),
    ("eid", "count_all"),
]


def _usages(table: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
    grouped = table.group_by(keys).aggregate(
        [(column, function) if function != "count_all" else ([], function) for column, function in _AGGREGATES]
    )
    return grouped.to_pylist()


def _usage(content_id: str, aggregate: dict[str, Any]) -> Usage:
    return Usage(
        content_id=content_id,
        sessions=int(aggregate["session_id_count_distinct"]),
        users=int(aggregate["actor_id_count_distinct"]),
        time_spent_seconds=float(aggregate["duration_seconds_sum"] or 0.0),
        content_plays=int(aggregate["play_sum"] or 0),
        events=int(aggregate["count_all"]),
    )


def rollup(telemetry: pa.Table) -> list[ChannelDay]:
    """Per channel (sorted), the day's total and the usage of each content, from one day of telemetry."""
    telemetry = telemetry.filter(pc.is_valid(telemetry["channel"]))
    if telemetry.num_rows == 0:
        return []
    plays = pc.cast(pc.fill_null(pc.equal(telemetry["eid"], PLAY_EVENT), False), pa.int64())
    telemetry = telemetry.append_column("play", plays)
    totals = {row["channel"]: row for row in _usages(telemetry, ["channel"])}
    per_content: dict[str, list[Usage]] = {channel: [] for channel in totals}
    for row in _usages(telemetry.filter(pc.is_valid(telemetry["content_id"])), ["channel", "content_id"]):
        per_content[row["channel"]].append(_usage(row["content_id"], row))
    days = []
    for channel in sorted(totals):
        contents = sorted(per_content[channel], key=lambda usage: usage.content_id)
        small = [usage.content_id for usage in contents if usage.users < MIN_PUBLIC_USERS]
        of_channel = telemetry.filter(pc.equal(telemetry["channel"], channel))
        hidden = of_channel.filter(
            pc.or_kleene(
                pc.is_null(of_channel["content_id"]),
                pc.is_in(of_channel["content_id"], value_set=pa.array(small, type=pa.string())),
            )
        )
        days.append(
            ChannelDay(
                channel=channel,
                total=_usage(TOTAL_CONTENT_ID, totals[channel]),
                contents=contents,
                hidden_users_if_suppressed=int(pc.count_distinct(hidden["actor_id"]).as_py()),
                hidden_events_if_suppressed=hidden.num_rows,
            )
        )
    return days


# (channel, day) -> collection id -> [enrolments, completions] that day.
CourseActivity = dict[tuple[str, dt.date], dict[str, list[int]]]


def course_activity(lake: Lake, days: DateRange) -> CourseActivity:
    """Enrolments (enrolled_on) and completions (completed_on) per channel, day (UTC) and course over `days`.

    One streamed pass over three columns of the enrolments table serves a whole backfill: the table is sorted by
    batch, so no day can be read alone.
    """
    channel_of = {
        row["collection_id"]: row["channel"] or ""
        for row in lake.read("collections", ["collection_id", "channel"]).to_pylist()
    }
    found: CourseActivity = {}
    for batch in lake.scan("enrolments", ENROLMENT_COLUMNS):
        for row in batch.to_pylist():
            for index, instant in ((0, row["enrolled_on"]), (1, row["completed_on"])):
                if instant is None:
                    continue
                day = instant.astimezone(dt.UTC).date()
                channel = channel_of.get(row["collection_id"])
                if channel and days.start <= day <= days.end:
                    counts = found.setdefault((channel, day), {}).setdefault(row["collection_id"], [0, 0])
                    counts[index] += 1
    return found


def with_activity(channel_day: ChannelDay, courses: dict[str, list[int]]) -> list[Usage]:
    """The rollup's rows with their enrolments and completions: the total row's are the whole channel's."""
    enrolments = sum(counts[0] for counts in courses.values())
    completions = sum(counts[1] for counts in courses.values())
    total = replace(channel_day.total, enrolments=enrolments, completions=completions)
    contents = [
        replace(usage, enrolments=courses[usage.content_id][0], completions=courses[usage.content_id][1])
        if usage.content_id in courses
        else usage
        for usage in channel_day.contents
    ]
    return [total, *contents]


def _instant(value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def session_summaries(telemetry: pa.Table) -> dict[str, list[list[str]]]:
    """Per channel, the CSV rows (without date and channel) of summary-channel-exhaust, by session and user."""
    telemetry = telemetry.filter(pc.is_valid(telemetry["channel"]))
    if telemetry.num_rows == 0:
        return {}
    plays = pc.cast(pc.fill_null(pc.equal(telemetry["eid"], PLAY_EVENT), False), pa.int64())
    grouped = (
        telemetry.append_column("play", plays)
        .group_by(SESSION_KEYS, use_threads=False)
        .aggregate(
            [
                ("ets", "min"),
                ("ets", "max"),
                ("duration_seconds", "sum"),
                ("play", "sum"),
                ("content_id", "count_distinct"),
                ([], "count_all"),
            ]
        )
        .sort_by([(key, "ascending") for key in SESSION_KEYS])
    )
    rows: dict[str, list[list[str]]] = {}
    for row in grouped.to_pylist():
        rows.setdefault(row["channel"], []).append(
            [
                row["session_id"] or "",
                row["actor_id"] or "",
                row["partner_id"] or "",
                _instant(row["ets_min"]),
                _instant(row["ets_max"]),
                f"{row['duration_seconds_sum'] or 0.0:.1f}",
                str(int(row["play_sum"] or 0)),
                str(int(row["content_id_count_distinct"])),
                str(int(row["count_all"])),
            ]
        )
    return rows


def sessions_csv(day: dt.date, channel: str, rows: Iterable[list[str]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(SESSION_COLUMNS)
    for row in rows:
        writer.writerow([day.isoformat(), channel, *row])
    return text.getvalue().encode("utf-8")


def to_csv(day: dt.date, channel: str, rows: Iterable[Usage], columns: Sequence[str]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(columns)
    for usage in rows:
        writer.writerow(usage.row(day, channel, columns))
    return text.getvalue().encode("utf-8")


class FileStore(Protocol):
    def put(self, bucket: str, key: str, body: bytes, *, cache_control: str | None = None) -> None: ...


class S3FileStore:
    def put(self, bucket: str, key: str, body: bytes, *, cache_control: str | None = None) -> None:
        extra = {"CacheControl": cache_control} if cache_control else {}
        aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=CSV_CONTENT_TYPE, **extra)


class CdnCache(Protocol):
    def invalidate(self, paths: Sequence[str]) -> None: ...


class CloudFrontCache:
    """The public datasets' CloudFront distribution: drops cached copies so the edges fetch the files anew."""

    def __init__(self, distribution_id: str):
        self.distribution_id = distribution_id

    def invalidate(self, paths: Sequence[str]) -> None:
        aws.client("cloudfront").create_invalidation(
            DistributionId=self.distribution_id,
            InvalidationBatch={"Paths": {"Quantity": len(paths), "Items": list(paths)}, "CallerReference": uuid4().hex},
        )


@dataclass
class DayReport:
    day: dt.date
    channels: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "channels": self.channels, "files": self.files}


@dataclass
class Producer:
    lake: Lake
    exhaust_bucket: str
    public_bucket: str
    store: FileStore = field(default_factory=S3FileStore)
    cdn: CdnCache | None = None

    def telemetry_of(self, day: dt.date) -> pa.Table:
        batches = list(self.lake.scan("telemetry", TELEMETRY_COLUMNS, equals={"event_date": day}))
        if not batches:
            return TELEMETRY_SLICE.empty_table()
        return pa.Table.from_batches(batches)

    def produce_day(self, day: dt.date, activity: CourseActivity | None = None) -> DayReport:
        report = DayReport(day)
        telemetry = self.telemetry_of(day)
        sessions = session_summaries(telemetry)
        channel_days = rollup(telemetry)
        if activity is None and channel_days:
            activity = course_activity(self.lake, DateRange(day, day))
        for channel_day in channel_days:
            channel = channel_day.channel
            rows = with_activity(channel_day, (activity or {}).get((channel, day), {}))
            key = standard_key(SUMMARY_ROLLUP, channel, day)
            self.store.put(self.exhaust_bucket, key, to_csv(day, channel, rows, ROLLUP_COLUMNS))
            session_key = standard_key(SUMMARY_CHANNEL_EXHAUST, channel, day)
            self.store.put(self.exhaust_bucket, session_key, sessions_csv(day, channel, sessions.get(channel, [])))
            public = public_key(PUBLIC_SUMMARY_ROLLUP, channel, day)
            body = to_csv(day, channel, channel_day.public_rows(), PUBLIC_COLUMNS)
            self.store.put(self.public_bucket, public, body, cache_control=PUBLIC_CACHE_CONTROL)
            report.channels.append(channel)
            report.files += [
                f"s3://{self.exhaust_bucket}/{key}",
                f"s3://{self.exhaust_bucket}/{session_key}",
                f"s3://{self.public_bucket}/{public}",
            ]
        return report

    def produce(self, days: DateRange) -> list[DayReport]:
        """Every day of the range, oldest first (a backfill); each day is replaced as a whole."""
        activity = course_activity(self.lake, days)
        reports = [self.produce_day(day, activity) for day in days.each_day()]
        if self.cdn is not None and any(report.channels for report in reports):
            # Edges may hold a replaced file for PUBLIC_CACHE_CONTROL's max-age. One wildcard is one invalidation
            # path whatever the channels and days (CloudFront bills paths; a daily run stays in the free 1,000 a
            # month), and files it did not change are simply fetched again once.
            self.cdn.invalidate([f"/{PUBLIC_SUMMARY_ROLLUP}/*"])
        return reports


def days_to_produce(event: dict[str, Any], today: dt.date) -> DateRange:
    """The days an invocation asks for: {"date"}, {"from", "to"} (a backfill), or the day before the schedule's
    time ({"scheduledTime": "2026-11-23T01:30:00Z"}, so a retried run produces the same day), else yesterday.
    """
    if event.get("date"):
        day = parse_day("date", str(event["date"]))
        days = DateRange(day, day)
    elif event.get("from") or event.get("to"):
        if not (event.get("from") and event.get("to")):
            raise BadRequest("from, to: a backfill needs both")
        days = DateRange(parse_day("from", str(event["from"])), parse_day("to", str(event["to"])))
    elif event.get("scheduledTime"):
        scheduled = dt.datetime.fromisoformat(str(event["scheduledTime"]).replace("Z", "+00:00"))
        day = scheduled.astimezone(dt.UTC).date() - dt.timedelta(days=1)
        days = DateRange(day, day)
    else:
        yesterday = today - dt.timedelta(days=1)
        days = DateRange(yesterday, yesterday)
    if days.start > days.end:
        raise BadRequest(f"from: {days.start.isoformat()} is after to ({days.end.isoformat()})")
    if days.end > today:
        raise BadRequest(f"to: {days.end.isoformat()} is after today ({today.isoformat()})")
    if days.days > MAX_BACKFILL_DAYS:
        raise BadRequest(f"from: a backfill covers at most {MAX_BACKFILL_DAYS} days per run, got {days.days}")
    return days


def producer_from_settings(settings: RuntimeSettings | None = None) -> Producer:
    settings = settings or get_settings()
    cdn = CloudFrontCache(settings.cdn_distribution_id) if settings.cdn_distribution_id else None
    return Producer(Lake.open(settings.lake_uri), settings.exhaust_bucket, settings.public_bucket, cdn=cdn)


def run(event: dict[str, Any], producer: Producer | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """One invocation (the schedule, the CLI or a manual backfill): produce the days the event names."""
    days = days_to_produce(event, today or dt.datetime.now(dt.UTC).date())
    reports = (producer or producer_from_settings()).produce(days)
    return {"days": [report.as_dict() for report in reports]}
