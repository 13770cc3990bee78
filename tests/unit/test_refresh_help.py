"""``kpigraph values refresh --help`` says what ``--from``/``--to`` take, in both languages."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import cli


@pytest.mark.parametrize(
    ("lang", "start", "end"),
    [
        ("en", "first period to fetch, included: YYYY-MM", "YYYY-MM fetches that whole month"),
        ("zh", "要取的第一个期间（含）", "YYYY-MM 取整个月"),
    ],
)
def test_from_and_to_have_help(lang: str, start: str, end: str) -> None:
    done = CliRunner().invoke(cli, ["--lang", lang, "values", "refresh", "--help"])
    assert done.exit_code == 0, done.output
    text = "".join(done.output.split())
    assert "".join(start.split()) in text, done.output
    assert "".join(end.split()) in text, done.output
