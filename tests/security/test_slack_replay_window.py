"""A Slack request is valid while its timestamp is within five minutes of the server's clock,
*either way* (slack_sdk's check is ``abs(now - timestamp) <= 300``), so a request stamped
ahead of the server's clock (Slack's clock a little fast, or this server's slow) stays valid
for up to ten minutes. The replay guard kept its signature for five minutes from arrival: once
that claim lapsed, the same captured request was accepted again (every other platform's guard
keeps its claim twice the timestamp window). Real ledger; the clock moved by patching
``time.time``, which both the ledger and slack_sdk read."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from api.bots.base import BotRequestError, BotSettings, SharedReplays
from api.bots.slack import Slack
from store.embedded import EmbeddedStore
from store.ledger import ledger_for
from tests.api.test_bots import SLACK_SECRET, slack

# the refusals read here are the English ones
pytestmark = pytest.mark.usefixtures("english")


def _request(headers: dict[str, str], body: bytes) -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/bots/slack",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "query_string": b"",
    }
    return Request(scope)


def test_a_request_stamped_ahead_is_not_accepted_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EmbeddedStore(tmp_path / "kpigraph.sqlite")
    try:
        platform = Slack(SharedReplays(ledger_for(store), "bot:slack"))
        settings = BotSettings(slack_signing_secret=SLACK_SECRET)
        start = time.time()
        captured = slack("客单价", ts=int(start) + 240)  # Slack's clock four minutes ahead

        def receive() -> None:
            req = _request(captured.headers, captured.body)
            asyncio.run(platform.receive(req, captured.body, settings))

        receive()  # delivered once
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + 330)  # 5.5 minutes later
        with pytest.raises(BotRequestError, match="replayed"):
            receive()  # still inside the timestamp window: the same request again
    finally:
        store.close()
