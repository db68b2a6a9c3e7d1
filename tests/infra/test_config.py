"""Deployment settings: sources, validation, documentation, and the environment the functions receive."""

import re
from pathlib import Path

import pytest
from exhaust.settings import RuntimeSettings
from pydantic import ValidationError

from infra.config import StackSettings

from .walk import of_type

CONFIGURATION = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _section(title: str) -> str:
    text = CONFIGURATION.read_text()
    match = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert match, f"docs/configuration.md has no '## {title}' section"
    return match.group(1)


def test_every_setting_is_documented_with_its_context_key_and_environment_variable():
    section = _section("Settings")
    for name in StackSettings.model_fields:
        assert f"`{name}`" in section, name
        assert f"`EXHAUST_{name.upper()}`" in section, name


def test_context_wins_over_the_environment_and_strings_are_coerced():
    settings = StackSettings.from_sources(
        {"stage": "prod", "output_retention_days": "7"},
        {"EXHAUST_STAGE": "ignored", "EXHAUST_LINK_EXPIRY_MINUTES": "15", "EXHAUST_ALARM_EMAIL": "ops@example.org"},
    )
    assert settings.stage == "prod"
    assert settings.stack_name == "exhaust-prod"
    assert settings.output_retention_days == 7
    assert settings.link_expiry_minutes == 15
    assert settings.alarm_email == "ops@example.org"


@pytest.mark.parametrize(
    "bad",
    [
        {"stage": "Prod_1"},
        {"alarm_email": "not-an-address"},
        {"lake_prefix": "lake"},
        {"lake_bucket_name": "UPPER"},
        {"output_retention_days": 0},
        {"api_rate_limit": 0},
        {"link_expiry_minutes": 61},
        {"builder_reserved_concurrency": -1},
        {"builder_reserved_concurrency": 5},  # below map_max_concurrency (10): one request would throttle itself
        {"link_expiry_minutes": 7 * 24 * 60},
        {"spark_above_enrolments": 3_000_000},  # more than the indexer's 3,008 MB holds: such lakes go to Spark
        {"indexer_memory_mb": 12_288},  # over Lambda's 10,240 MB
        {"spark_max_vcpu": 2},
    ],
)
def test_invalid_settings_are_refused_at_synth(bad):
    with pytest.raises(ValidationError):
        StackSettings.from_sources(bad, {})


def test_functions_receive_only_variables_the_runtime_settings_read(resources):
    known = {f"EXHAUST_{name.upper()}" for name in RuntimeSettings.model_fields}
    for logical_id, function in of_type(resources, "AWS::Lambda::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        unknown = {v for v in variables if v.startswith("EXHAUST_")} - known
        assert not unknown, f"{logical_id} gets variables no setting reads: {unknown}"


def test_the_batch_expiry_setting_reaches_the_functions(resources):
    values = {
        function["Properties"].get("Environment", {}).get("Variables", {}).get("EXHAUST_BATCH_EXPIRY_DAYS")
        for function in of_type(resources, "AWS::Lambda::Function").values()
    }
    assert "365" in values


def test_links_live_at_most_an_hour_the_signing_credentials_allow():
    assert StackSettings.from_sources({"link_expiry_minutes": 60}, {}).link_expiry_minutes == 60
    assert RuntimeSettings.from_environ({"EXHAUST_LINK_EXPIRY_SECONDS": "3600"}).link_expiry_seconds == 3600
    with pytest.raises(ValidationError, match="link_expiry_seconds"):
        RuntimeSettings.from_environ({"EXHAUST_LINK_EXPIRY_SECONDS": str(7 * 24 * 3600)})


def test_functions_sign_links_for_the_configured_lifetime(resources):
    for function in of_type(resources, "AWS::Lambda::Function").values():
        assert function["Properties"]["Environment"]["Variables"]["EXHAUST_LINK_EXPIRY_SECONDS"] == "1800"


def test_a_larger_threshold_needs_the_indexer_memory_to_hold_it():
    with pytest.raises(ValidationError, match="raise indexer_memory_mb where the account allows it"):
        StackSettings.from_sources({"spark_above_enrolments": "3000000"}, {})
    settings = StackSettings.from_sources({"spark_above_enrolments": "3000000", "indexer_memory_mb": "4096"}, {})
    assert settings.spark_above_enrolments == 3_000_000
