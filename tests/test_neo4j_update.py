"""A later bundle that changes a claim's card and provider replaces the old relationships."""

from __future__ import annotations

import graphkit
import pandas as pd

from graphkit.neo4jstore import Neo4jStore, load_bundle_neo4j
from loaders import load_bundle

from conftest import write_bundle
from test_detectors import planted_tables
from test_neo4j import bolt_server, conn  # noqa: F401  (fixtures)


def test_update_replaces_single_valued_relationships(conn, tmp_path):  # noqa: F811
    t = planted_tables()
    load_bundle_neo4j(write_bundle(tmp_path / "b1", t), conn)
    load_bundle(tmp_path / "b1", tmp_path / "store")
    c = next(r for r in t["claims"] if r["claim_id"] == "C0004")
    c["card_id"], c["institution_id"], c["fund_amount"] = "K0004", "H0001", "44.5"
    load_bundle_neo4j(write_bundle(tmp_path / "b2", t), conn)
    load_bundle(tmp_path / "b2", tmp_path / "store")
    neo = Neo4jStore(conn).claims_by_id(["C0004"])
    assert neo.loc[0, "card_id"] == "K0004" and neo.loc[0, "institution_id"] == "H0001" and neo.loc[0, "fund_amount"] == 44.5
    rels = conn.driver.execute_query(
        "MATCH (:Claim {claimId: 'C0004'})-[r]->() RETURN type(r) AS t, count(*) AS n ORDER BY t", database_=conn.database
    ).records
    assert {r["t"]: r["n"] for r in rels} == {"AT": 1, "PAID_WITH": 1, "TREATED_BY": 1}
    emb = graphkit.open_store(tmp_path / "store")
    pd.testing.assert_frame_equal(emb.table("claims"), Neo4jStore(conn).table("claims")[emb.table("claims").columns], check_dtype=False)


def test_update_that_empties_values_clears_them(conn, tmp_path):  # noqa: F811
    """A later bundle that empties a claim's department and doctor, and a doctor's institution,
    leaves them empty in the graph too (property removed, relationship deleted), as in the
    embedded store."""
    t = planted_tables()
    c = next(r for r in t["claims"] if r["doctor_id"] and r["department"])
    d = next(r for r in t["doctors"] if r["institution_id"])
    load_bundle_neo4j(write_bundle(tmp_path / "b1", t), conn)
    load_bundle(tmp_path / "b1", tmp_path / "store")
    c["department"], c["doctor_id"] = "", ""
    d["institution_id"] = ""
    load_bundle_neo4j(write_bundle(tmp_path / "b2", t), conn)
    load_bundle(tmp_path / "b2", tmp_path / "store")
    neo = Neo4jStore(conn)
    row = neo.claims_by_id([c["claim_id"]])
    assert pd.isna(row.loc[0, "department"]) and pd.isna(row.loc[0, "doctor_id"])
    rels = conn.driver.execute_query(
        "MATCH (:Claim {claimId: $c})-[r:TREATED_BY]->() RETURN count(r) AS n", c=c["claim_id"], database_=conn.database
    ).records
    assert rels[0]["n"] == 0
    emb = graphkit.open_store(tmp_path / "store")
    for table in ("claims", "doctors"):
        pd.testing.assert_frame_equal(emb.table(table), neo.table(table)[emb.table(table).columns], check_dtype=False)
