"""A synthetic catalog with a realistic shape, for benchmarks.

Levels L0–L3 (few L0, most L3); every derived metric (L0–L2) has a formula over 2–4 metrics of
deeper levels (so INPUT_TO stays acyclic) and rolls up to a parent one level up; some carry a
driver identity; causal links form chains and cycles. Atomic (L3) metrics read ~3 fields from
tables of ~20 fields in ~10 systems; a few "hot" fields (order ids, amounts) feed thousands of
metrics. Dashboards show ~50 metrics each; every metric has an owner, most a reviewer.

Sizes: S = 1,000 metrics, M = 10,000, L = 100,000 (≈ 0.5 M nodes, ≈ 1 M edges at L).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SIZES = {"S": 1_000, "M": 10_000, "L": 100_000}
METRICS_PER_FILE = 1_000
N_SYSTEMS = 10
FIELDS_PER_TABLE = 20
METRICS_PER_DASHBOARD = 50
HOT_FIELDS = 5

DOMAINS = ["门店运营", "财务", "客户运营", "营销", "售后服务", "供应链", "人力", "数字化"]
WORDS = [
    "营收",
    "客单价",
    "进厂台次",
    "毛利",
    "成本",
    "转化率",
    "留存率",
    "满意度",
    "工时",
    "配件",
    "订单",
    "线索",
    "到店",
    "复购",
    "渗透率",
    "周转",
    "利润",
    "库存",
    "投诉",
    "预约",
]
EN_WORDS = [
    "revenue",
    "ticket",
    "visits",
    "margin",
    "cost",
    "conversion",
    "retention",
    "satisfaction",
    "labor",
    "parts",
    "orders",
    "leads",
    "traffic",
    "repurchase",
    "penetration",
    "turnover",
    "profit",
    "inventory",
    "complaints",
    "appointments",
]
DIMENSIONS = [
    ("time", "时间"),
    ("region", "区域"),
    ("store", "门店"),
    ("dealer", "经销商"),
    ("brand_type", "品牌类型"),
    ("vehicle_model", "车型"),
    ("channel", "渠道"),
    ("customer_type", "客户类型"),
    ("order_type", "工单类型"),
    ("province", "省份"),
]

_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class Generated:
    path: Path
    metrics: int
    fields: int
    hot_fields: list[str]


def _level_counts(n: int) -> dict[str, int]:
    l0 = max(1, n // 1000)
    l1 = max(2, n // 50)
    l2 = max(4, n * 3 // 20)
    return {"L0": l0, "L1": l1, "L2": l2, "L3": n - l0 - l1 - l2}


def _dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        yaml.dump(data, fh, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)


def generate(n_metrics: int, seed: int, out: Path) -> Generated:
    """Write a valid catalog of ``n_metrics`` metrics into ``out`` (deterministic per seed)."""
    rng = random.Random(seed)
    counts = _level_counts(n_metrics)
    ids: dict[str, list[str]] = {}
    start = 0
    for level, count in counts.items():
        ids[level] = [f"m{start + i:06d}" for i in range(count)]
        start += count
    atomic = ids["L3"]
    n_fields = max(FIELDS_PER_TABLE * N_SYSTEMS, len(atomic) * 9 // 2)
    n_tables = max(N_SYSTEMS, n_fields // FIELDS_PER_TABLE)
    systems = [f"sys{i:02d}" for i in range(N_SYSTEMS)]
    tables = [(systems[t % N_SYSTEMS], f"t{t:05d}") for t in range(n_tables)]
    fields = [
        f"{system}.{table}.f{i:02d}" for system, table in tables for i in range(FIELDS_PER_TABLE)
    ]
    hot = fields[:HOT_FIELDS]
    departments = [f"dept{i:03d}" for i in range(5 + n_metrics // 1000)]
    n_dashboards = max(3, n_metrics // METRICS_PER_DASHBOARD // 2)
    dashboards = [f"board{i:04d}" for i in range(n_dashboards)]
    all_ids = [m for level in ("L0", "L1", "L2", "L3") for m in ids[level]]
    deeper = {"L0": ids["L1"] + ids["L2"], "L1": ids["L2"] + ids["L3"], "L2": ids["L3"]}
    parent_level = {"L1": "L0", "L2": "L1", "L3": "L2"}
    # dashboards: each shows ~50 metrics
    shown_on: dict[str, list[str]] = {}
    for board in dashboards:
        for shown in rng.sample(all_ids, min(METRICS_PER_DASHBOARD, len(all_ids))):
            shown_on.setdefault(shown, []).append(board)

    metrics: list[dict[str, Any]] = []
    for level in ("L0", "L1", "L2", "L3"):
        for mid in ids[level]:
            word = rng.randrange(len(WORDS))
            m: dict[str, Any] = {
                "id": mid,
                "name": f"{WORDS[word]}{mid[1:]}",
                "name_en": f"{EN_WORDS[word]} {mid[1:]}",
                "level": level,
                "domain": rng.choice(DOMAINS),
                "owner": rng.choice(departments),
                "definition": f"合成{WORDS[word]}指标，用于基准测试（{mid}）。",
                "unit": "CNY",
            }
            if rng.random() < 0.6:
                m["reviewer"] = rng.choice(departments)
            if level in deeper:
                inputs = rng.sample(deeper[level], min(rng.randint(2, 4), len(deeper[level])))
                ops = [rng.choice("+-*/") for _ in inputs[1:]]
                m["formula"] = inputs[0] + "".join(
                    f" {o} {x}" for o, x in zip(ops, inputs[1:], strict=True)
                )
                if rng.random() < 0.2:
                    pair = rng.sample(all_ids, 2)
                    if mid not in pair:
                        m["drivers"] = " * ".join(pair)
            else:
                picks = rng.sample(fields, 3)
                if rng.random() < 0.02 * 5:  # hot fields feed thousands of metrics at L
                    picks[0] = rng.choice(hot)
                m["fields"] = sorted(set(picks))
            if level in parent_level:
                m["rolls_up_to"] = rng.choice(ids[parent_level[level]])
            if rng.random() < 0.3:
                target = rng.choice(all_ids)
                if target != mid:
                    m["causes"] = [{"metric": target, "polarity": rng.choice("+-")}]
            m["dimensions"] = rng.sample([d for d, _ in DIMENSIONS], 2)
            if mid in shown_on:
                m["dashboards"] = shown_on[mid]
            if rng.random() < 0.1:
                m["history"] = [
                    {
                        "version": "1.0.0",
                        "date": f"2024-{rng.randint(1, 12):02d}-01",
                        "change": "初始定义",
                    }
                ]
            metrics.append(m)

    out.mkdir(parents=True, exist_ok=True)
    _dump(out / "kpigraph.yaml", {"name": f"benchmark {n_metrics}", "description": f"seed {seed}"})
    _dump(out / "departments.yaml", [{"id": d, "name": f"部门{d[4:]}"} for d in departments])
    _dump(out / "dimensions.yaml", [{"id": d, "name": n} for d, n in DIMENSIONS])
    _dump(
        out / "dashboards.yaml",
        [{"id": b, "name": f"看板{b[5:]}", "kind": "pc"} for b in dashboards],
    )
    by_system: dict[str, list[dict[str, Any]]] = {s: [] for s in systems}
    for t, (system, table) in enumerate(tables):
        by_system[system].append(
            {
                "id": table,
                "name": f"表{table[1:]}",
                "fields": [
                    {"id": f"f{i:02d}", "name": f"字段{t}_{i}", "type": "decimal(12,2)"}
                    for i in range(FIELDS_PER_TABLE)
                ],
            }
        )
    for system in systems:
        _dump(
            out / "sources" / f"{system}.yaml",
            [{"id": system, "name": f"系统{system[3:]}", "tables": by_system[system]}],
        )
    for i in range(0, len(metrics), METRICS_PER_FILE):
        _dump(
            out / "metrics" / f"part-{i // METRICS_PER_FILE:04d}.yaml",
            {"metrics": metrics[i : i + METRICS_PER_FILE]},
        )
    return Generated(out, len(metrics), len(fields), hot)
