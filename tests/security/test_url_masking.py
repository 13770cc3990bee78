"""A connection URL's secrets never reach a message: a password holding ``/``, ``?`` or ``#``
(base64-made passwords do; SQLAlchemy reads ``reader:ab/cd@db`` as password ``ab/cd``) was
shown whole by "cannot reach PostgreSQL at …" on a bad host, and so were ``?sslpassword=`` and
Spark Connect's ``;token=`` (the masking knew only ``[?&]password=`` and a few names); a
connection string kpigraph has no engine for (libpq's ``host=… password=…``, a URL without its
scheme) was said back as given."""

from __future__ import annotations

import socket

import pytest

from values.engines.connections import SecretUrl, mask_url
from values.engines.postgres import PostgresEngine
from values.errors import EngineConnectionError


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql://reader:Zq7/xK9+w==@127.0.0.1:{port}/dms", "Zq7/xK9+w=="),
        ("postgresql://reader:Zq7#xK9?w@127.0.0.1:{port}/dms", "Zq7#xK9?w"),
        ("postgresql://reader:Zq7/xK9@127.0.0.1:{port}/dms?sslmode=bogus", "Zq7/xK9"),
        ("postgresql://reader@127.0.0.1:{port}/dms?sslpassword=Zq7xK9&sslmode=bogus", "Zq7xK9"),
        ("postgresql://reader:pw@127.0.0.1:notaport/dms?pass%77ord=Zq7xK9", "Zq7xK9"),
    ],
)
def test_a_failed_connection_does_not_show_the_secret(url: str, secret: str) -> None:
    with pytest.raises(EngineConnectionError) as caught:
        engine = PostgresEngine(SecretUrl(url.format(port=_closed_port())), connect_timeout_s=2)
        engine.run("SELECT 1")
    said = str(caught.value)
    assert secret not in said and "Zq7" not in said, said
    assert "127.0.0.1" in said  # still says where it tried


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("sc://spark:15002/;token=SparkTok3n;user_id=me", "SparkTok3n"),
        ("postgresql://u:ab/cd@db/x", "ab/cd"),
        ("postgresql://u@db/x?sslpassword=SslPass", "SslPass"),
        ("postgresql://u@db/x?PASSWORD=Upper1", "Upper1"),
    ],
)
def test_mask_and_scrub(url: str, secret: str) -> None:
    assert secret not in mask_url(url)
    assert secret not in str(SecretUrl(url)) and secret not in repr(SecretUrl(url))
    driver = f"[INVALID_CONNECT_URL] bad URL {url} (secret {secret})"
    assert secret not in SecretUrl(url).scrub(driver)


@pytest.mark.parametrize(
    "raw",
    [
        "host=db user=reader password=Zq7xK9 dbname=dms",  # libpq's keyword form
        "host=db user=reader password='Zq7 xK9' dbname=dms",
        "reader:Zq7xK9@db:5432/dms",  # the scheme forgotten
        "postgressql://reader:Zq7/xK9@db:5432/dms",  # the scheme misspelt
    ],
)
def test_a_connection_kpigraph_has_no_engine_for_is_said_back_masked(raw: str) -> None:
    """ "no values engine for the connection …" repeated the string as given."""
    from values.engines import open_engine

    with pytest.raises(EngineConnectionError) as caught:
        open_engine(SecretUrl(raw))
    said = str(caught.value)
    assert "Zq7" not in said and "xK9" not in said, said
    assert "db" in said  # still says which connection
