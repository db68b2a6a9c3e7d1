"""Each function's role holds only what infra/grants.py gives it; nothing holds `*` on data."""

import pytest
from exhaust.api.routes import ROUTES

from infra.grants import API_GRANTS, grants_for

from .walk import CDK_BUCKET_DEPLOYMENT, actions, function_statements, listed, of_type, render

ROUTE_FUNCTIONS = sorted({route.function for route in ROUTES} | {"authorizer"})
WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "s3:PutObject",
    "s3:DeleteObject",
    "sqs:SendMessage",
    "kms:Encrypt",
}
# Actions AWS offers no resource-level permission for (the shared tracing policy).
RESOURCELESS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# Services holding or moving the service's data: never on Resource "*".
DATA_SERVICES = ("dynamodb:", "s3:", "sqs:", "kms:", "sns:", "states:", "lambda:", "events:", "secretsmanager:")


def test_every_api_function_has_an_explicit_entry_in_the_grants_table():
    missing = [name for name in ROUTE_FUNCTIONS if grants_for(name) is None]
    assert not missing, f"add these functions to infra/grants.py API_GRANTS (an empty tuple is fine): {missing}"


def test_functions_with_grants_are_the_known_ones():
    # Changing who may touch data is a reviewed change: update this list with the table.
    assert sorted(name for name, grants in API_GRANTS.items() if grants) == [
        "authorizer",
        "cancel",
        "courses",
        "dataset_add",
        "dataset_get",
        "dataset_list",
        "delete",
        "export",
        "legacy",
        "list",
        "public_dataset_get",
        "read",
        "search",
        "submit",
    ]
    assert grants_for("not-in-the-table") is None


def _function_present(name):
    if name not in {route.function for route in ROUTES}:
        pytest.skip(f"no route runs functions/{name} yet")


@pytest.mark.parametrize("name", ["read", "list", "search"])
def test_read_functions_cannot_write(resources, name):
    _function_present(name)
    statements = function_statements(resources, name)
    granted = actions(statements)
    assert "dynamodb:GetItem" in granted
    assert "s3:GetObject" in granted
    assert not granted & WRITES, f"{name} may write: {granted & WRITES}"
    for statement in statements:
        if "s3:GetObject" in listed(statement["Action"]):
            # The requests' files (to sign links), and the lake's course directory (the role model's courses).
            assert all(render(r).endswith(("/requests/*", "/lake/_directory/*")) for r in listed(statement["Resource"]))


def test_submit_writes_requests_queues_and_encrypts(resources):
    _function_present("submit")
    statements = function_statements(resources, "submit")
    granted = actions(statements)
    assert {"dynamodb:PutItem", "sqs:SendMessage", "kms:Encrypt"} <= granted
    assert "kms:Decrypt" in granted  # reading the CMK-encrypted tables, not the stored encryptionKey's plaintext
    # Of S3 only the lake's course directory: which course each batch of the submit is in.
    assert {a for a in granted if a.startswith("s3:")} == {"s3:GetObject", "s3:ListBucket"}
    for statement in statements:
        if "s3:GetObject" in listed(statement["Action"]):
            assert all(render(r).endswith("/lake/_directory/*") for r in listed(statement["Resource"]))
    written = {
        render(r)
        for s in statements
        if "dynamodb:PutItem" in listed(s["Action"])
        for r in listed(s["Resource"])
        if "/index/" not in render(r)
    }
    assert sorted(written) == sorted(
        f"<{logical_id}.Arn>"
        for logical_id in of_type(resources, "AWS::DynamoDB::Table")
        if logical_id.startswith(("StorageRequestsTable", "StorageIdempotencyTable"))
    )


def test_authorizer_only_looks_credentials_up_by_hash(resources):
    statements = function_statements(resources, "authorizer")
    data = [s for s in statements if any(a.startswith("dynamodb:") for a in listed(s["Action"]))]
    assert {a for s in data for a in listed(s["Action"])} == {"dynamodb:GetItem"}  # no Scan of every credential
    assert [render(r) for s in data for r in listed(s["Resource"])] == [
        f"<{next(i for i in of_type(resources, 'AWS::DynamoDB::Table') if i.startswith('StorageCredentials'))}.Arn>"
    ]
    assert not actions(statements) & WRITES


def test_health_touches_nothing_but_its_logs_and_traces(resources):
    granted = actions(function_statements(resources, "health"))
    assert granted == {"logs:CreateLogStream", "logs:PutLogEvents"} | RESOURCELESS


def test_no_policy_has_a_wildcard_action_or_a_wildcard_resource_on_data(resources):
    policies = {**of_type(resources, "AWS::IAM::Policy"), **of_type(resources, "AWS::IAM::ManagedPolicy")}
    assert policies
    for logical_id, policy in policies.items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            statement_actions = listed(statement["Action"])
            assert not any(a == "*" or a.endswith(":*") for a in statement_actions), (logical_id, statement)
            for resource in listed(statement.get("Resource", [])):
                text = render(resource)
                if text == "*":
                    assert not any(a.startswith(DATA_SERVICES) for a in statement_actions), (logical_id, statement)
                assert not text.endswith(":::*"), (logical_id, statement)


def test_object_writes_stay_under_a_prefix(resources):
    for logical_id, policy in of_type(resources, "AWS::IAM::Policy").items():
        if logical_id.startswith(CDK_BUCKET_DEPLOYMENT):
            continue  # CDK's deploy-time copy replaces the whole console bucket: it holds nothing else
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "s3:PutObject" in listed(statement["Action"]):
                for resource in listed(statement["Resource"]):
                    text = render(resource)
                    assert not text.endswith(">/*"), f"{logical_id} writes anywhere in a bucket: {text}"


def test_granted_prefixes_are_the_ones_the_code_writes_under():
    from infra import grants

    assert grants.LEGACY_PREFIX == pytest.importorskip("exhaust.legacy.service").LEGACY_PREFIX
    assert grants.EXPORTS_PREFIX == pytest.importorskip("exhaust.export.service").EXPORTS_PREFIX
