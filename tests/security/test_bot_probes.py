"""Unsigned chat-bot callbacks with odd headers (review): each is refused as unsigned (401),
never an unhandled error. A Slack timestamp of 5,000 digits made ``slack_sdk`` raise
``ValueError`` (Python's integer-string limit) before the signature was looked at: 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.test_bots import bots

__all__ = ["bots"]  # fixture used below

LONG = "9" * 5000


@pytest.mark.parametrize(
    ("path", "headers", "params"),
    [
        ("/bots/slack", {"X-Slack-Request-Timestamp": LONG, "X-Slack-Signature": "v0=ab"}, {}),
        ("/bots/dingtalk", {"timestamp": LONG, "sign": "x"}, {}),
        (
            "/bots/feishu",
            {
                "X-Lark-Request-Timestamp": LONG,
                "X-Lark-Request-Nonce": "n",
                "X-Lark-Signature": "ab",
            },
            {},
        ),
        ("/bots/wecom", {}, {"msg_signature": "ab", "timestamp": LONG, "nonce": "n"}),
    ],
)
def test_a_huge_timestamp_is_unsigned_not_an_error(
    bots: Any, path: str, headers: dict[str, str], params: dict[str, str]
) -> None:
    base, _app = bots
    body = b'{"encrypt": "AAAA"}' if "feishu" in path or "wecom" in path else b"text=x"
    response = httpx.post(base + path, headers=headers, params=params, content=body)
    assert response.status_code in (400, 401), response.text
