"""``/bots/{platform}``: chat platforms' callbacks (GET for URL verification, POST for messages).

A platform whose secrets are not set answers 404, as if the path did not exist. The body is
read up to :data:`~api.bots.base.MAX_BOT_BODY` bytes (413 past it), checked by the platform
module, and the question answered from one published graph; a metric asked about is counted in
the usage statistics (kind ``ask``, as ``/api/ask``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.bots.answer import answer
from api.bots.base import MAX_BOT_BODY, BotRequestError, BotSettings, ChatPlatform, SharedReplays
from api.bots.dingtalk import DingTalk
from api.bots.feishu import Feishu
from api.bots.slack import Slack
from api.bots.wecom import WeCom
from api.errors import error_json
from api.routes.ask import public_url
from core.i18n import _
from store.ledger import Ledger

router = APIRouter(prefix="/bots", tags=["bots"], include_in_schema=False)


def platforms(ledger: Ledger) -> dict[str, ChatPlatform]:
    """Each platform, with its replay guard in ``ledger`` (shared by every server process)."""
    return {
        kind.name: kind(SharedReplays(ledger, f"bot:{kind.name}"))
        for kind in (Slack, DingTalk, Feishu, WeCom)
    }


async def read_body(request: Request) -> bytes | None:
    """The body, or ``None`` past :data:`MAX_BOT_BODY` (read no further)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BOT_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.api_route("/{platform}", methods=["GET", "POST"])
async def callback(platform: str, request: Request) -> Response:
    known: dict[str, ChatPlatform] = request.app.state.bots
    settings = BotSettings()
    bot = known.get(platform)
    if bot is None or not bot.configured(settings):
        return error_json(
            404,
            "not_found",
            _("no chat bot at /bots/{platform} on this server", platform=platform[:40]),
        )
    body = await read_body(request)
    if body is None:
        return error_json(
            413, "body_too_large", _("a chat callback is at most {n} bytes", n=MAX_BOT_BODY)
        )
    try:
        incoming = await bot.receive(request, body, settings)
    except BotRequestError as exc:
        return error_json(exc.status, exc.code, exc.message)
    if incoming.immediate is not None:
        return incoming.immediate
    store = request.app.state.store
    base = public_url(request)
    reply = await run_in_threadpool(answer, store, incoming.question or "", base)
    usage = getattr(request.app.state, "usage", None)
    if reply.metric_id and usage is not None:
        usage.hit(reply.metric_id, "ask")
    return bot.reply(reply, incoming, settings)


def install(app: object) -> None:
    """After :func:`api.governance.install` (the replay guards live in its ledger)."""
    app.state.bots = platforms(app.state.ledger)  # type: ignore[attr-defined]
    app.include_router(router)  # type: ignore[attr-defined]
