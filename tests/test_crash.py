"""Crash safety: the load process is killed (``os._exit(137)``, as by ``kill -9``) at several
points of an embedded load and of a Bolt load; the re-run completes with identical content
and no duplicates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import graphkit
from loaders import load_bundle

from conftest import tiny_tables, write_bundle

ROOT = Path(__file__).resolve().parents[1]
EMBEDDED_POINTS = [
    "store_after_table:institutions",
    "store_after_table:claims",
    "store_before_manifest",
    "store_after_manifest",
]


def _killed_load(args: list[str], point: str, env_extra: dict[str, str] | None = None) -> int:
    env = {**os.environ, "GRAPHKIT_FAILPOINT": point, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "graphkit.cli", *args], cwd=ROOT, env=env, capture_output=True, timeout=300).returncode


@pytest.fixture(scope="module")
def two_bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    t = tiny_tables()
    first = write_bundle(root / "first", t)
    t["claims"][0]["fund_amount"] = "149.00"  # an update …
    t["claims"].append({**t["claims"][1], "claim_id": "C0099", "start_time": "2024-04-01 10:00:00"})  # … and a new claim
    second = write_bundle(root / "second", t)
    clean = root / "clean"
    load_bundle(first, clean, allow_demo_key=True)  # module scope: before the per-test environment is set
    load_bundle(second, clean, allow_demo_key=True)
    return first, second, graphkit.open_store(clean)


@pytest.mark.parametrize("point", EMBEDDED_POINTS)
def test_embedded_load_killed_then_rerun(point, two_bundles, tmp_path):
    first, second, clean = two_bundles
    store = tmp_path / "store"
    load_bundle(first, store)
    before = graphkit.open_store(store).fingerprint
    assert _killed_load(["load", str(second), "--store", str(store)], point) == 137
    after_kill = graphkit.open_store(store)  # always a complete store: the old one, or (past the swap) the new one
    expected = clean.fingerprint if point == "store_after_manifest" else before
    assert after_kill.fingerprint == expected
    assert after_kill.row_counts()["claims"] == (6 if point == "store_after_manifest" else 5)
    res = load_bundle(second, store)  # the re-run
    after_kill.release()  # the reader's pinned generation outlives the commit; released, it is removed
    assert res.store_fingerprint == clean.fingerprint
    st = graphkit.open_store(store)
    claims = st.table("claims")
    assert claims["claim_id"].is_unique and len(claims) == 6
    pd.testing.assert_frame_equal(claims, clean.table("claims"))
    assert sorted(p.name for p in store.glob("gen-*")) == [st.manifest["generation"]]  # leftovers cleaned


def test_bolt_load_killed_then_resumed(two_bundles, tmp_path):
    from graphkit.neo4jstore import Connection, Neo4jStore, load_bundle_neo4j
    from graphkit.neo4jstore.arcadedb import ArcadeDBServer, arcadedb_home
    from graphkit.neo4jstore.runner import run_in

    if arcadedb_home() is None and not os.environ.get("NEO4J_URI"):
        pytest.skip("no Bolt server: arcadedb-embedded is not installed and NEO4J_URI is not set")
    first, _, _ = two_bundles
    load_bundle(first, tmp_path / "emb")
    emb = graphkit.open_store(tmp_path / "emb")
    server = None if os.environ.get("NEO4J_URI") else ArcadeDBServer.start()
    env = server.env() if server else {k: v for k, v in os.environ.items() if k.startswith("NEO4J_")}
    try:
        conn = Connection(env["NEO4J_URI"], env.get("NEO4J_USER"), env.get("NEO4J_PASSWORD"), env.get("NEO4J_DATABASE"))
        for kill_after in (1, 4, 9):
            conn.write(lambda tx: run_in(tx, "admin/wipe"), name="wipe")
            args = ["load", str(first), "--neo4j", env["NEO4J_URI"], "--batch-size", "2"]
            assert _killed_load(args, f"bolt_after_batch:{kill_after}", env) == 137
            assert not conn.read("meta/read_meta")  # the graph is not marked loaded
            res = load_bundle_neo4j(first, conn, batch_size=2)  # the re-run resumes
            assert res.resumed_from is not None and not res.skipped
            assert res.store_fingerprint == emb.fingerprint
            neo = Neo4jStore(conn)
            for t in ("patients", "cards", "claims", "contacts"):
                pd.testing.assert_frame_equal(emb.table(t), neo.table(t)[emb.table(t).columns], check_dtype=False)
            rels = conn.driver.execute_query("MATCH (:Claim)-[r]->() RETURN type(r) AS t, count(*) AS n ORDER BY t",
                                             database_=conn.database).records
            assert {r["t"]: r["n"] for r in rels}["PAID_WITH"] == 5  # no duplicate relationships
        conn.close()
    finally:
        if server:
            server.stop()
