import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_network():
    """Unit tests are pure logic: any socket is a bug."""
    disable_socket()
    yield
    enable_socket()
