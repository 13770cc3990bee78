"""The after-sales demo's DMS dataset: deterministic, small, realistic; and its planted story.

``python -m values.demo catalogs/automotive_aftersales`` writes

- ``data/dms_stores.csv``   six stores of one 合资品牌 dealer group in 深圳 and 莞惠;
- ``data/dms_orders.parquet`` one row per work order (工单), 2024-07 … 2026-06: maintenance,
  repair, bodyshop, plus washes and free inspections that the caliber excludes, and a few
  cancelled orders; seasonality (Spring Festival dip in February, pre-holiday peaks in January
  and December, summer air-conditioning repairs) and a slow growth trend;
- ``values/customer.csv``   survey and CRM rates by store and month (observed, not computed);
- ``targets/revenue.csv``   monthly revenue targets for 2026 by store and in total.

The planted story (README "why did 营收 fall?"): in **2026-06** 南山店 closed four of its five
保养 bays for a renovation, so its maintenance visits fell by about 80 % and 营收 fell ~7 %
month on month while every other store was flat. 客单价 *rose* at the same time — a mix effect
(fewer low-ticket maintenance orders), not better selling. A data-quality slip is planted too:
in 2025-03 东莞店 booked insurance claim money into ``total_amount`` on bodyshop orders (seed
001: 不要将保险理赔金额计入营收), so observed 营收 ≠ 工时 + 配件 + 增值服务 there.
"""

from __future__ import annotations

import csv
import math
import random
import sys
from pathlib import Path

STORES = [  # id, name, region, size, labor rate (CNY/h)
    ("SZ-FT", "福田店", "深圳", 1.00, 180),
    ("SZ-NS", "南山店", "深圳", 1.45, 190),
    ("SZ-BA", "宝安店", "深圳", 0.90, 170),
    ("SZ-LG", "龙岗店", "深圳", 0.80, 165),
    ("DG-NC", "东莞店", "莞惠", 0.85, 160),
    ("HZ-HC", "惠州店", "莞惠", 0.65, 150),
]
MONTHS = [f"{2024 + (6 + i) // 12}-{(6 + i) % 12 + 1:02d}" for i in range(24)]
#: month of year → traffic multiplier (春节 in Feb, National Day in Oct, pre-holiday peaks)
SEASON = {1: 1.10, 2: 0.74, 3: 0.96, 4: 1.00, 5: 1.03, 6: 1.03, 7: 1.06, 8: 1.05,
          9: 0.98, 10: 0.90, 11: 1.00, 12: 1.08}  # fmt: skip
#: order type → (share of visits, labor CNY, parts CNY, value-added probability)
TYPES = {
    "maintenance": (0.60, 210, 480, 0.28),
    "repair": (0.29, 620, 1150, 0.16),
    "bodyshop": (0.11, 1450, 2050, 0.10),
}
BASE_VISITS = 300
STORY_MONTH, STORY_STORE = "2026-06", "SZ-NS"
SLIP_MONTH, SLIP_STORE = "2025-03", "DG-NC"


def _orders(rng: random.Random) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    seq = 0
    for i, month in enumerate(MONTHS):
        year, mon = map(int, month.split("-"))
        days = 28 if mon == 2 else 30
        trend = 1 + 0.004 * i
        for store_id, _name, _region, size, rate in STORES:
            for otype, (share, labor, parts, va_p) in TYPES.items():
                mean = BASE_VISITS * size * share * SEASON[mon] * trend
                if (month, store_id, otype) == (STORY_MONTH, STORY_STORE, "maintenance"):
                    mean *= 0.20  # four of five 保养 bays closed for renovation
                n = max(0, round(mean * (1 + rng.uniform(-0.015, 0.015))))
                for _ in range(n):
                    seq += 1
                    lab = float(round(labor * rng.lognormvariate(0, 0.25) * rate / 175))
                    par = float(round(parts * rng.lognormvariate(0, 0.35)))
                    va = float(rng.randrange(150, 600, 10)) if rng.random() < va_p else 0.0
                    claim = (
                        float(round(par * 0.8))
                        if otype == "bodyshop" and rng.random() < 0.5
                        else 0.0
                    )
                    total = lab + par + va
                    if (month, store_id) == (SLIP_MONTH, SLIP_STORE):
                        total += claim  # the slip: insurance money booked as revenue
                    status = "cancelled" if rng.random() < 0.02 else "completed"
                    rows.append(_order(seq, store_id, otype, status, year, mon, days, rng,
                                       lab, par, va, claim, total, rate))  # fmt: skip
            for otype in ("wash", "inspection"):  # excluded by the caliber (单纯洗车, 免费检测)
                for _ in range(round(BASE_VISITS * size * 0.06)):
                    seq += 1
                    amount = 40.0 if otype == "wash" else 0.0
                    rows.append(_order(seq, store_id, otype, "completed", year, mon, days, rng,
                                       0.0, 0.0, amount, 0.0, amount, rate))  # fmt: skip
    return rows


def _order(
    seq: int,
    store_id: str,
    otype: str,
    status: str,
    year: int,
    mon: int,
    days: int,
    rng: random.Random,
    lab: float,
    par: float,
    va: float,
    claim: float,
    total: float,
    rate: float,
) -> dict[str, object]:
    return {
        "order_id": f"WO{year % 100:02d}{mon:02d}{seq:06d}",
        "store_id": store_id,
        "order_type": otype,
        "order_status": status,
        "complete_date": f"{year}-{mon:02d}-{rng.randint(1, days):02d}",
        "labor_amount": lab,
        "labor_hours": round(lab / rate, 1),
        "parts_amount": par,
        "value_added_amount": va,
        "insurance_claim_amount": claim,
        "total_amount": round(total, 2),
    }


def _customer_rates(rng: random.Random) -> list[list[object]]:
    """Survey score (满分100), retention and repurchase rates (%) by store and in total."""
    out: list[list[object]] = []
    for i, month in enumerate(MONTHS):
        scores = {}
        for store_id, name, *_ in STORES:
            dip = 6.0 if store_id == STORY_STORE and month == STORY_MONTH else 0.0
            score = 90 + 0.05 * i + rng.uniform(-1, 1) - dip
            retention = 62 + 0.1 * i + rng.uniform(-1.5, 1.5) - dip
            repurchase = 41 + 0.08 * i + rng.uniform(-1.2, 1.2) - dip * 0.8
            scores[name] = (score, retention, repurchase)
        for metric, k in (("customer_satisfaction", 0), ("retention_rate", 1),
                          ("repurchase_rate", 2)):  # fmt: skip
            for name, vals in scores.items():
                out.append([metric, month, name, round(vals[k], 1)])
            out.append([metric, month, "", round(sum(v[k] for v in scores.values()) / 6, 1)])
    return out


def write(catalog: Path) -> None:
    """Write the demo dataset under ``catalog`` (same bytes every time)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(20240701)
    (catalog / "data").mkdir(exist_ok=True)
    with open(catalog / "data" / "dms_stores.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["store_id", "store_name", "region"])
        w.writerows([s[0], s[1], s[2]] for s in STORES)
    orders = _orders(rng)
    table = pa.Table.from_pylist(orders)
    table = table.set_column(
        table.column_names.index("complete_date"),
        "complete_date",
        pa.array([r["complete_date"] for r in orders]).cast(pa.date32()),
    )
    pq.write_table(table, catalog / "data" / "dms_orders.parquet", compression="zstd")
    (catalog / "values").mkdir(exist_ok=True)
    with open(catalog / "values" / "customer.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["metric", "period", "store", "value"])
        w.writerows(_customer_rates(rng))
    (catalog / "targets").mkdir(exist_ok=True)
    revenue: dict[tuple[str, str], float] = {}
    names = {s[0]: s[1] for s in STORES}
    for r in orders:
        if r["order_status"] == "completed" and r["order_type"] in TYPES:
            key = (str(r["complete_date"])[:7], names[str(r["store_id"])])
            revenue[key] = revenue.get(key, 0.0) + float(r["labor_amount"])  # type: ignore[arg-type]
            revenue[key] += float(r["parts_amount"]) + float(r["value_added_amount"])  # type: ignore[arg-type]
    with open(catalog / "targets" / "revenue.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["metric", "period", "store", "target"])
        for month in MONTHS[-6:]:
            last_year = f"{int(month[:4]) - 1}{month[4:]}"
            total = 0
            for name in names.values():
                target = math.ceil(revenue[(last_year, name)] * 1.06 / 10_000) * 10_000
                total += target
                w.writerow(["revenue", month, name, target])
            w.writerow(["revenue", month, "", total])


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "catalogs/automotive_aftersales"))
