"""Standard and public datasets over real HTTP: local mode produced the last 14 days from its sample lake."""

import csv
import datetime as dt
import io
import json
import subprocess
import sys
import urllib.error
import urllib.request

YESTERDAY = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def download(url: str) -> list[dict[str, str]]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200
        return list(csv.DictReader(io.StringIO(answer.read().decode("utf-8"))))


def test_standard_file_downloads_through_its_presigned_url(local_service):
    credentials = local_service.credentials
    since = (YESTERDAY - dt.timedelta(days=1)).isoformat()
    status, body = get(
        f"{credentials['baseUrl']}/api/data/v3/dataset/get/summary-rollup?since={since}&to={YESTERDAY.isoformat()}",
        {"Authorization": f"Bearer {credentials['token']}", "X-Channel-Id": credentials["channel"]},
    )
    assert status == 200, body
    result = body["result"]
    assert sorted(result["periodWiseFiles"]) == [since, YESTERDAY.isoformat()]
    assert result["expiresAt"] > 0
    rows = download(result["periodWiseFiles"][YESTERDAY.isoformat()][0])
    assert rows[0]["date"] == YESTERDAY.isoformat()
    assert rows[0]["channel"] == credentials["channel"]
    assert rows[0]["content_id"] == ""
    assert int(rows[0]["events"]) > 0
    assert len(rows) > 1


def test_channel_summary_covers_the_last_14_days_and_downloads(local_service):
    credentials = local_service.credentials
    dataset = credentials["samples"]["channelSummaryDatasetId"]
    assert dataset == "summary-channel-exhaust"
    headers = {"Authorization": f"Bearer {credentials['token']}", "X-Channel-Id": credentials["channel"]}
    url = f"{credentials['baseUrl']}/api/data/v3/dataset/get/{dataset}"
    first = YESTERDAY - dt.timedelta(days=9)
    status, body = get(f"{url}?from={first.isoformat()}&to={YESTERDAY.isoformat()}", headers)
    assert status == 200, body
    assert len(body["result"]["periodWiseFiles"]) == 10
    oldest, next_day = YESTERDAY - dt.timedelta(days=13), YESTERDAY - dt.timedelta(days=12)
    status, body = get(f"{url}?since={oldest.isoformat()}&to={next_day.isoformat()}", headers)
    assert sorted(body["result"]["periodWiseFiles"]) == [oldest.isoformat(), next_day.isoformat()]
    rows = download(body["result"]["files"][0])
    assert {row["channel"] for row in rows} == {credentials["channel"]}
    assert all(row["session_id"] and int(row["events"]) >= 1 for row in rows)
    assert sum(float(row["time_spent_seconds"]) for row in rows) > 0


def test_public_file_downloads_through_its_cdn_url(local_service):
    credentials = local_service.credentials
    status, body = get(
        f"{credentials['baseUrl']}/api/data/v3/public/dataset/get/public-summary-rollup?date_range=LAST_14_DAYS",
        {"X-Channel-Id": credentials["channel"]},
    )
    assert status == 200, body
    result = body["result"]
    assert len(result["periodWiseFiles"]) == 14
    assert "expiresAt" not in result
    url = result["periodWiseFiles"][YESTERDAY.isoformat()][0]
    assert url.startswith(f"{credentials['baseUrl']}/cdn/public-summary-rollup/")
    rows = download(url)
    assert all("actor" not in value for row in rows for value in row.values())
    assert all(int(row["users"]) >= 5 for row in rows)


def test_produce_command_replaces_a_day(local_service):
    day = (YESTERDAY - dt.timedelta(days=2)).isoformat()
    command = [sys.executable, "-m", "exhaust_devkit.cli", "produce", "--date", day, "--local-credentials"]
    answer = subprocess.run(
        [*command, str(local_service.credentials_file)], capture_output=True, text=True, timeout=60, check=True
    )
    produced = json.loads(answer.stdout)["days"]
    assert [entry["date"] for entry in produced] == [day]
    assert produced[0]["channels"] == [local_service.credentials["channel"]]
    credentials = local_service.credentials
    status, body = get(
        f"{credentials['baseUrl']}/api/data/v3/dataset/get/summary-rollup?from={day}&to={day}",
        {"Authorization": f"Bearer {credentials['token']}", "X-Channel-Id": credentials["channel"]},
    )
    assert status == 200
    assert len(body["result"]["files"]) == 1
