from tests.conftest import call_api, load_event


def test_health_answers_200_in_the_envelope(aws_resources):
    # Through call_api, as API Gateway calls it, so the contract test checks this answer too.
    status, _, body = call_api(load_event("health/get"))
    assert status == 200
    assert body["id"] == "api.health"
    assert body["result"]["healthy"] is True
