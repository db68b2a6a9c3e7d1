import json

from exhaust.local.functions import invoke

from tests.conftest import load_event


def test_health_answers_200_in_the_envelope(aws_resources):
    answer = invoke("health", load_event("health/get"))
    body = json.loads(answer["body"])
    assert answer["statusCode"] == 200
    assert body["id"] == "api.health"
    assert body["result"]["healthy"] is True
