"""The words of the programme (seeds 001/002) the pages and the terminal show, in one place:
metric roles, horizons, priorities and the inventory's statuses."""

from __future__ import annotations

#: role / horizon values → what the seeds call them
WORDS: dict[str, str] = {
    "north_star": "北极星指标",
    "key": "关键指标",
    "process": "过程指标",
    "leading": "先行指标",
    "lagging": "结果指标",
}
#: horizon "process" reads 过程 like the role; the seed's gloss tells them apart
HORIZON_GLOSS: dict[str, str] = {
    "leading": "先行指标 · 预测未来",
    "process": "过程指标 · 监控当下",
    "lagging": "结果指标 · 评估过去",
}

#: the same words for an English catalog (or ``?lang=en``)
WORDS_EN: dict[str, str] = {
    "north_star": "North-star metric",
    "key": "Key metric",
    "process": "Process metric",
    "leading": "Leading metric",
    "lagging": "Lagging metric",
}
HORIZON_GLOSS_EN: dict[str, str] = {
    "leading": "Leading · predicts the future",
    "process": "Process · monitors the present",
    "lagging": "Lagging · assesses the past",
}

#: how the map draws a metric's role on top of its level colour (vis.js node options): the
#: north star with a heavy border, a key metric with a medium one, a process metric dashed
ROLE_BORDER: dict[str, dict[str, object]] = {
    "north_star": {"borderWidth": 4, "shapeProperties": {"borderDashes": False}},
    "key": {"borderWidth": 2, "shapeProperties": {"borderDashes": False}},
    "process": {"borderWidth": 1, "shapeProperties": {"borderDashes": [5, 3]}},
}


def programme_word(value: object, what: str = "role") -> str:
    """The seed's word for a role (``what="role"``) or horizon (``what="horizon"``) value.

    Examples
    --------
    >>> programme_word("north_star"), programme_word("leading", "horizon")
    ('北极星指标', '先行指标 · 预测未来')
    >>> programme_word(None), programme_word("P0")
    ('—', 'P0')
    """
    if value is None or value == "":
        return "—"
    from core.i18n import current

    text = str(value)
    english = current() == "en"
    if what == "horizon":
        return (HORIZON_GLOSS_EN if english else HORIZON_GLOSS).get(text, text)
    return (WORDS_EN if english else WORDS).get(text, text)
