"""Rule violations in the workbench and the dossier (#18 item 6): triage filters by rule and
判断等级, a violation lead shows its rule text and item lines, and the dossier cites the rule, its
basis, the item lines and the amount to deduct — on a small item_rules demo city."""

from __future__ import annotations

import html as htmlmod
import re

import pytest

from graphkit.dossier import LegalBasis, write_dossier
from graphkit.workbench import shaping


@pytest.fixture(scope="module")
def city(small_rule_city, tmp_path_factory):
    """(store folder, scan output folder) of the small item_rules city."""
    from graphkit.scan import scan, write_scan
    from graphkit.store import open_store

    out = tmp_path_factory.mktemp("rule_wb") / "out"
    with pytest.MonkeyPatch.context() as mp:  # module scope: the per-test audit fixture does not reach here
        mp.setenv("GRAPHKIT_AUDIT_LOG", str(out.parent / "audit.jsonl"))
        res = scan(open_store(small_rule_city / "s"), kinds=["rule_violation", "shared_card"])
        write_scan(res, out, check_out=False)
    return small_rule_city / "s", out


@pytest.fixture
def wb(city, tmp_path, monkeypatch):
    from graphkit.workbench.data import Workbench

    monkeypatch.setenv("GRAPHKIT_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    store, out = city
    return Workbench.open(store, out / "findings.json", user="tester", cases=tmp_path / "cases.sqlite")


def text(h: str) -> str:
    t = re.sub(r"<style.*?</style>", " ", h, flags=re.S)
    return re.sub(r"\s+", " ", htmlmod.unescape(re.sub(r"<[^>]+>", " ", t)))


def test_leads_carry_rule_and_level_and_the_filters_narrow_the_queue(wb):
    leads = wb.leads
    rv = leads[leads["kind"] == "rule_violation"]
    assert len(rv) > 10 and (leads["kind"] != "rule_violation").any()
    assert (rv["rule_id"] != "").all() and set(rv["rule_level"]) == {"可疑", "违规"}
    assert (leads.loc[leads["kind"] != "rule_violation", "rule_id"] == "").all()
    rid = rv["rule_id"].value_counts().index[0]
    only = shaping.filter_leads(leads, shaping.LeadFilter(rules=(rid,)))
    assert 0 < len(only) < len(rv) and set(only["rule_id"]) == {rid}
    sus = shaping.filter_leads(leads, shaping.LeadFilter(levels=("可疑",)))
    assert len(sus) == (rv["rule_level"] == "可疑").sum() and set(sus["kind"]) == {"rule_violation"}
    assert shaping.filter_leads(leads, shaping.LeadFilter(rules=(rid,), levels=("违规", "可疑"))).equals(only)
    label = shaping.lead_label(only.iloc[0].to_dict())
    assert f" {rid}·{only.iloc[0]['rule_level']} " in label


def test_one_view_filters_by_rule_and_level_and_shows_the_rule_and_its_lines(wb):
    from graphkit.workbench.oneview import WorkbenchView

    v = WorkbenchView(wb)
    assert v.rule.layout.display != "none" and v.level.layout.display != "none"
    assert v.level.options[1:] == (("可疑 suspicious", "可疑"), ("违规 violation", "违规"))
    every = len(v.leads_list.options)
    v.level.value = "违规"
    shown = [wb.finding(fid) for _, fid in v.leads_list.options]
    assert 0 < len(shown) < every and all(f.kind == "rule_violation" and f.evidence["level"] == "违规" for f in shown)
    assert all("·违规 " in lab for lab, _ in v.leads_list.options)
    rid = "BZ-001"
    assert rid in dict((val, lab) for lab, val in v.rule.options)
    assert "超标准收费" in dict((val, lab) for lab, val in v.rule.options)[rid]
    v.rule.value = rid
    ids = [fid for _, fid in v.leads_list.options]
    assert ids and all(wb.finding(fid).evidence["rule_id"] == rid for fid in ids)
    v.leads_list.value = ids[0]  # open it
    f = wb.finding(ids[0])
    assert v.lead == ids[0] and not v.errors
    t = text(v.rule_detail.value)
    ev = f.evidence
    for must in (rid, ev["rule_name"], ev["category"], "违规", "直接扣款", ev["basis"], "单价高于知识库中本级别机构的价格上限",
                 f"{ev['deduct_amount']:,.2f} 元"):
        assert must in t, must
    # every listed line: code, name, quantity, price, amount, date
    for line in ev["items"]:
        assert line["item_code"] in t and line["item_name"] in t and f"{line['unit_price']:,.2f}" in t
        assert f"{line['amount']:,.2f}" in t
    dates = re.findall(r"\d{4}-\d{2}-\d{2}", t)
    assert len(dates) >= len(ev["items"]) and all(d[:7] == ev["month"] for d in dates)
    # a lead of another kind shows no rule box; back to all levels shows every lead again
    v.rule.value, v.level.value = "", ""
    assert len(v.leads_list.options) == every
    other = next(fid for _, fid in v.leads_list.options if not fid.startswith("rule_violation"))
    v.leads_list.value = other
    assert v.rule_detail.value == "" and not v.errors


def test_triage_filters_by_level_and_hides_rule_filters_without_rule_leads(city, wb, tmp_path):
    from graphkit.workbench.data import Workbench
    from graphkit.workbench.widgets import LeadsQueue

    q = LeadsQueue(wb)
    total = len(q.rows)
    q.level.value = ("可疑",)
    assert 0 < len(q.rows) < total and set(q.rows["rule_level"]) == {"可疑"}
    q.open_lead(q.rows["id"].iloc[0])
    assert "判断等级" in q.opened.value and "人工复核" in text(q.opened.value)
    # findings without any rule violation: no rule or level filter shown
    from graphkit.findings import read_findings, write_findings

    store, out = city
    rep = read_findings(out / "findings.json")
    rep.findings = [f for f in rep.findings if f.kind != "rule_violation"]
    write_findings(tmp_path / "findings.json", rep)
    wb2 = Workbench.open(store, tmp_path / "findings.json", user="tester", cases=tmp_path / "c2.sqlite")
    q2 = LeadsQueue(wb2)
    assert q2.rule.layout.display == "none" and q2.level.layout.display == "none" and not q2.rule.options


def test_dossier_cites_rule_basis_lines_and_deduction(city, wb, tmp_path):
    fs = [f for f in wb.findings.values() if f.kind == "rule_violation"]
    viol = max((f for f in fs if f.evidence["level"] == "违规"), key=lambda f: f.evidence["deduct_amount"])
    sus = max((f for f in fs if f.evidence["level"] == "可疑"), key=lambda f: f.evidence["deduct_amount"])
    m = write_dossier(wb.store, [viol, sus], tmp_path / "d", pdf=False, found_on="2026-12-05", refer=["police"])
    out = tmp_path / "d"
    assert m["draft"] is True
    main = text((out / "dossier.html").read_text("utf-8"))
    facts, handling = main.split("三、数据显示的问题")[1].split("四、涉案主体")[0], main.split("五、处理意见")[1]
    for f, ref in ((viol, "P1"), (sus, "P2")):
        ev = f.evidence
        assert f"[{ref}] 数据显示" in facts and f"命中规则{ev['rule_id']}“{ev['rule_name']}”" in facts
        assert f"违规金额{ev['deduct_amount']:,.2f}元" in facts
        for line in ev["items"]:
            assert line["claim_id"] in facts and line["item_code"] in facts and f"{line['deduct']:,.2f}" in facts
        assert ev["basis"] in handling and f"{ev['deduct_amount']:,.2f}" in handling
    lb = LegalBasis.load()
    assert lb.rule_level("违规")["handling"].startswith("扣款/追回") and lb.rule_level("可疑")["handling"].startswith("核查")
    assert "扣款/追回" in handling and "核查" in handling and "条例第三十八条" in handling
    assert f"违规级规则违规金额合计{viol.evidence['deduct_amount']:,.2f}元" in handling
    # the statutory report (Chinese only) states the same rule, lines and basis, with Chinese dates
    report = text((out / "packages" / "police" / "02_案件调查报告.html").read_text("utf-8"))
    ev = viol.evidence
    assert f"命中规则{ev['rule_id']}" in report and ev["basis"] in report and "扣款/追回" in report
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", report) and " / " not in report
    js = (out / "dossier.json").read_text("utf-8")
    assert '"rules"' in js and ev["rule_id"] in js
    md = (out / "dossier.md").read_text("utf-8")
    assert ev["rule_id"] in md and "扣款/追回" in md


def test_the_legal_table_needs_rule_levels_only_for_rule_findings(tmp_path):
    from pathlib import Path

    import graphkit
    from graphkit.errors import GraphkitError

    text = (Path(graphkit.__file__).parent / "data" / "legal_basis.toml").read_text("utf-8")
    start, end = text.index('[rule_levels."可疑"]'), text.index("# Referral rules.")
    cut = tmp_path / "no-rule-levels.toml"
    cut.write_text(text[:start] + "# ----\n" + text[end:], "utf-8")
    lb = LegalBasis.load(cut)
    assert lb.proposal(["split_stay"], 1.0)["rules"] == []
    with pytest.raises(GraphkitError, match=r"no \[rule_levels.违规\] row"):
        lb.proposal(["rule_violation"], 1.0, rules=[{"rule_id": "BZ-001", "level": "违规", "deduct_amount": 1.0}])
    bad = tmp_path / "bad-source.toml"
    bad.write_text(text.replace('basis = ["liangku2022"]', 'basis = ["nowhere"]'), "utf-8")
    with pytest.raises(GraphkitError, match=r"\[rule_levels.可疑\] cites unknown source 'nowhere'"):
        LegalBasis.load(bad)
