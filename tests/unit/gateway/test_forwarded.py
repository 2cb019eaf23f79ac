"""Forwarded headers believed only from the proxies named in configuration (finding 1)."""

from __future__ import annotations

from services.gateway.forwarded import ProxyTrust, parse_proxies

XFF = b"x-forwarded-for"


def test_without_a_configured_proxy_the_connection_is_the_client() -> None:
    trust = ProxyTrust(parse_proxies(""))
    assert trust.client_of("127.0.0.1", {XFF: b"198.51.100.1"}) == ("127.0.0.1", None)


def test_a_client_that_is_not_a_proxy_cannot_name_another_address() -> None:
    trust = ProxyTrust(parse_proxies("10.0.0.0/8"))
    assert trust.client_of("192.0.2.9", {XFF: b"198.51.100.1"})[0] == "192.0.2.9"


def test_the_chain_is_read_from_the_right_skipping_trusted_proxies() -> None:
    trust = ProxyTrust(parse_proxies("10.0.0.1, 10.0.1.0/24"))
    headers = {XFF: b"1.2.3.4, 198.51.100.7, 10.0.1.5", b"x-forwarded-proto": b"https"}
    assert trust.client_of("10.0.0.1", headers) == ("198.51.100.7", "https")


def test_a_chain_of_trusted_proxies_only_gives_its_left_end() -> None:
    trust = ProxyTrust(parse_proxies("10.0.0.0/8"))
    assert trust.client_of("10.0.0.1", {XFF: b"10.0.0.3, 10.0.0.2"})[0] == "10.0.0.3"


def test_garbage_in_the_chain_stops_at_the_last_trusted_hop() -> None:
    trust = ProxyTrust(parse_proxies("10.0.0.1"))
    assert trust.client_of("10.0.0.1", {XFF: b"not-an-address"})[0] == "10.0.0.1"


def test_rfc_7239_forwarded_with_ports_and_ipv6() -> None:
    trust = ProxyTrust(parse_proxies("10.0.0.1"), header="forwarded")
    headers = {
        b"forwarded": b'for=1.2.3.4;proto=http, for="[2001:db8::17]:4711";proto=https',
        XFF: b"203.0.113.1",  # not the configured header: ignored
    }
    assert trust.client_of("10.0.0.1", headers) == ("2001:db8::17", "https")
