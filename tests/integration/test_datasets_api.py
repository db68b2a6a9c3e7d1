"""Standard and public dataset get on moto, through the authorizer (standard) and the handlers, from events/."""

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.conftest import call_api, load_event, moto_environment, set_query

TODAY = dt.datetime.now(dt.UTC).date()
CDN = "https://cdn.example.com"


def day(offset: int) -> str:
    """Today plus `offset` days (negative: the past), as the API spells dates."""
    return (TODAY + dt.timedelta(days=offset)).isoformat()


@pytest.fixture(scope="module")
def world():
    """One moto account for the whole module (the tests only read it): resources, tokens and daily files.

    Channel A has standard files for the last 12 days (two files on day -2) and public files for the last 40;
    channel B has one file of each kind, yesterday's.
    """
    from exhaust import aws
    from exhaust.auth.credentials import CredentialStore

    with moto_environment({"EXHAUST_CDN_BASE_URL": CDN}) as settings:
        store = CredentialStore()
        tokens = {
            "channel_a": store.create("token", "a", channels=["channel-a"], roles=["ORG_ADMIN"], user_id="a")[0],
            "channel_b": store.create("token", "b", channels=["channel-b"], roles=["ORG_ADMIN"], user_id="b")[0],
            "no_role": store.create("token", "viewer", channels=["channel-a"], roles=["VIEWER"], user_id="v")[0],
        }
        s3 = aws.client("s3")
        standard_keys = {}
        for offset in range(-12, 0):
            standard_keys[offset] = f"data-exhaust/summary-rollup/channel-a/{day(offset)}.csv"
            s3.put_object(Bucket=settings.exhaust_bucket, Key=standard_keys[offset], Body=b"date,channel\nx,y\n")
        second_part = f"data-exhaust/summary-rollup/channel-a/{day(-2)}-part-2.csv"
        public_keys = {offset: f"public-summary-rollup/channel-a/{day(offset)}.csv" for offset in range(-40, 0)}
        for key in [
            second_part,
            f"data-exhaust/summary-rollup/channel-b/{day(-1)}.csv",
            f"data-exhaust/summary-rollup/channel-a/{day(0)}.csv",
        ]:
            s3.put_object(Bucket=settings.exhaust_bucket, Key=key, Body=b"date\n")
        for key in [*public_keys.values(), f"public-summary-rollup/channel-b/{day(-1)}.csv"]:
            s3.put_object(Bucket=settings.public_bucket, Key=key, Body=b"date\n")
        # Registered datasets: a standard one with a 3-day limit, a public one that is not per channel.
        from exhaust.datasets.registry import Dataset, DatasetLimits, DatasetRegistry

        registry = DatasetRegistry()
        registry.put(
            Dataset(
                datasetId="weekly-usage", type="standard", limits=DatasetLimits(maxDateRangeDays=3, retentionDays=7)
            )
        )
        registry.put(
            Dataset(
                datasetId="national-usage", type="public", visibility="public", authorizedRoles=[], perChannel=False
            )
        )
        s3.put_object(
            Bucket=settings.exhaust_bucket, Key=f"data-exhaust/weekly-usage/channel-a/{day(-1)}.csv", Body=b""
        )
        s3.put_object(Bucket=settings.public_bucket, Key=f"national-usage/{day(-1)}.csv", Body=b"")
        yield World(tokens, standard_keys, second_part, public_keys)


@dataclass
class World:
    tokens: dict[str, str]
    standard_keys: dict[int, str]
    second_part: str
    public_keys: dict[int, str]


def standard(world, query, dataset="summary-rollup", token="channel_a", **headers):
    event = load_event("dataset_get/seed001_since_to")
    event["path"] = f"/api/data/v3/dataset/get/{dataset}"
    event["pathParameters"] = {"datasetId": dataset}
    set_query(event, query)
    return call_api(event, world.tokens[token] if token else None, **headers)


def public(query, dataset="public-summary-rollup", **headers):
    event = load_event("public_dataset_get/seed001_since_to")
    event["path"] = f"/api/data/v3/public/dataset/get/{dataset}"
    event["pathParameters"] = {"datasetId": dataset}
    set_query(event, query)
    return call_api(event, **headers)


def key_of(url: str) -> str:
    """The object key of a presigned link (virtual-hosted or path style)."""
    path = urlsplit(url).path
    return path[path.index("data-exhaust/") :]


def test_seed_001_sample_call_since_to_answers_both_days(world):
    status, _, body = standard(world, {"since": day(-4), "to": day(-3)})
    assert status == 200
    assert body["id"] == "org.ekstep.analytics.telemetry"
    assert body["params"]["status"] == "successful"
    result = body["result"]
    assert [key_of(url) for url in result["files"]] == [world.standard_keys[-4], world.standard_keys[-3]]
    assert sorted(result["periodWiseFiles"]) == [day(-4), day(-3)]
    assert [key_of(url) for url in result["periodWiseFiles"][day(-3)]] == [world.standard_keys[-3]]
    assert all("X-Amz-Signature=" in url for url in result["files"])
    now_ms = dt.datetime.now(dt.UTC).timestamp() * 1000
    assert now_ms + 1_700_000 < result["expiresAt"] < now_ms + 1_900_000


def test_from_to_event_shape_is_accepted(world):
    event = load_event("dataset_get/from_to")
    set_query(event, {"from": day(-5), "to": day(-1)})
    status, _, body = call_api(event, world.tokens["channel_a"])
    assert status == 200
    assert sorted(body["result"]["periodWiseFiles"]) == [day(offset) for offset in range(-5, 0)]


def test_defaults_are_yesterday_to_today(world):
    status, _, body = call_api(load_event("dataset_get/defaults"), world.tokens["channel_a"])
    assert status == 200
    assert sorted(body["result"]["periodWiseFiles"]) == [day(-1), day(0)]


def test_since_alone_means_until_today(world):
    status, _, body = standard(world, {"since": day(-4)})
    assert status == 200
    assert sorted(body["result"]["periodWiseFiles"]) == [day(-4), day(-3), day(-2), day(-1), day(0)]


def test_several_files_of_one_day_are_listed_under_that_day(world):
    status, _, body = standard(world, {"from": day(-2), "to": day(-2)})
    assert status == 200
    listed = [key_of(url) for url in body["result"]["periodWiseFiles"][day(-2)]]
    assert listed == sorted([world.standard_keys[-2], world.second_part])


def test_presigned_link_downloads_the_file(world):
    import requests

    status, _, body = standard(world, {"from": day(-1), "to": day(-1)})
    assert status == 200
    answer = requests.get(body["result"]["files"][0], timeout=5)
    assert answer.status_code == 200
    assert answer.content == b"date,channel\nx,y\n"


STANDARD_REFUSALS = [
    ({"from": "2026-13-01"}, "from: '2026-13-01' is not a date in the YYYY-MM-DD format"),
    ({"since": "yesterday"}, "since: 'yesterday' is not a date in the YYYY-MM-DD format"),
    ({"to": "20260101"}, "to: '20260101' is not a date in the YYYY-MM-DD format"),
    ({"from": day(-1), "to": day(1)}, f"to: {day(1)} is after today ({day(0)})"),
    ({"from": day(-2), "to": day(-5)}, f"from: {day(-2)} is after to ({day(-5)}); the range cannot be negative"),
    ({"since": day(-11), "to": day(-1)}, f"since: the range {day(-11)} to {day(-1)} covers 11 days"),
    ({"from": day(-1), "since": day(-2)}, "since: is an alias of from; give one of them, not both"),
    ({"from": day(-95), "to": day(-90)}, f"from: {day(-95)} is older than this dataset's retention of 90 days"),
]


def test_date_rules_answer_400_naming_the_parameter(world):
    for query, message in STANDARD_REFUSALS:
        status, _, body = standard(world, query)
        assert status == 400, query
        assert body["responseCode"] == "CLIENT_ERROR"
        assert body["params"]["errmsg"].startswith(message), (query, body["params"]["errmsg"])
        assert "result" not in body


def test_ten_days_is_within_the_standard_limit(world):
    status, _, body = standard(world, {"from": day(-10), "to": day(-1)})
    assert status == 200
    assert len(body["result"]["periodWiseFiles"]) == 10


def test_unknown_standard_dataset_is_404_listing_valid_ids(world):
    status, _, body = standard(world, {}, dataset="summary-rolup")
    assert status == 404
    assert body["responseCode"] == "RESOURCE_NOT_FOUND"
    assert (
        body["params"]["errmsg"]
        == "datasetId: unknown standard dataset 'summary-rolup'; valid ids: summary-channel-exhaust, summary-rollup, "
        "weekly-usage"
    )
    # A dataset of another kind is not a standard dataset either.
    assert standard(world, {}, dataset="progress-exhaust")[0] == 404
    assert standard(world, {}, dataset="public-summary-rollup")[0] == 404


def test_empty_range_answers_empty_lists_without_expiry(world):
    status, _, body = standard(world, {"from": day(-30), "to": day(-25)})
    assert status == 200
    assert body["result"] == {"files": [], "periodWiseFiles": {}}


def test_standard_route_needs_a_token_and_the_channel_header(world):
    assert standard(world, {}, token=None)[0] == 401
    status, _, body = standard(world, {}, X_Channel_Id=None)
    assert status == 400
    assert body["params"]["errmsg"].startswith("X-Channel-Id:")


def test_channel_b_cannot_list_channel_a_files(world):
    status, _, _ = standard(world, {"since": day(-3)}, token="channel_b", X_Channel_Id="channel-a")
    assert status == 403
    status, _, body = standard(world, {"since": day(-3)}, token="channel_b", X_Channel_Id="channel-b")
    assert status == 200
    assert [key_of(url) for url in body["result"]["files"]] == [f"data-exhaust/summary-rollup/channel-b/{day(-1)}.csv"]


def test_a_role_outside_the_dataset_roles_is_refused(world):
    status, _, body = standard(world, {}, token="no_role")
    assert status == 403
    assert "dataset summary-rollup" in body["params"]["errmsg"]


# ---- public ------------------------------------------------------------------------------------------------


def test_public_seed_001_sample_call_answers_cdn_links_without_auth_or_expiry(world):
    status, _, body = public({"since": day(-3), "to": day(-2)})
    assert status == 200
    result = body["result"]
    assert result["files"] == [f"{CDN}/{world.public_keys[-3]}", f"{CDN}/{world.public_keys[-2]}"]
    assert result["periodWiseFiles"] == {day(-3): [result["files"][0]], day(-2): [result["files"][1]]}
    assert "expiresAt" not in result


def test_public_route_answers_without_any_token(world):
    status, _, body = public({"date": day(-1)}, Authorization="Bearer not-a-token")
    assert status == 200
    assert body["result"]["files"] == [f"{CDN}/{world.public_keys[-1]}"]


def test_public_preset_event(world):
    status, _, body = call_api(load_event("public_dataset_get/date_range_preset"))
    assert status == 200
    assert sorted(body["result"]["periodWiseFiles"]) == [day(offset) for offset in range(-7, 0)]


def test_public_presets_end_yesterday(world):
    for preset, days in [("LAST_DAY", 1), ("LAST_2_DAYS", 2), ("LAST_14_DAYS", 14), ("LAST_30_DAYS", 30)]:
        status, _, body = public({"date_range": preset})
        assert status == 200, preset
        assert sorted(body["result"]["periodWiseFiles"]) == [day(offset) for offset in range(-days, 0)], preset


def test_public_last_week_is_the_previous_calendar_week(world):
    status, _, body = public({"date_range": "last_week"})
    assert status == 200
    listed = sorted(body["result"]["periodWiseFiles"])
    assert len(listed) == 7
    assert dt.date.fromisoformat(listed[0]).weekday() == 0
    assert dt.date.fromisoformat(listed[-1]) == TODAY - dt.timedelta(days=TODAY.weekday() + 1)


def test_public_channel_header_selects_the_channel(world):
    body = public({"date": day(-1)}, X_Channel_Id="channel-b")[2]
    assert body["result"]["files"] == [f"{CDN}/public-summary-rollup/channel-b/{day(-1)}.csv"]


PUBLIC_REFUSALS: list[tuple[dict[str, str], dict[str, str | None], str]] = [
    ({"date_range": "LAST_YEAR"}, {}, "date_range: 'LAST_YEAR' is not one of LAST_DAY, LAST_2_DAYS"),
    ({"date": "2026-02-30"}, {}, "date: '2026-02-30' is not a date in the YYYY-MM-DD format"),
    ({"date": day(1)}, {}, f"date: {day(1)} is after today"),
    ({"date": day(-1), "date_range": "LAST_DAY"}, {}, "date: cannot be combined with date_range"),
    ({"date_range": "LAST_DAY", "from": day(-3)}, {}, "date_range: cannot be combined with from"),
    ({"from": day(-31), "to": day(-1)}, {}, "from: the range"),
    ({"from": day(-95), "to": day(-91)}, {}, f"from: {day(-95)} is older than this dataset's retention of 90 days"),
    ({"date": day(-91)}, {}, f"date: {day(-91)} is older than this dataset's retention"),
    ({"date": day(-1)}, {"X_Channel_Id": None}, "X-Channel-Id: header is required"),
    ({"date": day(-1)}, {"X_Channel_Id": "../secret"}, "X-Channel-Id: '../secret' is not a channel id"),
]


def test_public_rules_answer_400(world):
    for query, headers, message in PUBLIC_REFUSALS:
        status, _, body = public(query, **headers)
        assert status == 400, query
        assert body["params"]["errmsg"].startswith(message), (query, body["params"]["errmsg"])


def test_unknown_public_dataset_is_404_listing_valid_ids_as_on_the_standard_route(world):
    status, _, body = public({}, dataset="summary-rollup")
    assert status == 404
    assert body["responseCode"] == "RESOURCE_NOT_FOUND"
    assert (
        body["params"]["errmsg"]
        == "datasetId: unknown public dataset 'summary-rollup'; valid ids: national-usage, public-summary-rollup"
    )


def test_public_empty_range(world):
    status, _, body = public({"date": day(-60)})
    assert status == 200
    assert body["result"] == {"files": [], "periodWiseFiles": {}}


def test_registered_datasets_bring_their_own_limits(world):
    assert standard(world, {"from": day(-3), "to": day(-1)}, dataset="weekly-usage")[0] == 200
    status, _, body = standard(world, {"from": day(-4), "to": day(-1)}, dataset="weekly-usage")
    assert status == 400
    assert body["params"]["errmsg"].endswith("covers 4 days; this dataset allows at most 3")
    status, _, body = standard(world, {"date": day(-8), "from": day(-1)}, dataset="weekly-usage")
    # date is not a parameter of the standard route: a 400 naming it, not a silently wider answer (issue 12).
    assert status == 400
    assert body["params"]["errmsg"] == "date: unknown query parameter; accepted: from, since, to"
    status, _, body = public({"date": day(-1)}, dataset="national-usage", X_Channel_Id=None)
    assert status == 200
    assert body["result"]["files"] == [f"{CDN}/national-usage/{day(-1)}.csv"]
    status, _, body = standard(world, {}, dataset="nope")
    assert body["params"]["errmsg"].endswith("valid ids: summary-channel-exhaust, summary-rollup, weekly-usage")
