"""Wiring governance into the app: the ledger beside the store, the change-request service,
notification delivery, usage counting, the read gate, the error mapping and the routers."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import AuthState, read_gate
from api.errors import error_html, error_json, wants_html
from core.client_address import parse_proxies
from core.security import FailureLimiter, TokenVerifier
from core.session_key import derived_key, key_file_for
from core.settings import Settings
from governance.changes import Governance
from governance.notify import Deliverer
from governance.usage import UsageCounter, UsageMiddleware
from graph_schema.errors import CatalogError, KpigraphError
from graph_schema.governance import (
    AuthenticationRequiredError,
    ChangeNotFoundError,
    ChangeRequest,
    ChangeStateError,
    PermissionDeniedError,
    TooManyAttemptsError,
)
from store.base import GraphStore
from store.ledger import Ledger, ledger_for

log = logging.getLogger("kpigraph.writeback")

STATUS = [
    (AuthenticationRequiredError, 401),
    (PermissionDeniedError, 403),
    (ChangeNotFoundError, 404),
    (ChangeStateError, 409),
    (TooManyAttemptsError, 429),
    (CatalogError, 422),
]


def install(
    app: FastAPI, settings: Settings, store: GraphStore, users: GraphStore | None = None
) -> None:
    """Call before the routers are included (the read gate applies to every route).
    ``users``: the store whose users sign in, when not ``store`` (``serve --demo``)."""
    from api.routes import (
        auth,
        change_form_pages,
        change_pages,
        changes,
        comments,
        discussion_pages,
        stats,
    )

    ledger: Ledger = ledger_for(store)
    people: Ledger = ledger_for(users) if users is not None else ledger
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    secret = derived_key(secret) if secret else None  # never the key kept in the store
    app.state.ledger = ledger
    app.state.people = people
    app.state.auth = AuthState(
        ledger=people,
        secret=secret,
        verifier=TokenVerifier(),
        limiter=FailureLimiter(),
        read_required=settings.read_auth == "required",
        key_file=key_file_for(settings.db),
        trusted_proxies=parse_proxies(settings.trusted_proxies),
    )
    deliverer = Deliverer(ledger)
    app.state.deliverer = deliverer
    app.state.gov = Governance(
        store,
        ledger,
        base_url=settings.base_url,
        auto_apply=settings.auto_apply,
        on_commit=deliverer.poke,
        writeback=_writeback(store, settings),
    )
    usage = UsageCounter(ledger)
    app.state.usage = usage
    app.add_middleware(UsageMiddleware, counter=usage)
    app.router.dependencies.append(Depends(read_gate))

    for exc_type, status in STATUS:
        app.add_exception_handler(exc_type, _handler(status))
    # the form's /changes/new before a request's /changes/{change_id}
    pages = (change_form_pages, change_pages, discussion_pages)
    for module in (auth, changes, comments, stats, *pages):
        app.include_router(module.router)


def start(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    if settings.notify:
        app.state.deliverer.start()
    app.state.usage.start()


def stop(app: FastAPI) -> None:
    app.state.deliverer.stop()
    app.state.usage.stop()
    app.state.ledger.close()
    if app.state.people is not app.state.ledger:
        app.state.people.close()


def _handler(status: int):  # type: ignore[no-untyped-def]
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, KpigraphError)
        if status == 401 and wants_html(request) and request.method in ("GET", "HEAD"):
            from urllib.parse import quote

            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/signin?next={quote(target)}", status_code=303)
        if wants_html(request):
            message = exc.message
            if status == 401:
                message += " — 请先登录 sign in: /signin"
            response: Response = error_html(status, message)
        else:
            response = error_json(status, exc.code, exc.message, exc.details)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="kpigraph"'
        if status == 429:
            response.headers["Retry-After"] = str(exc.details.get("retry_after", 60))
        return response

    return handle


def ask_extras(request: Request, metric_id: str) -> str:
    """For ``/api/ask``: count the hit, and the metric's FAQ (up to three) as extra lines."""
    from governance.comments import faq

    state = request.app.state
    usage = getattr(state, "usage", None)
    if usage is not None:
        usage.hit(metric_id, "ask")
    try:
        entries = faq(state.ledger, metric_id)[:3]
    except (AttributeError, KpigraphError):
        return ""
    return "".join(f"\n常见问题：{e['question']} —— {e['answer']}" for e in entries)


def metric_faq(request: Request, metric_id: str) -> list[dict[str, object]]:
    """The FAQ of a metric for its card (empty when the ledger cannot be read)."""
    from governance.comments import faq

    try:
        return list(faq(request.app.state.ledger, metric_id))
    except (AttributeError, KpigraphError):
        return []


def _writeback(store: GraphStore, settings: Settings) -> Callable[[ChangeRequest], str] | None:
    """``serve --catalog DIR --writeback files|commit``: an applied change is written into
    DIR's files (and committed) by :func:`core.writeback.write_back`."""
    if settings.writeback == "off" or settings.catalog_dir is None:
        return None
    directory, mode = settings.catalog_dir, settings.writeback

    def run(change: ChangeRequest) -> str:
        from core.writeback import WriteBackFailed, public_reason, write_back

        try:
            result = write_back(directory, change, store, mode)
        except Exception as exc:  # the detail (paths, git's output) is for the server log
            log.warning(
                "change request #%s: write-back into %s failed: %s: %s",
                change.id,
                directory,
                type(exc).__name__,
                exc,
            )
            raise WriteBackFailed(public_reason(exc)) from exc
        if not result.files:
            return "the catalog files already hold this change"
        files = ", ".join(result.files)
        return f"{files} @ {result.commit[:12]}" if result.commit else files

    return run
