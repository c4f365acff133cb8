"""Draft discipline: who is a party, what a person must verify before signing, Chinese-only wording.

A dossier states what the data shows (数据显示…, 疑似…); facts established by investigation come
from people, and the paper leaves room for them rather than claiming them. This module derives

* the parties (被反映人 / 涉案主体) from the finding kind (:func:`split_parties`): the provider and
  its responsible people, a ring's organiser, a card's holder and users — everyone else involved
  (a ring's patients, …) goes to an annex of persons involved with their role;
* the 待核实事项 (:func:`verification_items`): each finding's source claims, legal explanations the
  data could not rule out (``partial`` / ``not_testable`` benign checks), what the data cannot show
  (the data profile's unmet needs of the detectors), the parties' responsible people, and the
  legal rows still marked 待核实.

Examples
--------
>>> zh_text("参保人PT1于2024-02-25死亡后仍发生7笔结算 / 7 settlements after PT1's death")
'参保人PT1于2024年2月25日死亡后仍发生7笔结算'
>>> zh_text("住院期间（02-05至02-21）于外地结算 / settled elsewhere")
'住院期间（2月5日至2月21日）于外地结算'
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import pandas as pd

from .zh import OUTCOME_ZH, PROVIDER_TYPE_ZH, TYPE_ZH, cell, role_zh, zh_date

__all__ = ["zh_text", "split_parties", "verification_items"]

_ISO = re.compile(r"(?<![A-Za-z0-9-])(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2})?)?(?![A-Za-z0-9-])")
_MD = re.compile(r"(?<![A-Za-z0-9-])(\d{2})-(\d{2})(?![A-Za-z0-9-])")


def zh_text(summary: Any) -> str:
    """The Chinese half of a bilingual ``中文 / English`` text, dates written 2026年12月5日."""
    s = cell(summary).split(" / ")[0].strip()
    s = _ISO.sub(lambda m: f"{int(m[1])}年{int(m[2])}月{int(m[3])}日", s)
    return _MD.sub(lambda m: f"{int(m[1])}月{int(m[2])}日", s)


def split_parties(entities: pd.DataFrame, by_provider: pd.DataFrame, kinds: Sequence[str], legal: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(parties, persons involved) for a case of ``kinds``.

    Parties follow the legal-basis table's ``parties`` of each kind: ``provider`` (every provider
    where the case's claims were settled) and ``role:<role>`` (entities the detector gave that role).
    The annex holds every other entity with its role. Both frames have the columns
    ``类别, 编号, 名称, 角色, 说明``.
    """
    cols = ["类别", "编号", "名称", "角色", "说明"]
    spec = [p for k in dict.fromkeys(kinds) for p in legal.parties(k)]
    roles = {p.split(":", 1)[1] for p in spec if p.startswith("role:")}
    party_rows: dict[tuple[str, str], dict[str, str]] = {}
    if "provider" in spec:
        for r in by_provider.itertuples(index=False):
            party_rows[(r.provider_type, r.provider_id)] = {
                "类别": PROVIDER_TYPE_ZH.get(r.provider_type, r.provider_type), "编号": cell(r.provider_id), "名称": cell(r.name),
                "角色": "结算机构", "说明": f"结算{int(r.claims)}笔，基金支付{r.fund:,.2f}元；法定代表人、主要负责人待核实"}
    annex = []
    for e in entities.itertuples(index=False):
        er = set(cell(e.roles).split(";")) - {""}
        row = {"类别": TYPE_ZH.get(e.type, e.type), "编号": cell(e.id), "名称": cell(e.name), "角色": role_zh(e.roles),
               "说明": cell(e.detail)}
        key = (e.type, e.id)
        if key in party_rows:
            continue
        if er & roles:
            party_rows[key] = row
        else:
            annex.append(row)
    return pd.DataFrame(list(party_rows.values()), columns=cols), pd.DataFrame(annex, columns=cols)


def verification_items(c: Any) -> list[dict[str, str]]:
    """What a person must verify before signing, each with where it comes from (``来源``)."""
    items: list[dict[str, str]] = []

    def add(what: str, src: str) -> None:
        items.append({"事项": what, "来源": src})

    for f in c.findings:
        n = len(f["claims"])
        add(f"线索[{f['provenance']}]（{f['kind_zh']}）涉及结算{n}笔：调取原始处方、病历、收费票据和医保凭证使用记录逐笔核对，"
            "确认服务是否真实发生、由谁接受、由谁结算", f"[{f['provenance']}] 结算单据")
        for b in (f.get("evidence") or {}).get("benign_checks", []):
            if b.get("outcome") in ("partial", "not_testable"):
                add(f"合法情形“{b.get('zh') or b['check']}”{OUTCOME_ZH[b['outcome']]}：须现场核实能否解释",
                    f"[{f['provenance']}] 合法情形核查")
    for r in c.legal.get("rules", []):  # rule findings: what the rule's level obliges before money moves
        what = ("须人工复核（初审、复审，机构说明或申诉）后方可认定并扣减" if r["level"] == "可疑" else
                "须核对命中明细与规则依据后扣款（已结算的追回）")
        add(f"规则{r['rule_id']}（{r['level']}）违规金额{float(r.get('deduct_amount') or 0):,.2f}元：{what}",
            f"[{r['provenance']}] 规则库")
        if not r.get("verified", True):
            add(f"规则判断等级“{r['level']}”处理依据的文件名称与文号待核实", "处理依据对照表")
    for need_zh in c.data_limits:
        add(f"数据局限：{need_zh}，相关检测结论的精度受限，须以原始记录核实", "数据概况")
    add("涉案金额为数据统计的医保基金支付额，损失金额、骗取金额须经调查认定", "金额口径")
    add("是否属于违规或骗取（含是否具有骗取故意）须经调查认定，认定前不得作为处罚依据", "认定层级")
    if len(c.parties):
        add("被反映人身份、定点医药机构法定代表人和主要负责人须核实", "涉案主体")
    else:
        add("数据未能确定被反映人，须调查查明", "涉案主体")
    if c.handling.get("public_staff"):
        add("涉及公立医疗机构人员：是否属于监察对象（从事管理的人员等）须核实", "纪检监察移送条件")
    if c.legal["crime"]:
        add(f"当地诈骗罪“数额较大”标准须核实（{c.legal['referrals']['police']['threshold_note']}）", "公安移送条件")
    for o in c.legal["options"]:
        for a in o["articles"]:
            if not a.get("verified", True):
                add(f"条例{a['no']}的条号与内容待核实", "处理依据对照表")
    for a in c.legal["duties"]:
        if not a.get("verified", True):
            add(f"条例{a['no']}的条号与内容待核实", "处理依据对照表")
    seen, out = set(), []
    for it in items:
        if it["事项"] not in seen:
            seen.add(it["事项"])
            out.append(it)
    return out


def review_banner(c: Any) -> str:
    """The line under every paper's title: draft for a named reviewer, or the sign-off."""
    s = c.signoff
    if s and s["decision"] == "approve":
        return f"已审核：审核人{s['reviewer']}，{zh_date(s['date'])}，审核意见：同意（认定层级：{s['level']}）"
    who = c.reviewer or "（未指定）"
    if s and s["decision"] == "return":
        return f"草稿：审核人{s['reviewer']}于{zh_date(s['date'])}退回补充调查，修改后须重新审核，未经签核不得对外使用"
    return f"草稿：供审核人{who}审核，未经签核不得对外使用"


def proposal_html(c: Any, *, bilingual: bool = False) -> str:
    """处理意见 (a proposal): the level, candidate articles with their penalty ranges, referrals with
    their conditions, and that the decision is the reviewer's. Each article's gist and each range is
    stated once: a later row that shares them refers to the row that states them."""
    from .render import esc
    from .rule_facts import rule_basis_html

    lg, h, t = c.legal, c.handling, c.totals
    en = (lambda s: f" / {s}") if bilingual else (lambda s: "")
    out = []
    if lg["level"] == "可疑":
        out.append(f"<p>认定层级：可疑（{esc(lg['level_meaning'])}）{en('level: suspected; nothing established yet')}。"
                   "在调查核实之前不提出罚款；调查认定后，可按下列情形之一处理：</p>")
    else:
        out.append(f"<p>认定层级：{esc(lg['level'])}（{esc(lg['level_meaning'])}；审核人{esc(c.signoff['reviewer'])}"
                   f"于{zh_date(c.signoff['date'])}签核）{en('level established by the reviewer')}。</p>")
    rows = []
    cited: dict[str, str] = {}  # article → the level whose row states its gist (each article's text once)
    ranges: dict[str, str] = {}  # range → the level whose row states it
    for o in lg["options"]:
        arts = []
        for a in o["articles"]:
            if a["no"] in cited:
                arts.append(f"条例{esc(a['no'])}（条文要旨见“{esc(cited[a['no']])}”情形）")
            else:
                cited[a["no"]] = o["level"]
                arts.append(f"条例{esc(a['no'])}：{esc(a['gist'])}")
        if o["multiple"]:
            lo, hi = o["multiple"]
            rng = (f"责令退回；处{esc(o['base'])}{lo}倍以上{hi}倍以下罚款，按本案数据统计金额{t['fund_amount']:,.2f}元计，"
                   f"为{o['amount'][0]:,.2f}元至{o['amount'][1]:,.2f}元")
        else:
            rng = "责令改正、退回；暂停联网结算等（见条文）"
        if rng in ranges:
            rng = f"同“{esc(ranges[rng])}”情形"
        else:
            ranges[rng] = o["level"]
        rows.append(f"<tr><td class='nowrap'>{esc(o['level'])}</td><td>{'；'.join(arts)}</td><td>{rng}</td></tr>")
    if rows:
        out.append(f"<table><thead><tr><th style='width:4em'>情形{en('level')}</th><th>可能适用的条款{en('articles')}</th>"
                   f"<th style='width:16em'>处理幅度{en('range')}</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
    out.append(rule_basis_html(lg, bilingual=bilingual))
    if lg["duties"]:
        out.append("<p>相关义务条款：" + "；".join(f"条例{esc(a['no'])}（{esc(a['gist'])}）" for a in lg["duties"]) + "。</p>")
    for n in lg["notes"]:
        out.append(f"<p class='meta'>说明：{esc(n)}</p>")
    out.append(f"<p><b>以上为建议幅度，适用条款、罚款倍数及是否移送，由审核人依据调查认定的事实决定。</b>{en('a proposal; the reviewer decides')}</p>")
    refs = []
    for r in h["routes"]:
        cond = lg["referrals"]["police" if r["to_en"] == "police" else "discipline"]
        refs.append(f"<li>{esc(r['to'])}：{esc(r['why'])}。移送条件：{esc(cond['condition'])}。"
                    + (f"{esc(cond['threshold_note'])}。" if cond.get("threshold_note") else "") + "</li>")
    if h.get("report_upward"):
        refs.append(f"<li>金额超过上报标准：须于{zh_date(h['report_deadline'])}前报告{esc(h['report_to'])}。</li>")
    out.append("<ul>" + ("".join(refs) or "<li>暂不涉及移送。</li>") + "</ul>")
    srcs = "；".join(esc(v) for v in lg["sources"].values())
    table = f"{esc(lg['table'])}，" if bilingual else ""
    out.append(f"<p class='meta'>依据来源：{srcs}。处理依据对照表（{table}{esc(lg['status'])}）。</p>")
    return "".join(out)
