"""One webhook POST to a checked address: resolve, check every address, connect to it.

The URL was checked when the definition was validated, but a name may resolve elsewhere by
the time a notification is sent (DNS rebinding). So each delivery resolves the host, refuses
when *any* address it gets is not public (:mod:`graph_schema.webhook_policy`, unless
``KPIGRAPH_WEBHOOK_ALLOW`` lists it), and connects to that checked address itself — the HTTP
``Host`` header and TLS server name (SNI and certificate check) are still the URL's host.
Redirects are never followed: a ``3xx`` answer is a failed attempt, like any non-``2xx``.

A delivery also ends by a deadline (:data:`DEADLINE_TIMEOUTS` times the timeout), however the
receiver drips its answer: the timeout bounds each read only, and a receiver sending a byte a
second held the delivery (and its outbox lease, after which another server process sent the
same notification again) for as long as it liked.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading

from core.i18n import N_, Said
from graph_schema.webhook_policy import (
    Allow,
    IPAddress,
    Target,
    WebhookRefused,
    allow_from_env,
    check_address,
    check_url,
)

#: a whole delivery (connect, send, answer) ends after this many timeouts
DEADLINE_TIMEOUTS = 3


class WebhookError(OSError):
    """A delivery that did not get a ``2xx`` answer (the message says what it got: a
    :class:`~core.i18n.Said`, worded when read — the outbox keeps it for its readers)."""


def resolve(target: Target, allow: Allow) -> IPAddress:
    """The address to connect to: every address the host resolves to must pass
    :func:`check_address`; the first is used."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebhookError(
            Said.of(N_("cannot resolve {host}: {error}"), host=repr(target.host), error=exc)
        ) from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise WebhookError(Said.of(N_("{host} resolves to no address"), host=repr(target.host)))
    for ip in addresses:
        check_address(ip, target.host, target.port, allow)
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to ``address`` that names ``host`` in its requests."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to ``address`` whose TLS server name and certificate are ``host``'s."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._context = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._context)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(
    url: str,
    data: bytes,
    headers: dict[str, str],
    timeout: float,
    allow: Allow | None = None,
) -> int:
    """POST ``data`` to ``url``; the status of a ``2xx`` answer.

    Raises
    ------
    WebhookRefused
        The URL or an address its host resolves to may not be sent to.
    WebhookError
        No ``2xx`` answer (a redirect is not followed), or the host cannot be resolved.
    OSError
        The connection failed or timed out.
    """
    allow = allow if allow is not None else allow_from_env()
    target = check_url(url, allow)
    address = str(resolve(target, allow))
    kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    conn = kind(target.host, target.port, address, timeout)
    deadline = DEADLINE_TIMEOUTS * timeout
    expired = threading.Event()

    def cut() -> None:  # from the timer's thread: the blocked read returns at once
        expired.set()
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(deadline, cut)
    timer.daemon = True
    timer.start()
    try:
        try:
            conn.request("POST", target.path, body=data, headers=headers)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException):
            if not expired.is_set():
                raise
            response = None
        if response is None or expired.is_set():  # cut: the headers read may be a part
            raise WebhookError(Said.of(N_("no answer within {seconds} s"), seconds=f"{deadline:g}"))
        status = response.status  # the receiver answered; its body is not used
        with contextlib.suppress(OSError, http.client.HTTPException):
            response.read(64 * 1024)  # drain a little (cut at the deadline)
        if 300 <= status < 400:
            where = response.getheader("Location", "")[:200]
            raise WebhookError(
                Said.of(
                    N_("HTTP {status} redirect to {where} not followed"),
                    status=status,
                    where=repr(where),
                )
            )
        if not 200 <= status < 300:
            raise WebhookError(f"HTTP {status}")
        return status
    finally:
        timer.cancel()
        conn.close()


__all__ = ["WebhookError", "WebhookRefused", "post", "resolve"]
