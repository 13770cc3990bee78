"""Slack: the ``/kpi`` slash command and ``@指标字典`` app mentions (Events API).

Requests are checked with ``slack_sdk``'s :class:`SignatureVerifier` (``v0`` HMAC-SHA256 of
``v0:{timestamp}:{body}`` under the signing secret, constant-time, five-minute window either
way); a signature seen before within twice that is a replay and refused. A slash command is answered
in the response (Block Kit, ``in_channel``); an event's challenge is echoed; an app mention is
acknowledged at once (Slack wants an answer within 3 s) — its answer is in the acknowledgement's
body for a relay and, when ``KPIGRAPH_SLACK_BOT_TOKEN`` is set, posted to the thread with
``chat.postMessage``.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.bots.answer import Answer
from api.bots.base import BotRequestError, BotSettings, Incoming, Replays
from api.bots.escape import slack_mrkdwn
from core.i18n import _

WINDOW = 5 * 60
_SECONDS = re.compile(r"[0-9]{1,12}")
_MENTION = re.compile(r"<@[A-Z0-9]+(\|[^>]*)?>")


class Slack:
    name = "slack"

    def __init__(self, replays: Replays) -> None:
        self.replays = replays

    def configured(self, settings: BotSettings) -> bool:
        return settings.slack_signing_secret is not None

    async def receive(self, request: Request, body: bytes, settings: BotSettings) -> Incoming:
        assert settings.slack_signing_secret is not None
        verifier = SignatureVerifier(settings.slack_signing_secret.get_secret_value())
        timestamp = request.headers.get("x-slack-request-timestamp")
        signature = request.headers.get("x-slack-signature")
        # at most 12 ASCII digits: slack_sdk's int() raises on 4,300 digits and more
        if not timestamp or not _SECONDS.fullmatch(timestamp) or not signature:
            raise BotRequestError(_("missing or malformed X-Slack-Request-Timestamp / Signature"))
        if not verifier.is_valid(body, timestamp, signature):
            raise BotRequestError(_("bad signature or stale timestamp (5-minute window)"))
        # valid while within WINDOW of now either way: a request stamped ahead of this
        # server's clock stays valid for up to 2 × WINDOW after it arrives
        if not await self.replays.first_time(signature, 2 * WINDOW):
            raise BotRequestError(_("replayed request refused"))
        if request.headers.get("content-type", "").startswith("application/json"):
            return self._event(body)
        form = parse_qs(body.decode("utf-8", "replace"))
        text = (form.get("text") or [""])[0]
        return Incoming(question=text, context={"kind": "command"})

    def _event(self, body: bytes) -> Incoming:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise BotRequestError(_("body is not JSON"), 400) from exc
        if data.get("type") == "url_verification":
            return Incoming(immediate=JSONResponse({"challenge": str(data.get("challenge", ""))}))
        event = data.get("event") or {}
        if data.get("type") != "event_callback" or event.get("type") != "app_mention":
            return Incoming(immediate=Response(status_code=200))
        text = _MENTION.sub("", str(event.get("text", "")))
        context = {
            "kind": "mention",
            "channel": str(event.get("channel", "")),
            "thread_ts": str(event.get("thread_ts") or event.get("ts") or ""),
        }
        return Incoming(question=text, context=context)

    def reply(self, answer: Answer, incoming: Incoming, settings: BotSettings) -> Response:
        blocks = render(answer)
        fallback = answer.title
        context = incoming.context or {}
        if context.get("kind") == "mention":
            token = settings.slack_bot_token
            if token and context.get("channel"):
                post_later(
                    token.get_secret_value(), settings.slack_api_url, context, blocks, fallback
                )
            return JSONResponse({"text": fallback, "blocks": blocks})
        return JSONResponse({"response_type": "in_channel", "text": fallback, "blocks": blocks})


def render(answer: Answer) -> list[dict[str, Any]]:
    """Block Kit: a header, the lines as mrkdwn (catalog text escaped), link buttons."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": answer.title[:150]}}
    ]
    lines = [
        f"*{label}*：{slack_mrkdwn(text)}" if label else slack_mrkdwn(text)
        for label, text in answer.lines
    ]
    lines += [f"• <{o.url}|{slack_mrkdwn(o.text)}>" for o in answer.options]
    if lines:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}}
        )
    if answer.links:
        buttons = [
            {"type": "button", "text": {"type": "plain_text", "text": link.text}, "url": link.url}
            for link in answer.links
        ]
        blocks.append({"type": "actions", "elements": buttons})
    return blocks


def post_later(
    token: str, base: str, context: dict[str, str], blocks: list[Any], text: str
) -> None:
    """``chat.postMessage`` in a thread of its own (the event is acknowledged meanwhile)."""
    from slack_sdk import WebClient

    def post() -> None:
        try:
            WebClient(token=token, base_url=base).chat_postMessage(
                channel=context["channel"],
                thread_ts=context.get("thread_ts") or None,
                blocks=blocks,
                text=text,
            )
        except Exception:  # the answer is lost, the event was acknowledged
            import logging

            logging.getLogger("kpigraph.bots").warning("slack: chat.postMessage failed")

    threading.Thread(target=post, name="kpigraph-slack-post", daemon=True).start()
