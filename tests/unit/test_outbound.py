"""Where a client-given URL may lead (issue 28): every spelling of an address inside the network is refused."""

from __future__ import annotations

import pytest
from exhaust.outbound import OutboundPolicy, RefusedDestination
from exhaust.settings import RuntimeSettings

PUBLIC = "93.184.215.14"


def resolving_to(*addresses: str):
    return lambda host, port: list(addresses)


INTERNAL_URLS = [
    "https://169.254.169.254/latest/meta-data/",  # the instance metadata service
    "https://169.254.170.2/v2/credentials",  # the container credentials endpoint
    "https://[fd00:ec2::254]/latest/meta-data/",  # the metadata service over IPv6
    "https://127.0.0.1/",
    "https://127.1/",
    "https://2130706433/",  # decimal
    "https://0x7f000001/",  # hex
    "https://0x7f.0.0.1/",
    "https://0177.0.0.1/",  # octal
    "https://017700000001/",
    "https://10.0.0.1/",
    "https://172.16.5.4/",
    "https://192.168.1.1/",
    "https://100.64.0.1/",  # shared address space
    "https://0.0.0.0/",
    "https://224.0.0.1/",  # multicast
    "https://240.0.0.1/",  # reserved
    "https://255.255.255.255/",
    "https://[::1]/",
    "https://[::]/",
    "https://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "https://[::ffff:a9fe:a9fe]/",  # IPv4-mapped metadata, in hex
    "https://[64:ff9b::7f00:1]/",  # NAT64
    "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "https://[fe80::1]/",  # link-local
    "https://[fc00::1]/",  # unique local
    "https://[ff02::1]/",  # multicast
]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_an_address_inside_the_network_is_refused_in_any_spelling(url: str) -> None:
    with pytest.raises(RefusedDestination, match="only public addresses"):
        OutboundPolicy(resolver=resolving_to(PUBLIC)).check_submitted(url)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "::ffff:10.0.0.1"])
def test_a_name_resolving_inside_the_network_is_refused(address: str) -> None:
    policy = OutboundPolicy(resolver=resolving_to(PUBLIC, address))
    with pytest.raises(RefusedDestination, match=r"host partner\.example leads to"):
        policy.check_submitted("https://partner.example/hook")


def test_a_public_host_on_443_is_allowed() -> None:
    OutboundPolicy(resolver=resolving_to(PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c")).check_submitted(
        "https://partner.example/hook"
    )
    OutboundPolicy(resolver=resolving_to(PUBLIC)).check_submitted(f"https://{PUBLIC}/hook")


def test_a_name_that_does_not_resolve_yet_is_left_to_the_check_at_send_time() -> None:
    def unresolvable(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    OutboundPolicy(resolver=unresolvable).check_submitted("https://partner.example/hook")


@pytest.mark.parametrize(
    "url", ["https://partner.example:22/", "https://partner.example:8443/", "http://partner.example/"]
)
def test_only_https_on_443_unless_the_operator_allows_a_port(url: str) -> None:
    with pytest.raises(RefusedDestination):
        OutboundPolicy(resolver=resolving_to(PUBLIC)).check_submitted(url)


def test_the_operator_allows_more_ports_with_a_setting() -> None:
    policy = RuntimeSettings(callback_ports="443, 8443").outbound_policy()
    assert policy.ports == frozenset({443, 8443})
    object.__setattr__(policy, "resolver", resolving_to(PUBLIC))
    policy.check_submitted("https://partner.example:8443/hook")
    with pytest.raises(RefusedDestination, match="port 22 is not allowed"):
        policy.check_submitted("https://partner.example:22/hook")


def test_test_receivers_are_off_by_default_and_exempt_exactly_their_origin() -> None:
    assert RuntimeSettings().outbound_policy().test_receivers == frozenset()
    policy = RuntimeSettings(callback_test_receivers="https://127.0.0.1:8765").outbound_policy()
    policy.check_submitted("https://127.0.0.1:8765/hook")
    for other in ("https://127.0.0.1:8766/hook", "https://127.0.0.2:8765/hook", "https://127.0.0.1/hook"):
        with pytest.raises(RefusedDestination):
            policy.check_submitted(other)


def test_a_rebound_name_is_refused_when_connecting() -> None:
    """Public when the partner submitted, loopback when the callback is sent (DNS rebinding): no connection."""
    answers = iter([[PUBLIC], ["127.0.0.1"]])
    policy = OutboundPolicy(resolver=lambda host, port: next(answers))
    policy.check_submitted("https://rebind.example/hook")
    with pytest.raises(RefusedDestination, match="loopback"):
        policy.connect("https://rebind.example/hook", timeout=1)


def test_credentials_in_the_url_are_refused() -> None:
    with pytest.raises(RefusedDestination, match="credentials"):
        OutboundPolicy(resolver=resolving_to(PUBLIC)).check_url("https://user:pass@partner.example/")
