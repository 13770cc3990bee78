"""The files ``kpigraph init DIR`` writes when no template is chosen."""

from __future__ import annotations

from pathlib import Path

FILES: dict[str, str] = {
    "kpigraph.yaml": """\
# kpigraph catalog settings
name: 我的指标字典
language: zh
description: 公司指标字典（metrics as code）。每个指标一个文件，放在 metrics/ 下。
""",
    "departments.yaml": """\
- {id: ops, name: 运营部}
- {id: finance, name: 财务部}
""",
    "dimensions.yaml": """\
- {id: time, name: 时间}
- {id: region, name: 区域}
""",
    "dashboards.yaml": """\
- {id: ops_board, name: 运营看板, kind: pc, url: "https://bi.example.com/ops"}
""",
    "sources.yaml": """\
# systems → tables → fields; a field's id is system.table.field
- id: dms
  name: DMS系统
  tables:
    - id: dms_orders
      name: 工单表
      fields:
        - {id: order_id, name: 工单号, type: string}
        - {id: total_amount, name: 工单总金额, type: "decimal(12,2)"}
""",
    "metrics/revenue.yaml": """\
id: revenue
name: 营收
level: L1
owner: finance
definition: 统计周期内的总营业收入。
unit: CNY
fields: [dms.dms_orders.total_amount]
dimensions: [time, region]
dashboards: [ops_board]
""",
    "metrics/visits.yaml": """\
id: visits
name: 进厂台次
level: L1
owner: ops
definition: 统计周期内完成保养、维修、钣喷的进厂台次。
unit: 台次
fields: [dms.dms_orders.order_id]
""",
    "metrics/atp.yaml": """\
# A metric file carries the whole definition template; only id and name are required.
id: atp
name: 客单价
name_en: Average Ticket Price
abbr: ATP
level: L1
domain: 门店运营
owner: ops
reviewer: finance
definition: 单个客户单次进厂消费的平均金额。
formula: revenue / visits
unit: CNY
caliber:
  numerator: {includes: [工时收入, 配件收入], excludes: [保险理赔代收款]}
  denominator: {includes: [保养, 维修, 钣喷], excludes: [单纯洗车]}
  time: 自然月，按工单完成时间统计
dimensions: [time, region]
rolls_up_to: revenue
dashboards: [ops_board]
version: 1.0.0
history: [{version: 1.0.0, date: 2024-01-01, change: 初始定义}]
""",
}


def write_scaffold(directory: Path) -> None:
    for rel, text in FILES.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
