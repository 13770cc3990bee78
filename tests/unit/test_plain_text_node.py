"""Fields and tables whose values are plain texts are built without pydantic
(loaders/validate.plain_text_node, issue #23): the same object pydantic makes, or ``None``
for anything pydantic must look at (and word the problem of)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from graph_schema.limits import MAX_DEFINITION, MAX_TEXT
from graph_schema.models import BaseNode, FieldNode, System, Table
from loaders.validate import plain_mapping, plain_text_node

FIELD = {"id": "dms.orders.amount", "name": "金额", "table": "dms.orders"}
TABLE = {"id": "dms.orders", "name": "工单表", "system": "dms"}


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (FieldNode, FIELD),
        (FieldNode, FIELD | {"type": "decimal(12,2)", "description": "含税"}),
        (FieldNode, FIELD | {"name": ""}),
        (FieldNode, FIELD | {"description": "x" * MAX_TEXT}),
        (Table, TABLE),
        (Table, TABLE | {"description": "一行一张工单", "sql": "SELECT 1"}),
    ],
)
def test_the_same_object_as_pydantic(model: type[BaseNode], data: dict[str, Any]) -> None:
    fast = plain_text_node(model, plain_mapping(data))
    slow = model.model_validate(dict(data))
    assert fast is not None and type(fast) is model
    assert fast == slow
    assert list(fast.__dict__.items()) == list(slow.__dict__.items())
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.props() == slow.props()
    assert fast.model_dump(exclude_unset=True) == slow.model_dump(exclude_unset=True)
    assert hash(fast) == hash(slow)
    with pytest.raises(ValidationError):  # frozen, as pydantic's
        fast.name = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (FieldNode, FIELD | {"name": " 金额"}),  # pydantic strips it
        (FieldNode, FIELD | {"name": "金额\u3000"}),  # a full-width space too
        (FieldNode, FIELD | {"type": 12}),  # pydantic turns it into text
        (FieldNode, FIELD | {"typo": "x"}),  # an unknown key: pydantic words it
        (FieldNode, {"id": "dms.orders.amount", "name": "金额"}),  # no table
        (FieldNode, FIELD | {"description": "x" * (MAX_TEXT + 1)}),
        (
            FieldNode,
            FIELD
            | {k: "x" * (MAX_DEFINITION // 4) for k in ("name", "type", "description")}
            | {"table": "x" * (MAX_DEFINITION // 4)},
        ),
        (FieldNode, FIELD | {"description": None}),
        (Table, TABLE | {"fields": []}),
        (System, {"id": "dms", "name": "DMS"}),  # not a plain-text model
    ],
)
def test_anything_else_is_left_to_pydantic(model: type[BaseNode], data: dict[str, Any]) -> None:
    assert plain_text_node(model, plain_mapping(data)) is None
