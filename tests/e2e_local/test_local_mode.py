import json
import urllib.error
import urllib.request

import pytest

from tests.conftest import LocalServiceProcess


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_health_over_real_http(local_service):
    status, body = get(local_service.credentials["baseUrl"] + "/api/health")
    assert status == 200
    assert body["params"]["status"] == "successful"


def test_unknown_route_is_a_404_envelope(local_service):
    status, body = get(local_service.credentials["baseUrl"] + "/api/nothing-here")
    assert status == 404
    assert body["responseCode"] == "RESOURCE_NOT_FOUND"


def test_credentials_file_names_everything_a_newcomer_needs(local_service):
    credentials = local_service.credentials
    for key in ("baseUrl", "channel", "awsEndpoint", "samples"):
        assert key in credentials
    assert credentials["baseUrl"].startswith("http://127.0.0.1:")


@pytest.mark.parametrize("attempt", [1])
def test_sigterm_stops_cleanly_within_five_seconds(tmp_path, attempt):
    service = LocalServiceProcess(tmp_path)
    credentials = service.start()
    seconds = service.stop()
    assert seconds < 5
    assert service.process is not None
    assert service.process.returncode == 0
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(credentials["baseUrl"] + "/api/health", timeout=2)
