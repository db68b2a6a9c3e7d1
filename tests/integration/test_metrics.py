"""The operator's metrics, as CloudWatch reads them: EMF documents on stdout, one per metric as it happens."""

import json

from exhaust import observability

from tests.conftest import call_api, load_event
from tests.integration.test_pipeline import harness, lake  # noqa: F401 - fixtures


def emitted(output: str) -> dict[str, float]:
    """{metric name: value} of the EMF documents printed, checked to be in our namespace with the dataset dimension."""
    values: dict[str, float] = {}
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "DataExhaust"
        assert ["dataset"] in [sorted(set(names) - {"service"}) for names in directive["Dimensions"]]
        for metric in directive["Metrics"]:
            value = document[metric["Name"]]  # a list when one flush holds several values of the metric
            values[metric["Name"]] = values.get(metric["Name"], 0) + (sum(value) if isinstance(value, list) else value)
        values["dataset:" + document["dataset"]] = 1
    return values


def test_a_submit_counts_one_request_of_its_dataset(tokens, aws_resources, capsys):
    event = load_event("submit/seed002_batch_filter")
    capsys.readouterr()
    status, _, body = call_api(event, tokens["channel_a"], **{"X-Channel-Id": "channel-a"})
    assert status == 200, body
    values = emitted(capsys.readouterr().out)
    assert values["RequestsSubmitted"] == 1
    assert values[f"dataset:{body['result']['dataset']}"] == 1


def test_a_build_reports_rows_bytes_seconds_and_the_success(harness, capsys):  # noqa: F811
    request_id = harness.submit(batchFilter=harness.lake["mainBatches"][:1])
    capsys.readouterr()
    harness.drain()
    values = emitted(capsys.readouterr().out)
    done = harness.request(request_id)
    assert values["RowsBuilt"] == done.progress.rowsWritten > 0
    assert values["BytesBuilt"] == done.files[0].bytes
    assert values["BuildSeconds"] >= 0
    assert values["RequestsSucceeded"] == 1
    assert values["dataset:progress-exhaust"] == 1


def test_metrics_of_two_datasets_in_one_invocation_keep_their_own_dataset(capsys):
    # The sweeper ends lost requests and retries callbacks of any dataset in one invocation, and has no decorator.
    observability.count(observability.REQUESTS_FAILED, "progress-exhaust")
    observability.count(observability.REQUESTS_FAILED, "userinfo-exhaust")
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert sorted((document["dataset"], document["RequestsFailed"]) for document in documents) == [
        ("progress-exhaust", [1.0]),
        ("userinfo-exhaust", [1.0]),
    ]
