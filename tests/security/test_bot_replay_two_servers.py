"""Chat callbacks replayed to another server (review): each platform's replay guard was kept in
the process, so with two ``kpigraph serve`` processes on one store (the supported deployment)
a captured signed callback, accepted by one, was accepted once more by every other within its
window — two servers disagreeing about what happened. Now the guard is the ledger's
(``Ledger.claim_nonce``): a callback accepted by server A is refused by server B as a replay.

Two real ``python -m cli serve`` processes on one embedded store; each callback is signed (and
encrypted) exactly as the platform does it (:mod:`tests.api.test_bots`)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.api.test_bots import ENV, PLATFORMS, SIGNERS, send
from tests.helpers import DEMO
from tests.serve_process import serving


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Servers A and B, two processes over one store holding the demo catalog."""
    tmp = tmp_path_factory.mktemp("two-servers")
    db = tmp / "kpigraph.sqlite"
    store = EmbeddedStore(db)
    try:
        store.load(load_catalog(DEMO))
    finally:
        store.close()
    with pytest.MonkeyPatch.context() as env:
        for name, value in ENV.items():
            env.setenv(name, value)
        with serving([], db, tmp / "a.log") as a, serving([], db, tmp / "b.log") as b:
            yield a, b


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_callback_accepted_by_one_server_is_a_replay_at_the_other(
    platform: str, two_servers: tuple[str, str]
) -> None:
    a, b = two_servers
    callback = SIGNERS[platform]("客单价")
    first = send(a, callback)
    assert first.status_code == 200, first.text
    again = send(b, callback)  # the same signed request, captured and sent to the other server
    assert again.status_code == 401, again.text
    assert "重放" in again.json()["error"]["message"]  # "replayed", in the demo catalog's zh
    # each server answers callbacks it has not seen (another question: Slack's signature
    # covers timestamp and body only, so the same question in the same second is the same)
    fresh = send(b, SIGNERS[platform]("影响 客单价"))
    assert fresh.status_code == 200, fresh.text
    assert send(a, SIGNERS[platform]("营收")).status_code == 200
    assert httpx.get(a + "/health").status_code == 200
