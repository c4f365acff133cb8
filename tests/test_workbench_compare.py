"""Two providers side by side (logic in graphkit.risk.explain, widgets thin) and the graph's
PNG export (browser → Python message → file), on a small demo city."""

from __future__ import annotations

import base64
import io
import math

import pytest

from graphkit.errors import GraphkitError
from graphkit.risk.explain import compare_providers, explain_provider, format_comparison
from graphkit.risk.indicators import INDICATORS
from graphkit.workbench.data import Workbench
from graphkit.workbench.graphwidget import PNG_SIGNATURE, GraphWidget, decode_png, png_size
from graphkit.workbench.testing import make_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo(tmp_path_factory.mktemp("wb-compare") / "city", patients=1000)


@pytest.fixture(scope="module")
def wb(demo, tmp_path_factory):
    root = tmp_path_factory.mktemp("wb-compare-cases")
    mp = pytest.MonkeyPatch()
    mp.setenv("GRAPHKIT_AUDIT_LOG", str(root / "audit.jsonl"))
    yield Workbench.open(demo["store"], demo["findings"], user="tester", cases=root / "cases.sqlite")
    mp.undo()


def _pair(wb):
    sc = wb.risk.scores
    a = sc[sc["entity_type"] == "institution"].iloc[0]
    b = sc[(sc["entity_type"] == "pharmacy") & (sc["finding_count"] > 0)].iloc[0]
    return a, b


def _same(x, y) -> bool:
    return (x is None and y is None) or (isinstance(x, float) and math.isclose(x, y, abs_tol=1e-12)) or x == y


def test_compare_equals_explain_for_each_side(wb):
    res, fs = wb.risk, wb.report.findings
    a, b = _pair(wb)
    t = compare_providers(res, f"institution:{a.entity_id}", b.entity_id, findings=fs, regions=wb.region_names)
    for side, row in (("a", a), ("b", b)):
        d = explain_provider(res, row.entity_id, entity_type=row.entity_type, findings=fs, top=len(INDICATORS))
        want = {"type": d["entity_type"], "region": d["region"], "peer_group": d["peer_group"], "rank": d["rank"],
                "rank_in_type": d["rank_in_type"], "score": d["score"], "hazard": d["hazard"], "prior": d["prior"],
                "findings_hazard": d["findings_hazard"], "claims": d["volume"]["claims"],
                "fund_total": d["volume"]["fund_total"], "patients": d["volume"]["patients"],
                "finding_count": d["finding_count"], "amount_at_risk": d["amount_at_risk"],
                **{f"part.{p}": v for p, v in d["parts"].items()}}
        for i in d["indicators"]:
            want.update({f"ind.{i['indicator']}.value": i["value"], f"ind.{i['indicator']}.peer_median": i["peer_median"],
                         f"ind.{i['indicator']}.z": i["z"]})
        for k in {f["kind"] for f in d["findings"]}:
            want[f"kind.{k}"] = sum(f["kind"] == k for f in d["findings"])
        assert d["indicators"] and d["findings"] and d["amount_at_risk"] > 0
        for key, v in want.items():
            assert _same(t.at[key, side], v), (side, key, t.at[key, side], v)
    # an indicator only one side has (institutions' admission rate, pharmacies' cost per purchase) is blank on the other
    only_a = [k for k in t.index if k.startswith("ind.") and t.at[k, "b"] is None]
    only_b = [k for k in t.index if k.startswith("ind.") and t.at[k, "a"] is None]
    assert only_a and only_b and (t.loc[only_a, "b_shown"] == "—").all() and (t.loc[only_b, "a_shown"] == "—").all()
    shown = format_comparison(t)
    assert list(shown.columns) == ["项目 / item", f"医疗机构 {a.entity_id} {a['name']}", f"药店 {b.entity_id} {b['name']}"]
    text = shown.to_string()
    assert not any(bad in text for bad in ("nan", "NaN", "<NA>", "None", "-0.000"))
    assert t.at["fund_total", "a_shown"] == f"{a.fund_total:,.2f} 元" and "," in t.at["fund_total", "b_shown"]
    assert t.at["rank", "b_shown"] == f"{b['rank']} / {len(res.scores)}"
    assert t.at["type", "b_shown"] == "药店 pharmacy" and t.at["region", "a_shown"] != a.region  # region with its name
    share = next(k for k in t.index if k.endswith(".value") and t.at[k, "a"] is not None and "share" in k)
    assert t.at[share, "a_shown"].endswith("%")


def test_a_provider_compared_with_itself_has_identical_columns(wb):
    a, _ = _pair(wb)
    t = compare_providers(wb.risk, a.entity_id, f"institution:{a.entity_id}", findings=wb.report.findings)
    assert t["a_shown"].tolist() == t["b_shown"].tolist() and len(t) > 20
    assert format_comparison(t).columns.tolist()[1].startswith("A: ")


def test_unknown_provider_is_a_friendly_message(wb):
    with pytest.raises(GraphkitError, match="评分中没有 NOPE.*no provider 'NOPE'"):
        compare_providers(wb.risk, "NOPE", wb.risk.scores["entity_id"].iloc[0])
    from graphkit.workbench.compare_view import ProviderCompare

    a, _ = _pair(wb)
    p = ProviderCompare(wb, provider=f"institution:{a.entity_id}")
    assert p.query.options and len(p.query.options) <= 30
    p.query.value = "NOPE-999"
    p.button.click()
    assert "没有找到" in p.status.value and "no provider" in p.status.value and p.table is None
    assert "Traceback" not in p.output.outputs[-1]["text"]
    p.query.value = "医院"  # a name part many providers share
    p.button.click()
    assert "请输入编号" in p.status.value


def test_compare_in_the_one_view_and_in_provider_risk(wb):
    from graphkit.workbench.oneview import WorkbenchView
    from graphkit.workbench.risk_view import ProviderRisk

    v = WorkbenchView(wb)
    v.leads_list.value = v.leads_list.options[1][1]
    v.tabs.selected_index = 2  # the peer profile: the lead's provider is the first side
    prov = v.compare.provider
    assert prov and prov.split(":", 1)[0] in ("institution", "pharmacy")
    _, b = _pair(wb)
    v.compare.kind.value = "pharmacy"
    v.compare.query.value = b.entity_id
    assert any(o.startswith(b.entity_id) for o in v.compare.query.options)  # the search box suggests it
    v.compare.query.value = next(o for o in v.compare.query.options if o.startswith(b.entity_id))
    v.compare.button.click()
    assert not v.compare.errors and "gk-risk-compare-table" in v.compare.table_html.value
    assert prov.split(":", 1)[1] in v.compare.table_html.value and b.entity_id in v.compare.table_html.value
    # another lead with another provider: the table follows
    r = ProviderRisk(wb)
    r.pick.value = r.pick.options[1][1]
    r.compare.compare(b["name"])  # by name
    assert not r.compare.errors and r.compare.table.attrs["labels"][1].startswith(f"药店 {b.entity_id}")
    assert r.compare.table.attrs["labels"][0].endswith(r.pick.value[1]) or r.pick.value[1] in r.compare.table.attrs["labels"][0]


# -- PNG export --------------------------------------------------------------------------------

def _png(w: int = 64, h: int = 40) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_export_png_message_writes_a_valid_png(tmp_path):
    from PIL import Image

    w = GraphWidget()
    done: list = []
    req = w.export_png(tmp_path / "out" / "g.png", on_done=lambda p, e: done.append((p, e)))
    payload = _png()
    msg = {"type": "png", "request": req, "data": "data:image/png;base64," + base64.b64encode(payload).decode()}
    w._on_message(w, msg, [])  # what the browser answers
    path = tmp_path / "out" / "g.png"
    assert done == [(path, None)] and path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as im:
        assert im.size == (64, 40) and im.format == "PNG"
    assert png_size(path.read_bytes()) == (64, 40)
    w._on_message(w, msg, [])  # a second view answering the same request: ignored
    assert len(done) == 1
    # the browser could not draw: the callback hears why, no file
    req = w.export_png(tmp_path / "none.png", on_done=lambda p, e: done.append((p, e)))
    w._on_message(w, {"type": "png", "request": req, "error": "no drawing yet"}, [])
    assert done[-1][0] is None and "no drawing yet" in done[-1][1] and not (tmp_path / "none.png").exists()
    with pytest.raises(ValueError, match="PNG"):
        decode_png("data:image/png;base64," + base64.b64encode(b"GIF89a" + bytes(30)).decode())


def test_one_view_export_button_saves_into_the_exports_folder(wb, tmp_path, monkeypatch):
    from graphkit.workbench.oneview import WorkbenchView

    monkeypatch.setenv("GRAPHKIT_LAB_DIR", str(tmp_path / "lab"))
    monkeypatch.delenv("GRAPHKIT_EXPORTS", raising=False)
    v = WorkbenchView(wb)
    v.export_button.click()
    (req, (path, _cb)), = v.graph._exports.items()
    assert path.parent == tmp_path / "lab" / "notebooks" / "exports" and path.suffix == ".png"
    payload = _png(120, 80)
    v.graph._on_message(v.graph, {"type": "png", "request": req,
                                  "data": "data:image/png;base64," + base64.b64encode(payload).decode()}, [])
    assert path.read_bytes() == payload and str(path) in v.exported.value and "download=" in v.exported.value
    assert f"href='/files/exports/{path.name}'" in v.exported.value  # opens from the browser (JupyterLab's files/ route)
    assert "已导出图片" in v.status.value and not v.errors
    req = v.graph.export_png(tmp_path / "x.png", on_done=v._exported)
    v.graph._on_message(v.graph, {"type": "png", "request": req, "data": "data:,"}, [])
    assert "graph not drawn yet" in v.status.value and "Traceback" not in v.output.outputs[-1]["text"]
