"""Settings from the environment (``KPIGRAPH_*``) or from CLI flags."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

#: the prefix of every setting's environment variable (``KPIGRAPH_DB`` → ``db``)
ENV_PREFIX = "KPIGRAPH_"


class Backend(StrEnum):
    EMBEDDED = "embedded"
    NEO4J = "neo4j"


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/kpigraph/kpigraph.sqlite`` (``~/.local/share/...`` by default)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kpigraph" / "kpigraph.sqlite"


class Settings(BaseModel):
    """Where the graph lives and how to reach it: each field from its keyword, else from the
    environment variable ``KPIGRAPH_<FIELD>`` (any case), else its default — as
    pydantic-settings reads them, without importing it (and asyncio, dotenv... through it) in
    every command: a one-file ``kpigraph load`` is a short process (#23).

    Examples
    --------
    >>> Settings(backend="embedded", db="/tmp/x.sqlite").db
    PosixPath('/tmp/x.sqlite')
    >>> os.environ["KPIGRAPH_NEO4J_TIMEOUT"] = "2.5"
    >>> Settings(backend="embedded").neo4j_timeout
    2.5
    >>> Settings(neo4j_timeout=4).neo4j_timeout
    4.0
    >>> del os.environ["KPIGRAPH_NEO4J_TIMEOUT"]
    """

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        env = {
            key[len(ENV_PREFIX) :].lower(): value
            for key, value in os.environ.items()
            if key.upper().startswith(ENV_PREFIX)
        }
        given = {key.lower() for key in data}
        return {
            **{k: v for k, v in env.items() if k in cls.model_fields and k not in given},
            **data,
        }

    backend: Backend = Backend.EMBEDDED
    db: Path = Field(default_factory=default_db_path, description="embedded store file")
    neo4j_uri: str = "bolt://127.0.0.1:7687"
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr = SecretStr("kpigraph")
    neo4j_database: str = "neo4j"
    neo4j_timeout: float = Field(default=10.0, description="seconds to wait for a connection")
    neo4j_plan: bool = Field(
        default=True,
        description="have the server plan a change's statements in the background: at serve "
        "start-up and after a full load (the first change then does not pay for it)",
    )
    neo4j_data: Path | None = Field(
        default=None,
        description="data directory of the local Neo4j (kpigraph neo4j start --data); default "
        "~/.local/share/kpigraph/neo4j",
    )
    neo4j_import_min: int = Field(
        default=0,
        description="a first load of at least this many nodes and relationships into an empty "
        "local Neo4j (the server of neo4j_data on neo4j_uri's port) is written offline with "
        "neo4j-admin import, the server restarted for it; 0 (the default): never, opt in with "
        "e.g. 300000",
    )
    # governance (#14)
    read_auth: Literal["anonymous", "required"] = Field(
        default="anonymous", description="'required': reads need a token or a session too"
    )
    secret_key: SecretStr | None = Field(
        default=None, description="session-signing key; default: one kept in the store"
    )
    auto_apply: bool = Field(default=False, description="apply a request on final approval")
    base_url: str = Field(
        default="http://127.0.0.1:8000", description="this server's URL, for links in messages"
    )
    notify: bool = Field(default=True, description="deliver notifications from this process")
    # the HTTP server (#12)
    trusted_hosts: str | None = Field(
        default=None,
        description="comma-separated Host header values the server answers (a DNS-rebinding "
        "page sends its own); default for kpigraph serve: the bound host, localhost, 127.0.0.1 "
        "and ::1, and the host of base_url; '*' answers any",
    )
    # who a request came from, where webhooks may go (#21)
    trusted_proxies: str | None = Field(
        default=None,
        description="comma-separated addresses/networks of reverse proxies whose "
        "X-Forwarded-For names the client (for the failed sign-in limit); default: none, "
        "the peer address counts",
    )
    webhook_allow: str | None = Field(
        default=None,
        description="comma-separated hosts, host:port and networks webhooks may reach even "
        "though they are not public addresses (read from the environment at each check)",
    )
    # root-cause searches over huge cubes (#25)
    localize_slots: int = Field(
        default=2,
        ge=1,
        description="root-cause searches over cubes of 200,000+ leaves (several GB each) one "
        "server process runs at once; another is refused with 503 and Retry-After",
    )
    # values (#15)
    writeback: Literal["off", "files", "commit"] = Field(
        default="off",
        description="after an apply, write the change into the catalog files of "
        "'serve --catalog DIR' ('files'), and commit it there ('commit')",
    )
    catalog_dir: Path | None = Field(
        default=None, description="the catalog directory write-back edits (serve --catalog)"
    )
    values_dir: Path | None = Field(
        default=None,
        description="catalog directory whose values/, targets/ and data/ are read; default: "
        "the directory the loaded catalog came from (recorded in the store at load time)",
    )
