"""Local mode seeds a lake in moto S3 and writes its sample ids where a newcomer finds them."""

from __future__ import annotations

import datetime as dt

from exhaust.builders import BatchBuild, build_batch_zip
from exhaust.lake.catalog import Catalog
from exhaust.lake.store import Lake


def test_samples_point_at_a_lake_the_builders_can_read(local_service, monkeypatch, tmp_path):
    credentials = local_service.credentials
    samples = credentials["samples"]
    for key in ("collectionId", "progressBatchId", "userinfoBatchId", "responseBatchId", "retiredBatchId"):
        assert samples[key], key
    monkeypatch.setenv("AWS_ENDPOINT_URL", credentials["awsEndpoint"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.setenv("AWS_REGION", "us-east-1")

    lake = Lake.open(samples["lakeUri"])
    catalog = Catalog(lake)
    progress, retired, userinfo = (
        catalog.batch(samples[name]) for name in ("progressBatchId", "retiredBatchId", "userinfoBatchId")
    )
    assert progress is not None
    assert progress.collection_id == samples["collectionId"]
    assert retired is not None
    assert retired.retired
    assert userinfo is not None
    assert userinfo.requires_consent
    build = BatchBuild(
        "progress-exhaust", samples["progressBatchId"], credentials["channel"], "pw", lake, dt.date.today()
    )
    summary = build_batch_zip(build, tmp_path / "progress.zip")
    assert summary.rows > 0
