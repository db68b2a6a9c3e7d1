"""Cancel and delete: what their roles may do, and the readiness marker the dataset routes read (issue 17)."""

from exhaust.resources import LAKE_DIRECTORY_FOLDER

from .walk import actions, function_statements, listed, render

REQUEST_OBJECTS = "/requests/*"


def _object_statements(statements, action):
    return [s for s in statements if action in listed(s["Action"])]


def test_cancel_and_delete_remove_request_files_without_reading_or_writing_them(resources):
    for folder in ("cancel", "delete"):
        statements = function_statements(resources, folder)
        granted = actions(statements)
        assert {"dynamodb:GetItem", "dynamodb:PutItem", "s3:ListBucket", "s3:DeleteObject"} <= granted, folder
        assert not granted & {"s3:PutObject", "secretsmanager:GetSecretValue"}, folder
        # The only objects they read are the lake's course directory (who may see a request: docs/security.md).
        for statement in _object_statements(statements, "s3:GetObject"):
            assert listed(statement["Action"]) == ["s3:GetObject"], folder
            assert all(f"/{LAKE_DIRECTORY_FOLDER}/" in render(r) for r in listed(statement["Resource"])), folder
        for statement in _object_statements(statements, "s3:DeleteObject"):
            assert all(render(r).endswith(REQUEST_OBJECTS) for r in listed(statement["Resource"])), folder
        listings = [s["Condition"]["StringLike"]["s3:prefix"] for s in _object_statements(statements, "s3:ListBucket")]
        assert ["requests/*"] in listings, folder
        assert all(p == ["requests/*"] or p[0].endswith(f"{LAKE_DIRECTORY_FOLDER}/*") for p in listings), folder
        assert "events:PutEvents" in granted, folder
        # They queue the transition's callback (never the requests queue), and never call out themselves.
        (send,) = [s for s in statements if "sqs:SendMessage" in listed(s["Action"])]
        assert listed(send["Action"]) == ["sqs:SendMessage"]
        (queue,) = [render(r) for r in listed(send["Resource"])]
        assert queue.startswith("<PipelineCallbacksQueue"), folder


def test_only_cancel_stops_executions_and_only_of_the_workflow(resources):
    cancel = function_statements(resources, "cancel")
    (stop,) = [s for s in cancel if "states:StopExecution" in listed(s["Action"])]
    assert listed(stop["Action"]) == ["states:StopExecution"]
    (resource,) = listed(stop["Resource"])
    assert ":execution:" in render(resource)
    assert render(resource).endswith(":*")
    assert "states:StopExecution" not in actions(function_statements(resources, "delete"))


def test_cancel_and_delete_learn_the_bus_the_callback_queue_and_cancel_the_state_machine(resources):
    from .walk import function_logical_id

    for folder in ("cancel", "delete"):
        variables = resources[function_logical_id(resources, folder)]["Properties"]["Environment"]["Variables"]
        assert {"EXHAUST_EVENT_BUS_NAME", "EXHAUST_CALLBACK_QUEUE_URL"} <= set(variables), folder
        assert not {"EXHAUST_CALLBACK_SECRET", "EXHAUST_CALLBACK_SECRET_ARN"} & set(variables)
    cancel = resources[function_logical_id(resources, "cancel")]["Properties"]["Environment"]["Variables"]
    assert "EXHAUST_STATE_MACHINE_ARN" in cancel


def test_dataset_routes_read_exactly_the_lake_marker_and_nothing_else_of_the_lake(resources):
    for folder in ("dataset_list", "dataset_get"):
        statements = function_statements(resources, folder)
        reads = [render(r) for s in _object_statements(statements, "s3:GetObject") for r in listed(s["Resource"])]
        lake_reads = [r for r in reads if "LakeBucket" in r]
        assert lake_reads
        assert all(r.endswith("/lake/_completeness.json") for r in lake_reads), (folder, lake_reads)
