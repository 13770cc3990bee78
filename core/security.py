"""Tokens, hashing, signed sessions and CSRF tokens. No web framework in here.

API tokens look like ``kpg_<token id>_<secret>``. The token id (public, 12 hex chars) finds the
user row; the secret (256 bits) is checked against an Argon2id hash, so the stored ledger never
holds a usable token and a comparison takes the same time whatever the input. A verified token is
remembered per process by the SHA-256 of the whole token (see :class:`TokenVerifier`), so a busy
client pays the Argon2 cost once, not per request.

Examples
--------
>>> token = new_token()
>>> parsed = parse_token(token.value)
>>> parsed.token_id == token.token_id and verify_secret(token.secret_hash, parsed.secret)
True
>>> parse_token("kpg_nothex_x") is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer

TOKEN_PREFIX = "kpg"
#: Argon2id at OWASP's minimum for a 256-bit random secret (it is not a password: brute force of
#: the secret is hopeless; the hash only has to make a leaked ledger useless).
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
#: A fixed hash checked when the token id is unknown, so an unknown id costs the same time.
_DUMMY_HASH = _HASHER.hash("kpigraph-dummy-secret")


@dataclass(frozen=True)
class NewToken:
    """A freshly made token: ``value`` is shown once; only ``secret_hash`` is stored."""

    token_id: str
    value: str
    secret_hash: str


@dataclass(frozen=True)
class ParsedToken:
    token_id: str
    secret: str


def new_token() -> NewToken:
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewToken(token_id, f"{TOKEN_PREFIX}_{token_id}_{secret}", _HASHER.hash(secret))


def parse_token(value: str) -> ParsedToken | None:
    """Split a presented token; ``None`` when it is not shaped like one of ours."""
    parts = value.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    token_id, secret = parts[1], parts[2]
    if len(token_id) != 12 or any(c not in "0123456789abcdef" for c in token_id):
        return None
    if not 20 <= len(secret) <= 100:
        return None
    return ParsedToken(token_id, secret)


def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """Argon2id verification (constant time in the secret). ``secret_hash=None`` (unknown
    token id) still runs one verification against a dummy hash: no timing oracle on ids."""
    try:
        return _HASHER.verify(secret_hash or _DUMMY_HASH, secret) and secret_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class TokenVerifier:
    """Remembers, per process, which whole tokens were verified against which stored hash.

    The cache key is the token's SHA-256; the cached value is the stored hash it matched, so a
    revoked or re-issued user (different or no hash) misses the cache. Entries expire after
    ``ttl`` seconds.
    """

    def __init__(self, ttl: float = 300.0, size: int = 1024) -> None:
        self.ttl = ttl
        self.size = size
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[str, float]] = {}

    def verify(self, secret_hash: str | None, token: str, parsed: ParsedToken) -> bool:
        key = token_digest(token)
        now = time.monotonic()
        with self._lock:
            hit = self._seen.get(key)
        if hit and secret_hash and hmac.compare_digest(hit[0], secret_hash) and hit[1] > now:
            return True
        ok = verify_secret(secret_hash, parsed.secret)
        if ok and secret_hash:
            with self._lock:
                if len(self._seen) >= self.size:
                    self._seen.clear()
                self._seen[key] = (secret_hash, now + self.ttl)
        return ok


class FailureLimiter:
    """Repeated authentication failures from one client are refused for a while.

    After ``limit`` failures within ``window`` seconds a client is blocked until the window
    of its oldest counted failure passes. In memory, per process.

    Examples
    --------
    >>> lim = FailureLimiter(limit=2, window=60)
    >>> lim.blocked("ip"), lim.fail("ip"), lim.fail("ip"), lim.blocked("ip") > 0
    (0.0, None, None, True)
    """

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        self._fails: dict[str, list[float]] = {}

    def _recent(self, client: str, now: float) -> list[float]:
        times = [t for t in self._fails.get(client, []) if t > now - self.window]
        if times:
            self._fails[client] = times
        else:
            self._fails.pop(client, None)
        return times

    def blocked(self, client: str) -> float:
        """Seconds until ``client`` may try again (0 when not blocked)."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            if len(times) < self.limit:
                return 0.0
            return max(times[-self.limit] + self.window - now, 0.1)

    def fail(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._fails) > 10_000:
                self._fails.clear()
            self._recent(client, now)
            self._fails.setdefault(client, []).append(now)


class SessionSigner:
    """Signed session cookies (itsdangerous): ``{"uid", "csrf", "ep"}`` (``ep``: the user's
    session epoch when it was issued), valid ``max_age`` seconds.

    Examples
    --------
    >>> signer = SessionSigner("k" * 32)
    >>> cookie = signer.dump("u1", epoch=3)
    >>> data = signer.load(cookie)
    >>> data["uid"], data["ep"]
    ('u1', 3)
    >>> signer.load(cookie + "x") is None
    True
    """

    def __init__(self, secret_key: str, max_age: int = 12 * 3600) -> None:
        self.max_age = max_age
        self._serializer = URLSafeTimedSerializer(secret_key, salt="kpigraph-session")

    def dump(self, user_id: str, epoch: int = 0) -> str:
        data = {"uid": user_id, "csrf": secrets.token_urlsafe(24), "ep": epoch}
        return self._serializer.dumps(data)

    def load(self, cookie: str) -> dict[str, Any] | None:
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("uid"), str):
            return None
        return data


def same_secret(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two optional strings (CSRF tokens)."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())
