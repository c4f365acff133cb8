"""The statutory transfer packages, filled from the case.

* Police (医保发〔2021〕49号; 《行政执法机关移送涉嫌犯罪案件的规定》): 涉嫌犯罪案件移送书,
  案件调查报告, 涉案物品清单, 证据目录, 移送案件回执.
* Discipline inspection (纪检监察): 问题线索移送函 with its attachments list.

Each document is an HTML page (and a PDF when Chromium is available); blanks an officer
fills by hand (文号, seal, signatures) are left as underlined spaces.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .render import esc, page, table_html

__all__ = ["police_package", "discipline_package"]

BLANK = "<u>&emsp;&emsp;&emsp;&emsp;</u>"


def _subjects(c: Any) -> str:
    ents = c.entities
    parts = []
    for t, zh in (("institution", "定点医疗机构"), ("pharmacy", "定点零售药店"), ("doctor", "医师"), ("patient", "参保人")):
        sub = ents[ents["type"] == t]
        if len(sub):
            names = "、".join(f"{esc(n) or esc(i)}（{esc(i)}）" if n else esc(i) for i, n in zip(sub["id"], sub["name"]))
            parts.append(f"{zh}{names}")
    return "；".join(parts)


def _facts(c: Any) -> str:
    t = c.totals
    kinds = "、".join(dict.fromkeys(f["kind_zh"] for f in c.findings))
    return (
        f"经查，{_subjects(c)}，于{t['period'][0]}至{t['period'][1]}期间，存在{kinds}等问题，"
        f"涉及医保结算{t['claims']}笔、参保人{t['patients']}名，造成医保基金损失{t['fund_amount']:,.2f}元"
        f"（医疗总费用{t['total_amount']:,.2f}元）。"
    )


def police_package(c: Any, evidence_files: list[dict[str, str]]) -> dict[str, str]:
    """File name → HTML for the police transfer package."""
    org = c.rulebook.org
    g = c.rulebook.data["general"]
    today = c.found_on
    docs: dict[str, str] = {}
    docs["01_涉嫌犯罪案件移送书.html"] = page("涉嫌犯罪案件移送书", f"""
<h1>{esc(org['bureau'])}<br>涉嫌犯罪案件移送书</h1>
<p style='text-align:right'>{esc(org['bureau'])[:2]}医保移〔{today[:4]}〕{BLANK}号</p>
<p>{esc(org['police'])}：</p>
<p>{_facts(c)}</p>
<p>上述行为涉嫌骗取医疗保障基金，涉案金额已达到刑事追诉标准。根据{esc(g['transfer_basis'])}的规定，现将该案移送你局审查。</p>
<p>附件：1. 案件调查报告；2. 涉案物品清单；3. 证据目录及电子证据；4. 其他有关涉嫌犯罪的材料。</p>
<p class='sign'>{esc(org['bureau'])}（印章）<br>{today}</p>
<p class='meta'>抄送：同级人民检察院。案件编号 / case {esc(c.case['id'])}</p>""")
    h = c.handling
    docs["02_案件调查报告.html"] = page("案件调查报告", f"""
<h1>案件调查报告</h1>
<h2>一、案件来源</h2><p>{esc(org['bureau'])}基金监管数据分析（graphkit）发现，线索编号：{'、'.join(esc(f['id']) for f in c.findings)}。数据快照：{esc(c.data_fingerprint)}。</p>
<h2>二、调查经过</h2><p>调取定点医药机构医保结算数据及费用明细，核对参保人身份、就医时间与地点、医保凭证使用记录，形成证据目录所列材料。</p>
<h2>三、违法事实</h2><p>{_facts(c)}</p>
{''.join(f"<p>{esc(f['summary'])}</p>" for f in c.findings)}
<h2>四、证据</h2><p>见《证据目录》，共{len(evidence_files)}项电子证据，每项附SHA-256校验值。</p>
<h2>五、处理意见</h2><p>责令退回医保基金{h['recover']:,.2f}元，处{h['penalty_multiple']}倍罚款{h['penalty_amount']:,.2f}元；涉嫌犯罪部分移送公安机关。依据：{esc('；'.join(h['basis']))}。</p>
<p class='sign'>承办人：{BLANK}　审核人：{BLANK}<br>{today}</p>""")
    items = c.claims[["claim_id", "start_time", "patient_id", "card_id", "provider_id", "fund_amount", "total_amount"]]
    docs["03_涉案物品清单.html"] = page("涉案物品清单", f"""
<h1>涉案物品清单</h1>
<p>案件：{esc(c.case['title'])}（{esc(c.case['id'])}）</p>
<table><tr><th>序号</th><th>名称</th><th>数量</th><th>说明</th></tr>
<tr><td>1</td><td>医保结算单据（电子数据）</td><td>{len(c.claims)}笔</td><td>evidence/claims.csv</td></tr>
<tr><td>2</td><td>费用明细（电子数据）</td><td>{len(c.items)}条</td><td>evidence/items.csv</td></tr>
<tr><td>3</td><td>涉案医保凭证</td><td>{c.claims['card_id'].nunique()}张</td><td>卡号见结算单据</td></tr>
<tr><td>4</td><td>涉案主体清单</td><td>{len(c.entities)}个</td><td>evidence/entities.csv</td></tr></table>
<h3>结算单据摘要（前100笔）</h3>{table_html(items, {'claim_id': '结算单号', 'start_time': '时间', 'patient_id': '参保人', 'card_id': '医保卡', 'provider_id': '机构/药店', 'fund_amount': '基金支付', 'total_amount': '总费用'}, limit=100)}
<p class='sign'>移交人：{BLANK}　接收人：{BLANK}<br>{today}</p>""")
    ev = pd.DataFrame(evidence_files)
    docs["04_证据目录.html"] = page("证据目录", f"""
<h1>证据目录</h1><p>案件：{esc(c.case['title'])}（{esc(c.case['id'])}）　数据快照 {esc(c.data_fingerprint[:16])}…</p>
{table_html(ev, {'no': '序号', 'name': '证据名称', 'file': '文件', 'sha256': 'SHA-256', 'proves': '证明内容'})}""")
    docs["05_移送案件回执.html"] = page("移送案件回执", f"""
<h1>移送案件回执</h1>
<p>{esc(org['bureau'])}：</p>
<p>你单位于{BLANK}年{BLANK}月{BLANK}日移送的{esc(c.case['title'])}（案件编号 {esc(c.case['id'])}，涉案金额{c.totals['fund_amount']:,.2f}元）及相关材料已收到。</p>
<p>材料：涉嫌犯罪案件移送书、案件调查报告、涉案物品清单、证据目录及电子证据（manifest SHA-256 校验）。</p>
<p class='sign'>{esc(org['police'])}（印章）<br>接收人：{BLANK}　{BLANK}年{BLANK}月{BLANK}日</p>""")
    return docs


def discipline_package(c: Any, evidence_files: list[dict[str, str]]) -> dict[str, str]:
    """File name → HTML for the problem-clue transfer to discipline inspection."""
    org = c.rulebook.org
    staff = c.entities[c.entities["id"].isin(c.handling.get("public_staff", []))]
    docs = {
        "01_问题线索移送函.html": page("问题线索移送函", f"""
<h1>关于移送{esc(c.case['title'])}问题线索的函</h1>
<p>{esc(org['discipline'])}：</p>
<p>我局在医保基金监管中发现，以下公立医疗机构工作人员涉嫌参与骗取医疗保障基金的问题线索，按照有关规定，现移送你委处理。</p>
<h2>一、线索来源</h2><p>医保基金监管数据分析（graphkit），线索编号：{'、'.join(esc(f['id']) for f in c.findings)}。</p>
<h2>二、涉及人员</h2>{table_html(staff, {'id': '编号', 'name': '姓名', 'detail': '单位/科室/职称', 'roles': '角色'})}
<h2>三、主要问题</h2><p>{_facts(c)}</p>
<h2>四、附件</h2><p>1. 案件调查材料；2. 证据目录（共{len(evidence_files)}项，附SHA-256校验值）。</p>
<p class='sign'>{esc(org['bureau'])}（印章）<br>{c.found_on}</p>
<p class='meta'>本函及附件涉及个人信息，请按保密规定管理。</p>"""),
    }
    return docs
