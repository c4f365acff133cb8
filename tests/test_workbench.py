"""The workbench without a browser: pure shaping, offline pages, cases and audit, widget behaviour."""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import time
from datetime import date
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from graphkit.findings import Entity, Finding
from graphkit.workbench import lab, shaping
from graphkit.workbench.cases import CaseError, CaseStore, case_finding, default_cases_path
from graphkit.workbench.data import ClaimsIndex, Workbench, WorkbenchConfig, WorkbenchError
from graphkit.workbench.render import graph_html, graph_iframe, vis_assets
from graphkit.workbench.testing import make_demo


# -- fixtures ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict[str, Path]:
    return make_demo(tmp_path_factory.mktemp("wb-demo") / "city", patients=3000)


@pytest.fixture(autouse=True)
def _private_audit_log(tmp_path, monkeypatch):
    """Dossier exports append to the global audit log: keep the tests' entries out of $HOME."""
    monkeypatch.setenv("GRAPHKIT_AUDIT_LOG", str(tmp_path / "audit.jsonl"))


@pytest.fixture
def wb(demo, tmp_path) -> Workbench:
    return Workbench.open(demo["store"], demo["findings"], user="tester", cases=tmp_path / "cases.sqlite")


def _finding(kind="shared_card", key="K1", score=0.9, amount=100.0, claims=("C1", "C2"), entities=None) -> Finding:
    return Finding.create(kind, key=[key], score=score, amount_at_risk=amount, claims=list(claims),
                          entities=entities if entities is not None else [Entity("card", key, "card")],
                          start="2024-01-01", end="2024-02-01", summary=f"summary {key}")


def _star(n_patients: int) -> nx.MultiDiGraph:
    """One card used by many people at one pharmacy."""
    g = nx.MultiDiGraph()
    g.add_node("card:K1", type="card", id="K1", role="card", label="医保卡 K1")
    g.add_node("pharmacy:Y1", type="pharmacy", id="Y1", role="venue", label="药店 Y1")
    g.add_edge("card:K1", "pharmacy:Y1", key="SETTLED_AT", rel="SETTLED_AT", claims=n_patients, fund=10.0 * n_patients,
               claim_ids=[f"C{i}" for i in range(n_patients)])
    for i in range(n_patients):
        g.add_node(f"patient:P{i}", type="patient", id=f"P{i}", role="", label=f"参保人 P{i}")
        g.add_edge(f"patient:P{i}", "card:K1", key="PAID_WITH", rel="PAID_WITH", claims=1, fund=float(i + 1), claim_ids=[f"C{i}"])
    return g


# -- shaping: leads ------------------------------------------------------------------

def _leads() -> pd.DataFrame:
    fs = [
        _finding("shared_card", "K1", 0.9, 100.0),
        _finding("shared_card", "K2", 0.5, 900.0),
        _finding("deceased_card_use", "K3", 0.7, 50.0),
    ]
    claims = pd.DataFrame({"claim_id": ["C1", "C2"], "institution_id": ["H1", None], "pharmacy_id": [None, "Y1"],
                           "fund_amount": [60.0, 40.0]})
    prov = pd.DataFrame({"provider": ["institution:H1", "pharmacy:Y1"], "name": ["第一医院", "益丰大药房"], "region": ["370102", "370103"]})
    att = shaping.lead_attribution(fs, claims, prov)
    return shaping.leads_frame(fs, att), att


def test_leads_frame_has_one_row_per_finding_with_providers_and_regions():
    leads, att = _leads()
    assert len(leads) == 3 and list(leads.columns) == shaping.LEAD_COLUMNS
    row = leads.iloc[0]
    assert row["providers"] == "institution:H1;pharmacy:Y1"  # largest fund first
    assert row["regions"] == "370102;370103"
    assert "第一医院" in row["provider_names"]
    assert row["kind_zh"] == "冒用/盗用医保卡"
    # every finding shares C1/C2 here: attribution per finding and provider
    assert len(att) == 6 and set(att["fund"]) == {60.0, 40.0}


@pytest.mark.parametrize("flt, expected", [
    (shaping.LeadFilter(), ["K1", "K3", "K2"]),
    (shaping.LeadFilter(kinds=("shared_card",)), ["K1", "K2"]),
    (shaping.LeadFilter(min_score=0.6), ["K1", "K3"]),
    (shaping.LeadFilter(min_amount=90.0), ["K1", "K2"]),
    (shaping.LeadFilter(max_amount=90.0), ["K3"]),
    (shaping.LeadFilter(sort_by="amount"), ["K2", "K1", "K3"]),
    (shaping.LeadFilter(sort_by="amount", descending=False), ["K3", "K1", "K2"]),
    (shaping.LeadFilter(region="370103"), ["K1", "K3", "K2"]),
    (shaping.LeadFilter(region="999999"), []),
    (shaping.LeadFilter(provider="益丰"), ["K1", "K3", "K2"]),
    (shaping.LeadFilter(provider="nobody"), []),
    (shaping.LeadFilter(start=date(2024, 3, 1)), []),
    (shaping.LeadFilter(start=date(2024, 1, 15), end=date(2024, 1, 20)), ["K1", "K3", "K2"]),
    (shaping.LeadFilter(end=date(2023, 12, 31)), []),
])
def test_filter_leads(flt, expected):
    leads, _ = _leads()
    keys = {f"K{i}": fid for i, fid in zip((1, 2, 3), leads["id"])}
    got = list(shaping.filter_leads(leads, flt)["id"])
    assert got == [keys[k] for k in expected]


def test_sort_leads_rejects_unknown_key():
    leads, _ = _leads()
    with pytest.raises(ValueError, match="sort key must be one of"):
        shaping.sort_leads(leads, "colour")


def test_totals_by_kind_and_provider():
    leads, att = _leads()
    tk = shaping.totals_by_kind(leads)
    assert tk[["kind", "leads", "amount"]].values.tolist() == [["shared_card", 2, 1000.0], ["deceased_card_use", 1, 50.0]]
    tp = shaping.totals_by_provider(leads.iloc[:1], att)
    assert tp[["provider", "leads", "fund"]].values.tolist() == [["institution:H1", 1, 60.0], ["pharmacy:Y1", 1, 40.0]]
    assert tp["label"].iloc[0] == "医疗机构 H1 第一医院"
    assert shaping.totals_by_provider(leads.iloc[:0], att).empty


def test_bars_and_tables_escape_and_scale():
    h = shaping.bars_html(["<b>x</b>", "y"], [10.0, 5.0], title="合计")
    assert "&lt;b&gt;" in h and "width:100.0%" in h and "width:50.0%" in h
    assert "无数据" in shaping.bars_html([], [])
    t = shaping.frame_html(pd.DataFrame({"a": range(5)}), limit=2)
    assert t.count("<tr>") == 3 and "first 2 of 5" in t
    leads, _ = _leads()
    lt = shaping.leads_table_html(leads)
    assert lt.count("<tr>") == 4 and "gk-leads-table" in lt and "类型 kind" in lt


# -- shaping: graphs -----------------------------------------------------------------

def test_vis_elements_colour_shape_label_by_type():
    g = _star(3)
    nodes, edges = shaping.vis_elements(g, positions={"card:K1": (1.0, 2.0)}, names={"pharmacy:Y1": "益丰大药房"})
    by = {n["id"]: n for n in nodes}
    assert by["card:K1"]["shape"] == "diamond" and by["card:K1"]["color"]["background"] == shaping.TYPE_STYLE["card"]["color"]
    assert by["pharmacy:Y1"]["shape"] == "hexagon" and "益丰大药房" in by["pharmacy:Y1"]["label"]
    assert by["patient:P0"]["shape"] == "dot" and by["patient:P0"]["label"] == "参保人 P0"
    assert by["card:K1"]["borderWidth"] == 4 and by["patient:P0"]["borderWidth"] == 1  # finding entities stand out
    assert (by["card:K1"]["x"], by["card:K1"]["y"]) == (1.0, 2.0) and "x" not in by["patient:P0"]
    assert by["card:K1"]["size"] > by["patient:P0"]["size"]  # size follows fund
    lab = {e["id"]: e["label"] for e in edges}
    assert lab["card:K1|pharmacy:Y1|SETTLED_AT"] == "30元 · 3笔"
    assert "结算于 / settled at" in next(e["title"] for e in edges if e["id"].endswith("SETTLED_AT"))
    _, edges_nolabel = shaping.vis_elements(g, edge_labels=False)
    assert all(e["label"] == "" for e in edges_nolabel)


def test_cap_graph_folds_least_important_nodes_into_clusters():
    g = _star(500)
    h = shaping.cap_graph(g, 50, keep=["card:K1", "pharmacy:Y1"])
    assert h.number_of_nodes() == 50
    assert {"card:K1", "pharmacy:Y1", "cluster:patient"} <= set(h.nodes)
    assert "patient:P499" in h and "patient:P0" not in h  # highest fund kept
    assert h.graph["clustered"] == 453 and h.nodes["cluster:patient"]["members"] == 453
    # the fund is conserved by the folding
    tot = lambda x: sum(a["fund"] for _, _, a in x.edges(data=True))  # noqa: E731
    assert tot(h) == pytest.approx(tot(g))
    assert h["cluster:patient"]["card:K1"]["PAID_WITH"]["claims"] == 453
    # the input graph is untouched; small graphs pass through
    assert g.number_of_nodes() == 502
    assert shaping.cap_graph(g, 1000).number_of_nodes() == 502


def test_cap_graph_keeps_entities_first_even_when_they_overflow():
    g = _star(100)
    keep = [f"patient:P{i}" for i in range(100)]
    h = shaping.cap_graph(g, 20, keep=keep)
    assert h.number_of_nodes() <= 20
    kept = [v for v in h if v.startswith("patient:")]
    assert kept and all(v in keep for v in kept)


def test_claims_graph_matches_evidence_graph(wb):
    fid = wb.leads["id"].iloc[0]
    ev = wb.evidence(fid)
    claims = wb.claims(wb.finding(fid).claims, ["card_id", "patient_id", "institution_id", "pharmacy_id", "doctor_id",
                                                "fund_amount"])
    mine = shaping.claims_graph(claims, holders=wb.holders)
    key = lambda g: sorted((s, d, k, a["claims"], round(a["fund"], 2)) for s, d, k, a in g.edges(keys=True, data=True))  # noqa: E731
    claim_edges = lambda g: [e for e in key(g) if e[2] != "HOLDS"]  # noqa: E731
    assert claim_edges(mine) == claim_edges(ev)
    # the holder of every card in the picture, as in the evidence graph (when it draws holders)
    holds = [e for e in key(mine) if e[2] == "HOLDS"]
    assert {e[1] for e in holds} == {v for v in mine if v.startswith("card:")}
    if any(e[2] == "HOLDS" for e in key(ev)):
        assert key(mine) == key(ev)
    # adding the same claims again changes nothing
    assert key(shaping.claims_graph(claims, mine, holders=wb.holders)) == key(mine)


def test_big_leads_get_the_same_graph_from_the_fast_builder(wb):
    """Leads with many claims skip Finding.subgraph for the vectorised builder: same graph."""
    busiest = wb.provider_stats["claims"].idxmax()
    claims = wb.touching(busiest, limit=600)
    t, i = busiest.split(":")
    ents = [Entity(t, i, "venue")] + [Entity("patient", p, "member") for p in sorted(set(claims["patient_id"]))[:20]]
    f = Finding.create("collusion_ring", key=["big"], claims=claims["claim_id"].tolist(), entities=ents)
    wb.findings[f.id] = f
    assert len(f.claims) > wb.SUBGRAPH_MAX_CLAIMS
    fast, slow = wb.evidence(f.id), f.subgraph(wb.store)
    nodes = lambda g: sorted((v, a["type"], a["role"]) for v, a in g.nodes(data=True))  # noqa: E731
    edges = lambda g: sorted((s, d, k, a["claims"], round(a["fund"], 2), tuple(a["claim_ids"]))  # noqa: E731
                             for s, d, k, a in g.edges(keys=True, data=True))
    assert nodes(fast) == nodes(slow) and edges(fast) == edges(slow)
    assert (fast.graph["claims_shown"], fast.graph["claims_total"]) == (slow.graph["claims_shown"], slow.graph["claims_total"])


def test_holds_edges_are_drawn_as_relations_not_money():
    g = _star(1)
    g.add_edge("patient:P0", "card:K1", key="HOLDS", rel="HOLDS", claims=0, fund=0.0, claim_ids=[])
    _, edges = shaping.vis_elements(g)
    holds = next(e for e in edges if e["id"].endswith("HOLDS"))
    assert holds["dashes"] is True and "元" not in holds["label"] and "持卡人" in holds["title"]


def test_layout_positions_are_deterministic():
    g = _star(30)
    assert shaping.layout_positions(g, seed=1) == shaping.layout_positions(g, seed=1)
    assert shaping.layout_positions(nx.MultiDiGraph()) == {}


# -- shaping: timeline, profile, precision ---------------------------------------------

def test_timeline_svg_rows_dots_and_highlight():
    c = pd.DataFrame({
        "claim_id": ["C1", "C2", "C3"], "patient_id": ["P1", "P1", "P2"],
        "start_time": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-02-01"]), "fund_amount": [10.0, 20.0, 5.0],
        "institution_id": ["H1", None, "H1"], "pharmacy_id": [None, "Y1", None],
    })
    svg = shaping.timeline_svg(c, highlight={"C2"})
    assert svg.count("<circle") == 3 and svg.count("stroke='#000'") == 1
    assert svg.index(">P1<") < svg.index(">P2<")  # most claims first
    assert "2024-02" in svg
    assert "前 1 人" not in svg and "top 1 of 2" in shaping.timeline_svg(c, max_rows=1)
    assert "no settlements" in shaping.timeline_svg(c.iloc[:0])


def test_provider_profile_against_peers():
    stats = pd.DataFrame({"type": ["pharmacy"] * 10 + ["institution"], "claims": [float(i) for i in range(1, 11)] + [1000.0]},
                         index=[f"pharmacy:Y{i}" for i in range(1, 11)] + ["institution:H1"])
    p = shaping.provider_profile(stats, "pharmacy:Y10")
    row = p.iloc[0]
    assert (row["value"], row["peer_median"], row["percentile"], row["peers"]) == (10.0, 5.5, 1.0, 10)  # H1 is no peer
    assert shaping.provider_profile(stats, "pharmacy:NOPE").empty
    html = shaping.profile_html(p)
    assert "#e15759" in html and "100%" in html  # top decile flagged red


def test_suggest_threshold_and_precision_report():
    r = shaping.suggest_threshold([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0], target=0.6)
    assert r == {"threshold": 0.7, "precision": 0.6667, "recall": 1.0, "met": True}
    miss = shaping.suggest_threshold([0.9, 0.8], [0, 0], target=0.8)
    assert miss["met"] is False and miss["precision"] == 0.0
    lab = pd.DataFrame({"finding_id": list("abcdef"), "kind": ["shared_card"] * 4 + ["deceased_card_use"] * 2,
                        "score": [0.9, 0.8, 0.7, 0.6, 0.9, 0.5], "label": [1, 1, 0, 0, 1, 1]})
    leads = pd.DataFrame({"kind": ["shared_card"] * 10, "score": [i / 10 for i in range(10)]})
    rep = shaping.precision_report(lab, leads, target=0.8, min_labels=3).set_index("kind")
    assert rep.loc["shared_card", "precision"] == 0.5
    assert rep.loc["shared_card", "suggested_threshold"] == 0.8
    assert rep.loc["shared_card", "leads_kept"] == 2
    assert rep.loc["deceased_card_use", "reliable"] == False  # noqa: E712 - only 2 labels
    assert "gk-precision-table" in shaping.precision_html(rep.reset_index())
    assert "No confirmed or dismissed" in shaping.precision_html(shaping.precision_report(lab.iloc[:0]))


# -- render: offline pages -------------------------------------------------------------

def test_graph_page_is_self_contained_and_offline():
    page = graph_html(_star(5), title="示例")
    # no external script, stylesheet, font or image reference anywhere
    assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)\s*=""", page, re.I)  # nothing loaded by reference
    js, css = vis_assets()
    assert js in page and css in page and "vis.Network" in page and "window.gkNetwork" in page
    # apart from the inlined vis-network (whose only URLs are licence comments), no URL at all
    ours = page.replace(js, "").replace(css, "")
    assert not re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", ours, re.I)
    assert "@import" not in ours and "@font-face" not in ours
    assert "bootstrap" not in page.lower() and "tom-select" not in page.lower()
    assert not re.search(r"""url\(\s*(?!["']?data:)""", css)  # vis-network's images are data: URIs
    assert "参保人 P1" in page and "示例" in page


def test_big_graph_has_precomputed_layout_and_no_physics():
    import json

    page = graph_html(shaping.cap_graph(_star(1500), 150))
    opts = json.loads(re.search(r"var options = (\{.*?\});\n", page).group(1))
    assert opts["physics"]["enabled"] is False
    nodes = json.loads(re.search(r"var nodes = new vis.DataSet\((\[.*?\])\);\n", page).group(1))
    assert len(nodes) == 150 and all("x" in n and "y" in n for n in nodes)
    small = graph_html(_star(3))
    assert json.loads(re.search(r"var options = (\{.*?\});\n", small).group(1))["physics"]["enabled"] is True


def test_iframe_escapes_the_page():
    f = graph_iframe("<p title=\"x\">&</p>")
    assert f.startswith("<iframe") and "sandbox='allow-scripts'" in f and "&lt;p title=&quot;x&quot;&gt;&amp;" in f


# -- cases ---------------------------------------------------------------------------

def test_case_lifecycle_with_audit_trail(tmp_path):
    cs = CaseStore(tmp_path / "c.sqlite", store_fingerprint="fp")
    f1 = _finding("shared_card", "K1", claims=("C1", "C2"), entities=[Entity("card", "K1", "card"), Entity("patient", "P1", "user")])
    f2 = _finding("deceased_card_use", "K2", claims=("C2", "C3"), entities=[Entity("card", "K2", "card"), Entity("patient", "P1", "deceased")])
    c = cs.create("冒卡 / cards", actor="wang", findings=[f1])
    assert (c.status, c.created_by, c.store_fingerprint) == ("new", "wang", "fp")
    c = cs.add_findings(c.id, [f2, f1], actor="wang")  # f1 again: skipped
    assert [f.id for f in c.findings] == [f1.id, f2.id] and c.claims == ["C1", "C2", "C3"]
    c = cs.add_entities(c.id, [Entity("doctor", "D9", "organiser")], actor="li")
    c = cs.add_claims(c.id, ["C9", "C9", " "], actor="li")
    c = cs.remove_claims(c.id, ["C1"], actor="li")
    c = cs.remove_entities(c.id, [("card", "K1")], actor="li")
    assert "C9" in c.claims and "C1" not in c.claims and ("card", "K1") not in {(e.type, e.id) for e in c.entities}
    # removing f2 drops what only f2 brought, keeps shared and hand-added evidence
    c = cs.remove_findings(c.id, [f2.id], actor="li")
    assert [f.id for f in c.findings] == [f1.id]
    assert c.claims == ["C2", "C9"]
    assert {(e.type, e.id) for e in c.entities} == {("patient", "P1"), ("doctor", "D9")}
    c = cs.update(c.id, actor="zhao", status="reviewing", assignee="zhao", notes="先查药店")
    c = cs.update(c.id, actor="zhao", status="reviewing")  # no change, no audit row
    assert (c.status, c.assignee, c.notes, c.updated_by) == ("reviewing", "zhao", "先查药店", "zhao")
    au = cs.audit(c.id)
    assert list(au["action"]) == ["create", "add_finding", "add_finding", "add_entity", "add_claims", "remove_claims",
                                  "remove_entity", "remove_finding", "remove_evidence", "update", "update", "update"]
    assert au.iloc[-3][["actor", "field", "old", "new"]].tolist() == ["zhao", "status", "new", "reviewing"]
    assert au["at"].str.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d").all()
    assert cs.list()[["id", "status", "findings", "claims"]].values.tolist() == [[c.id, "reviewing", 1, 2]]


def test_case_validation(tmp_path):
    cs = CaseStore(tmp_path / "c.sqlite")
    c = cs.create("t", actor="wang")
    with pytest.raises(CaseError, match="status must be one of"):
        cs.update(c.id, actor="wang", status="closed")
    with pytest.raises(CaseError, match="actor"):
        cs.update(c.id, actor=" ", status="reviewing")
    with pytest.raises(CaseError, match="no case #99"):
        cs.get(99)
    with pytest.raises(CaseError, match="no case #99"):
        cs.add_claims(99, ["C1"], actor="wang")
    with pytest.raises(CaseError, match="entity id"):
        cs.add_entities(c.id, [Entity("card", " ")], actor="wang")
    with pytest.raises(CaseError, match="holds no findings"):
        case_finding(cs.get(c.id))


def test_cases_persist_across_connections_and_dispositions(tmp_path):
    path = tmp_path / "c.sqlite"
    a = CaseStore(path)
    f1, f2, f3 = (_finding("shared_card", f"K{i}", score=s) for i, s in ((1, 0.9), (2, 0.4), (3, 0.7)))
    c1 = a.create("one", actor="wang", findings=[f1, f2])
    c2 = a.create("two", actor="wang", findings=[f3, f2])
    b = CaseStore(path)  # another kernel
    b.update(c1.id, actor="li", status="confirmed")
    b.update(c2.id, actor="li", status="dismissed")  # f2 also in c2, decided later → dismissed
    d = a.dispositions().set_index("finding_id")
    assert d.loc[f1.id, "label"] == 1 and d.loc[f3.id, "label"] == 0 and d.loc[f2.id, "label"] == 0
    a.update(c2.id, actor="li", status="referred")  # referred counts as confirmed
    assert a.dispositions().set_index("finding_id").loc[f3.id, "label"] == 1
    a.update(c1.id, actor="li", status="reviewing")  # undecided again → out of the report
    assert f1.id not in set(a.dispositions()["finding_id"])
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM audit").fetchone()[0] >= 7


def test_case_finding_and_export(wb, tmp_path):
    fids = list(wb.leads["id"].iloc[:2])
    c = wb.cases.create("导出测试", actor="tester", findings=[wb.finding(i) for i in fids])
    c = wb.cases.update(c.id, actor="tester", status="confirmed", notes="核实无误")
    f = case_finding(c, wb.claims(c.claims, ["fund_amount", "start_time"]))
    assert f.id == f"case:{c.id:06d}" and set(f.claims) == set(c.claims)
    assert f.amount_at_risk == pytest.approx(wb.claims(c.claims, ["fund_amount"])["fund_amount"].sum(), abs=0.01)
    assert "导出测试" in f.summary and "核实无误" in f.summary
    from graphkit.workbench.cases import export_case

    extra = wb.store.table("claims", ["claim_id"])["claim_id"].iloc[0]
    wb.cases.add_claims(c.id, [extra], actor="tester")
    paths = export_case(wb.cases, c.id, wb.store, tmp_path / "dossiers", actor="tester", parameters=wb.report.parameters)
    md = paths["markdown"].read_text("utf-8")
    assert "导出测试" in md and f"CASE-{c.id:06d}" in md and paths["html"].exists() and paths["audit"].exists()
    assert paths["html"].parent == tmp_path / "dossiers" / f"case-{c.id:06d}"
    assert wb.cases.audit(c.id)["action"].iloc[-1] == "export"
    from graphkit import dossier

    if hasattr(dossier, "write_dossier"):  # the multi-finding dossier: all findings, the added claim, a verifiable folder
        import json

        content = json.loads(paths["json"].read_text("utf-8"))
        assert {f["id"] for f in content["findings"]} == set(fids) and extra in content["claims"]
        assert content["case"]["status"] == "confirmed" and content["audit_trail"]
        assert dossier.verify_dossier(paths["html"].parent).ok
    # exporting again replaces the case's folder
    again = export_case(wb.cases, c.id, wb.store, tmp_path / "dossiers", actor="tester")
    assert again["html"] == paths["html"] and again["html"].exists()


# -- data -----------------------------------------------------------------------------

def test_config_from_env_defaults_and_errors(tmp_path):
    cfg = WorkbenchConfig.from_env({"GRAPHKIT_STORE": "/d/store", "GRAPHKIT_CASES": "/x/c.sqlite", "GRAPHKIT_LEAD": "k:1"})
    assert WorkbenchConfig.from_env({"GRAPHKIT_STORE": "/d/store", "GRAPHKIT_OUT": "/o"}).out_dir == Path("/o")
    assert cfg.findings == Path("/d/findings.json") and cfg.scores == Path("/d/scores.csv")
    assert cfg.cases == Path("/x/c.sqlite") and cfg.out_dir is None and cfg.lead == "k:1"
    assert default_cases_path("/d/store") == Path("/d/store.cases.sqlite")
    with pytest.raises(WorkbenchError, match="GRAPHKIT_STORE"):
        WorkbenchConfig.from_env({}, cwd=tmp_path)
    (tmp_path / "demo-out" / "store").mkdir(parents=True)
    (tmp_path / "notebooks").mkdir()
    assert WorkbenchConfig.from_env({}, cwd=tmp_path / "notebooks").store == tmp_path / "demo-out" / "store"
    with pytest.raises(WorkbenchError, match="GRAPHKIT_FINDINGS"):
        WorkbenchConfig.from_env({"NEO4J_URI": "bolt://x"})
    neo = WorkbenchConfig.from_env({"NEO4J_URI": "bolt://x", "GRAPHKIT_FINDINGS": "/f/findings.json"})
    assert neo.store is None and neo.neo4j_uri == "bolt://x" and neo.cases == Path("/f/neo4j.cases.sqlite")


def test_claims_index_matches_store(wb):
    ids = list(wb.finding(wb.leads["id"].iloc[0]).claims) + ["NOPE"]
    cols = ["card_id", "patient_id", "institution_id", "fund_amount", "start_time"]
    a = wb.index.lookup(ids, cols).sort_values("claim_id").reset_index(drop=True)
    b = wb.store.claims_by_id(ids, cols).sort_values("claim_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    pid = a["patient_id"].iloc[0]
    t = wb.touching(f"patient:{pid}", limit=5)
    allc = wb.store.table("claims", ["claim_id", "patient_id", "fund_amount"])
    mine = allc[allc["patient_id"] == pid]
    assert len(t) == min(5, len(mine)) and set(t["claim_id"]) <= set(mine["claim_id"])
    assert t["fund_amount"].min() >= mine["fund_amount"].nlargest(len(t)).min()
    with pytest.raises(WorkbenchError, match="cannot expand"):
        wb.touching("cluster:patient")
    assert ClaimsIndex.from_frame(pd.DataFrame({"claim_id": ["C1"], "fund_amount": [1.0]})).lookup([]).empty


def test_current_lead_is_shared_through_the_case_db(demo, tmp_path):
    a = Workbench.open(demo["store"], demo["findings"], user="u1", cases=tmp_path / "c.sqlite")
    b = Workbench.open(demo["store"], demo["findings"], user="u1", cases=tmp_path / "c.sqlite")
    other = a.leads["id"].iloc[-1]
    assert b.current_lead == a.leads["id"].iloc[0]
    a.current_lead = other
    assert b.current_lead == other
    with pytest.raises(WorkbenchError, match="no lead"):
        a.current_lead = "nope"


# -- widgets --------------------------------------------------------------------------

def test_leads_queue_filters_sorts_totals_and_opens(wb):
    from graphkit.workbench import LeadsQueue

    opened: list[str] = []
    q = LeadsQueue(wb, on_open=opened.append)
    n = len(wb.leads)
    assert len(q.rows) == n and q.table.value.count("<tr>") == min(n, q.limit) + 1
    assert "gk-by-kind" in q.by_kind.value and "gk-by-provider" in q.by_provider.value
    kind = wb.leads["kind"].iloc[-1]
    q.kind.value = (kind,)
    assert set(q.rows["kind"]) == {kind} and f"显示 {len(q.rows)} / {n}" in q.summary.value
    q.kind.value = ()
    q.min_score.value = float(wb.leads["score"].median())
    assert (q.rows["score"] >= q.min_score.value).all() and 0 < len(q.rows) < n
    q.min_score.value = 0.0
    q.sort_by.value = "amount"
    assert list(q.rows["amount"]) == sorted(q.rows["amount"], reverse=True)
    q.descending.value = False
    assert list(q.rows["amount"]) == sorted(q.rows["amount"])
    q.min_amount.value = 1e12
    assert q.rows.empty and q.pick.value is None and "无" in q.table.value
    q.open_lead()  # nothing to open → error routed to the Output widget
    assert q.errors and "no lead to open" in q.output.outputs[-1]["text"] and "error" in q.status.value
    q.min_amount.value = 0.0
    target = q.rows["id"].iloc[1]
    q.pick.value = target
    q.open_button.click()
    assert opened == [target] and wb.current_lead == target and target in q.opened.value
    if wb.finding(target).evidence.get("benign_checks"):  # what the lead was tested against is shown with it
        assert "gk-checks" in q.opened.value and "合法情形" in q.opened.value
    assert "尚无已确认或已排除的案件" in q.feedback.value


def test_triage_shows_precision_from_dispositions(wb):
    from graphkit.workbench import LeadsQueue

    ids = list(wb.leads["id"])
    c1 = wb.cases.create("a", actor="tester", findings=[wb.finding(i) for i in ids[:2]])
    c2 = wb.cases.create("b", actor="tester", findings=[wb.finding(ids[-1])])
    wb.cases.update(c1.id, actor="tester", status="confirmed")
    wb.cases.update(c2.id, actor="tester", status="dismissed")
    q = LeadsQueue(wb)
    assert "gk-precision-table" in q.feedback.value
    rep = q.precision.set_index("kind")
    assert rep["confirmed"].sum() == 2 and rep["dismissed"].sum() == 1
    q.target.value = 0.99
    assert q.precision["suggested_threshold"].notna().all()


def test_explorer_opens_expands_caps_and_profiles(wb):
    from graphkit.workbench import EvidenceExplorer

    from graphkit.workbench.kindgraph import lead_kind_graph

    ex = EvidenceExplorer(wb, max_nodes=60)
    fid = ex.lead.value
    assert fid == wb.current_lead and not ex.errors
    f = wb.finding(fid)
    assert {f"{e.type}:{e.id}" for e in f.entities} <= set(ex.graph_shown.nodes)
    assert "gk-graph-frame" in ex.graph.value and "vis.Network" in ex.page
    assert ex.lead_claims["claim_id"].tolist() and set(ex.lead_claims["claim_id"]) == set(f.claims)
    assert ex.claims.value.count("<tr>") == len(f.claims) + 1
    assert "<svg" in ex.timeline.value and ex.open_seconds < 5
    # expand the busiest provider: many new nodes, capped at the slider
    prov = next(v for v, a in ex.graph_shown.nodes(data=True) if a["type"] in ("institution", "pharmacy"))
    ex.node.value = prov
    ex.expand_limit.value = 5
    ex.expand_button.click()
    assert not ex.errors and "已展开" in ex.status.value
    busiest = wb.provider_stats["claims"].idxmax()
    ex.expand(busiest, limit=300)
    assert not ex.errors and "已展开" in ex.status.value
    assert ex.graph_full.number_of_nodes() > 60 and ex.graph_shown.number_of_nodes() <= 60
    assert ex.graph_shown.graph["clustered"] > 0 and "已折叠" in ex.graph_info.value
    ex.max_nodes.value = 500
    assert ex.graph_shown.number_of_nodes() == min(500, ex.graph_full.number_of_nodes())
    ex.reset_button.click()
    assert ex.graph_full.number_of_nodes() == lead_kind_graph(wb, fid).number_of_nodes()
    # the profile waits for its tab
    assert "computed when" in ex.profile.value
    ex.tabs.selected_index = 3
    assert "gk-profile" in ex.profile.value and "同类" in ex.profile.value
    # another lead
    other = wb.leads["id"].iloc[-1]
    ex.lead.value = other
    assert other in ex.page and not ex.errors


def test_explorer_routes_callback_errors_to_output(wb):
    from graphkit.workbench import EvidenceExplorer

    ex = EvidenceExplorer(wb)
    ex.node.options = []
    ex.expand_button.click()
    assert len(ex.errors) == 1 and "pick a node first" in ex.output.outputs[-1]["text"]
    assert "Traceback" not in ex.output.outputs[-1]["text"]  # the user's mistake: a message, not a traceback
    try:
        1 / 0
    except ZeroDivisionError as exc:
        ex.report_error(exc)  # a bug keeps its traceback in the log
    assert "Traceback" in ex.output.outputs[-1]["text"] and len(ex.errors) == 2


def test_case_builder_end_to_end(wb, tmp_path, monkeypatch):
    from graphkit.workbench import CaseBuilder

    monkeypatch.setenv("GRAPHKIT_LAB_DIR", str(tmp_path / "lab"))  # as `graphkit lab` sets it
    monkeypatch.delenv("GRAPHKIT_EXPORTS", raising=False)
    cb = CaseBuilder(wb)
    assert cb.case.value is None and "尚无案件" in cb.info.value
    cb.save_button.click()  # no case yet → error routed, nothing raised
    assert cb.errors and "create or pick a case first" in cb.output.outputs[-1]["text"]
    cb.errors.clear()
    cb.available.value = tuple(wb.leads["id"].iloc[:1])
    cb.new_title.value = "药店冒卡 / pharmacy card misuse"
    cb.new_button.click()
    assert not cb.errors and "已保存新案件" in cb.status.value
    cid = cb.case.value
    case = wb.cases.get(cid)
    assert case.title == "药店冒卡 / pharmacy card misuse" and len(case.findings) == 1
    cb.available.value = tuple(wb.leads["id"].iloc[1:3])
    cb.add_findings_button.click()
    assert len(cb.in_case.options) == 3
    cb.in_case.value = (wb.leads["id"].iloc[2],)
    cb.remove_findings_button.click()
    assert len(wb.cases.get(cid).findings) == 2
    cb.entity_type.value, cb.entity_id.value, cb.entity_role.value = "doctor", "D00001", "organiser"
    cb.add_entity_button.click()
    values = lambda w: [v for _, v in w.options]  # noqa: E731
    assert "doctor:D00001" in values(cb.entities)
    cb.entities.value = ("doctor:D00001",)
    cb.remove_entities_button.click()
    assert "doctor:D00001" not in values(cb.entities)
    cb.claim_ids.value = "NOT-A-CLAIM"
    cb.add_claims_button.click()
    assert "not in the data" in cb.output.outputs[-1]["text"]
    some = wb.store.table("claims", ["claim_id"])["claim_id"].iloc[0]
    cb.claim_ids.value = some
    cb.add_claims_button.click()
    assert some in cb.claims.options
    cb.claims.value = (some,)
    cb.remove_claims_button.click()
    assert some not in cb.claims.options
    cb.status_pick.value, cb.assignee.value, cb.notes.value = "confirmed", "李四", "已核实 / verified"
    cb.save_button.click()
    case = wb.cases.get(cid)
    assert (case.status, case.assignee, case.notes) == ("confirmed", "李四", "已核实 / verified")
    assert "已保存案件" in cb.status.value and "李四" in cb.audit.value
    from graphkit.workbench.export_view import CaseExport

    assert isinstance(cb.export_panel, CaseExport)  # the one view's export, the same implementation
    cb.export_panel.profile.value, cb.export_panel.pdf.value = "discipline", False
    cb.export_button.click()
    folder = tmp_path / "lab" / "notebooks" / "exports" / "dossiers" / f"case-{cid:06d}"
    assert "dossier" in cb.exported.value and f"href='/files/exports/dossiers/case-{cid:06d}/dossier.html'" in cb.exported.value
    assert json.loads((folder / "manifest.json").read_text("utf-8"))["redaction_profile"] == "discipline"
    assert not (folder / "dossier.pdf").exists() and "导出案件材料" in cb.audit.value  # the audit trail shows the export
    assert cb.errors == [] or all("not in the data" in str(e) for e in cb.errors)
    actions = list(wb.cases.audit(cid)["action"])
    assert actions[0] == "create" and actions[-1] == "export" and actions.count("update") == 3
    from graphkit.identity import actor_label, os_account

    assert set(wb.cases.audit(cid)["actor"]) == {actor_label(os_account(), "tester")}  # the OS account acts (#16 item 1)


# -- lab ------------------------------------------------------------------------------

def _lab_ns(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    lab.add_arguments(p)
    return p.parse_args(list(argv))


def test_lab_resolves_store_from_options_env_and_demo(tmp_path):
    env, nb = lab.resolve(_lab_ns("--store", "rel/store"), {})
    assert env["GRAPHKIT_STORE"] == str(Path("rel/store").resolve()) and nb == lab.NOTEBOOKS
    assert env["GRAPHKIT_FINDINGS"] == str(Path("rel/findings.json").resolve())
    env, _ = lab.resolve(_lab_ns(), {"GRAPHKIT_STORE": "/s/store", "GRAPHKIT_USER": "wang", "GRAPHKIT_CASES": "/c.sqlite"})
    assert (env["GRAPHKIT_STORE"], env["GRAPHKIT_USER"], env["GRAPHKIT_CASES"]) == ("/s/store", "wang", "/c.sqlite")
    env, _ = lab.resolve(_lab_ns("--demo-out", str(tmp_path / "d")), {})
    assert env["GRAPHKIT_STORE"] == str(tmp_path / "d" / "store")
    env, _ = lab.resolve(_lab_ns("--findings", "/f.json"), {"NEO4J_URI": "bolt://db:7687"})
    assert env["NEO4J_URI"] == "bolt://db:7687" and env["GRAPHKIT_STORE"] == "" and env["GRAPHKIT_FINDINGS"] == "/f.json"


def test_lab_command_is_offline_and_local():
    cmd = lab.lab_command(_lab_ns("--port", "9000", "--no-browser", "--", "--ServerApp.token=abc"), Path("/nb"))
    assert cmd[1:3] == ["-m", "jupyterlab"] and "--ServerApp.root_dir=/nb" in cmd and "--port=9000" in cmd
    assert "--ServerApp.ip=127.0.0.1" in cmd and "--no-browser" in cmd and cmd[-1] == "--ServerApp.token=abc"
    assert set(lab.OFFLINE_ARGS) <= set(cmd)


def test_lab_main_dry_run(capsys, demo):
    assert lab.main(["--store", str(demo["store"]), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"GRAPHKIT_STORE={demo['store']}" in out and "jupyterlab" in out
    assert (lab.NOTEBOOKS / "01_triage.ipynb").exists()


def test_explorer_follows_the_lead_opened_in_another_kernel(demo, tmp_path):
    """#19 item 1: 02 (explore) follows a lead opened in 01 (triage) or the one view while it runs —
    two kernels, one case database — and does not undo a lead picked in 02 itself."""
    from graphkit.workbench import EvidenceExplorer, LeadsQueue

    cases = tmp_path / "cases.sqlite"
    triage_wb = Workbench.open(demo["store"], demo["findings"], user="tester", cases=cases)
    explore_wb = Workbench.open(demo["store"], demo["findings"], user="tester", cases=cases)
    ex = EvidenceExplorer(explore_wb)
    first = ex.lead.value
    assert ex.follow_current() is False  # nothing opened elsewhere since
    queue = LeadsQueue(triage_wb)
    other = next(fid for fid in triage_wb.leads["id"] if fid != first)
    queue.open_lead(other)  # 01: open another lead
    assert ex.follow_current() is True and ex.lead.value == other and ex.opened == other and not ex.errors
    third = next(fid for fid in explore_wb.leads["id"] if fid not in (first, other))
    ex.lead.value = third  # picked in 02 itself: stays
    assert ex.follow_current() is False and ex.lead.value == third
    # the same, by the background look every 0.1 s
    ex.follow(0.1)
    queue.open_lead(first)
    deadline = time.time() + 10
    while ex.lead.value != first and time.time() < deadline:
        time.sleep(0.05)
    assert ex.lead.value == first
    ex.close()


def test_the_indexed_store_reads_codes_rows_and_filters_through_its_store(wb, monkeypatch):
    """The workbench's claims store answers the lean reads with the wrapped store's own (not by
    reading whole tables), with the same results."""
    view = wb.claims_store
    assert view is not wb.store
    codes = view.table_codes("claims", ["institution_id", "patient_id"])
    direct = wb.store.table_codes("claims", ["institution_id", "patient_id"])
    for c in codes:
        assert codes[c].codes.tolist() == direct[c].codes.tolist() and list(codes[c].categories) == list(direct[c].categories)
    rows = np.array([3, 0, 3])
    pd.testing.assert_frame_equal(view.table_rows("claims", ["claim_id", "card_id"], rows),
                                  wb.store.table_rows("claims", ["claim_id", "card_id"], rows))
    where = [("claim_type", "==", "inpatient")]
    pd.testing.assert_frame_equal(view.table_where("claims", ["claim_id"], where),
                                  wb.store.table_where("claims", ["claim_id"], where))
    monkeypatch.setattr(type(view), "table", lambda *a, **k: pytest.fail("read a whole table"))
    view.table_rows("claims", ["card_id"], rows)
    view.table_where("claims", ["claim_id"], where)
