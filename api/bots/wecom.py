"""WeCom (企业微信) intelligent robot callback: ``@指标字典 客单价`` answered in markdown.

WeCom's callback scheme (its ``WXBizMsgCrypt``): every request carries ``msg_signature``,
``timestamp`` and ``nonce`` in the query; ``msg_signature`` = SHA1 of the token, timestamp,
nonce and the encrypted text, sorted and concatenated. The encrypted text is Base64 of
AES-256-CBC (key = Base64-decoded ``EncodingAESKey + "="``, IV = its first 16 bytes, PKCS#7
padding to 32 bytes) over ``16 random bytes + 4-byte big-endian length + message + receive
id``. ``GET`` verifies the URL (the decrypted ``echostr`` is the answer); ``POST`` carries
``{"encrypt": ...}`` whose message is JSON (``msgtype: text``). The answer is a passive reply,
encrypted the same way: a finished ``stream`` message whose content is markdown.

A timestamp more than five minutes from now, or a signature seen before, is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import struct
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from api.bots import aes
from api.bots.answer import Answer
from api.bots.base import BotRequestError, BotSettings, Incoming, Replays, fresh
from api.bots.dingtalk import markdown
from core.i18n import _

WINDOW = 5 * 60
BLOCK = 32


def msg_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def aes_key(encoding_aes_key: str) -> bytes:
    try:
        key = base64.b64decode(encoding_aes_key + "=")
    except binascii.Error as exc:
        raise BotRequestError(
            _("KPIGRAPH_WECOM_AES_KEY is not a 43-character EncodingAESKey"), 500
        ) from exc
    if len(key) != 32:
        raise BotRequestError(_("KPIGRAPH_WECOM_AES_KEY is not a 43-character EncodingAESKey"), 500)
    return key


def encrypt(key: bytes, message: bytes, receive_id: str) -> str:
    plain = os.urandom(16) + struct.pack(">I", len(message)) + message + receive_id.encode()
    return base64.b64encode(aes.encrypt(key, key[:16], plain, BLOCK)).decode()


def decrypt(key: bytes, encrypted: str) -> tuple[bytes, str]:
    """``(message, receive_id)``; :class:`BotRequestError` if it does not decrypt."""
    try:
        plain = aes.decrypt(key, key[:16], base64.b64decode(encrypted, validate=True), BLOCK)
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise ValueError("length past the end")
        return plain[20 : 20 + length], plain[20 + length :].decode()
    except (ValueError, binascii.Error, struct.error, UnicodeDecodeError) as exc:
        raise BotRequestError(_("the message does not decrypt with this key"), 400) from exc


class WeCom:
    name = "wecom"

    def __init__(self, replays: Replays) -> None:
        self.replays = replays

    def configured(self, settings: BotSettings) -> bool:
        return settings.wecom_token is not None and settings.wecom_aes_key is not None

    def _secrets(self, settings: BotSettings) -> tuple[str, bytes]:
        assert settings.wecom_token is not None and settings.wecom_aes_key is not None
        return (
            settings.wecom_token.get_secret_value(),
            aes_key(settings.wecom_aes_key.get_secret_value()),
        )

    async def receive(self, request: Request, body: bytes, settings: BotSettings) -> Incoming:
        token, key = self._secrets(settings)
        q = request.query_params
        signature, timestamp, nonce = (
            q.get("msg_signature", ""), q.get("timestamp", ""), q.get("nonce", "")
        )  # fmt: skip
        if not signature or not timestamp.isdigit() or not nonce:
            raise BotRequestError(_("missing msg_signature / timestamp / nonce"))
        if request.method == "GET":
            encrypted = q.get("echostr", "")
        else:
            try:
                encrypted = str(json.loads(body)["encrypt"])
            except (ValueError, KeyError, TypeError, RecursionError) as exc:  # read unsigned
                raise BotRequestError(_('body is not {"encrypt": ...}'), 400) from exc
        expected = msg_signature(token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise BotRequestError(_("bad msg_signature"))
        if not fresh(int(timestamp), WINDOW):
            raise BotRequestError(_("stale timestamp (five-minute window)"))
        if not await self.replays.first_time(f"{signature}:{nonce}", 2 * WINDOW):
            raise BotRequestError(_("replayed request refused"))
        message, receive_id = decrypt(key, encrypted)
        if settings.wecom_corp_id and receive_id != settings.wecom_corp_id:
            raise BotRequestError(_("the message is for another receive id"))
        if request.method == "GET":
            return Incoming(immediate=PlainTextResponse(message.decode("utf-8", "replace")))
        try:
            data = json.loads(message)
        except ValueError as exc:
            raise BotRequestError(_("decrypted message is not JSON"), 400) from exc
        if data.get("msgtype") != "text":
            return Incoming(immediate=Response(status_code=200))
        text = str((data.get("text") or {}).get("content", ""))
        context = {"receive_id": receive_id, "msgid": str(data.get("msgid", "")), "nonce": nonce}
        return Incoming(question=text, context=context)

    def reply(self, answer: Answer, incoming: Incoming, settings: BotSettings) -> Response:
        token, key = self._secrets(settings)
        context = incoming.context or {}
        message = {
            "msgtype": "stream",
            "stream": {"id": context.get("msgid", ""), "finish": True, "content": markdown(answer)},
        }
        encrypted = encrypt(
            key, json.dumps(message, ensure_ascii=False).encode(), context.get("receive_id", "")
        )
        timestamp, nonce = str(int(time.time())), context.get("nonce", "")
        return JSONResponse(
            {
                "encrypt": encrypted,
                "msgsignature": msg_signature(token, timestamp, nonce, encrypted),
                "timestamp": int(timestamp),
                "nonce": nonce,
            }
        )
