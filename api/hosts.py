"""Answer only requests addressed to this server by a trusted name (``KPIGRAPH_TRUSTED_HOSTS``).

A page on another site can make a browser send requests to ``127.0.0.1:8000`` under its own
host name (DNS rebinding) and read the answers; checking the ``Host`` header stops that. A
refused request gets the JSON error shape (``400 untrusted_host``). Links the server writes
come from ``KPIGRAPH_BASE_URL``, never from the ``Host`` header.

Examples
--------
>>> sorted(allowed_hosts("127.0.0.1", 8000, "http://kpi.example.com"))
['127.0.0.1', '::1', 'kpi.example.com', 'localhost']
>>> host_of(b"[::1]:8000"), host_of(b"Localhost.:80")
('::1', 'localhost')
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_json

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
ANY_ADDRESS = ("0.0.0.0", "::", "")


def allowed_hosts(bound: str, port: int, base_url: str, configured: str | None = None) -> set[str]:
    """The host names to answer: ``configured`` (comma-separated) if given, else the bound
    host (unless it is the any-address), the local names and the host of ``base_url``."""
    del port  # the port is not part of the check: a Host header may omit it
    if configured:
        return {h.strip().lower().strip("[]") for h in configured.split(",") if h.strip()}
    hosts = set(LOCAL_NAMES)
    if bound not in ANY_ADDRESS:
        hosts.add(bound.lower().strip("[]"))
    base_host = urlsplit(base_url).hostname
    if base_host:
        hosts.add(base_host.lower())
    return hosts


def host_of(header: bytes) -> str:
    """The host name of a ``Host`` header value: no port, no brackets, lower case."""
    text = header.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0].rstrip(".") if ":" in text else text.rstrip(".")


class TrustedHostsMiddleware:
    """Refuse requests whose ``Host`` is not one of ``hosts`` (``*`` allows any)."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = {h.lower() for h in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and "*" not in self.hosts:
            header = Headers(scope=scope).get("host", "")
            host = host_of(header.encode("latin-1"))
            if host not in self.hosts:
                response = error_json(
                    400,
                    "untrusted_host",
                    f"this server does not answer to the host name {host!r}; "
                    "add it to KPIGRAPH_TRUSTED_HOSTS if it is one of its names",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
