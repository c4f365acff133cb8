"""Case dossier drafts: 发现过程, 违法违规事实, 涉案主体, 处理意见及依据 (HTML + Markdown).

The proposed handling comes from a configurable rulebook (:data:`DEFAULT_RULEBOOK`):
penalty multiple by amount tier, routing to the police (公安) for suspected crimes, to
discipline inspection (纪检监察) when a public institution's staff are involved, and the
upward report (cases over 50,000 yuan) with its deadline in working days.

Examples
--------
>>> handling(60000.0, public_staff=True, found_on="2024-07-05")["report_deadline"]
'2024-07-09'
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .findings import KINDS, Finding
from .evidence import TYPE_ZH

__all__ = ["DEFAULT_RULEBOOK", "handling", "draft_dossier"]

DEFAULT_RULEBOOK: dict[str, Any] = {
    "basis": "《医疗保障基金使用监督管理条例》第四十条、第四十一条；医保发〔2021〕49号",
    # fund amount tiers (yuan, upper bounds) -> penalty multiple of the amount obtained
    "penalty_tiers": [[10000, 2], [50000, 3], [100000, 4], [None, 5]],
    "police_threshold": 5000.0,  # suspected fraud at or above this amount → 公安 (数额较大, set per province)
    "report_threshold": 50000.0,  # over this → report to the provincial bureau
    "report_working_days": 2,
    "holidays": [],
}


def handling(amount: float, *, public_staff: bool, found_on: str, rulebook: dict[str, Any] | None = None) -> dict[str, Any]:
    """The proposed handling for ``amount`` yuan under ``rulebook``."""
    rb = {**DEFAULT_RULEBOOK, **(rulebook or {})}
    multiple = next(m for upper, m in rb["penalty_tiers"] if upper is None or amount <= upper)
    routes = []
    if amount >= rb["police_threshold"]:
        routes.append(("公安机关", "police", "涉嫌诈骗医保基金犯罪，按医保发〔2021〕49号移送"))
    if public_staff:
        routes.append(("纪检监察机关", "discipline inspection", "涉及公立医疗机构工作人员，移送问题线索"))
    out: dict[str, Any] = {
        "recover": round(amount, 2),
        "penalty_multiple": multiple,
        "penalty_amount": round(amount * multiple, 2),
        "routes": routes,
        "report_upward": amount > rb["report_threshold"],
        "basis": rb["basis"],
    }
    if out["report_upward"]:
        d = np.busday_offset(np.datetime64(found_on[:10]), rb["report_working_days"], roll="forward",
                             holidays=[np.datetime64(h) for h in rb["holidays"]])
        out["report_deadline"] = str(d)
    return out


def _cell(v: Any) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M")
    return str(v)


def _table_md(df: pd.DataFrame) -> str:
    if df.empty:
        return "(无 / none)\n"
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def draft_dossier(
    store: Any,
    finding: Finding,
    out_dir: str | Path,
    *,
    parameters: dict[str, Any] | None = None,
    rulebook: dict[str, Any] | None = None,
    found_on: str | None = None,
) -> dict[str, Path]:
    """Write ``dossier-<id>.md`` and ``.html`` for one finding; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    found_on = found_on or pd.Timestamp.now().strftime("%Y-%m-%d")
    claims = store.claims_by_id(
        finding.claims,
        ["patient_id", "card_id", "claim_type", "institution_id", "pharmacy_id", "doctor_id", "start_time", "fund_amount", "total_amount"],
    ).sort_values("start_time")
    inst = store.table("institutions", ["institution_id", "name", "ownership"])
    venue_insts = set(claims["institution_id"].dropna()) | set(finding.entity_ids("institution"))
    public = inst[inst["institution_id"].isin(venue_insts) & (inst["ownership"] == "public")]
    staff_involved = bool(len(public)) and bool(finding.entity_ids("doctor"))
    h = handling(finding.amount_at_risk, public_staff=staff_involved, found_on=found_on, rulebook=rulebook)
    zh, en = KINDS[finding.kind]
    claims = claims.assign(provider=claims["institution_id"].fillna(claims["pharmacy_id"]))
    by_month = (
        claims.assign(month=claims["start_time"].dt.strftime("%Y-%m"))
        .groupby("month")["fund_amount"].agg(["count", "sum"]).reset_index()
        .rename(columns={"month": "月份/month", "count": "笔数/claims", "sum": "基金/fund"})
    )
    by_entity = (
        claims.groupby("provider")["fund_amount"].agg(["count", "sum"]).reset_index()
        .rename(columns={"provider": "机构或药店/provider", "count": "笔数/claims", "sum": "基金/fund"})
        .sort_values("基金/fund", ascending=False)
    )
    listing = claims[["claim_id", "start_time", "patient_id", "card_id", "claim_type", "provider", "doctor_id", "fund_amount"]].head(200)
    ents = pd.DataFrame(
        [{"类型/type": f"{TYPE_ZH[e.type]} {e.type}", "编号/id": e.id, "角色/role": e.role} for e in finding.entities]
    )
    fp = getattr(store, "fingerprint", "")
    md = [
        f"# 案件材料（草稿）/ Case dossier draft — {finding.id}",
        "",
        "## 案件概要 / Summary",
        f"- 类型 / kind: {zh} / {en} (`{finding.kind}`)",
        f"- 摘要 / summary: {finding.summary}",
        f"- 涉及基金 / fund amount at risk: {finding.amount_at_risk:,.2f} 元 ({len(finding.claims)} 笔结算 / claims)",
        f"- 期间 / period: {finding.period.get('start')} — {finding.period.get('end')}",
        f"- 风险评分 / score: {finding.score:.3f}",
        "",
        "## 发现过程 / How it was found",
        f"- 检测器 / detector: graphkit `{finding.kind}`; 参数 / parameters: `{json.dumps(parameters or {}, ensure_ascii=False)}`",
        f"- 数据快照 / data fingerprint: `{fp}`",
        f"- 生成日期 / date: {found_on}",
        "",
        "## 违法违规事实 / Facts",
        finding.summary,
        "",
        "### 按月份 / by month",
        _table_md(by_month),
        "### 按机构 / by provider",
        _table_md(by_entity),
        "### 结算明细（前200笔）/ claims (first 200)",
        _table_md(listing),
        "## 涉案主体 / Entities and roles",
        _table_md(ents),
        "## 处理意见及依据 / Proposed handling and basis",
        f"- 追回基金 / recover: {h['recover']:,.2f} 元",
        f"- 罚款 / penalty: {h['penalty_multiple']} 倍, {h['penalty_amount']:,.2f} 元",
    ]
    for zh_r, en_r, why in h["routes"]:
        md.append(f"- 移送 / refer to: {zh_r} / {en_r} — {why}")
    if h["report_upward"]:
        md.append(f"- 金额超过5万元，须于 {h['report_deadline']} 前（2个工作日内）报告省级医保部门 / "
                  f"over 50,000 yuan: report to the provincial bureau by {h['report_deadline']}")
    md.append(f"- 依据 / basis: {h['basis']}")
    md.append("")
    md.append("个人信息已假名化 / personal data pseudonymised.")
    text = "\n".join(md)
    stem = "dossier-" + finding.id.replace(":", "-")
    md_path = out / f"{stem}.md"
    md_path.write_text(text, "utf-8")
    html_path = out / f"{stem}.html"
    body = "".join(
        f"<h{l.count('#')}>{html.escape(l.lstrip('# '))}</h{l.count('#')}>" if l.startswith("#")
        else f"<pre>{html.escape(l)}</pre>" if l.startswith("|")
        else f"<p>{html.escape(l)}</p>"
        for l in text.split("\n") if l.strip()
    )
    html_path.write_text(
        f"<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>{html.escape(finding.id)}</title>"
        f"<style>body{{font-family:'Noto Sans CJK SC',sans-serif;max-width:60em;margin:2em auto}}pre{{margin:0}}</style>"
        f"<body>{body}</body></html>",
        "utf-8",
    )
    return {"markdown": md_path, "html": html_path}
