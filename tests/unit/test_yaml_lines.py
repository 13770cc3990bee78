"""The line-keeping YAML loader (loaders/yaml_lines.py) reads what PyYAML's safe loader reads,
with each mapping's and key's line."""

from __future__ import annotations

import pytest
import yaml

from loaders.yaml_lines import DuplicateKeyError, LDict, LList, line_of, load_yaml, load_yaml_all

DOCS = [
    "id: atp\nname: 客单价\nversion: 1.0\nreviewer: ~\nfields: [a, b]\n",
    "a: 2023-09-01\nb: yes\nc: 0x1f\nd: ''\ne: null\nf: .5\ng: -3\nh: '12'\ni: +1\nj: true\n",
    "n: 北京\no: off\nt: time\nN: No\nx: 1e3\ny: 1_000\nk: <\n",
    "base: &b {x: 1, y: [1, 2]}\nd:\n  <<: *b\n  y: 2\ne: *b\n",
    "- !!set {a, b}\n- !!str 12\n- !!int '7'\n- !!binary aGk=\n",
    "metrics:\n  - id: m\n    causes:\n      - {metric: r, polarity: '+'}\n"
    "      - {metric: s, polarity: -}\n",
    "",
    "# only a comment\n",
]


@pytest.mark.parametrize("text", DOCS)
def test_same_values_as_safe_load(text: str) -> None:
    assert load_yaml(text) == yaml.safe_load(text)


def test_lines_of_mappings_keys_and_items() -> None:
    data = load_yaml("id: atp\nformula: a / b\nfields:\n  - x\n  - y\ncaliber:\n  time: 月\n")
    assert isinstance(data, LDict) and data.line == 1
    assert data.key_lines == {"id": 1, "formula": 2, "fields": 3, "caliber": 6}
    assert isinstance(data["fields"], LList) and data["fields"].item_lines == [4, 5]
    assert line_of(data, ("fields", 1)) == 5
    assert line_of(data, ("caliber", "time")) == 7


def test_duplicate_key_names_both_lines() -> None:
    with pytest.raises(DuplicateKeyError) as caught:
        load_yaml("id: a\nname: x\nid: b\n")
    assert "appears twice (first on line 1)" in str(caught.value)
    assert caught.value.problem_mark is not None and caught.value.problem_mark.line == 2


def test_aliases_share_one_object() -> None:
    # each level doubles the references; built once per anchor, not once per reference
    lines = ["a0: &a0 [x, y]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 40)]
    data = load_yaml("\n".join(lines) + "\n")
    assert data["a39"][0] is data["a39"][1]


def test_multi_document() -> None:
    docs = load_yaml_all("a: 1\n---\n- b\n")
    assert docs == [{"a": 1}, ["b"]]
    assert docs[1].line == 3
