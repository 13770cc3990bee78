"""Unsigned chat callbacks whose JSON nests deeply (review): Feishu and WeCom read the body
before checking who sent it (Feishu's token and WeCom's ``encrypt`` are in it), and
``json.loads`` of 2,000 ``[`` raises ``RecursionError``, which nothing caught — anyone could
make ``/bots/feishu`` and ``/bots/wecom`` answer 500. Now 400, "not JSON"; the signed platforms
(Slack, DingTalk) read the body after the signature and answer the same."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.test_bots import bots, dingtalk, slack

__all__ = ["bots"]  # fixture used below

DEEP = b'{"encrypt": ' + b"[" * 2000 + b"]" * 2000 + b"}"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/bots/feishu", {}),
        ("/bots/wecom", {"msg_signature": "ab", "timestamp": "1", "nonce": "n"}),
    ],
)
def test_deep_json_from_anyone_is_refused_not_an_error(
    bots: Any, path: str, params: dict[str, str]
) -> None:
    base, _app = bots
    r = httpx.post(
        base + path, params=params, content=DEEP, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400, r.text[:300]
    assert httpx.get(base + "/health").status_code == 200


def test_deep_json_under_a_good_signature_is_refused_not_an_error(bots: Any) -> None:
    """Slack and DingTalk check the signature first; a signed deep body is still a 400."""
    base, _app = bots
    for make in (slack, dingtalk):
        req = make("客单价")
        if make is slack:  # the event form of a Slack callback (JSON), signed over DEEP
            req = slack_json(DEEP)
        else:
            req.body = DEEP
        r = httpx.post(base + req.path, headers=req.headers, content=req.body)
        assert r.status_code == 400, (req.path, r.text[:300])


def slack_json(body: bytes) -> Any:
    import hashlib
    import hmac
    import time

    from tests.api.test_bots import SLACK_SECRET, Req

    ts = str(int(time.time()))
    mac = hmac.new(SLACK_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256)
    headers = {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + mac.hexdigest(),
        "Content-Type": "application/json",
    }
    return Req("POST", "/bots/slack", headers, body)
