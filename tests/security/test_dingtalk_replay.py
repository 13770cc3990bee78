"""DingTalk signs a callback's timestamp, not its body (``sign`` = HMAC(appSecret, timestamp
+ "\\n" + appSecret)). The replay guard remembered the timestamp *with the body*: whoever saw
one signed request's headers (a proxy log, a shared capture) could send any other question
under them for an hour and read the answer — past ``KPIGRAPH_READ_AUTH=required``, since
``/bots/`` is open to signed callbacks (review). Now a signature is good for one request."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.api.test_bots import bots, dingtalk, send

__all__ = ["bots"]  # fixture used below


def test_a_signature_is_used_once_whatever_the_body(bots: Any) -> None:
    base, _app = bots
    first = dingtalk("客单价")
    assert send(base, first).status_code == 200
    other = json.loads(dingtalk("影响 营收").body)  # another question under the same headers
    forged = httpx.post(base + first.path, headers=first.headers, content=json.dumps(other))
    assert forged.status_code == 401, forged.text
    assert "已拒绝重放" in forged.json()["error"]["message"]  # the demo speaks zh
