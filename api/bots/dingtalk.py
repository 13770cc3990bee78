"""DingTalk (钉钉) outgoing robot: ``@指标字典 客单价`` in a group, answered in markdown.

DingTalk signs each callback with headers ``timestamp`` (milliseconds) and ``sign`` =
Base64(HMAC-SHA256(appSecret, timestamp + "\\n" + appSecret)); a timestamp more than one hour
from now is refused, and so is a second use of the same signature within the hour — whatever
the body, which the signature does not cover. The answer is the response body
(``msgtype: markdown``), which DingTalk posts to the group.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.bots.answer import Answer
from api.bots.base import BotRequestError, BotSettings, Incoming, Replays, fresh
from api.bots.escape import chat_markdown
from core.i18n import _

WINDOW = 60 * 60


def signature(secret: str, timestamp: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalk:
    name = "dingtalk"

    def __init__(self, replays: Replays) -> None:
        self.replays = replays

    def configured(self, settings: BotSettings) -> bool:
        return settings.dingtalk_app_secret is not None

    async def receive(self, request: Request, body: bytes, settings: BotSettings) -> Incoming:
        assert settings.dingtalk_app_secret is not None
        secret = settings.dingtalk_app_secret.get_secret_value()
        timestamp = request.headers.get("timestamp", "")
        sign = request.headers.get("sign", "")
        if not timestamp.isdigit() or not sign:
            raise BotRequestError(_("missing or malformed timestamp / sign headers"))
        if not hmac.compare_digest(signature(secret, timestamp).encode(), sign.encode()):
            raise BotRequestError(_("bad signature"))
        if not fresh(int(timestamp) / 1000, WINDOW):
            raise BotRequestError(_("stale timestamp (more than one hour from now)"))
        # the signature covers the timestamp only, not the body: one use per signature (keyed
        # on the body too, a captured pair asked any other question for an hour)
        if not await self.replays.first_time(f"{timestamp}:{sign}", 2 * WINDOW):
            raise BotRequestError(_("replayed request refused"))
        try:
            data = json.loads(body)
            text = str((data.get("text") or {}).get("content", ""))
        except (ValueError, AttributeError, RecursionError) as exc:
            raise BotRequestError(_("body is not a DingTalk message"), 400) from exc
        return Incoming(question=text)

    def reply(self, answer: Answer, incoming: Incoming, settings: BotSettings) -> Response:
        return JSONResponse(
            {"msgtype": "markdown", "markdown": {"title": answer.title, "text": markdown(answer)}}
        )


def markdown(answer: Answer) -> str:
    """The answer as chat markdown (DingTalk's and WeCom's): our structure, escaped text."""
    lines = [f"#### {chat_markdown(answer.title)}"]
    lines += [
        f"- **{label}**：{chat_markdown(text)}" if label else chat_markdown(text)
        for label, text in answer.lines
    ]
    lines += [f"- [{chat_markdown(o.text)}]({o.url})" for o in answer.options]
    if answer.links:
        lines.append(" · ".join(f"[{link.text}]({link.url})" for link in answer.links))
    return "\n".join(lines)
