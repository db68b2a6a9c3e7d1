"""Opt-in: the smoke test against a deployed stack (`pytest -m e2e_aws` with BASE_URL, TOKEN, CHANNEL, BATCH set)."""

import os

import pytest
from exhaust_devkit import smoke

pytestmark = pytest.mark.e2e_aws
NEEDED = ("BASE_URL", "TOKEN", "CHANNEL", "BATCH")


@pytest.mark.skipif(not all(os.environ.get(name) for name in NEEDED), reason="set BASE_URL, TOKEN, CHANNEL, BATCH")
def test_deployed_stack_submits_builds_and_serves_an_encrypted_zip():
    content = smoke.Smoke(
        base_url=os.environ["BASE_URL"],
        token=os.environ["TOKEN"],
        channel=os.environ["CHANNEL"],
        batch_id=os.environ["BATCH"],
        timeout_seconds=float(os.environ.get("SMOKE_TIMEOUT", "900")),
    ).run()
    assert content.startswith(b"PK")
