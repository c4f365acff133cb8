"""Rule violations (规则库) in a dossier: the rule, its item lines and 违规金额 as what the data
shows, and the rule's basis with the handling its 判断等级 obliges in 处理意见及依据.

A ``rule_violation`` finding carries its rule (id, name, category, level, basis, version) and its
dearest item lines in ``evidence`` (:mod:`graphkit.rules.detector`); :func:`rule_facts` reads
them (lines dated by :func:`graphkit.rules.evidence.hit_lines`) and
:meth:`graphkit.dossier.legal.LegalBasis.proposal` adds the handling of each level from the
legal-basis table (``[rule_levels]``: 可疑 → 核查, 违规 → 扣款/追回). Statutory papers get the
Chinese-only text (``bilingual=False``).

Examples
--------
>>> import pandas as pd
>>> f = {"kind": "rule_violation", "id": "rule_violation:ab", "provenance": "P1", "claims": ["C1"],
...      "evidence": {"rule_id": "BZ-001", "rule_name": "单价超限", "category": "超支付标准", "level": "违规",
...                   "basis": "条例第三十八条", "deduct_amount": 8.0, "hit_lines": 1, "hit_claims": 1,
...                   "items": [{"claim_id": "C1", "item_code": "A", "amount": 20.0, "deduct": 8.0}]}}
>>> facts = rule_facts([f], pd.DataFrame({"claim_id": ["C1"], "start_time": pd.to_datetime(["2024-01-05"])}))
>>> facts[0]["rule_id"], facts[0]["deduct_amount"], facts[0]["lines"][0]["date"]
('BZ-001', 8.0, '2024-01-05')
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from ..rules.evidence import hit_lines
from .render import esc, table_html
from .zh import zh_date

__all__ = ["rule_facts", "rule_facts_html", "rule_basis_html"]

#: the facts of a rule finding taken from its evidence
FACT_KEYS = ("rule_id", "rule_name", "category", "level", "obligation", "basis", "rule_version", "pack", "kb", "month",
             "hit_lines", "hit_claims", "patients", "deduct_amount", "fund_deduct_amount")
LINE_HEADERS_ZH = {"claim_id": "结算单号", "date": "日期", "item_code": "项目编码", "item_name": "项目名称", "quantity": "数量",
                   "unit_price": "单价(元)", "amount": "金额(元)", "deduct": "违规金额(元)"}
LINE_HEADERS = {"claim_id": "结算单号 claim", "date": "日期 date", "item_code": "编码 code", "item_name": "名称 name",
                "quantity": "数量 qty", "unit_price": "单价 price", "amount": "金额 amount", "deduct": "违规金额 deduct"}


def _clean(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and pd.isna(v)) else v


def rule_facts(findings: Sequence[dict[str, Any]], claims: pd.DataFrame, items: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """One fact per ``rule_violation`` finding (dicts as the dossier holds them, with ``provenance``):
    the rule's fields, 违规金额 and the listed item lines (``lines``, JSON-ready records)."""
    out = []
    for f in findings:
        if f["kind"] != "rule_violation":
            continue
        ev = f.get("evidence") or {}
        lines = hit_lines(ev, claims, items)
        out.append({"provenance": f["provenance"], "finding_id": f["id"], **{k: ev.get(k) for k in FACT_KEYS},
                    "lines": [{k: _clean(v) for k, v in r.items()} for r in lines.to_dict("records")]})
    return out


def rule_facts_html(facts: Sequence[dict[str, Any]], *, bilingual: bool) -> str:
    """What the data shows for each rule finding: the rule (id, name, category, level), its 违规金额
    and the listed item lines (empty string without rule findings)."""
    if not facts:
        return ""
    out = ["<h3>规则库命中明细 / Rule hits and item lines</h3>" if bilingual else "<h3>规则库命中明细</h3>"]
    for r in facts:
        listed, total = len(r["lines"]), r.get("hit_lines") or len(r["lines"])
        fund = r.get("fund_deduct_amount")
        month = str(r.get("month") or "")
        lines = pd.DataFrame(r["lines"])
        if not bilingual:  # Chinese papers: 2024年1月, 2024年1月5日
            month = f"{int(month[:4])}年{int(month[5:7])}月" if len(month) == 7 else month
            if len(lines):
                lines["date"] = lines["date"].map(zh_date)
        out.append(
            f"<p>[{esc(r['provenance'])}] 数据显示，{esc(month)}有{esc(r.get('hit_claims'))}笔结算、{esc(total)}条费用明细"
            f"命中规则{esc(r['rule_id'])}“{esc(r.get('rule_name'))}”（{esc(r.get('category'))}，判断等级：{esc(r.get('level'))}），"
            f"违规金额{float(r.get('deduct_amount') or 0):,.2f}元"
            + (f"（其中医保基金{float(fund):,.2f}元）" if fund is not None else "") + "。"
            + (f"下表列出违规金额最高的{listed}条，完整明细见费用明细附件。" if listed < int(total) else "明细如下。")
            + (" / Rule hit: the lines below." if bilingual else "") + "</p>")
        out.append(table_html(lines, LINE_HEADERS if bilingual else LINE_HEADERS_ZH, zh=not bilingual,
                              nowrap=("claim_id", "date", "item_code")))
    return "".join(out)


def rule_basis_html(legal: dict[str, Any], *, bilingual: bool) -> str:
    """处理意见及依据 of the rule findings: each rule's basis (from the rule pack), the handling its
    判断等级 obliges and the articles behind it (from the legal-basis table), and 违规金额 per level."""
    rows = legal.get("rules") or []
    if not rows:
        return ""
    en = (lambda s: f" / {s}") if bilingual else (lambda s: "")
    body = []
    for r in rows:
        backs = [f"条例{esc(a['no'])}" for a in r["handling_articles"]] + [esc(b) for b in r["handling_basis"]]
        body.append(f"<tr><td class='nowrap'>[{esc(r['provenance'])}] {esc(r['rule_id'])}</td><td>{esc(r.get('rule_name'))}"
                    f"（{esc(r.get('category'))}）</td><td>{esc(r.get('basis'))}</td>"
                    f"<td class='nowrap'>{esc(r['level'])}</td><td>{esc(r['handling'])}"
                    + (f"（依据：{'；'.join(backs)}）" if backs else "") + "</td>"
                    f"<td class='num'>{float(r.get('deduct_amount') or 0):,.2f}</td></tr>")
    tot = legal.get("rule_totals") or {}
    sums = []
    if tot.get("违规"):
        sums.append(f"违规级规则违规金额合计{tot['违规']:,.2f}元，建议按规则扣款（已结算的追回）{en('violation: deduct / recover')}")
    if tot.get("可疑"):
        sums.append(f"可疑级规则涉及金额合计{tot['可疑']:,.2f}元，须核查后认定，核实前不予扣款{en('suspicious: review first')}")
    return (f"<h3>规则库命中的依据及处理{en('Rule basis and handling')}</h3>"
            f"<table><thead><tr><th style='width:7em'>规则{en('rule')}</th><th>名称{en('name')}</th><th>规则依据{en('basis')}</th>"
            f"<th style='width:3em'>判断等级{en('level')}</th><th>处理{en('handling')}</th><th style='width:6em'>违规金额(元)</th></tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
            + (f"<p>{'；'.join(sums)}。</p>" if sums else "")
            + "<p class='meta'>规则扣款属于医保结算审核（拒付、追回），与前述罚款幅度相互独立；是否另行处罚由审核人依据调查认定的事实决定。"
            + f"{en('deduction by the rule is a settlement action, apart from any penalty')}</p>")
