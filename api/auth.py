"""Who is asking: Bearer tokens and signed session cookies, CSRF for cookie-borne writes,
role checks, and the read gate (``KPIGRAPH_READ_AUTH=required``). FastAPI dependencies only;
hashing and signing are in :mod:`core.security`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request

from core.client_address import Network, client_address
from core.i18n import _
from core.security import (
    FailureLimiter,
    SessionSigner,
    TokenVerifier,
    parse_token,
    same_secret,
)
from graph_schema.governance import (
    WRITERS,
    AuthenticationRequiredError,
    PermissionDeniedError,
    Role,
    TooManyAttemptsError,
    User,
)
from store.ledger import Ledger

SESSION_COOKIE = "kpigraph_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Paths readable without signing in even when reads require it (``/bots/``: chat platforms'
#: callbacks, authenticated by the platform's signature instead).
OPEN_PATHS = ("/signin", "/health", "/assets/", "/favicon", "/bots/")


@dataclass
class AuthState:
    ledger: Ledger
    verifier: TokenVerifier
    limiter: FailureLimiter
    read_required: bool
    secret: str | None = None  # None: the key file's (core/session_key.py), read on first use
    key_file: Path | None = None
    #: proxies whose X-Forwarded-For names the client (KPIGRAPH_TRUSTED_PROXIES)
    trusted_proxies: tuple[Network, ...] = ()
    _signer: SessionSigner | None = None

    @property
    def signer(self) -> SessionSigner:
        if self._signer is None:
            if self.secret is None:
                from core.session_key import file_key, key_file_for
                from core.settings import default_db_path

                self.secret = file_key(self.key_file or key_file_for(default_db_path()))
            self._signer = SessionSigner(self.secret)
        return self._signer


def auth_state(request: Request) -> AuthState:
    state: AuthState = request.app.state.auth
    return state


def client_key(request: Request) -> str:
    """The client a failed sign-in is counted against: the peer address, or behind a trusted
    proxy the last hop it forwarded (:mod:`core.client_address`)."""
    state: AuthState | None = getattr(request.app.state, "auth", None)
    proxies = state.trusted_proxies if state is not None else ()
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.getlist("x-forwarded-for"), proxies)


def check_token(state: AuthState, token: str, client: str) -> User:
    """The active user holding ``token``; 401 (and a counted failure) otherwise, 429 when
    this client failed too often lately."""
    wait = state.limiter.blocked(client)
    if wait:
        raise TooManyAttemptsError(
            _(
                "too many failed sign-ins from this client; try again in {seconds} s",
                seconds=int(wait) + 1,
            ),
            {"retry_after": int(wait) + 1},
        )
    parsed = parse_token(token)
    found = state.ledger.user_by_token_id(parsed.token_id) if parsed else None
    user, secret_hash = found if found else (None, None)
    ok = parsed is not None and state.verifier.verify(secret_hash, token, parsed)
    if not ok or user is None or not user.active:
        state.limiter.fail(client)
        raise AuthenticationRequiredError(_("invalid or revoked token"))
    return user


async def _session(request: Request, state: AuthState) -> tuple[User, dict[str, Any]] | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    data = state.signer.load(cookie)
    if data is None:
        return None
    found = state.ledger.user_by_token_id(data["uid"])
    if found is None or not found[0].active:
        return None
    if data.get("ep", 0) != found[0].session_epoch:  # issued before a sign-out
        return None
    return found[0], data


async def check_csrf(request: Request, session: dict[str, Any]) -> None:
    """A cookie-authenticated write must come from our own pages: same origin, and the form
    field ``csrf`` (or header ``X-CSRF-Token``) equal to the session's token."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):
        raise PermissionDeniedError(_("cross-site request refused (CSRF)"))
    sent = request.headers.get("x-csrf-token")
    if sent is None and "form" in request.headers.get("content-type", ""):
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not same_secret(sent, session.get("csrf")):
        raise PermissionDeniedError(_("missing or wrong CSRF token; reload the page and retry"))


async def optional_user(request: Request) -> User | None:
    """The signed-in user, or ``None``. A presented but bad token is a 401, not anonymous."""
    if hasattr(request.state, "user"):
        cached: User | None = request.state.user
        return cached
    state = auth_state(request)
    user: User | None = None
    header = request.headers.get("authorization")
    if header:
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationRequiredError(_("use 'Authorization: Bearer TOKEN'"))
        user = check_token(state, token.strip(), client_key(request))
    else:
        found = await _session(request, state)
        if found is not None:
            user, session = found
            if request.method not in SAFE_METHODS:
                await check_csrf(request, session)
    request.state.user = user
    return user


async def session_csrf(request: Request) -> str | None:
    """The CSRF token to put in this page's forms (``None`` when not signed in)."""
    state = auth_state(request)
    found = await _session(request, state)
    return str(found[1]["csrf"]) if found else None


async def require_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise AuthenticationRequiredError(
            _("sign in: send 'Authorization: Bearer TOKEN' or sign in at /signin")
        )
    return user


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, User]]:
    allowed = frozenset(roles)

    async def check(user: Annotated[User, Depends(require_user)]) -> User:
        if user.role not in allowed:
            need = ", ".join(sorted(r.value for r in allowed))
            raise PermissionDeniedError(
                _(
                    "the {role} role may not do this (needs: {need})",
                    role=user.role.value,
                    need=need,
                )
            )
        return user

    return check


async def read_gate(request: Request) -> None:
    """When reads require authentication, every path but the open ones needs a user."""
    state = auth_state(request)
    if not state.read_required or request.url.path.startswith(OPEN_PATHS):
        return
    await require_user(await optional_user(request))


OptionalUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(require_user)]
Writer = Annotated[User, Depends(require_roles(*WRITERS))]
Admin = Annotated[User, Depends(require_roles(Role.ADMIN))]
Reviewer = Annotated[User, Depends(require_roles(Role.OWNER, Role.ADMIN))]
CsrfToken = Annotated[str | None, Depends(session_csrf)]
