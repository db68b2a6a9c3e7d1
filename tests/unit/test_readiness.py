"""The completeness marker and the scope rule: when a request's data is complete (no AWS, a directory lake)."""

import datetime as dt
import json

import pytest
from exhaust import readiness
from exhaust.pipeline.notify import CANCELLED_EVENT, DELETED_EVENT, transition_detail
from exhaust.requests.models import ExhaustRequest, Status

SUBMITTED_AT = int(dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC).timestamp() * 1000)
MIDNIGHT = int(dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp() * 1000)


def test_a_directory_lakes_marker_round_trips(tmp_path):
    assert readiness.read_marker(str(tmp_path)) is None
    readiness.write_marker(
        str(tmp_path), dt.datetime(2026, 12, 1, 5, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))), "loader"
    )
    body = json.loads((tmp_path / readiness.MARKER_NAME).read_text())
    assert body["dataAvailableUntil"] == "2026-12-01T00:00:00Z"  # written in UTC whatever the loader's zone
    assert body["writtenBy"] == "loader"
    assert readiness.read_marker(str(tmp_path)) == MIDNIGHT


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"dataAvailableUntil": "2026-12-01T00:00:00"}', b"{}"])
def test_a_marker_without_a_utc_instant_is_no_marker(tmp_path, body):
    (tmp_path / readiness.MARKER_NAME).write_bytes(body)
    assert readiness.read_marker(str(tmp_path)) is None


@pytest.mark.parametrize(
    ("end_dates", "scope_end"),
    [
        (None, SUBMITTED_AT),  # organisation-wide: up to the submission
        ([None], SUBMITTED_AT),  # a running batch
        (["2026-11-20", None], SUBMITTED_AT),
        (["2026-11-20"], int(dt.datetime(2026, 11, 21, tzinfo=dt.UTC).timestamp() * 1000)),  # end day included
        (["2026-11-20", "2026-11-25"], int(dt.datetime(2026, 11, 26, tzinfo=dt.UTC).timestamp() * 1000)),
        (["2027-03-01"], SUBMITTED_AT),  # ends after the submission: up to the submission
    ],
)
def test_the_scope_of_a_request_ends_with_its_batches_or_its_submission(end_dates, scope_end):
    assert readiness.scope_end_ms(SUBMITTED_AT, end_dates) == scope_end


def test_readiness_is_complete_only_when_the_marker_covers_the_scope(tmp_path):
    assert readiness.readiness(str(tmp_path), SUBMITTED_AT, None) == {}
    readiness.write_marker(str(tmp_path), dt.datetime(2026, 12, 1, tzinfo=dt.UTC), "loader")
    assert readiness.readiness(str(tmp_path), SUBMITTED_AT, ["2026-11-20"]) == {
        "dataAvailableUntil": MIDNIGHT,
        "dataComplete": True,
    }
    assert readiness.readiness(str(tmp_path), SUBMITTED_AT, [None]) == {
        "dataAvailableUntil": MIDNIGHT,
        "dataComplete": False,
    }


def request(**changes):
    base = ExhaustRequest(
        requestId="R1",
        channel="c",
        tag="t",
        dataset="progress-exhaust",
        datasetConfig={"batchId": "b"},
        requestedBy="u",
        submittedAt=SUBMITTED_AT,
        updatedAt=SUBMITTED_AT,
    )
    return base.model_copy(update=changes)


def test_transition_notices_name_the_event_and_when_it_happened():
    cancelled = transition_detail(request(status=Status.CANCELLED, completedAt=MIDNIGHT), CANCELLED_EVENT)
    assert cancelled == {
        "eventId": f"R1-{SUBMITTED_AT}-CANCELLED",
        "requestId": "R1",
        "channel": "c",
        "dataset": "progress-exhaust",
        "status": "CANCELLED",
        "event": "cancelled",
        "cancelledAt": "2026-12-01T00:00:00Z",
    }
    deleted = transition_detail(
        request(status=Status.FAILED, statusMessage="No data found", deletedAt=SUBMITTED_AT), DELETED_EVENT
    )
    assert deleted["eventId"] == f"R1-{SUBMITTED_AT}-FAILED-DELETED"  # not the completion's eventId
    assert deleted["event"] == "deleted"
    assert deleted["status"] == "FAILED"
    assert deleted["deletedAt"] == "2026-12-01T09:30:00Z"
    assert "statusMessage" not in deleted
