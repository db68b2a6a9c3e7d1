"""The shared package's copies of the API time limits are the stack's (the domain code cannot import infra/)."""

from exhaust.downloads import API_FUNCTION_TIMEOUT_SECONDS, API_GATEWAY_TIMEOUT_SECONDS

from infra.service_function import API_FUNCTION_TIMEOUT, API_GATEWAY_INTEGRATION_TIMEOUT


def test_the_answer_time_limits_are_the_stacks():
    assert API_GATEWAY_INTEGRATION_TIMEOUT.to_seconds() == API_GATEWAY_TIMEOUT_SECONDS
    assert API_FUNCTION_TIMEOUT.to_seconds() == API_FUNCTION_TIMEOUT_SECONDS
