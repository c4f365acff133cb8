"""Rule violations in the workbench: triage filters by rule and 判断等级, and a violation lead's
rule text and item lines.

A ``rule_violation`` finding (:mod:`graphkit.rules.detector`) carries its rule in ``evidence``
(id, name, category, shape and parameters, level and what it obliges, basis, version) and its
dearest item lines (``items``). The filters appear only when the leads hold rule violations.
The item lines get their date from the store (:meth:`~graphkit.store.base.Store.items_by_claim`,
:func:`graphkit.rules.evidence.hit_lines`): the line's ``item_time`` where the data has one, else
the claim's settlement day.

Examples
--------
>>> import pandas as pd
>>> leads = pd.DataFrame({"kind": ["rule_violation", "shared_card"], "rule_id": ["BZ-001", ""],
...                       "rule_name": ["单价超本级别价格上限", ""], "rule_level": ["违规", ""]})
>>> rule_filter_options(leads)
([('BZ-001 单价超本级别价格上限', 'BZ-001')], [('违规 violation', '违规')])
>>> rule_filter_options(leads.iloc[1:])
([], [])
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..findings import Finding
from ..rules.evidence import LINE_COLUMNS, hit_lines
from ..rules.schema import LEVELS, SHAPE_WORDS
from .tables import frame_html

if TYPE_CHECKING:  # annotation only
    from .data import Workbench

__all__ = ["RULE_KIND", "LEVEL_EN", "LINE_COLUMNS", "rule_filter_options", "rule_filter_widgets", "picked",
           "rule_lines", "rule_detail_html"]

RULE_KIND = "rule_violation"
#: 判断等级 → English
LEVEL_EN = {"可疑": "suspicious", "违规": "violation"}
LINE_HEADERS = {"claim_id": "结算单号 claim", "date": "日期 date", "item_code": "编码 code", "item_name": "名称 name",
                "quantity": "数量 qty", "unit_price": "单价 price", "amount": "金额 amount", "deduct": "违规金额 deduct"}


def rule_filter_options(leads: pd.DataFrame) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(rule options ``("FW-001 限性别项目…", "FW-001")``, level options) of the rule leads in ``leads``."""
    if "rule_id" not in leads.columns:
        return [], []
    r = leads[(leads["kind"] == RULE_KIND) & (leads["rule_id"].fillna("") != "")]
    rules = r[["rule_id", "rule_name"]].drop_duplicates("rule_id").sort_values("rule_id")
    levels = set(r["rule_level"])
    return ([(f"{i} {n}".strip(), i) for i, n in rules.itertuples(index=False)],
            [(f"{lv} {LEVEL_EN[lv]}", lv) for lv in LEVELS if lv in levels])


def rule_filter_widgets(leads: pd.DataFrame, *, multiple: bool = False) -> tuple[Any, Any]:
    """The rule and level pickers (``SelectMultiple`` when ``multiple``, else ``Dropdown`` with
    "all"); both hidden (``layout.display = "none"``) when ``leads`` holds no rule violation."""
    import ipywidgets as W

    rules, levels = rule_filter_options(leads)
    style = {"description_width": "initial"}
    if multiple:
        rule = W.SelectMultiple(options=rules, description="规则 rule", rows=min(max(len(rules), 3), 6), style=style)
        level = W.SelectMultiple(options=levels, description="判断等级 level", rows=2, style=style)
    else:
        rule = W.Dropdown(options=[("全部规则 / all rules", "")] + rules, value="", description="规则 rule",
                          style=style, layout=W.Layout(width="98%"))
        level = W.Dropdown(options=[("全部等级 / all levels", "")] + levels, value="", description="判断等级 level",
                           style=style, layout=W.Layout(width="98%"))
    rule.add_class("gk-rule-filter")
    level.add_class("gk-level-filter")
    if not rules:
        rule.layout.display = level.layout.display = "none"
    return rule, level


def picked(w: Any) -> tuple[str, ...]:
    """What a rule or level picker selects, as a tuple (empty: no filter)."""
    v = w.value
    if isinstance(v, (tuple, list)):
        return tuple(v)
    return (v,) if v else ()


def rule_lines(wb: Workbench, finding: Finding) -> pd.DataFrame:
    """The violating item lines a rule finding lists (the dearest first), dated from the store's
    claims and claim items (:func:`graphkit.rules.evidence.hit_lines`)."""
    ids = list(dict.fromkeys(str(x["claim_id"]) for x in finding.evidence.get("items") or []))
    if not ids:
        return hit_lines(finding.evidence, pd.DataFrame(columns=["claim_id", "start_time"]))
    store = wb.store
    items = None
    if store.has_table("claim_items"):
        cols = [c for c in ("item_code", "item_name", "item_time") if c in set(store.columns("claim_items"))]
        items = store.items_by_claim(ids, cols)
    return hit_lines(finding.evidence, wb.claims(ids, ["start_time"]), items)


def rule_detail_html(finding: Finding, lines: pd.DataFrame | None = None) -> str:
    """The rule's text (id, name, category, logic in words, parameters, window, settings, basis,
    level and what it obliges, version) and the item lines of a violation lead; empty for other kinds.

    Examples
    --------
    >>> f = Finding.create("rule_violation", key=["BZ-001"], evidence={"rule_id": "BZ-001", "rule_name": "单价超限",
    ...     "category": "超支付标准", "level": "违规", "obligation": "直接扣款：按规定拒付或追回 / direct deduction",
    ...     "shape": "price_ceiling", "params": {}, "basis": "《条例》第三十八条", "deduct_amount": 12.5})
    >>> h = rule_detail_html(f)
    >>> "BZ-001" in h and "第三十八条" in h and "直接扣款" in h and "上限" in h and "12.50" in h
    True
    >>> rule_detail_html(Finding.create("shared_card", key=["K1"]))
    ''
    """
    if finding.kind != RULE_KIND:
        return ""
    ev, e = finding.evidence, html.escape
    level = str(ev.get("level", ""))
    logic = ev.get("description") or SHAPE_WORDS.get(str(ev.get("shape", "")), str(ev.get("shape", "")))
    params = json.dumps(ev.get("params") or {}, ensure_ascii=False)
    where = " · ".join(str(x) for x in (ev.get("window"), "、".join(ev.get("settings") or []), ev.get("stage")) if x)
    colour = "#c62828" if level == "违规" else "#ef6c00"
    rows = [
        ("规则 rule", f"<b>{e(str(ev.get('rule_id', '')))}</b> {e(str(ev.get('rule_name', '')))}"
                      + (f" <span style='color:#666'>/ {e(str(ev['rule_name_en']))}</span>" if ev.get("rule_name_en") else "")),
        ("类别 category", e(str(ev.get("category", "")))),
        ("逻辑 logic", e(str(logic)) + (f" <code>{e(str(ev.get('shape', '')))} {e(params)}</code>" if ev.get("shape") else "")),
        ("时间窗·场景·阶段 window", e(where)),
        ("判断等级 level", f"<b style='color:{colour}'>{e(level)} {e(LEVEL_EN.get(level, ''))}</b> — "
                          f"{e(str(ev.get('obligation', LEVELS.get(level, ''))))}"),
        ("依据 basis", e(str(ev.get("basis", "")))),
        ("违规金额 deduct", f"<b>{float(ev.get('deduct_amount') or 0):,.2f} 元</b>（基金 fund "
                           f"{float(ev.get('fund_deduct_amount') or 0):,.2f} 元）· {ev.get('month', '')} · "
                           f"{ev.get('hit_lines', len(lines) if lines is not None else 0)} 条明细 lines · "
                           f"{ev.get('hit_claims', len(finding.claims))} 笔结算 claims · {ev.get('patients', '')} 人 people"),
        ("版本 version", e(" · ".join(str(x) for x in (f"规则 v{ev.get('rule_version', '')}", ev.get("pack"), ev.get("kb")) if x))),
    ]
    table = "".join(f"<tr><th style='text-align:left;white-space:nowrap;padding-right:8px'>{k}</th><td>{v}</td></tr>"
                    for k, v in rows)
    out = f"<div class='gk-rule-detail'><table class='gk-rule-text'>{table}</table>"
    if lines is not None:
        total = ev.get("hit_lines", len(lines))
        out += (f"<div style='margin:4px 0'><b>违规明细 / item lines</b> — 列出 {len(lines)} 条（共 {total} 条，违规金额从高到低）"
                f" / {len(lines)} of {total} lines, dearest first</div>"
                + frame_html(lines, headers=LINE_HEADERS, limit=200, css_class="gk-rule-lines", wrap=["item_name"]))
    return out + "</div>"
