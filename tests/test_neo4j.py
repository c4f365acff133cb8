"""Neo4j path against a real Bolt server.

By default the suite starts ArcadeDB (PyPI ``arcadedb-embedded``) on 127.0.0.1 itself.
Set ``NEO4J_URI`` (+ ``NEO4J_USER``, ``NEO4J_PASSWORD``, ``NEO4J_DATABASE``) to run the same
tests against a real Neo4j 5 — a scratch database: the tests wipe it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

import graphkit
from graphkit.errors import BundleError
from graphkit.neo4jstore import Connection, Neo4jStore, load_bundle_neo4j
from graphkit.neo4jstore.runner import CYPHER_DIR, run_in
from loaders import load_bundle

from conftest import write_bundle
from test_detectors import planted_tables


@pytest.fixture(scope="session")
def bolt_server():
    if os.environ.get("NEO4J_URI"):
        yield {
            "uri": os.environ["NEO4J_URI"],
            "user": os.environ.get("NEO4J_USER", "neo4j"),
            "password": os.environ.get("NEO4J_PASSWORD", ""),
            "database": os.environ.get("NEO4J_DATABASE") or None,
        }
        return
    from graphkit.neo4jstore.arcadedb import ArcadeDBServer, arcadedb_home

    if arcadedb_home() is None:
        pytest.skip("no Bolt server: arcadedb-embedded is not installed and NEO4J_URI is not set")
    server = ArcadeDBServer.start()
    try:
        yield {"uri": server.uri, "user": server.user, "password": server.password, "database": server.database}
    finally:
        server.stop()


@pytest.fixture
def conn(bolt_server):
    c = Connection(bolt_server["uri"], bolt_server["user"], bolt_server["password"], bolt_server["database"])
    c.write(lambda tx: run_in(tx, "admin/wipe"), name="wipe")
    yield c
    c.close()


@pytest.fixture
def planted(tmp_path: Path):
    bundle = write_bundle(tmp_path / "bundle", planted_tables())
    load_bundle(bundle, tmp_path / "store")
    return bundle, graphkit.open_store(tmp_path / "store")


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b[a.columns].reset_index(drop=True), check_dtype=False)


def test_parity_tables_projections_findings(conn, planted):
    bundle, emb = planted
    res = load_bundle_neo4j(bundle, conn, batch_size=7)
    neo = Neo4jStore(conn)
    assert res.store_fingerprint == emb.fingerprint == neo.fingerprint
    for t in ("institutions", "pharmacies", "doctors", "patients", "cards", "referrals", "claims", "contacts"):
        _frames_equal(emb.table(t), neo.table(t))
    items_e, items_n = emb.table("claim_items"), neo.table("claim_items")
    _frames_equal(items_e[[c for c in items_e.columns]], items_n)
    from graphkit.neo4jstore import SERVER_SIDE
    from test_neo4j_projections import PARITY_KWARGS

    for name in SERVER_SIDE:
        kws = PARITY_KWARGS.get(name, [{}])
        for kw in kws:
            pd.testing.assert_frame_equal(emb.projection(name, **kw), neo.projection(name, **kw), check_dtype=False)
    r_emb, r_neo = graphkit.scan(emb), graphkit.scan(neo)
    assert r_emb.findings, "the planted bundle must produce findings"
    assert [f.to_dict() for f in r_emb.findings] == [f.to_dict() for f in r_neo.findings]
    pd.testing.assert_frame_equal(r_emb.scores, r_neo.scores, check_dtype=False)


def test_second_load_changes_nothing(conn, planted):
    bundle, _ = planted
    first = load_bundle_neo4j(bundle, conn)
    second = load_bundle_neo4j(bundle, conn)
    assert second.skipped and second.rows == first.rows
    # even a forced re-run of every statement (a new checkpoint) changes no counts
    conn.write(lambda tx: tx.run("MATCH (l:GraphkitLoad) DETACH DELETE l").consume(), name="forget checkpoints")
    third = load_bundle_neo4j(bundle, conn)
    assert not third.skipped and third.rows == first.rows
    rels = conn.driver.execute_query("MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n ORDER BY t", database_=conn.database).records
    assert {r["t"]: r["n"] for r in rels}["PAID_WITH"] == first.rows["claims"]


def test_kill_and_resume(conn, planted):
    bundle, emb = planted
    partial = load_bundle_neo4j(bundle, conn, batch_size=3, stop_after_batches=5)
    assert not partial.skipped and partial.store_fingerprint == ""
    assert not conn.read("meta/read_meta")  # not finished: no store metadata yet
    cp = conn.read("meta/read_checkpoint", fingerprint=partial.bundle_fingerprint)
    assert cp and not cp[0]["complete"]
    resumed = load_bundle_neo4j(bundle, conn, batch_size=3)
    assert resumed.resumed_from == (cp[0]["step"], cp[0]["batch"])
    assert resumed.store_fingerprint == emb.fingerprint
    for t in ("institutions", "pharmacies", "doctors", "patients", "cards", "referrals", "claims", "claim_items"):
        assert resumed.rows[t] == emb.row_counts()[t], t
    neo = Neo4jStore(conn)
    for t in ("patients", "cards", "claims"):
        _frames_equal(emb.table(t), neo.table(t))


def test_strict_validation_writes_nothing(conn, tmp_path):
    t = planted_tables()
    t["claims"][0]["card_id"] = "NO-SUCH-CARD"
    bundle = write_bundle(tmp_path / "bad", t)
    with pytest.raises(BundleError, match="dangling|unknown record"):
        load_bundle_neo4j(bundle, conn)
    n = conn.driver.execute_query("MATCH (n) WHERE NOT n:GraphkitMeta RETURN count(n) AS n", database_=conn.database).records[0]["n"]
    assert n == 0


def test_injection_values_round_trip(conn, tmp_path):
    t = planted_tables()
    nasty = "x'}) DETACH DELETE n //\"`{$rows}\n\\u0000; MATCH (m) RETURN m"
    t["institutions"][1]["name"] = nasty
    t["patients"][0]["region"] = "370102`) RETURN 1 //"
    bundle = write_bundle(tmp_path / "nasty", t)
    load_bundle_neo4j(bundle, conn)
    neo = Neo4jStore(conn)
    inst = neo.table("institutions").set_index("institution_id")
    assert inst.loc["H0002", "name"] == nasty
    assert neo.table("patients").set_index("patient_id").loc["PT0001", "region"] == "370102`) RETURN 1 //"


def test_cli_load_and_scan_against_bolt(bolt_server, conn, planted, tmp_path, monkeypatch, capsys):
    from graphkit.cli import main

    bundle, emb = planted
    monkeypatch.setenv("NEO4J_PASSWORD", bolt_server["password"])
    args = ["--neo4j", bolt_server["uri"], "--neo4j-user", bolt_server["user"]]
    if bolt_server["database"]:
        args += ["--neo4j-database", bolt_server["database"]]
    assert main(["load", str(bundle), *args]) == 0
    assert "rows/s" in capsys.readouterr().out
    assert main(["scan", *args, "--out", str(tmp_path / "out")]) == 0
    doc = json.loads((tmp_path / "out" / "findings.json").read_text("utf-8"))
    expected = graphkit.scan(emb)
    assert [f["id"] for f in doc["findings"]] == [f.id for f in expected.findings]


def test_every_cypher_file_has_a_header():
    files = sorted(CYPHER_DIR.rglob("*.cypher"))
    assert len(files) > 30
    for f in files:
        head = f.read_text("utf-8").splitlines()[:4]
        assert head[0].startswith("// name:") and head[1].startswith("// mode:"), f
        assert head[2].startswith("// params:") and head[3].startswith("// returns:"), f


def test_budgets_round_trip(conn, planted):
    bundle, emb = planted
    load_bundle_neo4j(bundle, conn)
    neo = Neo4jStore(conn)
    assert emb.row_counts()["budgets"] == neo.row_counts()["budgets"] == 2
    _frames_equal(emb.table("budgets"), neo.table("budgets"))
    rel = conn.driver.execute_query("MATCH (:Pharmacy {pharmacyId: 'Y0001'})-[:HAS_BUDGET]->(b:Budget) RETURN b.amount AS a",
                                    database_=conn.database).records
    assert [r["a"] for r in rel] == [300000.0]
