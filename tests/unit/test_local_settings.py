"""Local mode reads the settings the stack passes to its functions, under the stack's names too."""

import pytest
from exhaust.pipeline.definition import DEFAULT_MAP_MAX_CONCURRENCY
from exhaust_devkit.local.runtime import configured_settings
from exhaust_devkit.local.state import LocalSetupError


def test_without_settings_the_defaults_of_the_stack():
    settings, concurrency = configured_settings({})
    assert settings.max_open_requests_per_channel == 100
    assert settings.link_expiry_seconds == 1800
    assert concurrency == DEFAULT_MAP_MAX_CONCURRENCY


def test_the_stacks_names_and_the_functions_names_are_both_read():
    settings, concurrency = configured_settings(
        {
            "EXHAUST_MAX_OPEN_REQUESTS_PER_CHANNEL": "1",
            "EXHAUST_MAX_RUNNING_PER_CHANNEL": "2",
            "EXHAUST_OUTPUT_RETENTION_DAYS": "7",
            "EXHAUST_LINK_EXPIRY_MINUTES": "5",
            "EXHAUST_MAP_MAX_CONCURRENCY": "3",
        }
    )
    assert settings.max_open_requests_per_channel == 1
    assert settings.max_running_per_channel == 2
    assert settings.output_retention_days == 7
    assert settings.link_expiry_seconds == 300
    assert concurrency == 3


def test_the_functions_own_name_wins_over_the_stacks():
    settings, _ = configured_settings({"EXHAUST_LINK_EXPIRY_MINUTES": "5", "EXHAUST_LINK_EXPIRY_SECONDS": "120"})
    assert settings.link_expiry_seconds == 120


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"EXHAUST_MAX_RUNNING_PER_CHANNEL": "0"}, "EXHAUST_MAX_RUNNING_PER_CHANNEL: Input should be greater than"),
        ({"EXHAUST_LINK_EXPIRY_MINUTES": "half"}, "EXHAUST_LINK_EXPIRY_MINUTES: must be a whole number, got 'half'"),
        ({"EXHAUST_MAP_MAX_CONCURRENCY": "x"}, "EXHAUST_MAP_MAX_CONCURRENCY: must be a whole number, got 'x'"),
        ({"EXHAUST_LINK_EXPIRY_MINUTES": "0"}, "EXHAUST_LINK_EXPIRY_SECONDS: Input should be greater than"),
        ({"EXHAUST_MAP_MAX_CONCURRENCY": "0"}, "EXHAUST_MAP_MAX_CONCURRENCY: must be from 1 to 1000, got 0"),
    ],
)
def test_an_invalid_setting_is_refused_with_its_variable_named(environ, message):
    with pytest.raises(LocalSetupError, match=message):
        configured_settings(environ)
