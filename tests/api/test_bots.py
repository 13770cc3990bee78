"""The four chat bots over real HTTP, one suite for all: each request is signed (and encrypted)
here exactly as the platform documents, independently of kpigraph's code. Valid questions get
the card / impact in the platform's format; bad signatures, stale timestamps, replays and huge
bodies are refused; a platform whose secret is unset is 404; hostile catalog text comes back
escaped in the platform's own format; questions are counted in the usage statistics."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.server
import json
import os
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from api.app import create_app
from core.settings import Settings
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.governance_helpers import running_server
from tests.helpers import write_catalog

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DINGTALK_SECRET = "SEC0123456789abcdef"
FEISHU_TOKEN, FEISHU_KEY = "v-token-123", "encrypt-key-456"
WECOM_TOKEN = "QDG6eK"
WECOM_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # 43 characters
ENV = {
    "KPIGRAPH_SLACK_SIGNING_SECRET": SLACK_SECRET,
    "KPIGRAPH_DINGTALK_APP_SECRET": DINGTALK_SECRET,
    "KPIGRAPH_FEISHU_VERIFICATION_TOKEN": FEISHU_TOKEN,
    "KPIGRAPH_FEISHU_ENCRYPT_KEY": FEISHU_KEY,
    "KPIGRAPH_WECOM_TOKEN": WECOM_TOKEN,
    "KPIGRAPH_WECOM_AES_KEY": WECOM_KEY,
}
HOSTILE = "<!channel> 点 [这里](http://evil.example) **@all** <@U999> # 标题"
PLATFORMS = ["slack", "dingtalk", "feishu", "wecom"]


@dataclass
class Req:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    params: dict[str, str] | None = None


def aes_cbc(key: bytes, iv: bytes, data: bytes, block_bits: int) -> bytes:
    padder = padding.PKCS7(block_bits).padder()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(padder.update(data) + padder.finalize()) + enc.finalize()


def aes_cbc_open(key: bytes, iv: bytes, data: bytes, block_bits: int) -> bytes:
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(block_bits).unpadder()
    return unpadder.update(dec.update(data) + dec.finalize()) + unpadder.finalize()


# -- each platform's documented signing, written from its docs -----------------------------


def slack(text: str, ts: int | None = None) -> Req:
    stamp = str(ts if ts is not None else int(time.time()))
    body = urlencode({"command": "/kpi", "text": text, "user_id": "U1", "channel_id": "C1"})
    base = f"v0:{stamp}:{body}".encode()
    sig = "v0=" + hmac.new(SLACK_SECRET.encode(), base, hashlib.sha256).hexdigest()
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sig,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return Req("POST", "/bots/slack", headers, body.encode())


def dingtalk(text: str, ts: int | None = None) -> Req:
    stamp = str(ts if ts is not None else int(time.time() * 1000))
    mac = hmac.new(DINGTALK_SECRET.encode(), f"{stamp}\n{DINGTALK_SECRET}".encode(), hashlib.sha256)
    body = {"msgtype": "text", "text": {"content": f" {text}"}, "msgId": uuid.uuid4().hex,
            "senderNick": "张三", "conversationType": "2"}  # fmt: skip
    headers = {"timestamp": stamp, "sign": base64.b64encode(mac.digest()).decode(),
               "Content-Type": "application/json"}  # fmt: skip
    return Req("POST", "/bots/dingtalk", headers, json.dumps(body).encode())


def feishu(text: str, ts: int | None = None) -> Req:
    event = {
        "schema": "2.0",
        "header": {"event_id": uuid.uuid4().hex, "event_type": "im.message.receive_v1",
                   "token": FEISHU_TOKEN, "create_time": str(int(time.time() * 1000))},
        "event": {"message": {"message_id": "om_1", "message_type": "text", "chat_type": "group",
                              "content": json.dumps({"text": f"@_user_1 {text}"}),
                              "mentions": [{"key": "@_user_1", "name": "指标字典"}]}},
    }  # fmt: skip
    iv = os.urandom(16)
    key = hashlib.sha256(FEISHU_KEY.encode()).digest()
    sealed = base64.b64encode(iv + aes_cbc(key, iv, json.dumps(event).encode(), 128)).decode()
    body = json.dumps({"encrypt": sealed}).encode()
    stamp, nonce = str(ts if ts is not None else int(time.time())), uuid.uuid4().hex
    sig = hashlib.sha256((stamp + nonce + FEISHU_KEY).encode() + body).hexdigest()
    headers = {"X-Lark-Request-Timestamp": stamp, "X-Lark-Request-Nonce": nonce,
               "X-Lark-Signature": sig, "Content-Type": "application/json"}  # fmt: skip
    return Req("POST", "/bots/feishu", headers, body)


def wecom_seal(message: bytes, receive_id: str = "") -> str:
    key = base64.b64decode(WECOM_KEY + "=")
    plain = os.urandom(16) + struct.pack(">I", len(message)) + message + receive_id.encode()
    return base64.b64encode(aes_cbc(key, key[:16], plain, 256)).decode()


def wecom_open(sealed: str) -> bytes:
    key = base64.b64decode(WECOM_KEY + "=")
    plain = aes_cbc_open(key, key[:16], base64.b64decode(sealed), 256)
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[20 : 20 + length]


def wecom_sig(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def wecom(text: str, ts: int | None = None) -> Req:
    message = {"msgid": uuid.uuid4().hex, "aibotid": "AIBOT", "chattype": "group",
               "from": {"userid": "zhangsan"}, "msgtype": "text",
               "text": {"content": f"@指标字典 {text}"}}  # fmt: skip
    sealed = wecom_seal(json.dumps(message, ensure_ascii=False).encode())
    stamp, nonce = str(ts if ts is not None else int(time.time())), uuid.uuid4().hex[:10]
    params = {"msg_signature": wecom_sig(WECOM_TOKEN, stamp, nonce, sealed),
              "timestamp": stamp, "nonce": nonce}  # fmt: skip
    body = json.dumps({"encrypt": sealed}).encode()
    return Req("POST", "/bots/wecom", {"Content-Type": "application/json"}, body, params)


SIGNERS: dict[str, Callable[..., Req]] = {
    "slack": slack, "dingtalk": dingtalk, "feishu": feishu, "wecom": wecom
}  # fmt: skip
STALE = {  # a timestamp past each platform's window
    "slack": int(time.time()) - 6 * 60,
    "dingtalk": int((time.time() - 3700) * 1000),
    "feishu": int(time.time()) - 6 * 60,
    "wecom": int(time.time()) - 6 * 60,
}


def reply_text(platform: str, response: httpx.Response) -> str:
    """The answer's text as the platform shows it (WeCom's: decrypted and its signature
    checked)."""
    assert response.status_code == 200, response.text
    data = response.json()
    if platform == "slack":
        return json.dumps(data["blocks"], ensure_ascii=False)
    if platform == "dingtalk":
        assert data["msgtype"] == "markdown"
        return str(data["markdown"]["text"])
    if platform == "feishu":
        assert data["msg_type"] == "interactive"
        return json.dumps(data["card"], ensure_ascii=False)
    sig = wecom_sig(WECOM_TOKEN, str(data["timestamp"]), data["nonce"], data["encrypt"])
    assert sig == data["msgsignature"]
    inner = json.loads(wecom_open(data["encrypt"]))
    assert inner["msgtype"] == "stream" and inner["stream"]["finish"] is True
    return str(inner["stream"]["content"])


@pytest.fixture
def bots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    atp = (
        "id: atp\nname: 客单价\nabbr: ATP\nlevel: L1\nowner: ops\nreviewer: finance\n"
        f"formula: revenue / visits\ndefinition: '{HOSTILE}'\n"
    )
    root = write_catalog(tmp_path / "cat", {"metrics/atp.yaml": atp})
    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.load(load_catalog(root))
    app = create_app(Settings(backend="embedded", notify=False), store=store)
    with running_server(app) as base:
        yield base, app
    store.close()


def send(base: str, req: Req) -> httpx.Response:
    return httpx.request(
        req.method, base + req.path, headers=req.headers, content=req.body, params=req.params
    )


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_question_gets_the_card_and_the_impact(platform: str, bots: Any) -> None:
    base, app = bots
    text = reply_text(platform, send(base, SIGNERS[platform]("客单价")))
    assert "客单价" in text and "营收 / 进厂台次" in text
    assert "/metrics/atp" in text
    impact = reply_text(platform, send(base, SIGNERS[platform]("影响 客单价")))
    assert "重新计算" in impact and "运营部" in impact
    app.state.usage.flush()
    counts = {(m, k): n for _day, m, k, n in app.state.ledger.usage("2000-01-01")}
    assert counts[("atp", "ask")] == 2


@pytest.mark.parametrize("platform", PLATFORMS)
def test_bad_signature_stale_replay_and_huge_bodies_are_refused(platform: str, bots: Any) -> None:
    base, _app = bots
    good = SIGNERS[platform]("客单价")
    assert send(base, good).status_code == 200
    assert send(base, good).status_code == 401  # the same signed request again: a replay
    forged = SIGNERS[platform]("客单价")
    if forged.params:
        forged.params["msg_signature"] = "0" * 40
    else:
        key = next(k for k in forged.headers if k.lower() in ("x-slack-signature", "sign",
                                                             "x-lark-signature"))  # fmt: skip
        forged.headers[key] = forged.headers[key][:-4] + "AAAA"
    assert send(base, forged).status_code == 401
    stale = SIGNERS[platform]("客单价", ts=STALE[platform])
    assert send(base, stale).status_code == 401
    huge = SIGNERS[platform]("客单价" * 40_000)
    assert send(base, huge).status_code == 413


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_unset_secret_is_404(platform: str, bots: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    base, _app = bots
    for name in ENV:
        if platform.upper() in name:
            monkeypatch.delenv(name)
    assert send(base, SIGNERS[platform]("客单价")).status_code == 404


def test_hostile_catalog_text_is_escaped_in_each_format(bots: Any) -> None:
    base, _app = bots
    slack_text = reply_text("slack", send(base, slack("客单价")))
    assert "<!channel>" not in slack_text and "&lt;!channel&gt;" in slack_text
    assert "<@U999>" not in slack_text and "<http://evil" not in slack_text
    for platform in ("dingtalk", "wecom"):
        text = reply_text(platform, send(base, SIGNERS[platform]("客单价")))
        assert "](http://evil" not in text and "[这里]" not in text
        assert "@all" not in text and "# 标题" not in text
        assert "［这里］（http://evil.example）" in text
    card = json.loads(reply_text("feishu", send(base, feishu("客单价"))))
    texts = [f["text"] for e in card["elements"] if e["tag"] == "div" for f in e["fields"]]
    assert all(t["tag"] == "plain_text" for t in texts)  # never lark_md: no markup at all
    assert any(HOSTILE in t["content"] for t in texts)


def test_url_verification(bots: Any) -> None:
    base, _app = bots
    # Slack Events API: a signed JSON challenge
    body = json.dumps({"type": "url_verification", "challenge": "ch-1", "token": "x"})
    stamp = str(int(time.time()))
    sig = (
        "v0="
        + hmac.new(SLACK_SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    )
    r = httpx.post(f"{base}/bots/slack", content=body, headers={
        "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sig,
        "Content-Type": "application/json"})  # fmt: skip
    assert r.json() == {"challenge": "ch-1"}
    # Feishu: the challenge arrives encrypted and carries the verification token
    iv = os.urandom(16)
    key = hashlib.sha256(FEISHU_KEY.encode()).digest()
    inner = {"challenge": "ch-2", "token": FEISHU_TOKEN, "type": "url_verification"}
    sealed = base64.b64encode(iv + aes_cbc(key, iv, json.dumps(inner).encode(), 128)).decode()
    assert httpx.post(f"{base}/bots/feishu", json={"encrypt": sealed}).json() == {
        "challenge": "ch-2"
    }
    wrong = {**inner, "token": "guess"}
    sealed = base64.b64encode(iv + aes_cbc(key, iv, json.dumps(wrong).encode(), 128)).decode()
    assert httpx.post(f"{base}/bots/feishu", json={"encrypt": sealed}).status_code == 401
    # WeCom: GET with an encrypted echostr; the answer is its plaintext
    echo = wecom_seal(b"echo-3")
    stamp, nonce = str(int(time.time())), "n3"
    params = {"msg_signature": wecom_sig(WECOM_TOKEN, stamp, nonce, echo),
              "timestamp": stamp, "nonce": nonce, "echostr": echo}  # fmt: skip
    r = httpx.get(f"{base}/bots/wecom", params=params)
    assert r.status_code == 200 and r.text == "echo-3"


def test_ambiguous_and_unknown_names_list_candidates(tmp_path: Path) -> None:
    from api.bots.answer import answer

    twin = "id: atp_store\nname: 客单价\nlevel: L2\nowner: ops\ndomain: 门店\n"
    root = write_catalog(tmp_path / "cat", {"metrics/atp_store.yaml": twin})
    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.load(load_catalog(root))
    both = answer(store, "@指标字典 客单价", "http://kpi")
    assert both.kind == "candidates"
    assert {o.url for o in both.options} == {
        "http://kpi/metrics/atp",
        "http://kpi/metrics/atp_store",
    }
    near = answer(store, "营", "http://kpi")
    assert near.kind == "candidates" and "营收" in near.options[0].text
    none = answer(store, "完全不存在的东西", "http://kpi")
    assert none.kind == "not_found"
    store.close()


@contextlib.contextmanager
def platform_api() -> Iterator[tuple[str, list[tuple[str, dict[str, str], Any]]]]:
    """A stand-in for Slack's and Feishu's web APIs on 127.0.0.1: records each POST (path,
    headers, JSON body) and answers as the platform would."""
    seen: list[tuple[str, dict[str, str], Any]] = []

    class Api(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            seen.append((self.path, dict(self.headers), body))
            answer: dict[str, Any] = {"ok": True, "code": 0}
            if self.path.endswith("tenant_access_token/internal"):
                answer["tenant_access_token"] = "t-123"
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def wait_for(seen: list[Any], n: int) -> None:
    deadline = time.monotonic() + 20
    while len(seen) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(seen) >= n, seen


def test_mentions_are_answered_through_the_platform_api(
    bots: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _app = bots
    with platform_api() as (api, seen):
        monkeypatch.setenv("KPIGRAPH_SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("KPIGRAPH_SLACK_API_URL", api + "/")
        event = {"type": "event_callback", "event_id": "Ev1",
                 "event": {"type": "app_mention", "text": "<@U0BOT> 客单价", "channel": "C9",
                           "ts": "1700000000.000100"}}  # fmt: skip
        body = json.dumps(event, ensure_ascii=False)
        stamp = str(int(time.time()))
        sig = (
            "v0="
            + hmac.new(
                SLACK_SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256
            ).hexdigest()
        )
        r = httpx.post(f"{base}/bots/slack", content=body.encode(), headers={
            "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sig,
            "Content-Type": "application/json"})  # fmt: skip
        assert r.status_code == 200
        wait_for(seen, 1)
        path, headers, posted = seen[0]
        assert path == "/chat.postMessage" and headers["Authorization"] == "Bearer xoxb-test"
        assert posted["channel"] == "C9" and posted["thread_ts"] == "1700000000.000100"
        assert "客单价" in json.dumps(posted["blocks"], ensure_ascii=False)

        monkeypatch.setenv("KPIGRAPH_FEISHU_APP_ID", "cli_a1")
        monkeypatch.setenv("KPIGRAPH_FEISHU_APP_SECRET", "s3cret")
        monkeypatch.setenv("KPIGRAPH_FEISHU_API_URL", api)
        assert send(base, feishu("客单价")).status_code == 200
        wait_for(seen, 3)
        (auth_path, _, auth), (reply_path, reply_headers, reply) = seen[1], seen[2]
        assert auth_path == "/open-apis/auth/v3/tenant_access_token/internal"
        assert auth == {"app_id": "cli_a1", "app_secret": "s3cret"}
        assert reply_path == "/open-apis/im/v1/messages/om_1/reply"
        assert reply_headers["Authorization"] == "Bearer t-123"
        assert reply["msg_type"] == "interactive" and "客单价" in reply["content"]


def test_a_chat_answer_speaks_the_catalogs_language(tmp_path: Path) -> None:
    """One language per catalog: an English catalog's card and impact are English, a Chinese
    one's Chinese (the chat platform's own Accept-Language plays no part)."""
    from api.bots.answer import answer

    files = {
        "kpigraph.yaml": "name: en shop\nlanguage: en\n",
        "metrics/revenue.yaml": (
            "id: revenue\nname: Revenue\nlevel: L0\nowner: finance\n"
            "fields: [dms.orders.amount]\ndashboards: [board]\n"
        ),
        "metrics/atp.yaml": (
            "id: atp\nname: Average ticket\nlevel: L1\nowner: ops\n"
            "formula: revenue / visits\ndefinition: revenue per visit\n"
        ),
    }
    store = EmbeddedStore(tmp_path / "en.sqlite")
    store.load(load_catalog(write_catalog(tmp_path / "en", files)))
    card = answer(store, "Average ticket", "http://x")
    assert card.kind == "card" and card.title == "Average ticket"
    labels = [label for label, _value in card.lines]
    assert "Definition" in labels and "Formula" in labels, labels
    assert [link.text for link in card.links] == ["Details", "Impact"]
    hit = answer(store, "impact Revenue", "http://x")
    assert hit.title == "Impact of changing Revenue"
    assert ("recomputed", "Average ticket") in hit.lines
    missing = answer(store, "zzzz", "http://x")
    assert missing.title == "Nothing found for “zzzz”"
    store.close()
