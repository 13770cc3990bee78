"""Which webhook URLs kpigraph may send to: public ``http(s)`` addresses only.

A department's ``notify`` URL is written by whoever edits the catalog or proposes a change, and
the server POSTs to it: left unchecked it reaches the machine's own services, the cloud metadata
endpoint (``169.254.169.254``) or the private network. The rules, checked when a definition is
validated (:func:`check_url`, no network) and again at every delivery on each address the name
resolves to (:func:`check_address`, in :mod:`governance.webhook_send`):

- the scheme is ``http`` or ``https``; the URL has a host and no user name or password;
- an address is refused when it is loopback, private, link-local, multicast, unspecified,
  reserved or otherwise not globally routable — IPv6 included, and IPv4 embedded in IPv6
  (``::ffff:127.0.0.1``, ``::127.0.0.1``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) is
  judged as the IPv4 address it carries; legacy IPv4 spellings (``0x7f.1``, ``2130706433``)
  are read as the addresses they stand for; ``localhost`` and ``*.localhost`` are loopback;
- unless ``KPIGRAPH_WEBHOOK_ALLOW`` lists it: a comma-separated list of hosts (``hooks.lan``),
  ``host:port`` (``127.0.0.1:8080``, ``[::1]:8080``) and networks (``10.0.0.0/8``). A listed host
  (with any port, or the listed port) may resolve anywhere; a listed network allows its
  addresses on any port. Credentials and other schemes are refused even when listed.

Pure functions (no I/O beyond reading the environment variable).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.i18n import N_, Said

ALLOW_ENV = "KPIGRAPH_WEBHOOK_ALLOW"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_V4_COMPAT = ipaddress.ip_network("::/96")


class WebhookRefused(ValueError):
    """A webhook URL or address kpigraph will not send to (the message says why)."""


@dataclass(frozen=True)
class Allow:
    """The parsed ``KPIGRAPH_WEBHOOK_ALLOW``: host names (with an optional port) and networks."""

    hosts: frozenset[tuple[str, int | None]] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def host(self, host: str, port: int) -> bool:
        host = host.lower().rstrip(".")
        return (host, None) in self.hosts or (host, port) in self.hosts

    def address(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)


def parse_allow(text: str | None) -> Allow:
    """``"hooks.lan, 127.0.0.1:8080, [::1]:9000, 10.0.0.0/8"`` → :class:`Allow`.

    Examples
    --------
    >>> a = parse_allow("hooks.lan, 127.0.0.1:8080, [::1]:9000, 10.0.0.0/8")
    >>> sorted(a.hosts, key=str), [str(n) for n in a.networks]
    ([('127.0.0.1', 8080), ('::1', 9000), ('hooks.lan', None)], ['10.0.0.0/8'])
    """
    hosts: set[tuple[str, int | None]] = set()
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for raw in (text or "").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if "/" in entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise WebhookRefused(
                    Said.of(
                        N_("{ALLOW_ENV}: {value} is not a network (write e.g. 10.0.0.0/8)"),
                        ALLOW_ENV=ALLOW_ENV,
                        value=repr(raw.strip()),
                    )
                ) from None
            continue
        host, port = _split_host_port(entry)
        hosts.add((host.rstrip("."), port))
    return Allow(frozenset(hosts), tuple(networks))


def _split_host_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
    else:  # a bare name, IPv4 or IPv6 address
        host, port = entry, ""
    if port and not port.isdigit():
        raise WebhookRefused(
            Said.of(
                N_("{ALLOW_ENV}: {entry}: the port must be a number"),
                ALLOW_ENV=ALLOW_ENV,
                entry=repr(entry),
            )
        )
    return host, int(port) if port else None


def allow_from_env() -> Allow:
    return parse_allow(os.environ.get(ALLOW_ENV))


def literal_address(host: str) -> IPAddress | None:
    """The address a URL host stands for without DNS (IPv4/IPv6 literal, or a legacy IPv4
    spelling that resolvers accept such as ``0x7f.1`` or ``2130706433``), else ``None``.

    Examples
    --------
    >>> str(literal_address("0x7f.1")), str(literal_address("2130706433"))
    ('127.0.0.1', '127.0.0.1')
    >>> literal_address("hooks.example.com") is None
    True
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if host and all(part and part[0].isdigit() for part in host.rstrip(".").split(".")):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None
    return None


def why_not_public(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address, or ``None`` when it is.

    Examples
    --------
    >>> why_not_public(ipaddress.ip_address("169.254.169.254"))
    'link-local'
    >>> why_not_public(ipaddress.ip_address("::ffff:127.0.0.1"))
    'loopback (IPv4 127.0.0.1 inside IPv6)'
    >>> why_not_public(ipaddress.ip_address("8.8.8.8")) is None
    True
    """
    if isinstance(ip, ipaddress.IPv6Address):
        inner: ipaddress.IPv4Address | None = ip.ipv4_mapped or ip.sixtofour
        if inner is None and (ip in _NAT64 or ip in _V4_COMPAT) and int(ip) > 1:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            why = why_not_public(inner)
            return f"{why} (IPv4 {inner} inside IPv6)" if why else None
    for label, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return label
    if not ip.is_global:
        return "not globally routable"
    return None


def check_address(ip: IPAddress, host: str, port: int, allow: Allow | None = None) -> None:
    """Refuse sending to ``ip`` (which ``host`` resolved to) unless it is public or allowed."""
    allow = allow if allow is not None else allow_from_env()
    if allow.host(host, port) or allow.host(str(ip), port) or allow.address(ip):
        return
    why = why_not_public(ip)
    if why is not None:
        raise WebhookRefused(
            Said.of(
                N_(
                    "webhook host {host} is {ip}, not a public address ({why}); "
                    "notifications go to public addresses only (an operator may list it in "
                    "{ALLOW_ENV})"
                ),
                host=repr(host),
                ip=ip,
                why=why,
                ALLOW_ENV=ALLOW_ENV,
            )
        )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line


def check_url(url: str, allow: Allow | None = None) -> Target:
    """The parts of a webhook URL kpigraph may send to; :class:`WebhookRefused` says why not.

    Checks everything that needs no network: scheme, credentials, host, literal addresses
    and ``localhost``. Names are resolved and their addresses checked at delivery.

    Examples
    --------
    >>> check_url("https://hooks.example.com/x?k=1", Allow())
    Target(scheme='https', host='hooks.example.com', port=443, path='/x?k=1')

    A refusal is worded when it is read, in the language in use then (a delivery failure
    kept in the outbox reads in its reader's language):

    >>> from core.i18n import use
    >>> try:
    ...     check_url("http://169.254.169.254/latest/meta-data", Allow())
    ... except WebhookRefused as exc:
    ...     refused = exc
    >>> with use("en"):
    ...     print(refused)
    webhook host '169.254.169.254' is ...(link-local)...
    >>> with use("zh"):
    ...     print(refused)
    webhook 主机 '169.254.169.254' 解析为 169.254.169.254，不是公网地址（link-local）；...
    >>> with use("en"):
    ...     check_url("https://user:pw@hooks.example.com/", Allow())
    Traceback (most recent call last):
    ...
    graph_schema.webhook_policy.WebhookRefused: ...
    """
    allow = allow if allow is not None else allow_from_env()
    if any(c in url for c in "\x00\r\n\t ") or "\\" in url:
        raise WebhookRefused(
            Said.of(N_("webhook URL contains whitespace, control characters or '\\'"))
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused(Said.of(N_("webhook URL is malformed: {error}"), error=exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise WebhookRefused(
            Said.of(
                N_("webhook URL scheme {value} is not allowed; use http(s)://"),
                value=repr(parts.scheme or "(none)"),
            )
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise WebhookRefused(
            Said.of(
                N_(
                    "webhook URL carries a user name or password; put secrets in the path or "
                    "query the receiving service issues (e.g. a bot key), never in "
                    "user:password@"
                )
            )
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise WebhookRefused(Said.of(N_("webhook URL has no host")))
    port = port or (443 if scheme == "https" else 80)
    if (host == "localhost" or host.endswith(".localhost")) and not allow.host(host, port):
        raise WebhookRefused(
            Said.of(
                N_(
                    "webhook host {host} is a loopback name; notifications go to public "
                    "addresses only (an operator may list it in {ALLOW_ENV})"
                ),
                host=repr(host),
                ALLOW_ENV=ALLOW_ENV,
            )
        )
    ip = literal_address(host)
    if ip is not None:
        check_address(ip, host, port, allow)
    path = parts.path or "/"
    return Target(scheme, host, port, f"{path}?{parts.query}" if parts.query else path)
