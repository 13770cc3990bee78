"""Keeps the benchmark runner from rotting: generator + runner at size S, embedded only."""

from __future__ import annotations

from pathlib import Path

from benchmarks.generate import generate
from benchmarks.run import run
from loaders.catalog import load_catalog


def test_generator_shape(tmp_path: Path) -> None:
    made = generate(1000, 7, tmp_path / "cat")
    graph = load_catalog(made.path)
    counts = graph.counts()
    assert counts["Metric"] == 1000 and counts["System"] == 10
    levels = graph.meta["summary"]["levels"]
    assert 0 < levels["L0"] < levels["L1"] < levels["L2"] < levels["L3"]
    hot = sum(1 for e in graph.edges if str(e.source) == f"Field:{made.hot_fields[0]}")
    assert hot >= 10  # a heavy root exists
    assert generate(1000, 7, tmp_path / "again").fields == made.fields  # deterministic


def test_runner_smoke(tmp_path: Path) -> None:
    results = run("S", 3, tmp_path, backends=("embedded",), log=lambda _m: None)
    emb = results["embedded"]
    assert emb["load"]["items_per_s"] > 0
    assert emb["queries"]["lineage_d3_upstream"]["n"] == 200
    assert emb["api"]["http"]["p50_ms"] > 0
    assert emb["serving_rss_mb"] > 0
    assert (tmp_path / "results-S-3.json").is_file()


def test_apply_change_smoke() -> None:
    """The apply benchmark at a tiny size: each apply timed, with its span and the submit's."""
    from benchmarks.apply_change import run as apply_run

    out = apply_run(200, "embedded", 2, whole_runs=0)
    assert len(out["apply_delta_s"]) == len(out["submit_s"]) == 2
    (a0, b0), (a1, b1) = out["apply_windows_epoch_s"]
    assert a0 <= b0 <= a1 <= b1
    assert out["whole_publish_s"] == [] and out["nodes"] > 200
