"""Cancel, delete and data readiness on moto: the routes through the authorizer, and the pipeline they interrupt."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from exhaust import aws, readiness
from exhaust.pipeline.cancel_and_delete import LifecycleService
from exhaust.pipeline.definition import workflow_definition
from exhaust.pipeline.dispatch import Dispatcher, Outcome
from exhaust.pipeline.notify import SIGNATURE_HEADER, Notifier, verify_signature
from exhaust.pipeline.steps import Pipeline
from exhaust.principal import Principal
from exhaust.requests.models import OutputFile, Status
from exhaust.requests.service import RequestService
from exhaust.requests.store import RequestStore
from exhaust_devkit.pipeline.runner import LocalRunner, LocalWorkflow, step_functions

from tests.conftest import call_api, load_event, set_query, stored_request
from tests.integration.test_pipeline import CALLBACK_SECRET, Harness

TAG = "0131091142547947521011112020"
EVENT_SOURCE_PATTERN = {"source": ["exhaust.pipeline"]}


def submit(tokens, batch_id="b1", tag=TAG, callback_url=None):
    event = load_event("submit/seed002_batch_filter")
    request = {
        "tag": tag,
        "dataset": "progress-exhaust",
        "datasetConfig": {"batchId": batch_id},
        "encryptionKey": "test-key-12345",
    }
    if callback_url:
        request["callbackUrl"] = callback_url
    event["body"] = json.dumps({"request": request})
    status, _, body = call_api(event, tokens["channel_a"])
    assert status == 200, body
    return body["result"]


def lifecycle_call(operation, tokens, request_id, tag=TAG, token="channel_a", channel=None):
    event = load_event(f"{operation}/by_request_id")
    event["pathParameters"] = {"tag": tag}
    event["path"] = f"/api/dataset/v1/request/{operation}/{tag}"
    set_query(event, {"requestId": request_id} if request_id else None)
    headers = {"X-Channel-Id": channel} if channel else {}
    status, _, body = call_api(event, tokens[token], **headers)
    return status, body


def read(tokens, request_id, tag=TAG):
    event = load_event("read/by_request_id")
    event["pathParameters"] = {"tag": tag}
    event["path"] = f"/api/dataset/v1/request/read/{tag}"
    set_query(event, {"requestId": request_id})
    status, _, body = call_api(event, tokens["channel_a"])
    assert status == 200, body
    return body["result"]


def search_status(tokens, status):
    event = load_event("search/seed004_filters")
    event["body"] = json.dumps({"request": {"filters": {"status": status}}})
    answer_status, _, body = call_api(event, tokens["channel_a"])
    assert answer_status == 200, body
    return [job["requestId"] for job in body["result"]["jobs"]]


def finish(request_id, status=Status.SUCCESS, files=2):
    """Turn a stored request into a finished one with real objects under its prefix (what the pipeline leaves)."""
    store = RequestStore()
    stored = stored_request(request_id)
    settings_bucket = aws_bucket()
    prefix = f"requests/{stored.channel}/{request_id}/"
    outputs = []
    for index in range(files):
        key = f"{prefix}part-{index}.zip"
        aws.client("s3").put_object(Bucket=settings_bucket, Key=key, Body=b"zip bytes")
        outputs.append(OutputFile(name=f"part-{index}.zip", key=key, rows=1, bytes=9, sha256="ab" * 32, batchId="b1"))
    aws.client("s3").put_object(Bucket=settings_bucket, Key=f"{prefix}manifest.json", Body=b"{}")
    moment = stored.submittedAt + 1000
    done = stored.model_copy(
        update={
            "status": status,
            "files": outputs,
            "completedAt": moment,
            "statusMessage": "No data found" if status == Status.FAILED else None,
        }
    )
    store.replace(done, stored.version)
    return prefix


def aws_bucket():
    from exhaust.settings import get_settings

    return get_settings().exhaust_bucket


def keys_under(prefix):
    listed = aws.client("s3").list_objects_v2(Bucket=aws_bucket(), Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


@pytest.fixture(scope="module")
def built_lake(tmp_path_factory):
    """A tiny generated lake of its own (the tests move its completeness marker)."""
    from exhaust.lake.catalog import Catalog
    from exhaust.lake.store import Lake
    from exhaust_devkit.lake.generator import generate

    root = tmp_path_factory.mktemp("lifecycle-lake")
    samples = generate("tiny", 7, str(root))
    main_batches = [batch.batch_id for batch in Catalog(Lake.open(str(root))).batches_of(samples["collectionId"])]
    return {"root": str(root), "samples": samples, "mainBatches": main_batches}


@pytest.fixture
def harness(aws_resources, built_lake):
    return Harness(settings=aws_resources.model_copy(update={"callback_secret": CALLBACK_SECRET}), lake=built_lake)


@pytest.fixture
def event_queue(aws_resources):
    """An SQS queue subscribed to the service's events on the default bus, as a partner's rule would be."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="partner-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = aws.client("events")
    events.put_rule(Name="exhaust-events", EventPattern=json.dumps(EVENT_SOURCE_PATTERN))
    events.put_targets(Rule="exhaust-events", Targets=[{"Id": "queue", "Arn": arn}])

    def received():
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [json.loads(message["Body"]) for message in answer.get("Messages", [])]

    return received


# -- cancel over the API -------------------------------------------------------------------------------------
def test_a_submitted_request_cancelled_answers_cancelled_everywhere_and_is_never_dispatched(
    tokens, aws_resources, event_queue
):
    job = submit(tokens)
    status, body = lifecycle_call("cancel", tokens, job["requestId"])
    assert status == 200, body
    assert body["id"] == "ekstep.analytics.dataset.request.cancel"
    cancelled = body["result"]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["statusMessage"].startswith("Cancelled on ")
    assert cancelled["files"] == []
    assert cancelled["downloadUrls"] == []
    assert read(tokens, job["requestId"])["status"] == "CANCELLED"
    event = load_event("list/by_tag")
    event["pathParameters"] = {"tag": TAG}
    event["path"] = f"/api/dataset/v1/request/list/{TAG}"
    listed = call_api(event, tokens["channel_a"])[2]["result"]["jobs"]
    assert [(j["requestId"], j["status"]) for j in listed] == [(job["requestId"], "CANCELLED")]
    assert search_status(tokens, "cancelled") == [job["requestId"]]
    assert search_status(tokens, "SUBMITTED") == []

    # The queue message of the submit reaches the dispatcher after the cancel: nothing starts.
    dispatcher = Dispatcher(workflow=LocalWorkflow(LocalRunner(workflow_definition(), {}), synchronous=True))
    assert dispatcher.dispatch(job["requestId"]) == Outcome.IGNORED

    (notice,) = event_queue()
    assert notice["detail-type"] == "Exhaust Request Cancelled"
    assert notice["detail"]["event"] == "cancelled"
    assert notice["detail"]["status"] == "CANCELLED"
    assert notice["detail"]["cancelledAt"].endswith("Z")


def test_cancel_is_idempotent_and_notifies_once(tokens, aws_resources, event_queue):
    job = submit(tokens)
    first = lifecycle_call("cancel", tokens, job["requestId"])
    again = lifecycle_call("cancel", tokens, job["requestId"])
    assert first[0] == again[0] == 200
    assert again[1]["result"]["statusMessage"] == first[1]["result"]["statusMessage"]
    assert len(event_queue()) == 1


@pytest.mark.parametrize("finished", [Status.SUCCESS, Status.FAILED])
def test_cancelling_a_finished_request_is_a_409_that_points_at_delete(tokens, aws_resources, finished):
    job = submit(tokens)
    prefix = finish(job["requestId"], finished)
    status, body = lifecycle_call("cancel", tokens, job["requestId"])
    assert status == 409
    message = body["params"]["errmsg"]
    assert f"is {finished.value}" in message
    assert "/api/dataset/v1/request/delete/" in message
    assert read(tokens, job["requestId"])["status"] == finished.value
    assert len(keys_under(prefix)) == 3  # nothing removed


def test_a_cancelled_request_submitted_again_starts_afresh(tokens, aws_resources):
    job = submit(tokens)
    lifecycle_call("cancel", tokens, job["requestId"])
    again = submit(tokens)
    assert again["requestId"] == job["requestId"]
    assert again["status"] == "SUBMITTED"
    assert "statusMessage" not in again
    assert again["jobStats"].get("dtJobCompleted") is None


@pytest.mark.parametrize("operation", ["cancel", "delete"])
def test_another_channels_request_or_a_missing_id_is_not_revealed(tokens, aws_resources, operation):
    job = submit(tokens)
    status, body = lifecycle_call(operation, tokens, job["requestId"], token="channel_b", channel="channel-b")
    assert status == 404
    assert read(tokens, job["requestId"])["status"] == "SUBMITTED"
    status, body = lifecycle_call(operation, tokens, job["requestId"], tag="another-tag")
    assert status == 404
    status, body = lifecycle_call(operation, tokens, None)
    assert status == 400
    assert body["params"]["errmsg"] == "requestId: query parameter is required"
    status, body = lifecycle_call(operation, tokens, job["requestId"], token="channel_b", channel="channel-a")
    assert status == 403


def test_a_token_without_the_datasets_roles_cannot_cancel(tokens, aws_resources):
    # The dataset's authorizedRoles apply to seeing a request too (issue 25): for this token it does not exist.
    job = submit(tokens)
    status, body = lifecycle_call("cancel", tokens, job["requestId"], token="no_role")
    assert status == 404
    assert body["params"]["errmsg"] == "no job available with the given request_id and tag"
    assert read(tokens, job["requestId"])["status"] == "SUBMITTED"


# -- delete over the API -------------------------------------------------------------------------------------
def test_delete_removes_the_files_and_manifest_now_and_the_request_stays_readable(tokens, aws_resources, event_queue):
    job = submit(tokens)
    prefix = finish(job["requestId"])
    before = read(tokens, job["requestId"])
    assert len(before["downloadUrls"]) == 2
    status, body = lifecycle_call("delete", tokens, job["requestId"])
    assert status == 200, body
    deleted = body["result"]
    assert deleted["status"] == "SUCCESS"
    assert deleted["files"] == []
    assert deleted["downloadUrls"] == []
    assert "expiresAt" not in deleted
    assert deleted["statusMessage"].startswith("The files of this request were deleted on ")
    assert keys_under(prefix) == []
    assert read(tokens, job["requestId"]) == deleted
    # Idempotent: the same answer, nothing left to remove, no second notice.
    status, again = lifecycle_call("delete", tokens, job["requestId"])
    assert status == 200
    assert again["result"] == deleted
    (notice,) = event_queue()
    assert notice["detail-type"] == "Exhaust Request Files Deleted"
    assert notice["detail"]["event"] == "deleted"
    assert notice["detail"]["status"] == "SUCCESS"
    assert notice["detail"]["deletedAt"] in deleted["statusMessage"]


def test_deleting_an_open_request_is_a_409_that_says_cancel_first(tokens, aws_resources):
    job = submit(tokens)
    status, body = lifecycle_call("delete", tokens, job["requestId"])
    assert status == 409
    assert "cancel it first" in body["params"]["errmsg"]
    assert "/api/dataset/v1/request/cancel/" in body["params"]["errmsg"]
    assert read(tokens, job["requestId"])["status"] == "SUBMITTED"


@pytest.mark.parametrize("finished", [Status.FAILED, Status.CANCELLED])
def test_failed_and_cancelled_requests_can_be_deleted_and_then_submitted_afresh(tokens, aws_resources, finished):
    job = submit(tokens)
    if finished == Status.CANCELLED:
        lifecycle_call("cancel", tokens, job["requestId"])
        prefix = f"requests/channel-a/{job['requestId']}/"
    else:
        prefix = finish(job["requestId"], finished)
    assert lifecycle_call("delete", tokens, job["requestId"])[0] == 200
    assert keys_under(prefix) == []
    again = submit(tokens)
    assert again["status"] == "SUBMITTED"
    assert "statusMessage" not in again


def test_a_deleted_success_submitted_again_is_built_again(tokens, aws_resources):
    job = submit(tokens)
    finish(job["requestId"])
    lifecycle_call("delete", tokens, job["requestId"])
    again = submit(tokens)
    assert again["status"] == "SUBMITTED"
    assert again["requestId"] == job["requestId"]


# -- the pipeline a cancel interrupts ---------------------------------------------------------------------
class CancellingBuilder:
    """The harness's builder, which lets the partner cancel just before the n-th build writes its zip."""

    def __init__(self, under_test: Harness, cancel_on_call: int):
        self.harness = under_test
        self.real = under_test.builder
        self.cancel_on_call = cancel_on_call
        self.calls = 0
        self.lifecycle: LifecycleService | None = None
        self.request_id = ""

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.cancel_on_call:
            assert self.lifecycle is not None
            partner = Principal(credential_id="c", name="partner", channels=("*",), roles=("ADMIN",), user_id="u")
            request = self.harness.request(self.request_id)
            self.lifecycle.cancel(partner, request.channel, request.tag, self.request_id)
        return self.real(*args, **kwargs)


@pytest.fixture
def sequential(aws_resources, built_lake):
    settings = aws_resources.model_copy(update={"callback_secret": CALLBACK_SECRET})
    sequential = Harness(settings=settings, lake=built_lake)
    # One batch at a time, so "no further batch is built" is something the test can see.
    runner = LocalRunner(workflow_definition(1), step_functions(sequential.pipeline), retry_interval_scale=0)
    sequential.workflow = LocalWorkflow(runner, synchronous=True)
    sequential.dispatcher = Dispatcher(workflow=sequential.workflow, settings=settings, throttle_delay_seconds=0)
    return sequential


def test_cancel_while_building_stops_the_execution_builds_nothing_more_and_removes_every_file(sequential):
    batches = sequential.lake["mainBatches"]
    assert len(batches) >= 3
    builder = CancellingBuilder(sequential, cancel_on_call=2)
    sequential.pipeline.build_file = builder
    posted: list[tuple[str, bytes, dict[str, str]]] = []

    def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        posted.append((url, body, headers))
        return 200

    notifier = Notifier(settings=sequential.settings, post=post)
    announcing = Pipeline(settings=sequential.settings, notifier=notifier)
    sequential.deliverer.notifier = notifier  # the callbacks function delivers what the cancel queued
    builder.lifecycle = LifecycleService(workflow=sequential.workflow, pipeline=announcing)
    builder.request_id = sequential.submit(batchFilter=batches, callback_url="https://partner.example/hook")
    sequential.drain()

    request = sequential.request(builder.request_id)
    assert request.status == Status.CANCELLED
    assert request.files == []
    assert builder.calls == 2  # the first batch built, the second cut short by the cancel; none after it
    assert sequential.workflow.describe(request.executionArn) == "ABORTED"
    # The first batch's zip was removed by the cancel; the second one, written after it, by its own step.
    assert keys_under(f"requests/{request.channel}/{request.requestId}/") == []
    assert sequential.callbacks == []  # no completion notice: the request never ended on its own
    ((url, body, headers),) = posted
    assert url == "https://partner.example/hook"
    assert json.loads(body)["event"] == "cancelled"
    assert verify_signature(CALLBACK_SECRET, headers[SIGNATURE_HEADER], body)
    assert headers["X-Exhaust-Event-Id"] == f"{request.requestId}-{request.submittedAt}-CANCELLED"
    assert sequential.request(request.requestId).outbox == []  # delivered: nothing left for the sweeper


# -- data readiness -------------------------------------------------------------------------------------
def test_the_generated_lake_is_complete_up_to_todays_midnight(built_lake):
    today = dt.datetime.now(dt.UTC).date()
    expected = int(dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC).timestamp() * 1000)
    assert readiness.read_marker(built_lake["root"]) == expected


@pytest.fixture
def lake_marker(built_lake):
    """Move the lake's marker for one test, and put the generator's back afterwards."""
    marker = Path(built_lake["root"]) / readiness.MARKER_NAME
    original = marker.read_bytes()
    yield lambda until: readiness.write_marker(built_lake["root"], until, "test")
    marker.write_bytes(original)


@pytest.mark.parametrize(
    ("until", "complete"),
    [(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), False), (dt.datetime(2100, 1, 1, tzinfo=dt.UTC), True)],
)
def test_plan_records_the_lakes_readiness_and_a_request_past_it_is_built_and_marked(
    harness, lake_marker, until, complete
):
    lake_marker(until)
    request_id = harness.submit(batchId=harness.lake["mainBatches"][0])
    harness.drain()

    view = RequestService(settings=harness.settings).view(harness.request(request_id), None)
    assert view.status == Status.SUCCESS
    assert view.dataAvailableUntil == until.isoformat().replace("+00:00", "Z")
    assert view.dataComplete is complete
    if complete:
        assert view.statusMessage is None
    else:
        assert view.statusMessage == (
            "Data complete up to 2000-01-01T00:00:00Z: later activity is not in these files "
            "(submit again on a later day to include it)"
        )


def test_a_lake_without_a_marker_answers_no_readiness(harness, lake_marker):
    (Path(harness.lake["root"]) / readiness.MARKER_NAME).unlink()
    request_id = harness.submit(batchId=harness.lake["mainBatches"][0])
    harness.drain()
    answer = RequestService(settings=harness.settings).view(harness.request(request_id), None)
    assert answer.status == Status.SUCCESS
    assert "dataAvailableUntil" not in answer.model_dump(exclude_none=True)


def test_the_openapi_document_describes_cancel_delete_cancelled_and_readiness(aws_resources):
    from exhaust.api import routes

    document = routes.document()
    for operation in ("cancel", "delete"):
        (spec,) = document["paths"][f"/api/dataset/v1/request/{operation}/{{tag}}"].values()
        assert spec["operationId"] == operation
        assert {"200", "404", "409"} <= set(spec["responses"])
        assert "requestId" in [parameter["name"] for parameter in spec["parameters"]]
    schemas = document["components"]["schemas"]
    assert "CANCELLED" in schemas["Status"]["enum"]
    assert "dataAvailableUntil" in schemas["JobStatusResponse"]["properties"]
    assert "dataAvailableUntil" in schemas["ListedDataset"]["properties"]
    assert "dataAvailableUntil" in schemas["DatasetFiles"]["properties"]
    search_status = schemas["SearchFilters"]["properties"]["status"]["anyOf"][0]["enum"]
    assert "CANCELLED" in search_status


def test_cancel_takes_no_body_but_one_that_is_sent_must_be_a_json_object(tokens, aws_resources):
    job = submit(tokens)
    event = load_event("cancel/by_request_id")
    event["path"] = f"/api/dataset/v1/request/cancel/{TAG}"
    set_query(event, {"requestId": job["requestId"]})
    event["body"] = "[1, 2]"
    status, _, body = call_api(event, tokens["channel_a"])
    assert status == 400
    assert body["params"]["errmsg"] == "body: must be a JSON object"
    assert read(tokens, job["requestId"])["status"] == "SUBMITTED"
    event["body"] = json.dumps({"params": {"msgid": "m-7"}})
    status, _, body = call_api(event, tokens["channel_a"])
    assert status == 200
    assert body["params"]["msgid"] == "m-7"
    assert body["result"]["status"] == "CANCELLED"


class FlakyBus(Notifier):
    """The bus refuses the first event; later ones get through (recorded)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.refusals = 1
        self.published: list[tuple[str, dict]] = []

    def publish(self, detail, detail_type="Exhaust Request Completed"):
        if self.refusals:
            self.refusals -= 1
            return False
        self.published.append((detail_type, detail))
        return True


def test_a_cancel_notice_the_bus_refused_is_sent_again_by_the_sweeper(tokens, aws_resources):
    from exhaust.pipeline.sweeper import Sweeper

    job = submit(tokens)
    bus = FlakyBus(settings=aws_resources)
    pipeline = Pipeline(settings=aws_resources, notifier=bus)
    partner = Principal(credential_id="c", name="partner", channels=("channel-a",), roles=("ORG_ADMIN",), user_id="u")
    cancelled = LifecycleService(pipeline=pipeline).cancel(partner, "channel-a", TAG, job["requestId"])
    assert stored_request(cancelled.requestId).outbox == ["event"]
    assert bus.published == []

    Sweeper(pipeline=pipeline, workflow=LocalWorkflow(LocalRunner(workflow_definition(), {}))).sweep()
    ((detail_type, detail),) = bus.published
    assert detail_type == "Exhaust Request Cancelled"
    assert detail["eventId"] == f"{cancelled.requestId}-{cancelled.submittedAt}-CANCELLED"
    assert stored_request(cancelled.requestId).outbox == []
