"""Property tests (hypothesis): malformed bundles against validate and load, embedded and Bolt.

Every generated case must end in a clean report (or a clean ``BundleError``), never a
traceback; a strict failure must leave the store / graph exactly as before; a lenient load
must account for every row (kept + quarantined = read). The number of examples is
``GRAPHKIT_FUZZ_EXAMPLES`` (default 30 embedded, a third of that over Bolt; the hypothesis
database is off and runs are derandomised, so CI sees the same cases every time).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphkit.errors import BundleError
from loaders import load_bundle, validate_bundle

from conftest import tiny_tables, write_bundle

N = int(os.environ.get("GRAPHKIT_FUZZ_EXAMPLES", "30"))
from graphkit.schema import TABLE_ORDER

TABLES = list(TABLE_ORDER)
NASTY = ["'", '"', "`", "{", "}", "$rows", "\\", "\n", "\r\n", "\t", "\u0000", "\u200b", "😀", "；", "\ufeff", "MATCH (n) DETACH DELETE n //", "${x}", "%s", "NaN", "inf", "-0", "1e309"]
MUTATIONS = ["garbage", "nasty", "empty", "huge", "absurd_date", "absurd_amount", "duplicate_row", "dangling", "truncate", "bad_bytes", "drop_column", "extra_field"]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()} if folder.exists() else {}


def mutate(root: Path, data: st.DataObject) -> str:
    """Apply one random mutation to a fresh tiny bundle in ``root``; return its description."""
    t = tiny_tables()
    table = data.draw(st.sampled_from(TABLES), label="table")
    kind = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    rows = t[table]
    r = data.draw(st.integers(0, len(rows) - 1), label="row")
    col = data.draw(st.sampled_from(sorted(rows[0])), label="column")
    text = data.draw(st.text(min_size=0, max_size=30), label="text")
    if kind == "garbage":
        rows[r][col] = text
    elif kind == "nasty":
        rows[r][col] = data.draw(st.sampled_from(NASTY)) + text
    elif kind == "empty":
        rows[r][col] = ""
    elif kind == "huge":
        rows[r][col] = "长" * 100_000
    elif kind == "absurd_date":
        rows[r][col] = data.draw(st.sampled_from(["9999-99-99", "1800-01-01", "2500-01-01 00:00:00", "0000-00-00", "2024-02-30", "24/03/2024"]))
    elif kind == "absurd_amount":
        rows[r][col] = data.draw(st.sampled_from(["-1", "1e400", "nan", "12,5", "¥100", "9" * 40, "0x10"]))
    elif kind == "duplicate_row":
        rows.append(dict(rows[r]))
    elif kind == "dangling":
        rows[r][col] = "NO-SUCH-" + text
    elif kind == "drop_column":
        for row in rows:
            row.pop(col, None)
    elif kind == "extra_field":
        rows[r][col] = rows[r][col] + '","extra'
    write_bundle(root, t)
    path = root / f"{table}.csv"
    if kind == "truncate":
        raw = path.read_bytes()
        path.write_bytes(raw[: data.draw(st.integers(0, max(len(raw) - 1, 0)), label="cut")])
    elif kind == "bad_bytes":
        raw = path.read_bytes()
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)), label="pos")
        path.write_bytes(raw[:pos] + b"\xff\xfe\x80" + raw[pos:])
    return f"{kind} {table}[{r}].{col}"


def _check_report(report) -> None:
    text = report.format()
    assert "Validation report" in text
    for issue in report.issue_list():
        assert issue.table in TABLES and issue.rule
    assert sum(report.rows_kept.values()) <= sum(report.rows_read.values())


@settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
@given(data=st.data())
def test_malformed_bundles_embedded(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("fuzz")
    what = mutate(root / "bundle", data)
    try:
        report = validate_bundle(root / "bundle")
    except BundleError as exc:  # unreadable as a whole (e.g. truncated header): a clear error naming the table
        assert any(t in str(exc) for t in TABLES), what
        report = None
    if report is not None:
        _check_report(report)
    store = root / "store"
    load_bundle(write_bundle(root / "base", tiny_tables()), store)
    before = snapshot(store)
    try:
        load_bundle(root / "bundle", store)
    except BundleError:
        assert snapshot(store) == before, f"strict failure changed the store ({what})"
    try:
        res = load_bundle(root / "bundle", root / "lenient", lenient=True)
    except BundleError as exc:
        assert any(t in str(exc) for t in TABLES), what
    else:
        rep = res.report
        assert sum(rep.rows_kept.values()) + sum(rep.quarantined.values()) == sum(rep.rows_read.values()), what


@pytest.fixture(scope="module")
def bolt(request):
    from graphkit.neo4jstore import Connection
    from graphkit.neo4jstore.arcadedb import ArcadeDBServer, arcadedb_home

    if os.environ.get("NEO4J_URI"):
        conn = Connection(os.environ["NEO4J_URI"], os.environ.get("NEO4J_USER"), os.environ.get("NEO4J_PASSWORD"), os.environ.get("NEO4J_DATABASE"))
        yield conn
        conn.close()
        return
    if arcadedb_home() is None:
        pytest.skip("no Bolt server: arcadedb-embedded is not installed and NEO4J_URI is not set")
    server = ArcadeDBServer.start()
    conn = Connection(server.uri, server.user, server.password, server.database)
    yield conn
    conn.close()
    server.stop()


def _graph_counts(conn) -> dict:
    rec = conn.driver.execute_query("MATCH (n) RETURN labels(n)[0] AS l, count(*) AS n", database_=conn.database).records
    rels = conn.driver.execute_query("MATCH ()-[r]->() RETURN count(r) AS n", database_=conn.database).records
    return {**{r["l"]: r["n"] for r in rec}, "_rels": rels[0]["n"]}


@settings(max_examples=max(N // 3, 5), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
@given(data=st.data())
def test_malformed_bundles_bolt(bolt, tmp_path_factory, data):
    from graphkit.neo4jstore import Neo4jStore, load_bundle_neo4j
    from graphkit.neo4jstore.runner import run_in

    root = tmp_path_factory.mktemp("fuzzbolt")
    what = mutate(root / "bundle", data)
    bolt.write(lambda tx: run_in(tx, "admin/wipe"), name="wipe")
    load_bundle_neo4j(write_bundle(root / "base", tiny_tables()), bolt, allow_demo_key=True)
    before = _graph_counts(bolt)
    try:
        load_bundle_neo4j(root / "bundle", bolt, allow_demo_key=True)
    except BundleError:
        assert _graph_counts(bolt) == before, f"strict failure changed the graph ({what})"
    else:  # the mutation was harmless (e.g. an extra column): the values must round-trip
        names = Neo4jStore(bolt).table("institutions")["name"].tolist()
        assert all(isinstance(n, str) or n is None or n != n for n in names)
