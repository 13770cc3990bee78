"""Feishu / Lark (飞书) event subscription: ``@指标字典 客单价`` answered with an interactive card.

Feishu's scheme: with an Encrypt Key set, the body is ``{"encrypt": ...}`` — Base64 of
AES-256-CBC (key = SHA-256 of the Encrypt Key, IV = the first 16 bytes, PKCS#7) over the event
JSON — and each event is signed: ``X-Lark-Signature`` = hex SHA-256 of ``timestamp + nonce +
encrypt_key + body`` with ``X-Lark-Request-Timestamp`` / ``-Nonce``. The event carries the
Verification Token (``token``, or ``header.token`` in schema 2.0), compared in constant time.
``url_verification`` echoes the ``challenge``. A timestamp more than five minutes from now, a
signature or an ``event_id`` seen before, is refused.

Feishu does not post an event's HTTP answer anywhere: the card is in the response body (for a
relay, and for tests), and with ``KPIGRAPH_FEISHU_APP_ID`` / ``_APP_SECRET`` set it is sent as a
reply to the message (``im/v1/messages/{message_id}/reply``) from a thread of its own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import threading
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.bots import aes
from api.bots.answer import Answer
from api.bots.base import BotRequestError, BotSettings, Incoming, Replays, fresh
from api.routes.ask import plain
from core.i18n import _

WINDOW = 5 * 60
_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
log = logging.getLogger("kpigraph.bots")


def decrypt(encrypt_key: str, encrypted: str) -> bytes:
    key = hashlib.sha256(encrypt_key.encode()).digest()
    try:
        data = base64.b64decode(encrypted, validate=True)
        return aes.decrypt(key, data[:16], data[16:], 16)
    except (ValueError, binascii.Error) as exc:
        raise BotRequestError(_("the event does not decrypt with this key"), 400) from exc


def encrypt(encrypt_key: str, plaintext: bytes, iv: bytes) -> str:
    key = hashlib.sha256(encrypt_key.encode()).digest()
    return base64.b64encode(iv + aes.encrypt(key, iv, plaintext, 16)).decode()


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


class Feishu:
    name = "feishu"

    def __init__(self, replays: Replays) -> None:
        self.replays = replays

    def configured(self, settings: BotSettings) -> bool:
        return settings.feishu_verification_token is not None

    async def receive(self, request: Request, body: bytes, settings: BotSettings) -> Incoming:
        assert settings.feishu_verification_token is not None
        token = settings.feishu_verification_token.get_secret_value()
        key = (
            settings.feishu_encrypt_key.get_secret_value() if settings.feishu_encrypt_key else None
        )
        data = _json(body)
        if key is not None:
            if "encrypt" not in data:
                raise BotRequestError(_('an Encrypt Key is set: the body must be {"encrypt": ...}'))
            data = _json(decrypt(key, str(data["encrypt"])))
        header = _mapping(data.get("header"))  # any JSON until the token is checked
        sent = str(data.get("token") or header.get("token") or "")
        if not hmac.compare_digest(sent.encode(), token.encode()):
            raise BotRequestError(_("wrong verification token"))
        if data.get("type") == "url_verification":
            return Incoming(immediate=JSONResponse({"challenge": str(data.get("challenge", ""))}))
        if key is not None:
            await self._check_signature(request, body, key)
        event_id = str(header.get("event_id") or data.get("uuid") or "")
        if event_id and not await self.replays.first_time(f"event:{event_id}", 24 * 3600):
            raise BotRequestError(_("replayed event refused"))
        message = _mapping(_mapping(data.get("event")).get("message"))
        if (
            header.get("event_type") != "im.message.receive_v1"
            or message.get("message_type") != "text"
        ):
            return Incoming(immediate=JSONResponse({}))
        try:
            text = str(_mapping(json.loads(str(message.get("content") or "{}"))).get("text", ""))
        except (ValueError, RecursionError):
            text = ""
        mentions = message.get("mentions")
        for mention in mentions if isinstance(mentions, list) else []:
            text = text.replace(str(_mapping(mention).get("key", "")), " ")
        message_id = str(message.get("message_id", ""))
        if not _ID.fullmatch(message_id):
            message_id = ""  # never put an odd value in a URL path
        return Incoming(question=text, context={"message_id": message_id})

    async def _check_signature(self, request: Request, body: bytes, key: str) -> None:
        timestamp = request.headers.get("x-lark-request-timestamp", "")
        nonce = request.headers.get("x-lark-request-nonce", "")
        sent = request.headers.get("x-lark-signature", "")
        if not timestamp.isdigit() or not nonce or not sent:
            raise BotRequestError(_("missing X-Lark-Request-Timestamp / -Nonce / X-Lark-Signature"))
        if not hmac.compare_digest(signature(timestamp, nonce, key, body).encode(), sent.encode()):
            raise BotRequestError(_("bad signature"))
        if not fresh(int(timestamp), WINDOW):
            raise BotRequestError(_("stale timestamp (five-minute window)"))
        if not await self.replays.first_time(f"sig:{sent}", 2 * WINDOW):
            raise BotRequestError(_("replayed request refused"))

    def reply(self, answer: Answer, incoming: Incoming, settings: BotSettings) -> Response:
        content = card(answer)
        message_id = (incoming.context or {}).get("message_id")
        if settings.feishu_app_id and settings.feishu_app_secret and message_id:
            secret = settings.feishu_app_secret.get_secret_value()
            reply_later(
                settings.feishu_api_url, settings.feishu_app_id, secret, message_id, content
            )
        return JSONResponse({"msg_type": "interactive", "card": content})


def card(answer: Answer) -> dict[str, Any]:
    """An interactive card: every catalog text in ``plain_text`` elements (no markup)."""
    fields = [
        {
            "is_short": False,
            "text": {"tag": "plain_text", "content": plain(f"{label}：{text}" if label else text)},
        }
        for label, text in answer.lines
    ]
    fields += [
        {"is_short": False, "text": {"tag": "plain_text", "content": plain(o.text)}}
        for o in answer.options
    ]
    elements: list[dict[str, Any]] = [{"tag": "div", "fields": fields}] if fields else []
    buttons = [
        {"tag": "button", "text": {"tag": "plain_text", "content": plain(link.text)[:40]},
         "type": "default", "url": link.url}
        for link in (answer.links or answer.options)[:10]
    ]  # fmt: skip
    if buttons:
        elements.append({"tag": "action", "actions": buttons})
    return {
        "config": {"wide_screen_mode": True},
        "header": {
            "title": {"tag": "plain_text", "content": plain(answer.title)},
            "template": "blue",
        },
        "elements": elements,
    }


def reply_later(
    base: str, app_id: str, secret: str, message_id: str, content: dict[str, Any]
) -> None:
    import httpx

    def send() -> None:
        try:
            with httpx.Client(base_url=base.rstrip("/"), timeout=10) as client:
                auth = client.post(
                    "/open-apis/auth/v3/tenant_access_token/internal",
                    json={"app_id": app_id, "app_secret": secret},
                ).json()
                client.post(
                    f"/open-apis/im/v1/messages/{message_id}/reply",
                    headers={"Authorization": f"Bearer {auth['tenant_access_token']}"},
                    json={
                        "msg_type": "interactive",
                        "content": json.dumps(content, ensure_ascii=False),
                    },
                ).raise_for_status()
        except Exception:
            log.warning("feishu: replying to %s failed", message_id)

    threading.Thread(target=send, name="kpigraph-feishu-reply", daemon=True).start()


def _mapping(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (a field of any other shape)."""
    return value if isinstance(value, dict) else {}


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested thousands deep
        raise BotRequestError(_("body is not JSON"), 400) from exc
    if not isinstance(data, dict):
        raise BotRequestError(_("body is not a JSON object"), 400)
    return data
