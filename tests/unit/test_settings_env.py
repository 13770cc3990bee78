"""Settings read from the environment as pydantic-settings read them (``KPIGRAPH_<FIELD>``, any
case, keywords first), without importing pydantic-settings in every command (#23)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Backend, Settings
from tests.helpers import ROOT


def test_each_field_from_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPIGRAPH_BACKEND", "neo4j")
    monkeypatch.setenv("KPIGRAPH_DB", "/tmp/x.sqlite")
    monkeypatch.setenv("KPIGRAPH_NEO4J_TIMEOUT", "2.5")
    monkeypatch.setenv("KPIGRAPH_AUTO_APPLY", "true")
    monkeypatch.setenv("KPIGRAPH_SECRET_KEY", "s3cret")
    monkeypatch.setenv("kpigraph_read_auth", "required")  # names in any case
    s = Settings()
    assert s.backend is Backend.NEO4J
    assert s.db == Path("/tmp/x.sqlite")
    assert s.neo4j_timeout == 2.5
    assert s.auto_apply is True
    assert s.secret_key is not None and s.secret_key.get_secret_value() == "s3cret"
    assert s.read_auth == "required"


def test_keywords_beat_the_environment_and_defaults_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPIGRAPH_DB", "/tmp/from-env.sqlite")
    monkeypatch.setenv("KPIGRAPH_NOT_A_SETTING", "ignored")
    monkeypatch.delenv("KPIGRAPH_BACKEND", raising=False)
    monkeypatch.delenv("KPIGRAPH_NEO4J_URI", raising=False)
    s = Settings(db="/tmp/given.sqlite")
    assert s.db == Path("/tmp/given.sqlite")
    assert s.backend is Backend.EMBEDDED
    assert s.neo4j_uri == "bolt://127.0.0.1:7687"


def test_a_bad_value_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPIGRAPH_BACKEND", "mysql")
    with pytest.raises(ValidationError, match="backend"):
        Settings()
    monkeypatch.setenv("KPIGRAPH_BACKEND", "embedded")
    monkeypatch.setenv("KPIGRAPH_WRITEBACK", "sometimes")
    with pytest.raises(ValidationError, match="writeback"):
        Settings()


def test_settings_import_no_pydantic_settings() -> None:
    code = "import sys, core.settings; print('pydantic_settings' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
