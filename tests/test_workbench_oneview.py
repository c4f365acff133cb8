"""One view: a click on a lead row draws its graph; a click on a node selects it in Python
(expand, add to case, note); picking claims highlights them in the graph; status set; search
opens a lead in the same view. The browser side is the two-way GraphWidget (trait sync)."""

from __future__ import annotations

import pytest

from graphkit.workbench.data import Workbench
from graphkit.workbench.graphwidget import GraphWidget
from graphkit.workbench.testing import make_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo(tmp_path_factory.mktemp("wb-one") / "city", patients=1000)


@pytest.fixture
def wb(demo, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHKIT_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    return Workbench.open(demo["store"], demo["findings"], user="tester", cases=tmp_path / "cases.sqlite")


def test_graph_widget_bundles_vis_network_and_requests_nothing():
    w = GraphWidget()
    assert "vis.Network" in w._esm and "VIS_SRC" in w._esm
    assert "http://" not in w._esm.split("const VIS_SRC")[0] and "import " not in w._esm.split(";\n", 1)[1].split("export")[0]
    assert ".vis-network" in w._css


def test_one_view_row_click_node_click_expand_case_note_status(wb):
    from graphkit.workbench.oneview import WorkbenchView

    v = WorkbenchView(wb)
    assert v.lead == wb.current_lead and not v.errors
    fid = v.leads_list.options[2][1]
    v.leads_list.value = fid  # a click on the lead's row
    f = wb.finding(fid)
    assert v.lead == fid and wb.current_lead == fid and v.open_seconds < 5
    drawn = {n["id"] for n in v.graph.nodes}
    assert {f"{e.type}:{e.id}" for e in f.entities} <= drawn and len(v.graph.edges) > 0
    assert len(v.claims_pick.options) == len(f.claims)
    node = next(n for n in sorted(drawn) if n.startswith(("card:", "patient:")))
    v.graph.selected = [node]  # a click on the node in the browser
    assert node.split(":", 1)[1] in v.node_info.value
    before = len(v.graph.nodes)
    v.graph.activated, v.graph.activations = node, v.graph.activations + 1  # a double-click: expand
    assert "已展开" in v.status.value and len(v.graph.nodes) >= before and not v.errors
    v.add_button.click()  # no case yet: one is made from the lead, the node added to it
    c = wb.cases.get(v.case_pick.value)
    t, i = node.split(":", 1)
    assert fid in [x.id for x in c.findings] and any((e.type, e.id) == (t, i) for e in c.entities)
    v.note.value = "核查此节点"
    v.note_button.click()
    au = wb.cases.audit(c.id)
    assert au["action"].tolist()[-1] == "note" and "核查此节点" in au["new"].tolist()[-1] and node in au["new"].tolist()[-1]
    v.status_pick.value = "confirmed"
    v.status_button.click()
    assert wb.cases.get(c.id).status == "confirmed" and not v.errors
    # a claim picked in the table is highlighted in the graph
    cid = v.claims_pick.options[0][1]
    v.claims_pick.value = (cid,)
    expect = sorted({str(x) for s, d, a in v.graph_shown.edges(data=True) if cid in a.get("claim_ids", []) for x in (s, d)})
    assert v.graph.highlight == expect and expect
    # search opens a lead in the same view
    other = v.leads_list.options[0][1]
    v.search.run(wb.finding(other).claims[0])
    v.search.lead_pick.value = other
    v.search.open_button.click()
    assert v.lead == other and v.leads_list.value == other and not v.errors and not v.search.errors


def test_one_view_friendly_errors(wb):
    from graphkit.workbench.oneview import WorkbenchView

    v = WorkbenchView(wb)
    v.graph.selected = []
    v.expand_button.click()
    assert "click a node" in v.status.value and "Traceback" not in v.output.outputs[-1]["text"]
    v.note_button.click()
    assert "note is empty" in v.status.value


def test_period_slider_narrows_graph_claims_and_timeline(wb):
    import pandas as pd

    from graphkit.workbench.oneview import WorkbenchView

    v = WorkbenchView(wb)
    # a lead whose claims span several days
    fid = next(o[1] for o in v.leads_list.options
               if pd.to_datetime(wb.lead_claims(o[1])["start_time"]).dt.normalize().nunique() >= 3)
    v.leads_list.value = fid
    assert not v.period.disabled and v.period_range() == (None, None)
    full_claims = len(v.claims_pick.options)
    full_fund = sum(a.get("fund", 0.0) for _, _, a in v.graph_shown.edges(data=True) if a.get("claim_ids"))
    days = [pd.Timestamp(o[1]) for o in v.period.options]
    lead_days = sorted(pd.to_datetime(v.lead_claims["start_time"]).dt.normalize().unique())
    i = days.index(pd.Timestamp(lead_days[0]))
    v.period.index = (i, i)  # the lead's first day only
    lo, hi = v.period_range()
    assert lo == hi == pd.Timestamp(lead_days[0]) and not v.errors
    t = pd.to_datetime(v.lead_claims["start_time"]).dt.normalize()
    assert len(v.claims_pick.options) == int((t == lo).sum()) < full_claims
    # every drawn claim edge lies in the period; the lead's own entities stay drawn
    seen = v.claims_seen.assign(day=pd.to_datetime(v.claims_seen["start_time"]).dt.normalize()).set_index("claim_id")["day"]
    for _, _, a in v.graph_shown.edges(data=True):
        for c in a.get("claim_ids", []):
            assert c not in seen.index or seen[c] == lo
    f = wb.finding(fid)
    assert {f"{e.type}:{e.id}" for e in f.entities} <= {n["id"] for n in v.graph.nodes}
    assert sum(a.get("fund", 0.0) for _, _, a in v.graph_shown.edges(data=True) if a.get("claim_ids")) < full_fund
    assert "时间范围 / period" in v.status.value and v.timeline.value.count("<circle") < len(v.timeline_claims)
    v.period.index = (0, len(v.period.options) - 1)  # back to everything
    assert v.period_range() == (None, None) and len(v.claims_pick.options) == full_claims
