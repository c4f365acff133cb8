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


def _linked_files(result_html: str, served) -> list:
    """The files the export's links point at (``/files/<path under the served folder>``)."""
    import re
    from urllib.parse import unquote

    hrefs = re.findall(r"href='([^']+)'", result_html)
    assert hrefs and all(h.startswith("/files/exports/dossiers/case-") for h in hrefs), hrefs
    return [served / unquote(h[len("/files/"):]) for h in hrefs]


def test_one_view_exports_the_dossier_with_profile_pdf_and_browser_links(wb, tmp_path, monkeypatch):
    import json

    from graphkit.dossier.render import chromium_path
    from graphkit.workbench.oneview import WorkbenchView
    from graphkit.workbench.workdir import served_root

    monkeypatch.setenv("GRAPHKIT_LAB_DIR", str(tmp_path / "lab"))
    monkeypatch.delenv("GRAPHKIT_EXPORTS", raising=False)
    v = WorkbenchView(wb)
    ex = v.case_export
    assert [o[1] for o in ex.profile.options] == ["internal", "police", "discipline"]
    assert ex.profile.options[1][0] == "公安 police" and ex.profile.options[2][0] == "纪检监察 discipline inspection"
    ex.button.click()  # no case yet: a message, not a traceback
    assert "pick or create a case first" in v.status.value and "导出失败" in ex.result.value
    assert "Traceback" not in v.output.outputs[-1]["text"]
    v.errors.clear()
    v.leads_list.value = v.leads_list.options[1][1]
    v.new_case_button.click()
    cid = v.case_pick.value
    ex.profile.value = "police"
    assert "明文 clear" in ex.profile_info.value
    assert ex.pdf.value is (chromium_path() is not None)  # on by default where PDFs can be made
    ex.button.click()
    assert not v.errors and f"已导出案件 #{cid}" in v.status.value and "公安 police" in ex.result.value
    served = served_root()
    files = _linked_files(ex.result.value, served)
    assert all(f.is_file() for f in files)
    folder = served / "exports" / "dossiers" / f"case-{cid:06d}"
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    assert manifest["redaction_profile"] == "police" and manifest["clear_data"] is False  # no clear data asked for
    if chromium_path() is not None:
        assert folder / "dossier.pdf" in files and (folder / "dossier.pdf").read_bytes()[:5] == b"%PDF-"
        papers = [f for f in files if "packages" in f.parts]  # the recipients' papers, as PDF
        assert papers and all(f.suffix == ".pdf" for f in papers) and "移送材料 package" in ex.result.value
    assert wb.cases.audit(cid)["action"].tolist()[-1] == "export"


def test_one_view_export_without_pdf_and_clear_data_goes_through_the_guard(wb, tmp_path, monkeypatch):
    import json

    from graphkit.workbench.oneview import WorkbenchView

    monkeypatch.setenv("GRAPHKIT_LAB_DIR", str(tmp_path / "lab"))
    monkeypatch.delenv("GRAPHKIT_EXPORTS", raising=False)
    monkeypatch.delenv("GRAPHKIT_GUARD", raising=False)
    monkeypatch.delenv("GRAPHKIT_CHROMIUM", raising=False)
    with monkeypatch.context() as m:
        m.setenv("PATH", str(tmp_path))  # no Chromium here
        v = WorkbenchView(wb)
    ex = v.case_export
    assert ex.pdf.value is False and ex.pdf.disabled and "PDF 不可用" in ex.pdf_info.value
    v.leads_list.value = v.leads_list.options[1][1]
    v.new_case_button.click()
    cid = v.case_pick.value
    ex.profile.value = "discipline"
    ex.clear.value = True
    ex.button.click()  # clear data without saying from where
    assert "original bundle" in v.status.value and not (tmp_path / "lab" / "notebooks" / "exports" / "dossiers").exists()
    ex.clear_source.value = str(tmp_path / "bundle")
    ex.button.click()  # clear data needs the guard; none runs: refused, nothing written
    assert "guard" in v.status.value and "导出失败" in ex.result.value and "Traceback" not in v.output.outputs[-1]["text"]
    assert not list((tmp_path / "lab").rglob("dossier.html"))
    ex.clear.value = False
    v.errors.clear()
    ex.button.click()
    assert not v.errors
    folder = tmp_path / "lab" / "notebooks" / "exports" / "dossiers" / f"case-{cid:06d}"
    assert json.loads((folder / "manifest.json").read_text("utf-8"))["redaction_profile"] == "discipline"
    assert not (folder / "dossier.pdf").exists() and "dossier.pdf" not in ex.result.value
    assert folder / "dossier.html" in _linked_files(ex.result.value, tmp_path / "lab" / "notebooks")


def test_export_outside_the_served_folder_shows_paths_and_why(wb, tmp_path, monkeypatch):
    from graphkit.errors import GraphkitError
    from graphkit.workbench.export_view import export_dossier, links_html

    monkeypatch.setenv("GRAPHKIT_LAB_DIR", str(tmp_path / "lab"))
    c = wb.cases.create("t", actor="tester", findings=[wb.finding(wb.leads["id"].iloc[0])])
    with pytest.raises(GraphkitError, match="unknown redaction profile"):
        export_dossier(wb, c.id, profile="press")
    paths = export_dossier(wb, c.id, out_dir=tmp_path / "elsewhere")
    page = links_html(paths)
    assert "href" not in page and str(paths["html"]) in page and "cannot open" in page


def test_timeline_brush_sets_the_period_and_the_shown_claims(wb):
    import re

    import pandas as pd

    from graphkit.workbench.oneview import WorkbenchView
    from graphkit.workbench.timeline_brush import TimelineBrush

    v = WorkbenchView(wb)
    assert isinstance(v.timeline, TimelineBrush) and "http" not in v.timeline._esm.replace("http://www.w3.org/2000/svg", "")
    fid = next(o[1] for o in v.leads_list.options
               if pd.to_datetime(wb.lead_claims(o[1])["start_time"]).dt.normalize().nunique() >= 3)
    v.leads_list.value = fid
    full_claims = len(v.claims_pick.options)
    # the drawing says where time runs along x (what the brush's script reads)
    t0, span, left, plot_w = re.search(r"data-t0='([^']+)' data-span='(\d+)' data-left='(\d+)' data-plot-width='(\d+)'",
                                       v.timeline.value).groups()
    t = pd.to_datetime(v.lead_claims["start_time"])
    assert pd.Timestamp(t0) == pd.to_datetime(v.timeline_claims["start_time"]).min() and int(span) >= 86400
    days = sorted(t.dt.normalize().unique())
    # a drag from the middle of the lead's first day to the middle of its second (either direction)
    v.timeline.brush = [f"{days[1]:%Y-%m-%d}T12:00:00", f"{days[0]:%Y-%m-%d}T12:00:00"]
    lo, hi = v.period_range()
    assert (lo, hi) == (pd.Timestamp(days[0]), pd.Timestamp(days[1])) and not v.errors
    shown = int(t.dt.normalize().between(lo, hi).sum())
    assert len(v.claims_pick.options) == shown < full_claims
    assert v.timeline.brush == [] and "时间范围 / period" in v.status.value  # the timeline now spans the period
    assert v.timeline.value.count("<circle") < len(v.timeline_claims)
    # a drag where nothing was settled: a message, the period kept
    v.timeline.brush = ["1990-01-01T00:00:00", "1990-01-02T00:00:00"]
    assert "no claims between" in v.status.value and v.period_range() == (lo, hi)
    assert "Traceback" not in v.output.outputs[-1]["text"]
    v.timeline.resets += 1  # a double-click: every claim again
    assert v.period_range() == (None, None) and len(v.claims_pick.options) == full_claims


def test_a_capped_graph_keeps_the_evidence_its_kind_draws(wb):
    """Above the node cap the least important nodes are folded into clusters — never the lead's
    entities nor the evidence its kind adds (a ring's shared identifier, a stay, a burst …): a ring
    of 200 claims had its shared phone folded into ``cluster:identifier``."""
    from graphkit.workbench.kindgraph import defining_nodes
    from graphkit.workbench.oneview import WorkbenchView

    v = WorkbenchView(wb)
    seen = set()
    for _label, fid in v.leads_list.options:
        f = wb.finding(fid)
        if f.kind in seen:
            continue
        v.max_nodes = 10_000
        v.leads_list.value = fid
        full = v.graph_full
        own = {f"{e.type}:{e.id}" for e in f.entities} & set(full.nodes)
        extra = set(defining_nodes(full)) - own  # what the kind draws beyond the finding's entities
        must = own | extra
        types = {a.get("type", "?") for _, a in full.nodes(data=True)}
        if not extra or full.number_of_nodes() <= len(must) + len(types) + 1:
            continue
        v.max_nodes = len(must) + len(types)  # room for the lead's nodes and one cluster per type
        v.draw()
        shown = set(v.graph_shown.nodes)
        assert must <= shown, (f.kind, sorted(must - shown))
        assert v.graph_shown.graph["clustered"] > 0 and not v.errors
        seen.add(f.kind)
    assert len(seen) >= 2, seen
