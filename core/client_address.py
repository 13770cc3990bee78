"""Who a request came from, for per-client limits: the TCP peer, unless it is a proxy the
operator named.

``X-Forwarded-For`` is written by whoever sends the request, so it counts only when the peer
is a trusted proxy (``KPIGRAPH_TRUSTED_PROXIES``: comma-separated addresses or networks). Then
the client is the right-most hop in the header that is not itself a trusted proxy — the
address the outermost trusted proxy saw; anything left of it could be made up. (Issue 21: the
failed-token limiter keyed on the header, so 30 bad tokens with 30 different headers were
never refused.)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(text: str | None) -> tuple[Network, ...]:
    """``"10.0.0.5, 10.1.0.0/16, ::1"`` → networks; a bad entry is a ``ValueError`` naming it.

    Examples
    --------
    >>> [str(n) for n in parse_proxies("10.0.0.5, 10.1.0.0/16")]
    ['10.0.0.5/32', '10.1.0.0/16']
    """
    out = []
    for raw in (text or "").split(","):
        entry = raw.strip()
        if not entry:
            continue
        try:
            out.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"KPIGRAPH_TRUSTED_PROXIES: {entry!r} is not an address or network"
            ) from None
    return tuple(out)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip('"')
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Iterable[Network]) -> bool:
    return any(ip.version == n.version and ip in n for n in proxies)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], proxies: tuple[Network, ...]
) -> str:
    """The key for ``peer``'s request: ``peer`` itself unless it is a trusted proxy, then the
    right-most untrusted hop of ``X-Forwarded-For`` (every header line, in order).

    Examples
    --------
    >>> proxies = parse_proxies("10.0.0.5")
    >>> client_address("203.0.113.9", ["1.2.3.4"], proxies)  # not a proxy: header ignored
    '203.0.113.9'
    >>> client_address("10.0.0.5", ["1.2.3.4, 198.51.100.7"], proxies)
    '198.51.100.7'
    >>> client_address("10.0.0.5", ["spoofed, 198.51.100.7, 10.0.0.5"], proxies)
    '198.51.100.7'
    """
    if not peer:
        return "unknown"
    ip = _ip(peer)
    if ip is None or not proxies or not _trusted(ip, proxies):
        return str(ip) if ip is not None else peer
    hops = [hop for line in forwarded_for for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops):
        hop_ip = _ip(hop)
        if hop_ip is None:
            return hop.strip()[:64]  # a malformed hop added after the last trusted one
        if not _trusted(hop_ip, proxies):
            return str(hop_ip)
    return str(ip)
