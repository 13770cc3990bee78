"""The seam every chat platform implements, the bots' secrets, and the replay guard.

A platform module (:mod:`api.bots.slack`, ``dingtalk``, ``feishu``, ``wecom``) is a
:class:`ChatPlatform`: it says whether its secrets are configured (unset: ``/bots/{name}``
answers 404), checks a request exactly as the platform documents (signature in constant time,
timestamp window, replay), extracts the question, and renders an :class:`~api.bots.answer.Answer`
in the platform's own message format with catalog text escaped for that format.

The replay guard is the ledger's (:meth:`~store.ledger.Ledger.claim_nonce`), not the process's:
several ``kpigraph serve`` processes on one store refuse a callback any of them has accepted.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Protocol

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.bots.answer import Answer
from graph_schema.errors import KpigraphError
from store.ledger import Ledger

#: A chat message is small; a callback body past this is refused (413) before it is parsed.
MAX_BOT_BODY = 64 * 1024


class BotSettings(BaseSettings):
    """The platforms' secrets, from the environment only (``KPIGRAPH_*``)."""

    model_config = SettingsConfigDict(env_prefix="KPIGRAPH_", extra="ignore")

    slack_signing_secret: SecretStr | None = None
    slack_bot_token: SecretStr | None = None  # to answer app mentions (chat.postMessage)
    slack_api_url: str = "https://slack.com/api/"
    feishu_verification_token: SecretStr | None = None
    feishu_encrypt_key: SecretStr | None = None
    feishu_app_id: str | None = None  # to answer (im/v1 reply); unset: the card is returned only
    feishu_app_secret: SecretStr | None = None
    feishu_api_url: str = "https://open.feishu.cn"
    dingtalk_app_secret: SecretStr | None = None
    wecom_token: SecretStr | None = None
    wecom_aes_key: SecretStr | None = None
    wecom_corp_id: str | None = None  # the receive id to expect; unset: the bot's (any)


class BotRequestError(KpigraphError):
    """A callback that does not check out (bad signature, stale, replayed, malformed)."""

    code = "bad_callback"

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Incoming:
    """What a verified callback asks: a question to answer, or an immediate reply (URL
    verification, an event with nothing to answer)."""

    question: str | None = None
    immediate: Response | None = None
    context: dict[str, str] | None = None  #: what the reply needs (ids, nonces, the receive id)


class ChatPlatform(Protocol):
    name: str

    def configured(self, settings: BotSettings) -> bool:
        """Whether the secrets this platform needs are set."""

    async def receive(self, request: Request, body: bytes, settings: BotSettings) -> Incoming:
        """Check the request as the platform documents; raise :class:`BotRequestError`."""

    def reply(self, answer: Answer, incoming: Incoming, settings: BotSettings) -> Response:
        """``answer`` in the platform's message format, catalog text escaped."""


class Replays(Protocol):
    async def first_time(self, key: str, window: float) -> bool:
        """Whether ``key`` (what the platform signs) is new; it is then taken for ``window``
        seconds, and a second delivery within them answers ``False``."""


class SharedReplays:
    """One platform's replay guard, shared through the ledger by every server process on the
    store: the key (a signature, a nonce, an event id) is kept as its SHA-256, under the
    platform's scope, until its window has passed (the timestamp check refuses it after)."""

    def __init__(self, ledger: Ledger, scope: str) -> None:
        self.ledger = ledger
        self.scope = scope

    async def first_time(self, key: str, window: float) -> bool:
        digest = hashlib.sha256(key.encode()).hexdigest()
        expires_at = time.time() + window
        return await run_in_threadpool(self.ledger.claim_nonce, self.scope, digest, expires_at)


def fresh(timestamp: float, window: float, now: float | None = None) -> bool:
    """Whether ``timestamp`` (seconds) is within ``window`` seconds of now, either way.

    >>> fresh(1000.0, 300, now=1200.0), fresh(1000.0, 300, now=1400.0)
    (True, False)
    """
    return abs((time.time() if now is None else now) - timestamp) <= window
