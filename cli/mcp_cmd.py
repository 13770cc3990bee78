"""``kpigraph mcp``: the MCP server on stdin/stdout, for an assistant on this machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.common import store_options
from cli.help_text import Command
from core.i18n import _

if TYPE_CHECKING:
    from core.settings import Settings
    from graph_schema.governance import User
    from store.base import GraphStore


@click.command(cls=Command)
@click.option(
    "--token",
    envvar="KPIGRAPH_TOKEN",
    default=None,
    help="an editor's API token: adds the propose_change tool, submitting as that user "
    "[env KPIGRAPH_TOKEN; default: read-only tools]",
)
@store_options
def mcp(token: str | None, store: GraphStore, settings: Settings) -> None:
    """Serve the metric dictionary to an AI assistant over MCP (stdio).

    Configure the assistant to run ``kpigraph mcp`` (with ``--db`` or KPIGRAPH_* variables for
    the store). Every answer reads one published graph; nothing is written unless --token names
    an editor and the assistant calls propose_change (a change request, reviewed as usual).
    """
    from api.mcp_server.server import build_server
    from store.pinned import PinnedStore

    live = store.store if isinstance(store, PinnedStore) else store
    live.ping()
    user = _user(live, token) if token else None
    governance = None
    if user is not None:
        from governance.changes import Governance
        from store.ledger import ledger_for

        service = Governance(live, ledger_for(live), base_url=settings.base_url)
        governance = lambda: service  # noqa: E731
    server = build_server(
        live,
        values_dir=settings.values_dir,
        base_url=settings.base_url,
        writer=user is not None,
        user_of=lambda _ctx: user,
        governance=governance,
    )
    server.run("stdio")


def _user(store: GraphStore, token: str) -> User:
    """The active editor (or above) holding ``token``; an error otherwise."""
    from api.auth import AuthState, check_token
    from core.security import FailureLimiter, TokenVerifier
    from graph_schema.governance import WRITERS, PermissionDeniedError
    from store.ledger import ledger_for

    state = AuthState(
        ledger=ledger_for(store),
        verifier=TokenVerifier(),
        limiter=FailureLimiter(),
        read_required=False,
    )
    user = check_token(state, token.strip(), "stdio")
    if user.role not in WRITERS:
        raise PermissionDeniedError(
            _(
                "{name} is a {value}: proposing needs an editor or above; run without "
                "--token for the read-only tools",
                name=user.name,
                value=user.role.value,
            )
        )
    return user
