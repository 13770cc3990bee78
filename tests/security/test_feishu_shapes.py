"""Feishu without an Encrypt Key (the Verification Token alone, as Feishu allows): a body whose
``header``, ``event`` or ``message`` was not a JSON object — ``{"header": "x"}``, sent by
anyone, no token needed — raised ``AttributeError`` in ``/bots/feishu`` (a 500 and a traceback
in the server log for every such request). Now an unsigned one is refused as having the wrong
token (401) and a verified one of another shape is acknowledged with nothing to answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request

from api.bots.base import BotRequestError, BotSettings
from api.bots.feishu import Feishu


class Always:
    async def first_time(self, key: str, window: float) -> bool:
        return True


def receive(body: bytes) -> Any:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/bots/feishu",
        "headers": [],
        "query_string": b"",
    }
    settings = BotSettings(feishu_verification_token="v-token")
    return asyncio.run(Feishu(Always()).receive(Request(scope), body, settings))


@pytest.mark.parametrize(
    "body", [b'{"header": "x"}', b'{"header": [1, 2]}', b'{"header": 7, "token": null}']
)
def test_an_unsigned_body_of_any_shape_is_refused(body: bytes) -> None:
    with pytest.raises(BotRequestError) as caught:
        receive(body)
    assert caught.value.status == 401


@pytest.mark.parametrize(
    "body",
    [
        b'{"token": "v-token", "header": "x"}',
        b'{"token": "v-token", "event": "x", "header": {"event_type": "im.message.receive_v1"}}',
        b'{"schema": "2.0", "header": {"token": "v-token", "event_type": "im.message.receive_v1"},'
        b' "event": {"message": {"message_type": "text", "content": "[1]", "mentions": "x"}}}',
        b'{"schema": "2.0", "header": {"token": "v-token", "event_type": "im.message.receive_v1"},'
        b' "event": {"message": {"message_type": "text", "content": "{\\"text\\": \\"@_user_1 '
        b'ATP\\"}", "mentions": [7, {"key": "@_user_1"}]}}}',
    ],
)
def test_a_verified_body_of_another_shape_is_not_an_error(body: bytes) -> None:
    incoming = receive(body)
    assert incoming.immediate is not None or incoming.question is not None
