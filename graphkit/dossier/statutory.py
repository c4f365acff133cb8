"""The statutory transfer packages, filled from the case — Chinese only, drafts until signed off.

* Police (医保发〔2021〕49号 and its annexes; 《行政执法机关移送涉嫌犯罪案件的规定》): 涉嫌犯罪案件移送书,
  案件调查报告, 涉案物品清单, 证据目录, 移送案件回执, and the evidence files in Chinese.
* Discipline inspection (纪检监察): 问题线索移送函, 涉及人员附表 and the evidence files in Chinese.

Wording keeps what the data shows (数据显示…, 疑似…) apart from what an investigation establishes:
the papers leave the investigation's steps and findings for the case officer to write and never
state that a threshold was reached. Each page carries the 草稿 mark and the reviewer's name until a
sign-off covers the case (see :mod:`graphkit.dossier.signoff`). Blanks an officer fills by hand
(文号, seal, signatures) are underlined spaces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..outputs import write_csv
from .render import esc, page, table_html
from .review import proposal_html, review_banner, zh_text
from .rule_facts import rule_facts_html
from .zh import CLAIM_TYPE_ZH, PROVIDER_TYPE_ZH, cell, role_zh, yuan_zh, zh_date, zh_datetime

__all__ = ["police_package", "discipline_package", "evidence_csvs", "review_sheet"]

BLANK = "<u>&emsp;&emsp;&emsp;&emsp;</u>"
LINES = "<p>" + "<br>".join(["&emsp;" * 30] * 4) + "</p>"
ITEM_CATEGORY_ZH = {"drug": "药品", "exam": "检查", "treatment": "治疗", "material": "医用耗材", "bed": "床位", "non_medical": "非医疗项目"}
CLAIMS_FILE = "证据材料/01_医保结算单据.csv"  # the claims evidence file of each package; facts cite it
PARTY_COLS = {"类别": "类别", "编号": "编号", "名称": "姓名/名称", "角色": "角色", "说明": "说明"}


def _page(c: Any, title: str, body: str) -> str:
    return page(title, body, banner=review_banner(c), draft=c.draft)


def _title(c: Any) -> str:
    return zh_text(c.case["title"])


def _cid(c: Any) -> str:
    """The case id, never broken across lines (a break inside it reads as two words)."""
    return f"<span class='nowrap'>{esc(c.case['id'])}</span>"


def _finding_ids(c: Any) -> str:
    """``团伙骗保/结伴就医线索 ce9836e6caf779e3`` (the finding id without its English kind code)."""
    return "、".join(f"{esc(f['kind_zh'])}线索{esc(f['id'].split(':', 1)[-1])}" for f in c.findings)


def _kinds(c: Any) -> str:
    return "、".join(dict.fromkeys(f["kind_zh"] for f in c.findings))


def _parties_text(c: Any) -> str:
    p = c.parties
    if p.empty:
        return "被反映人待查明"
    names = [f"{esc(r['类别'])}{esc(r['名称']) or esc(r['编号'])}（{esc(r['编号'])}）" for _, r in p.head(6).iterrows()]
    more = f"等{len(p)}个主体" if len(p) > 6 else ""
    return "、".join(names) + more


def _short_id(f: dict[str, Any]) -> str:
    return str(f["id"]).split(":", 1)[-1]


def _data_facts(c: Any) -> str:
    """What the data shows, in one paragraph (Chinese halves of the summaries, dates in Chinese),
    each finding followed by its source: the lead's number and its claims in the evidence file
    (``证据材料/01_医保结算单据.csv``, column 线索编号)."""
    t = c.totals
    findings = "；".join(f"{esc(zh_text(f['summary']))}（来源：线索{esc(_short_id(f))}，结算{len(f['claims'])}笔，"
                        f"见{CLAIMS_FILE}中线索编号为{esc(_short_id(f))}的记录）" for f in c.findings)
    return (f"经医保基金监管数据分析，数据显示{_parties_text(c)}在{zh_date(t['period'][0])}至{zh_date(t['period'][1])}期间"
            f"存在疑似{esc(_kinds(c))}问题：{findings}。上述数据涉及医保结算{t['claims']}笔、参保人{t['patients']}名，"
            f"医保基金支付{yuan_zh(t['fund_amount'])}（医疗总费用{t['total_amount']:,.2f}元）。以上为数据统计结果，须经调查核实。")


def evidence_csvs(c: Any, folder: Path) -> list[dict[str, str]]:
    """Write the recipient's evidence files (Chinese headers and values, Chinese dates) into
    ``folder``; return their catalogue rows (序号, 名称, 文件, 证明内容) without hashes."""
    folder.mkdir(parents=True, exist_ok=True)
    cl = c.claims
    lead = {f["provenance"]: _short_id(f) for f in c.findings}  # [P1] → the lead's number the papers cite
    names = c.by_entity.set_index("provider_id")["name"].to_dict() if len(c.by_entity) else {}
    claims = pd.DataFrame({
        "结算单号": cl["claim_id"], "结算时间": cl["start_time"].map(zh_datetime), "出院/结束时间": cl["end_time"].map(zh_datetime),
        "参保人": cl["patient_id"].map(cell), "医保卡": cl["card_id"].map(cell), "结算类型": cl["claim_type"].map(lambda x: CLAIM_TYPE_ZH.get(cell(x), cell(x))),
        "机构类别": cl["provider_type"].map(lambda x: PROVIDER_TYPE_ZH.get(x, x)), "机构编号": cl["provider_id"].map(cell),
        "机构名称": cl["provider_id"].map(lambda x: cell(names.get(x))), "医师": cl["doctor_id"].map(cell),
        "诊断编码": cl["diagnosis_code"].map(cell), "医保基金支付(元)": cl["fund_amount"].round(2), "医疗总费用(元)": cl["total_amount"].round(2),
        "线索编号": cl["provenance"].map(lambda refs: "、".join(lead.get(r, "案件添加") for r in str(refs).split(","))),
    })
    it = c.items
    items = pd.DataFrame({
        "结算单号": it.get("claim_id", pd.Series(dtype=str)).map(cell), "项目编码": it.get("item_code", pd.Series(dtype=str)).map(cell),
        "项目名称": it.get("item_name", pd.Series(dtype=str)).map(cell),
        "项目类别": it.get("category", pd.Series(dtype=str)).map(lambda x: ITEM_CATEGORY_ZH.get(cell(x), cell(x))),
        "数量": it.get("quantity", pd.Series(dtype=float)), "单价(元)": it.get("unit_price", pd.Series(dtype=float)),
        "金额(元)": it.get("amount", pd.Series(dtype=float)),
        "发生时间": it.get("item_time", pd.Series(dtype="datetime64[ns]")).map(zh_datetime),
    })
    tl = c.timeline
    timeline = pd.DataFrame({"时间": tl["start_time"].map(zh_datetime), "参保人": tl["patient_id"].map(cell), "医保卡": tl["card_id"].map(cell),
                             "结算类型": tl["claim_type"].map(lambda x: CLAIM_TYPE_ZH.get(cell(x), cell(x))), "机构编号": tl["provider_id"].map(cell),
                             "医保基金支付(元)": tl["fund_amount"].round(2), "结算单号": tl["claim_id"]})
    files = [
        ("医保结算单据", CLAIMS_FILE.split("/")[1], claims, "结算时间、机构、金额、医保凭证（数据统计，待核实）"),
        ("费用明细", "02_费用明细.csv", items, "收费项目与金额"),
        ("涉案主体", "03_涉案主体.csv", c.parties, "被反映人（依线索类型确定）"),
        ("涉及人员及其角色", "04_涉及人员.csv", c.persons, "其他涉及人员及其在数据中的角色"),
        ("时间线", "05_时间线.csv", timeline, "就医、购药的时间顺序"),
    ]
    out = []
    for i, (name, fn, df, proves) in enumerate(files, 1):
        write_csv(df.fillna(""), folder / fn)
        out.append({"no": str(i), "name": name, "file": f"{folder.name}/{fn}", "proves": proves})
    return out


def review_sheet(c: Any) -> str:
    """审核单 (internal, Chinese): reviewer, 待核实事项, sign-off record or blanks."""
    rows = pd.DataFrame([{"序号": i, **v} for i, v in enumerate(c.verify, 1)])
    s = c.signoff
    if s:
        rec = (f"<p>审核人：{esc(s['reviewer'])}　审核日期：{zh_date(s['date'])}　审核意见："
               f"{'同意' if s['decision'] == 'approve' else '退回补充调查'}　认定层级：{esc(s['level'])}</p>"
               + (f"<p>审核说明：{esc(s['note'])}</p>" if s.get("note") else ""))
    else:
        rec = f"<p>审核人：{esc(c.reviewer) or BLANK}　审核日期：{BLANK}　审核意见：□同意　□退回补充调查　认定层级：□违规　□骗取</p>"
    return _page(c, "审核单", f"""
<h1>案件材料审核单</h1>
<p>案件：{esc(_title(c))}（{_cid(c)}）　承办人：{esc(c.case.get('assignee', '')) or BLANK}</p>
<h2>一、待核实事项</h2>
<p>本案材料由医保基金监管数据分析生成。下列事项须由承办人核实、审核人确认后，方可签发移送材料：</p>
{table_html(rows, {'序号': '序号', '事项': '事项', '来源': '来源'}, zh=True, nowrap=('序号',))}
<h2>二、审核记录</h2>{rec}
<p class='meta'>审核记录同时登记于案件处理记录和审计日志{'；未经审核同意，各项材料保留“草稿”标记' if c.draft else ''}。</p>""")


def police_package(c: Any, evidence_files: list[dict[str, str]]) -> dict[str, str]:
    """File name → HTML for the police transfer package."""
    org = c.rulebook.org
    day = zh_date(c.found_on)
    t = c.totals
    signed = not c.draft and c.signoff and c.signoff.get("level") == "骗取"
    docs: dict[str, str] = {}
    if signed:
        lead = (f"经我局调查核实（见《案件调查报告》），{_parties_text(c)}涉嫌以{esc(_kinds(c))}等方式骗取医疗保障基金。"
                f"数据统计涉及医保基金支付{yuan_zh(t['fund_amount'])}，具体金额以调查认定为准。")
    else:
        lead = _data_facts(c)
    docs["01_涉嫌犯罪案件移送书.html"] = _page(c, "涉嫌犯罪案件移送书", f"""
<h1>{esc(org['bureau'])}<br>涉嫌犯罪案件移送书</h1>
<p style='text-align:right'>{esc(org['bureau'])[:2]}医保移〔{c.found_on[:4]}〕{BLANK}号</p>
<p>{esc(org['police'])}：</p>
<p>{lead}</p>
<p>上述行为涉嫌骗取医疗保障基金，是否涉嫌犯罪、是否达到刑事追诉标准，由你局依法审查。根据{esc(c.rulebook.data['general']['transfer_basis'])}的规定，现将该案移送你局。</p>
<p>附件：1. 案件调查报告；2. 涉案物品清单；3. 证据目录及电子证据；4. 其他有关涉嫌犯罪的材料。</p>
<p class='sign'>{esc(org['bureau'])}（印章）<br>{day}</p>
<p class='meta'>抄送：同级人民检察院。案件编号：{_cid(c)}</p>""")
    docs["02_案件调查报告.html"] = _page(c, "案件调查报告", f"""
<h1>案件调查报告</h1>
<p>案件：{esc(_title(c))}（{_cid(c)}）</p>
<h2>一、案件来源</h2><p>{esc(org['bureau'])}医保基金监管数据分析发现的线索，线索编号：{_finding_ids(c)}；数据快照校验值：{esc(c.data_fingerprint[:16])}…。</p>
<h2>二、调查经过</h2><p>（由承办人据实填写：调查时间、方式，调取的处方、病历、票据等原始材料，询问、核查情况。）</p>{LINES}
<h2>三、数据显示的问题</h2><p>{_data_facts(c)}</p>{rule_facts_html(c.rules, bilingual=False)}
<h2>四、调查认定的事实</h2><p>（由承办人依据调查取得的证据填写；未经调查核实的数据分析结果不得写入本部分。）</p>{LINES}
<h2>五、涉案主体</h2>{table_html(c.parties, PARTY_COLS, zh=True, nowrap=('编号',)) if len(c.parties) else "<p>数据未能确定被反映人，须调查查明。</p>"}
<h2>六、证据</h2><p>见《证据目录》，共{len(evidence_files)}项电子证据，每项附SHA-256校验值。</p>
<h2>七、处理意见（建议）</h2>{proposal_html(c)}
<p class='sign'>承办人：{BLANK}　审核人：{esc(c.reviewer) or BLANK}<br>{day}</p>
<h3>附表：涉及人员及其角色</h3>{table_html(c.persons, PARTY_COLS, zh=True, nowrap=('编号',), limit=200)}""")
    items = c.claims.assign(时间=c.claims["start_time"].map(zh_datetime),
                            类型=c.claims["claim_type"].map(lambda x: CLAIM_TYPE_ZH.get(cell(x), cell(x))))
    docs["03_涉案物品清单.html"] = _page(c, "涉案物品清单", f"""
<h1>涉案物品清单</h1>
<p>案件：{esc(_title(c))}（{_cid(c)}）</p>
<table><thead><tr><th>序号</th><th>名称</th><th>数量</th><th>说明</th></tr></thead><tbody>
<tr><td>1</td><td>医保结算单据（电子数据）</td><td class='nowrap'>{len(c.claims)}笔</td><td>{esc(evidence_files[0]['file'])}</td></tr>
<tr><td>2</td><td>费用明细（电子数据）</td><td class='nowrap'>{len(c.items)}条</td><td>{esc(evidence_files[1]['file'])}</td></tr>
<tr><td>3</td><td>涉案医保凭证</td><td class='nowrap'>{c.claims['card_id'].nunique()}张</td><td>卡号见结算单据</td></tr>
<tr><td>4</td><td>涉案主体及涉及人员清单</td><td class='nowrap'>{len(c.parties) + len(c.persons)}个</td><td>{esc(evidence_files[2]['file'])}、{esc(evidence_files[3]['file'])}</td></tr></tbody></table>
<h3>结算单据摘要（前100笔）</h3>{table_html(items, {'claim_id': '结算单号', '时间': '时间', '类型': '类型', 'patient_id': '参保人', 'card_id': '医保卡', 'provider_id': '机构/药店', 'fund_amount': '基金支付(元)'}, limit=100, zh=True, nowrap=('claim_id', '时间'))}
<p class='sign'>移交人：{BLANK}　接收人：{BLANK}<br>{day}</p>""")
    ev = pd.DataFrame(evidence_files)
    docs["04_证据目录.html"] = _page(c, "证据目录", f"""
<h1>证据目录</h1><p>案件：{esc(_title(c))}（{_cid(c)}）　数据快照校验值：{esc(c.data_fingerprint[:16])}…</p>
{table_html(ev, {'no': '序号', 'name': '证据名称', 'file': '文件', 'proves': '证明内容', 'sha256': 'SHA-256校验值'}, zh=True, nowrap=('no',), code=('sha256',))}
<p class='meta'>电子数据为医保结算系统数据的统计摘录，证明内容须经调查核实。</p>""")
    docs["05_移送案件回执.html"] = _page(c, "移送案件回执", f"""
<h1>移送案件回执</h1>
<p>{esc(org['bureau'])}：</p>
<p>你单位于{BLANK}年{BLANK}月{BLANK}日移送的{esc(_title(c))}（案件编号：{_cid(c)}，数据统计医保基金支付{yuan_zh(t['fund_amount'])}）及相关材料已收到。</p>
<p>材料：涉嫌犯罪案件移送书、案件调查报告、涉案物品清单、证据目录及电子证据（附SHA-256校验值）。</p>
<p class='sign'>{esc(org['police'])}（印章）<br>接收人：{BLANK}　{BLANK}年{BLANK}月{BLANK}日</p>""")
    return docs


def discipline_package(c: Any, evidence_files: list[dict[str, str]]) -> dict[str, str]:
    """File name → HTML for the problem-clue transfer to discipline inspection."""
    org = c.rulebook.org
    ids = set(c.handling.get("public_staff", []))
    staff = c.entities[c.entities["id"].isin(ids) & (c.entities["type"] == "doctor")]
    staff = pd.DataFrame({"编号": staff["id"], "姓名": staff["name"].map(cell), "单位/科室/职称": staff["detail"].map(cell),
                          "角色": staff["roles"].map(role_zh)})
    docs = {
        "01_问题线索移送函.html": _page(c, "问题线索移送函", f"""
<h1>关于移送{esc(_title(c))}有关问题线索的函</h1>
<p>{esc(org['discipline'])}：</p>
<p>我局在医保基金监管数据分析中发现，以下公立医疗机构人员可能涉及下述问题。是否属于监察对象、是否涉嫌违纪或者职务违法，尚待核实。按照有关规定，现将问题线索移送你委（局）处理。</p>
<h2>一、线索来源</h2><p>医保基金监管数据分析，线索编号：{_finding_ids(c)}。</p>
<h2>二、涉及的公立医疗机构人员</h2>{table_html(staff, {c_: c_ for c_ in staff.columns}, zh=True, nowrap=('编号',))}
<h2>三、数据显示的问题</h2><p>{_data_facts(c)}</p>{rule_facts_html(c.rules, bilingual=False)}
<h2>四、涉案主体</h2>{table_html(c.parties, PARTY_COLS, zh=True, nowrap=('编号',)) if len(c.parties) else "<p>数据未能确定被反映人，须调查查明。</p>"}
<h2>五、附件</h2><p>1. 涉及人员及其角色附表；2. 证据目录及电子证据（共{len(evidence_files)}项，附SHA-256校验值）。</p>
<p class='sign'>{esc(org['bureau'])}（印章）<br>{zh_date(c.found_on)}</p>
<p class='meta'>本函及附件涉及个人信息，请按保密规定管理。</p>"""),
        "02_涉及人员附表.html": _page(c, "涉及人员附表", f"""
<h1>涉及人员及其角色附表</h1>
<p>案件：{esc(_title(c))}（{_cid(c)}）。下列人员在数据中与线索相关，列明其角色，不表明其为被反映人。</p>
{table_html(c.persons, PARTY_COLS, zh=True, nowrap=('编号',))}"""),
        "03_证据目录.html": _page(c, "证据目录", f"""
<h1>证据目录</h1><p>案件：{esc(_title(c))}（{_cid(c)}）</p>
{table_html(pd.DataFrame(evidence_files), {'no': '序号', 'name': '证据名称', 'file': '文件', 'proves': '证明内容', 'sha256': 'SHA-256校验值'}, zh=True, nowrap=('no',), code=('sha256',))}"""),
    }
    return docs
