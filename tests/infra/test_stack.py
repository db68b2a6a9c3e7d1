from aws_cdk.assertions import Match
from exhaust.api.routes import ROUTES

from .walk import service_functions


def test_every_function_runs_python312_on_arm_with_tracing_and_json_logs(template):
    functions = service_functions(template.to_json()["Resources"])
    assert functions
    for function in functions.values():
        properties = function["Properties"]
        if properties.get("PackageType") != "Image":  # the builder image is public.ecr.aws/lambda/python:3.12
            assert properties["Runtime"] == "python3.12"
        assert properties["Architectures"] == ["arm64"]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["LoggingConfig"]["LogFormat"] == "JSON"
        assert properties["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "exhaust"
        assert properties["Environment"]["Variables"]["PYDANTIC_DISABLE_PLUGINS"] == "__all__"


def test_every_route_of_the_route_table_is_a_method(template):
    methods = template.find_resources("AWS::ApiGateway::Method")
    verbs = sorted(m["Properties"]["HttpMethod"] for m in methods.values() if m["Properties"]["HttpMethod"] != "ANY")
    assert sorted(route.method for route in ROUTES) == verbs
    # Beside them, one ANY per path answers the other methods with a 405 (tests/infra/test_api.py).
    assert sum(m["Properties"]["HttpMethod"] == "ANY" for m in methods.values()) == len({r.path for r in ROUTES})


def test_tables_have_point_in_time_recovery_and_kms(template):
    template.all_resources_properties(
        "AWS::DynamoDB::Table",
        {
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": Match.object_like({"SSEEnabled": True, "SSEType": "KMS"}),
        },
    )


def test_buckets_block_public_access_and_are_encrypted(template):
    template.all_resources_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": Match.any_value(),
        },
    )


def test_request_queue_has_a_dead_letter_queue(template):
    template.has_resource_properties("AWS::SQS::Queue", {"RedrivePolicy": Match.object_like({"maxReceiveCount": 5})})


def test_concurrent_synths_stage_one_complete_layer(tmp_path):
    """Test workers synthesize at once: none may see another's half-copied or half-deleted layer directory."""
    from concurrent.futures import ThreadPoolExecutor

    from infra.layer import stage_layer

    with ThreadPoolExecutor(max_workers=4) as pool:
        staged = set(pool.map(lambda _: stage_layer(tmp_path), range(8)))
    (layer,) = staged
    package = layer / "python" / "exhaust"
    assert (package / "settings.py").is_file()
    assert not (package / "local").exists()
    assert not (package / "cli.py").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [layer.name]  # no staging directory left behind
