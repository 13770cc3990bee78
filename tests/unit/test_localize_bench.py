"""The side-by-side localisation benchmark scores every method with one function
(benchmarks/localize_riskloc.py): exact combinations, Squeeze's ';'-joined predictions split as
the label is, a case not finished or refused scored as an empty prediction."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.localize_riskloc import score, table, with_read


def test_score_is_exact_match_of_sorted_combinations() -> None:
    assert score(["b=b1&a=a2", "c=c3"], "a=a2&b=b1;d=d4") == (1, 1, 1)
    assert score(["a=a2"], "a=a2&b=b1") == (0, 1, 1)  # an ancestor is not the cause
    assert score(["e=e5;e=e2"], "e=e2") == (1, 1, 0)  # Squeeze's one string, two causes
    assert score([], "a=a1;b=b2") == (0, 0, 2)


def test_table_scores_each_method_over_its_own_cases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "S").mkdir()
    (tmp_path / "S" / "injection_info.csv").write_text(
        "timestamp,set\n1,a=a1\n2,a=a2&b=b1;c=c3\n", "utf-8"
    )
    results: list[dict[str, object]] = [
        {"dataset": "S", "case": "1", "method": "x", "predictions": ["a=a1"], "seconds": 1.0},
        {"dataset": "S", "case": "2", "method": "x", "predictions": ["b=b1&a=a2", "d=d9"],
         "seconds": 3.0},
        {"dataset": "S", "case": "1", "method": "slow", "predictions": [], "seconds": 60.0,
         "error": "did not finish within 60 s"},
        {"dataset": "S", "case": "1", "method": "kpigraph", "predictions": [], "seconds": 0.0,
         "search_seconds": 0.0, "error": "refused: localize over …"},
    ]  # fmt: skip
    table(results, tmp_path, ["S"], 10)
    rows = {line.split(" | ")[1]: line.split(" | ") for line in capsys.readouterr().out.splitlines()
            if line.startswith("| S |")}  # fmt: skip
    # x: TP 2, FP 1, FN 1 over 2 cases: F1 = 4/6, precision 2/3, recall 2/3, 2 s a case
    assert rows["x"][2:7] == ["2", "0.667", "0.667", "0.667", "2.00"]
    assert rows["x"][7] == "0 / 0 |"
    assert rows["slow"][2:4] == ["1", "0.000"] and rows["slow"][7] == "1 / 0 |"
    assert rows["kpigraph"][7] == "0 / 1 |"


def test_a_reference_methods_read_can_be_counted_in_its_time() -> None:
    done = {"method": "adtributor", "predictions": ["a=a5"], "seconds": 82.0,
            "read_seconds": 108.0, "error": None}  # fmt: skip
    late = with_read(done, 180)
    assert late["seconds"] == 190.0 and late["predictions"] == []
    assert str(late["error"]).startswith("did not finish within 180 s")
    assert with_read(done, 200)["predictions"] == ["a=a5"]
    mine = {"method": "kpigraph", "predictions": ["a=a1"], "seconds": 90.0, "error": None}
    assert with_read(mine, 60) == mine  # kpigraph's time is its whole process already


def test_the_main_options_say_what_they_take() -> None:
    """``--help`` explains the options a first run needs (not bare ``--datasets DATASETS``)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    shown = subprocess.run(
        [sys.executable, "-m", "benchmarks.localize_riskloc", "--help"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    text = " ".join(shown.split())
    assert "--riskloc DIR a copy of shaido987/riskloc" in text, shown
    assert "of S, L, H" in text and "(default: S,L)" in text, shown
    assert "cases per dataset" in text and "(default: 10)" in text, shown
    assert "reference methods to run beside kpigraph" in text, shown
