"""Cases kept in the graph behave like the SQLite case store (same calls, same results)."""

from __future__ import annotations

import pytest

from graphkit.findings import Entity, Finding
from graphkit.neo4jstore.cases import GraphCaseStore
from graphkit.workbench.cases import CaseError, CaseStore

from test_neo4j import bolt_server, conn  # noqa: F401  (fixtures)


def _findings():
    f1 = Finding.create("shared_card", key=("card", "K1"), score=0.9, amount_at_risk=300, claims=["C1", "C2"],
                        entities=[Entity("card", "K1", "card"), Entity("patient", "P1", "user")], summary="s / s")
    f2 = Finding.create("deceased_card_use", key=("patient", "P9"), score=0.8, amount_at_risk=50, claims=["C2", "C3"],
                        entities=[Entity("patient", "P9", "deceased")], summary="d / d")
    return f1, f2


def _exercise(cs):
    f1, f2 = _findings()
    case = cs.create("一卡多人案", actor="li", findings=[f1], assignee="wang")
    cs.add_findings(case.id, [f2, f1], actor="li")
    cs.add_entities(case.id, [Entity("doctor", "D7", "organiser")], actor="li")
    cs.add_claims(case.id, ["C9", "C1"], actor="li")
    cs.remove_findings(case.id, [f1.id], actor="zhao")
    cs.update(case.id, actor="zhao", status="confirmed", notes="核实")
    cs.log(case.id, actor="zhao", action="export", detail={"html": "x.html"})
    cs.set_pref("li", "lead", f2.id)
    got = cs.get(case.id)
    audit = cs.audit(case.id)
    return (
        got.title, got.status, got.assignee, got.notes, [f.id for f in got.findings],
        sorted((e.type, e.id) for e in got.entities), got.claims,
        [(r.actor, r.action, r.field) for r in audit.itertuples()],
        cs.list()[["title", "status", "findings", "claims"]].values.tolist(),
        cs.dispositions()[["finding_id", "label"]].values.tolist(), cs.get_pref("li", "lead"),
    )


def test_graph_cases_match_sqlite_cases(conn, tmp_path):  # noqa: F811
    sqlite = _exercise(CaseStore(tmp_path / "cases.sqlite"))
    graph = _exercise(GraphCaseStore(conn))
    assert graph == sqlite
    title, status, assignee, notes, findings, entities, claims, audit, *_ = graph
    assert status == "confirmed" and claims == ["C2", "C3", "C9"]  # C1 went with f1; C9 was added by hand
    assert ("doctor", "D7") in entities and ("card", "K1") not in entities
    assert [a for _, a, _ in audit] == ["create", "update", "add_finding", "add_finding", "add_entity", "add_claims",
                                        "remove_finding", "remove_evidence", "update", "update", "export"]


def test_graph_cases_errors_and_persistence(conn):  # noqa: F811
    cs = GraphCaseStore(conn)
    with pytest.raises(CaseError, match="no case"):
        cs.get(999)
    with pytest.raises(CaseError, match="actor"):
        cs.create("x", actor=" ")
    c = cs.create("x", actor="li")
    with pytest.raises(CaseError, match="status must be"):
        cs.update(c.id, actor="li", status="closed")
    again = GraphCaseStore(conn)  # another investigator's session sees the same case
    assert again.get(c.id).title == "x" and list(again.audit(c.id)["action"]) == ["create"]


def test_workbench_on_neo4j_keeps_cases_in_the_graph(conn, bolt_server, tmp_path, monkeypatch):  # noqa: F811
    import graphkit
    from graphkit.findings import FindingsReport, write_findings
    from graphkit.neo4jstore import Neo4jStore, load_bundle_neo4j
    from graphkit.workbench.data import Workbench

    from conftest import write_bundle
    from test_detectors import planted_tables

    bundle = write_bundle(tmp_path / "b", planted_tables())
    load_bundle_neo4j(bundle, conn)
    res = graphkit.scan(Neo4jStore(conn), kinds=["shared_card"])
    write_findings(tmp_path / "findings.json", FindingsReport(res.findings, res.data_fingerprint, res.parameters))
    monkeypatch.setenv("NEO4J_USER", bolt_server["user"])
    monkeypatch.setenv("NEO4J_PASSWORD", bolt_server["password"])
    if bolt_server["database"]:
        monkeypatch.setenv("NEO4J_DATABASE", bolt_server["database"])
    wb = Workbench.from_env({"NEO4J_URI": bolt_server["uri"], "GRAPHKIT_FINDINGS": str(tmp_path / "findings.json"),
                             "GRAPHKIT_USER": "li"})
    assert isinstance(wb.cases, GraphCaseStore)
    case = wb.cases.create("共享线索", actor="li", findings=res.findings[:1])
    assert GraphCaseStore(conn).get(case.id).findings[0].id == res.findings[0].id
