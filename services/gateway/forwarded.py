"""Who the client is: forwarded headers believed only from the proxies named in configuration.

``IBOK_TRUSTED_PROXIES`` lists the proxies (addresses or networks); none by default, so a
client that sends ``X-Forwarded-For`` itself changes nothing. When the connection comes from a
trusted proxy, the chain in the configured header (``X-Forwarded-For`` or RFC 7239
``Forwarded``) is read from its right end, where the nearest proxy wrote, skipping trusted
proxies: the first address no trusted proxy stands for is the client. Everything keyed on the
client (rate limits, auth's lockouts, audit entries, the session list) sees that address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(setting: str) -> tuple[Network, ...]:
    """``"10.0.0.1, 172.16.0.0/12"`` as networks; an invalid entry fails the start."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False)
        for part in setting.split(",")
        if part.strip()
    )


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip('"')
    if text.startswith("["):  # Forwarded: "[2001:db8::1]:4711"
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # "192.0.2.1:4711"
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _forwarded_for(header: str) -> list[str]:
    """The ``for=`` values of an RFC 7239 ``Forwarded`` header, first hop first."""
    hops = []
    for element in header.split(","):
        found = ""
        for pair in element.split(";"):
            key, _, value = pair.strip().partition("=")
            if key.strip().lower() == "for":
                found = value
        hops.append(found)
    return hops


def _forwarded_proto(header: str) -> str:
    for element in reversed(header.split(",")):
        for pair in element.split(";"):
            key, _, value = pair.strip().partition("=")
            if key.strip().lower() == "proto":
                return value.strip().strip('"').lower()
    return ""


@dataclass(frozen=True)
class ProxyTrust:
    proxies: Sequence[Network]
    header: str = "x-forwarded-for"  # or "forwarded"

    def trusted(self, host: str) -> bool:
        address = _address(host)
        return address is not None and any(address in net for net in self.proxies)

    def client_of(self, peer: str, headers: dict[bytes, bytes]) -> tuple[str, str | None]:
        """(the client's address, the scheme the proxy says, or None) for a connection from
        ``peer`` carrying ``headers`` (lower-case names, several values joined by commas)."""
        if not self.proxies or not self.trusted(peer):
            return peer, None
        if self.header == "forwarded":
            raw = headers.get(b"forwarded", b"").decode("latin-1")
            hops = _forwarded_for(raw) if raw else []
            proto = _forwarded_proto(raw)
        else:
            hops = headers.get(b"x-forwarded-for", b"").decode("latin-1").split(",")
            hops = [hop for hop in hops if hop.strip()]
            proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").split(",")[-1].strip()
        client = peer
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                # Nothing a trusted proxy wrote: keep the last trusted hop as the client.
                break
            client = str(address)
            if not any(address in net for net in self.proxies):
                break
        return client, proto if proto in ("http", "https") else None
