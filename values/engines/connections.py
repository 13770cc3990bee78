"""Connection URLs of systems: read from the environment (or a secrets file), always masked.

A system in ``sources.yaml`` says ``connection: {env: KPIGRAPH_CONN_DMS}``. The variable holds
either the URL (``postgresql+psycopg://reader:…@db:5432/dms``, ``duckdb:///srv/dms.duckdb``,
``sc://spark-connect:15002``, ``local[2]``) or the absolute path of a file whose first line is
the URL (a Docker/Kubernetes secret). The URL is never written to a catalog file, and
:class:`SecretUrl` never shows its password: ``str``, ``repr``, f-strings, log records and
exception messages all see the masked form; only :meth:`SecretUrl.reveal` gives the real one,
to the driver.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote_plus

from core.i18n import N_, Said
from values.errors import EngineConnectionError

#: ``scheme://user:password@host`` → the password part: up to the LAST ``@`` of the URL, as a
#: password may hold ``/``, ``?``, ``#`` or ``@`` (SQLAlchemy reads ``u:ab/cd@db`` as password
#: ``ab/cd``); a query holding an ``@`` masks more than the password, never less
_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@?#]*:)(?P<pw>.*)(?=@)", re.S)
#: ``user:password@host`` without a scheme (a URL kpigraph has no engine for, said back)
_BARE_PASSWORD = re.compile(r"^(?P<head>[^:/@?#\s]*:)(?P<pw>.*)(?=@)", re.S)
#: a URL inside a driver's message (up to the last ``@`` of its word)
_URL_IN_TEXT = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@?#\s]*:)(?P<pw>\S*)(?=@)")
#: a parameter and its value: a query's (``?sslpassword=…``, ``&pass%77ord=…``, Spark
#: Connect's ``;token=…``) or a libpq keyword string's (``host=db password='a b'``)
_PARAM = re.compile(r"(^|[?&;\s])([^=&#;\s]*)=('(?:[^'\\]|\\.)*'?|[^&#;\s]*)")
#: parameter names (lower case, percent-decoded) whose value is masked when they contain one
_SECRET_WORDS = ("password", "passwd", "pwd", "pass", "token", "secret", "key", "auth")
MASK = "***"


def _masked_param(m: re.Match[str]) -> str:
    name = unquote_plus(m.group(2)).lower()
    if any(word in name for word in _SECRET_WORDS):
        return f"{m.group(1)}{m.group(2)}={MASK}"
    return m.group(0)


def mask_url(url: str) -> str:
    """``url`` with its password (and any password-like parameter) replaced by ``***``.

    >>> mask_url("postgresql+psycopg://reader:s3cr@t@db:5432/dms?sslmode=require")
    'postgresql+psycopg://reader:***@db:5432/dms?sslmode=require'
    >>> mask_url("postgresql://db/dms?user=a&password=x")
    'postgresql://db/dms?user=a&password=***'
    >>> mask_url("postgresql://reader:ab/cd+e==@db/dms?sslpassword=k&sslmode=require")
    'postgresql://reader:***@db/dms?sslpassword=***&sslmode=require'
    >>> mask_url("host=db user=reader password='s3 cr' dbname=dms")
    'host=db user=reader password=*** dbname=dms'
    >>> mask_url("reader:s3cr@db:5432/dms")
    'reader:***@db:5432/dms'
    """
    pattern = _PASSWORD if "://" in url else _BARE_PASSWORD
    masked = pattern.sub(lambda m: m.group("head") + MASK, url)
    return _PARAM.sub(_masked_param, masked)


def mask_text(text: str) -> str:
    """``text`` (a driver's message) with the passwords of the URLs in it, and password-like
    parameters, replaced by ``***``."""
    masked = _URL_IN_TEXT.sub(lambda m: m.group("head") + MASK, text)
    return _PARAM.sub(_masked_param, masked)


class SecretUrl:
    """A connection URL that prints masked. ``reveal()`` is for the driver only."""

    __slots__ = ("_url",)

    def __init__(self, url: str) -> None:
        self._url = url

    def reveal(self) -> str:
        return self._url

    @property
    def scheme(self) -> str:
        head, sep, _ = self._url.partition("://")
        return head.lower() if sep else ""

    def __str__(self) -> str:
        return mask_url(self._url)

    def __repr__(self) -> str:
        return f"SecretUrl({mask_url(self._url)!r})"

    def scrub(self, text: str) -> str:
        """``text`` (a driver's message) with this URL's secrets — its password, the values of
        its password-like parameters, percent-encoded or not — and any URL in it masked."""
        secrets: list[str] = []
        found = _PASSWORD.match(self._url)
        if found:
            secrets.append(found.group("pw"))
        if not found and "://" not in self._url:
            found = _BARE_PASSWORD.match(self._url)
            if found:
                secrets.append(found.group("pw"))
        for m in _PARAM.finditer(self._url):
            if _masked_param(m) != m.group(0):
                secrets.append(m.group(3).strip("'"))
        text = mask_text(text)
        for secret in {v for s in secrets for v in (s, unquote_plus(s))}:
            if len(secret) >= 3:  # shorter ones would garble the message, not hide much
                text = text.replace(secret, MASK)
        return text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretUrl) and other._url == self._url

    def __hash__(self) -> int:
        return hash(self._url)

    def __reduce__(self) -> tuple[object, ...]:  # never pickled into a cache or a log
        raise TypeError("a SecretUrl is not picklable")


def resolve(env: str, environ: Mapping[str, str] | None = None) -> SecretUrl:
    """The URL named by the environment variable ``env``.

    Raises
    ------
    EngineConnectionError
        The variable is unset or empty, or names a secrets file that cannot be read.
    """
    environ = os.environ if environ is None else environ
    raw = (environ.get(env) or "").strip()
    if not raw:
        raise EngineConnectionError(
            Said.of(
                N_(
                    "the connection variable {env} is not set; export it as the system's URL "
                    "(e.g. {env}=postgresql+psycopg://reader:PASSWORD@host:5432/db) or as the path "
                    "of a secrets file holding that URL"
                ),
                env=env,
            ),
            {"env": env},
        )
    if "://" not in raw and raw.startswith("/"):
        path = Path(raw)
        try:
            first = path.read_text(encoding="utf-8").strip().splitlines()
        except OSError as exc:
            raise EngineConnectionError(
                Said.of(
                    N_("{env} names the secrets file {path}, which cannot be read ({reason})"),
                    env=env,
                    path=raw,
                    reason=exc.strerror,
                ),
                {"env": env},
            ) from None
        raw = first[0].strip() if first else ""
        if not raw:
            raise EngineConnectionError(
                Said.of(N_("the secrets file named by {env} is empty"), env=env), {"env": env}
            )
    return SecretUrl(raw)
