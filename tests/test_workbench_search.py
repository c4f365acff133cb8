"""Search any id or name → its leads, claims and neighbourhood; two providers side by side."""

from __future__ import annotations

import html

import pytest

from graphkit.risk.explain import explain_provider
from graphkit.workbench.data import Workbench
from graphkit.workbench.search import find_entities, search
from graphkit.workbench.testing import make_demo


@pytest.fixture(scope="module")
def wb(tmp_path_factory):
    d = make_demo(tmp_path_factory.mktemp("wb-search") / "city", patients=1000)
    return Workbench.open(d["store"], d["findings"], user="t", cases=tmp_path_factory.mktemp("c") / "cases.sqlite")


def _expected_leads(wb, col, value):
    """Brute force: findings naming the entity, or resting on any of its claims."""
    cl = wb.store.table("claims", ["claim_id", col])
    mine = set(cl.loc[(cl[col] == value).fillna(False).to_numpy(bool), "claim_id"].astype(str))
    typ = col[:-3]
    return {f.id for f in wb.findings.values()
            if any(e.type == typ and e.id == value for e in f.entities) or mine & set(f.claims)}


@pytest.mark.parametrize("typ", ["patient", "card", "doctor", "institution", "pharmacy", "terminal"])
def test_search_an_id_of_each_type_finds_its_leads_claims_and_neighbourhood(wb, typ):
    col = f"{typ}_id"
    f = next(f for f in wb.findings.values() if any(e.type == typ for e in f.entities)) if typ != "terminal" else None
    if f is not None:
        value = next(e.id for e in f.entities if e.type == typ)
    else:
        cl = wb.store.table("claims", [col]).dropna()
        value = str(cl[col].iloc[0])
    r = search(wb, value)
    assert r.node == f"{typ}:{value}" and r.matches[0]["how"] == "id"
    assert set(r.leads["id"]) == _expected_leads(wb, col, value)
    if f is not None:
        assert f.id in set(r.leads["id"])
    assert len(r.claims) and (r.claims[col].astype(str) == value).all()
    assert r.node in r.graph and r.graph.nodes[r.node]["lead"]
    # typed form gives the same
    assert search(wb, f"{typ}:{value}").node == r.node


def test_search_a_claim_id_and_a_name(wb):
    f = next(iter(wb.findings.values()))
    r = search(wb, f.claims[0])
    assert r.node == f"claim:{f.claims[0]}" and f.id in set(r.leads["id"]) and r.claims["claim_id"].tolist() == [f.claims[0]]
    p = wb.providers.iloc[0]
    hits = find_entities(wb, str(p["name"])[:4])
    assert p["provider"] in [h["node"] for h in hits] and all(h["how"] == "name" for h in hits)
    assert search(wb, "NO-SUCH-ID-123").matches == []


def test_search_widget(wb):
    from graphkit.workbench.search_view import SearchPanel

    opened = []
    s = SearchPanel(wb, on_lead=opened.append)
    f = next(f for f in wb.findings.values() if any(e.type == "card" for e in f.entities))
    card = next(e.id for e in f.entities if e.type == "card")
    s.query.value = card
    assert not s.errors and s.result.node == f"card:{card}" and "vis.Network" in s.page
    assert f.id in s.leads.value
    s.lead_pick.value = f.id
    s.open_button.click()
    assert opened == [f.id] and wb.current_lead == f.id
    s.query.value = "NO-SUCH-ID-123"
    assert len(s.errors) == 1 and "没有找到" in s.status.value and "Traceback" not in s.output.outputs[-1]["text"]
    a, b = wb.providers["provider"].iloc[0], wb.providers["provider"].iloc[1]
    s.cmp_a.value, s.cmp_b.value = a, b.split(":", 1)[1]  # a node id and a bare id
    s.cmp_button.click()
    assert len(s.errors) == 1 and "gk-risk-compare-table" in s.comparison.value
    # the one comparison of the workbench: the risk explanations of both sides, side by side
    cmp = s.compare()
    ea = explain_provider(wb.risk, a.split(":", 1)[1], entity_type=a.split(":", 1)[0])
    assert cmp.loc["score", "a"] == pytest.approx(ea["score"]) and cmp.loc["rank", "a"] == ea["rank"]
    assert html.escape(str(ea["name"])) in s.comparison.value
    s.compare(a, "nobody-xyz")
    assert len(s.errors) == 2 and "no provider matches nobody-xyz" in s.status.value
