"""The ledger contract, on both backends: users, compare-and-set change commits with their
timeline and outbox, claims of due notifications, comments, usage, the shared secret, claims
of nonces (the chat callbacks' replay guard)."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from graph_schema.errors import BackendUnavailableError
from graph_schema.governance import (
    Action,
    ChangeEvent,
    ChangeRequest,
    Comment,
    OutboxItem,
    OutboxStatus,
    Role,
    User,
    now_iso,
)
from store.base import GraphStore
from store.ledger import Ledger, ledger_for
from tests.governance_helpers import fresh_ledger


@pytest.fixture
def ledger(make_store: Callable[[], GraphStore]) -> Ledger:
    return fresh_ledger(make_store())


def _change(seq: int, status: str = "submitted") -> ChangeRequest:
    return ChangeRequest(
        id=7,
        action=Action.UPDATE,
        ref="Metric:atp",
        reason="r",
        requester="zhang",
        status=status,
        created_at=now_iso(),
        updated_at=now_iso(),
        seq=seq,
    )


def _event(seq: int, to: str = "submitted") -> ChangeEvent:
    return ChangeEvent(change_id=7, seq=seq, at=now_iso(), actor="a", event="x", to_status=to)


def _item(key: str, when: str | None = None) -> OutboxItem:
    at = when or now_iso()
    return OutboxItem(
        key=key,
        url="http://x/",
        format="json",
        event="submit",
        body={"k": key},
        next_at=at,
        created_at=at,
    )


def test_users(ledger: Ledger) -> None:
    user = User(name="li", role=Role.OWNER, department="ops", token_id="a" * 12, created_at="t")
    ledger.add_user(user, "hash-a")
    assert ledger.user_by_token_id("a" * 12) == (user, "hash-a")
    assert ledger.user("li") == user
    with pytest.raises(KeyError):
        ledger.add_user(user.model_copy(update={"token_id": "b" * 12}), "hash-b")
    assert ledger.revoke_user("li", "later")
    assert not ledger.revoke_user("li", "later")
    assert ledger.user("li") is None
    revoked = ledger.user_by_token_id("a" * 12)
    assert revoked is not None and revoked[0].revoked_at == "later"
    ledger.add_user(user.model_copy(update={"token_id": "b" * 12}), "hash-b")  # re-issued
    assert [u.token_id for u in ledger.users()] == ["a" * 12, "b" * 12]


def test_names_differing_by_case_race_to_one_user(
    make_store: Callable[[], GraphStore],
) -> None:
    """Eight adds at once, of 'Wang', 'wang', 'WANG'…, each on a ledger of its own over the
    same store (as several server processes): exactly one user is created."""
    store = make_store()
    first = fresh_ledger(store)
    ledgers = [first] + [ledger_for(store) for _ in range(7)]
    names = ["Wang", "wang", "WANG", "wAng", "waNg", "wanG", "WAng", "wANG"]
    barrier = threading.Barrier(len(ledgers))

    def add(n: int) -> bool:
        user = User(name=names[n], role=Role.OWNER, token_id=f"{n:012d}", created_at="t")
        barrier.wait()
        try:
            ledgers[n].add_user(user, "h")
        except KeyError:
            return False
        return True

    with concurrent.futures.ThreadPoolExecutor(len(ledgers)) as pool:
        won = list(pool.map(add, range(len(ledgers))))
    assert sum(won) == 1, won
    assert len([u for u in first.users() if u.name.lower() == "wang"]) == 1


def test_change_commits_compare_and_set(ledger: Ledger) -> None:
    assert ledger.commit_change(_change(1), None, _event(1), [_item("k1"), _item("k2")])
    assert not ledger.commit_change(_change(1), None, _event(1), [_item("k3")])  # exists
    assert not ledger.commit_change(_change(2), 5, _event(2), [])  # stale seq
    assert ledger.commit_change(_change(2, "rejected"), 1, _event(2, "rejected"), [_item("k1")])
    stored = ledger.change(7)
    assert stored is not None and stored.status == "rejected" and stored.seq == 2
    assert [e.seq for e in ledger.events(7)] == [1, 2]
    assert sorted(i.key for i in ledger.outbox()) == ["k1", "k2"]  # k1 not twice, k3 never
    assert [c.id for c in ledger.changes(status="rejected")] == [7]
    assert ledger.changes(status="submitted") == []
    assert [c.id for c in ledger.changes(ref="Metric:atp")] == [7]
    assert ledger.next_change_id() < ledger.next_change_id()


def test_outbox_claims_are_exclusive(ledger: Ledger) -> None:
    ledger.commit_change(_change(1), None, _event(1), [_item("k1"), _item("k2")])
    now = now_iso()
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    first = ledger.claim_due(now, later)
    assert [i.key for i in first] == ["k1", "k2"]
    assert ledger.claim_due(now, later) == []  # leased
    done = first[0].model_copy(update={"status": OutboxStatus.DELIVERED})
    ledger.update_outbox(done)
    assert [i.key for i in ledger.outbox(OutboxStatus.DELIVERED)] == ["k1"]
    after_lease = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).isoformat()
    assert [i.key for i in ledger.claim_due(after_lease, after_lease)] == ["k2"]


def test_comments_usage_and_secret(ledger: Ledger, make_store: Callable[[], GraphStore]) -> None:
    cid = ledger.next_comment_id()
    c = Comment(id=cid, metric="atp", author="zhang", body="<b>why</b>", created_at=now_iso())
    ledger.put_comment(c)
    ledger.put_comment(c.model_copy(update={"faq": True}))
    assert ledger.comment(cid) == c.model_copy(update={"faq": True})
    assert [x.id for x in ledger.comments("atp")] == [cid]
    assert ledger.comments("revenue") == []
    ledger.count_use("2026-01-01", "atp", "view", 2)
    ledger.count_use("2026-01-01", "atp", "view", 3)
    ledger.count_use("2026-01-02", "revenue", "api")
    assert ledger.usage("2026-01-02") == [("2026-01-02", "revenue", "api", 1)]
    assert ledger.usage("2026-01-01")[0] == ("2026-01-01", "atp", "view", 5)
    assert ledger.secret_key() == ledger.secret_key()


def test_a_nonce_is_claimed_once_until_it_expires(ledger: Ledger) -> None:
    later = time.time() + 600
    assert ledger.claim_nonce("slack", "sig-1", later)
    assert not ledger.claim_nonce("slack", "sig-1", later)  # a replay
    assert not ledger.claim_nonce("slack", "sig-1", later + 600)  # a longer claim changes nothing
    assert ledger.claim_nonce("dingtalk", "sig-1", later)  # scopes apart
    assert ledger.claim_nonce("1:s", "lack:sig-1", later)  # however scope and key are cut
    past = time.time() - 1
    assert ledger.claim_nonce("wecom", "old", past)  # claimed, already expired...
    assert ledger.claim_nonce("wecom", "old", later)  # ...so claimable again, now until later
    assert not ledger.claim_nonce("wecom", "old", later)


def test_expired_nonces_are_swept_on_claim(ledger: Ledger) -> None:
    past = time.time() - 1
    for n in range(100):
        assert ledger.claim_nonce("feishu", f"old-{n}", past)
    for n in range(3):  # each claim sweeps a bounded batch; three sweep them all
        assert ledger.claim_nonce("feishu", f"new-{n}", time.time() + 600)
    assert nonces_left(ledger) == 3


def nonces_left(ledger: Any) -> int:
    """How many nonces the backend still holds (read beside the protocol, for the sweep)."""
    if ledger.backend == "embedded":
        import sqlite3

        with sqlite3.connect(ledger.path) as conn:
            return int(conn.execute("SELECT count(*) FROM gov_nonces").fetchone()[0])
    query = "MATCH (n:GovNonce) RETURN count(n) AS n"
    records, _, _ = ledger.driver.execute_query(query, database_=ledger.database)
    return int(records[0]["n"])


def claims_at_once(ledgers: list[Ledger], key: str) -> list[bool]:
    """Each of ``ledgers`` claims ``key`` from a thread of its own, all released together."""
    barrier = threading.Barrier(len(ledgers))

    def claim(ledger: Ledger) -> bool:
        barrier.wait()
        return ledger.claim_nonce("slack", key, time.time() + 600)

    with concurrent.futures.ThreadPoolExecutor(len(ledgers)) as pool:
        return list(pool.map(claim, ledgers))


def test_concurrent_nonce_claims_make_one_winner(make_store: Callable[[], GraphStore]) -> None:
    """Eight claims of one nonce at once, from threads on ledgers of their own over one store
    (as several server processes) and on one shared handle: exactly one wins — also when the
    nonce had been claimed before and has expired."""
    store = make_store()
    first = fresh_ledger(store)
    ledgers = [first] + [ledger_for(store) for _ in range(3)] + [first] * 4
    past = time.time() - 1
    for n in range(300):  # expired neighbours, for the claims' sweeps to race over
        first.claim_nonce("slack", f"stale-{n}", past)
    won = claims_at_once(ledgers, "fresh")
    assert sum(won) == 1, won
    assert first.claim_nonce("slack", "expired", past)
    won = claims_at_once(ledgers, "expired")
    assert sum(won) == 1, won


def test_claims_racing_each_others_sweeps_all_hold(make_store: Callable[[], GraphStore]) -> None:
    """Eight claims at once of eight expired nonces, each claim's sweep reaching for the
    others' nonces: every claim wins (on Neo4j a sweep deleted a node a claim had matched, and
    the claim answered ``False`` for a callback never seen) and every nonce then holds."""
    store = make_store()
    first = fresh_ledger(store)
    ledgers = [first] + [ledger_for(store) for _ in range(7)]
    for round_ in range(6):
        keys = [f"r{round_}-{n}" for n in range(len(ledgers))]
        past = time.time() - 1
        for key in keys:
            assert first.claim_nonce("wecom", key, past)
        barrier = threading.Barrier(len(ledgers))

        def claim(n: int, keys: list[str] = keys, barrier: threading.Barrier = barrier) -> bool:
            barrier.wait()
            return ledgers[n].claim_nonce("wecom", keys[n], time.time() + 600)

        with concurrent.futures.ThreadPoolExecutor(len(ledgers)) as pool:
            won = list(pool.map(claim, range(len(ledgers))))
        assert all(won), (round_, won)
        assert not any(first.claim_nonce("wecom", key, time.time() + 600) for key in keys)


def test_a_second_handle_sees_the_same_ledger(
    make_store: Callable[[], GraphStore],
    reopen_store: Callable[[GraphStore], GraphStore],
) -> None:
    store = make_store()
    ledger = fresh_ledger(store)
    ledger.commit_change(_change(1), None, _event(1), [])
    other = ledger_for(reopen_store(store))
    assert other.secret_key() == ledger.secret_key()
    assert other.change(7) == ledger.change(7)


def test_embedded_ledger_reopens_a_replaced_file(tmp_path: Path) -> None:
    from store.embedded import EmbeddedStore
    from store.embedded_ledger import EmbeddedLedger

    path = tmp_path / "kg.sqlite"
    ledger = EmbeddedLedger(path)
    first = ledger.secret_key()
    for suffix in ("", "-wal", "-shm"):  # the file is replaced under the running process
        (tmp_path / f"kg.sqlite{suffix}").unlink(missing_ok=True)
    EmbeddedStore(path).ping()  # a new, empty store file
    assert ledger.secret_key() != first  # read from the new file, not a stale connection
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"this is not a database" * 100)
    garbage.replace(path)  # replaced again, by something unreadable (sidecars gone too)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"kg.sqlite{suffix}").unlink(missing_ok=True)
    with pytest.raises(BackendUnavailableError):
        ledger.users()
    with pytest.raises(BackendUnavailableError):
        ledger.users()  # still a clear error, not a stuck connection
