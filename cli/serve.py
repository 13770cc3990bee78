"""``kpigraph serve``: the HTTP API and the pages."""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli import render
from cli.catalog import publish_directory
from cli.common import (
    DEMO_CATALOG,
    directory_language,
    err,
    safe,
    store_options,
    sweep_orphans,
    where,
)
from cli.help_text import Command
from core.i18n import _
from graph_schema.errors import KpigraphError

if TYPE_CHECKING:
    from core.settings import Settings
    from store.base import GraphStore

DEMO_DB_NAME = "kpigraph-demo.sqlite"
#: uvicorn's limits, set explicitly (README, "Limits"). A request whose request line and
#: headers pass ``h11_max_incomplete_event_size`` bytes, or that is not valid HTTP, is refused
#: by uvicorn itself with a plain-text ``400 Invalid HTTP request`` before the app sees it;
#: past ``limit_concurrency`` open connections it answers ``503`` (plain text) at once.
SERVER_LIMITS: dict[str, Any] = {
    "http": "h11",
    "h11_max_incomplete_event_size": 64 * 1024,
    "limit_concurrency": 1000,
    "backlog": 2048,
    "timeout_keep_alive": 5,
    "timeout_graceful_shutdown": 10,
    "server_header": False,
    # the client is the TCP peer; X-Forwarded-For counts only from KPIGRAPH_TRUSTED_PROXIES
    # (api/auth.client_key), never uvicorn's default trust of 127.0.0.1
    "proxy_headers": False,
}


@click.command(cls=Command)
@click.option(
    "--catalog",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="validate and load this catalog before serving",
)
@click.option(
    "--demo",
    is_flag=True,
    # the file's name is DEMO_DB_NAME
    help="serve the after-sales demo from its own file (kpigraph-demo.sqlite beside the "
    "store); your loaded graph is not touched, and the store's users sign in",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="address to listen on (0.0.0.0: every interface)",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8000,
    show_default=True,
    help="port to listen on",
)
@click.option("--no-lint", is_flag=True, help="load --catalog even when lint finds errors")
@click.option(
    "--writeback",
    type=click.Choice(["off", "files", "commit"]),
    default=None,
    help="after an apply, write the change into the --catalog files ('files') and commit it "
    "('commit') [default: KPIGRAPH_WRITEBACK, else off]",
)
@click.option(
    "--refresh-every",
    metavar="INTERVAL",
    default=None,
    help="refresh the values cache from the warehouses now and then every INTERVAL "
    "(30s, 15m, 1h, 1d), in the server process",
)
@store_options
def serve(
    catalog: Path | None,
    demo: bool,
    host: str,
    port: int,
    no_lint: bool,
    writeback: str | None,
    refresh_every: str | None,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Serve the HTTP API and the pages (OpenAPI docs at /docs)."""
    from values.scheduler import parse_interval

    every = parse_interval(refresh_every) if refresh_every is not None else None
    if demo and catalog:
        raise KpigraphError(_("pass either --demo or --catalog, not both"))
    mode = writeback or settings.writeback
    if mode != "off" and catalog is None:
        raise KpigraphError(
            _("--writeback {mode} writes into a catalog: pass --catalog DIR", mode=mode)
        )
    if catalog is not None:
        settings = settings.model_copy(update={"writeback": mode, "catalog_dir": catalog})
    sock = bind(host, port)  # before loading anything: a busy port is one clear error
    people: GraphStore | None = None  # whose users sign in, when not the served store's
    try:
        if not demo:
            sweep_orphans(store)  # what killed loads left behind, reported
        if demo:  # the demo graph in its own file; the users stay those of the store
            people, people_at = store, where(settings)
            store, settings = demo_store(settings)
            if store.head() == 0:  # published once; changes made to it since are kept
                publish_directory(DEMO_CATALOG, store, message="serve --demo", quiet=True)
            text = _(
                "demo catalog served from {path}, revision {revision} (your graph is untouched)",
                path=settings.db,
                revision=store.head(),
            )
            err().print(safe(text))
            text = _(
                "users signing in: those of {where} ('kpigraph users add NAME --role ROLE' "
                "adds one there)",
                where=people_at,
            )
            err().print(safe(text))
        elif catalog is not None:  # published exactly as 'kpigraph load' publishes
            from core import i18n

            # spoken as the files speak, as 'kpigraph load' does (the store may be empty);
            # the store's wrapper resets it when the command ends
            i18n.set_fallback(lambda: directory_language(catalog))
            result = publish_directory(catalog, store, no_lint=no_lint)
            render.store_info(err(), result.info, where(settings))
        else:
            store.ping()
        warm = getattr(store, "warm", None)  # Neo4j: the search index, built in the background
        if warm is not None:
            warm()
        run_server(store, settings, sock, host, port, people, refresh_every=every)
    finally:
        sock.close()
        store.close()  # (the store of the users is closed by store_options)


def demo_store(settings: Settings) -> tuple[GraphStore, Settings]:
    """An embedded store in its own file beside the configured one, whatever the backend:
    the demo never replaces a graph the user loaded."""
    from core.settings import Backend
    from core.wiring import build_store

    demo_settings = settings.model_copy(
        update={"backend": Backend.EMBEDDED, "db": settings.db.parent / DEMO_DB_NAME}
    )
    return build_store(demo_settings), demo_settings


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or one clear error naming the port and a free one.

    The server is handed this very socket, so nothing can take the port in between.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY on accepted connections only
    # when their protocol says TCP; without it every response on a kept-alive connection
    # waited ~40 ms (its body, a second small write, held back until the client's delayed ACK)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise KpigraphError(
                _(
                    "port {port} on {host} is already in use (another kpigraph serve?); "
                    "pick another with --port {free}",
                    port=port,
                    host=host,
                    free=free_port(host),
                ),
                {"port": port, "host": host},
            ) from exc
        if exc.errno == errno.EACCES:
            raise KpigraphError(
                _(
                    "not allowed to listen on {host}:{port} (ports below 1024 need root); "
                    "pick another with --port 8000",
                    host=host,
                    port=port,
                ),
                {"port": port, "host": host},
            ) from exc
        raise KpigraphError(
            _(
                "cannot listen on {host}:{port}: {problem}",
                host=host,
                port=port,
                problem=exc.strerror,
            )
        ) from exc
    return sock


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, 0))
        except OSError:
            return 8001
        return int(probe.getsockname()[1])


def run_server(
    store: GraphStore,
    settings: Settings,
    sock: socket.socket,
    host: str,
    port: int,
    people: GraphStore | None = None,
    *,
    refresh_every: float | None = None,
) -> None:
    import uvicorn

    from api.app import create_app

    shown = f"[{host}]" if ":" in host else host
    settings = served_settings(settings, host, port)
    for line in startup_lines(shown, port, settings):
        err().print(safe(line))
    app = create_app(settings, store, users=people)
    config = uvicorn.Config(app, log_level="warning", **SERVER_LIMITS)
    loop = None
    if refresh_every is not None:
        from values.scheduler import RefreshLoop, store_refresher

        loop = RefreshLoop(refresh_every, store_refresher(store, settings.values_dir)).start()
        err().print(
            _("values cache refreshed now and every {seconds} s", seconds=f"{refresh_every:g}")
        )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if loop is not None:
            loop.stop()


def startup_lines(shown: str, port: int, settings: Settings) -> list[str]:
    """What a starting server says: where it serves, where its links point, which host names
    it answers (in the language in use)."""
    return [
        _(
            "serving on {url}  (API docs: {docs})",
            url=f"http://{shown}:{port}",
            docs=f"http://{shown}:{port}/docs",
        ),
        _(
            "links point to {url} (KPIGRAPH_BASE_URL); answering host names: {hosts} "
            "(KPIGRAPH_TRUSTED_HOSTS)",
            url=settings.base_url,
            hosts=settings.trusted_hosts,
        ),
    ]


def served_settings(settings: Settings, host: str, port: int) -> Settings:
    """Settings for a server bound to ``host:port``: links to the bound address unless
    ``KPIGRAPH_BASE_URL`` says otherwise; the trusted host names (``KPIGRAPH_TRUSTED_HOSTS``)
    default to the bound host, the local names and the base URL's host."""
    from api.hosts import ANY_ADDRESS, allowed_hosts

    update: dict[str, str] = {}
    if "base_url" not in settings.model_fields_set:
        name = "127.0.0.1" if host in ANY_ADDRESS else host
        update["base_url"] = f"http://{f'[{name}]' if ':' in name else name}:{port}"
    if not settings.trusted_hosts:
        base = update.get("base_url", settings.base_url)
        update["trusted_hosts"] = ",".join(sorted(allowed_hosts(host, port, base)))
    return settings.model_copy(update=update)
