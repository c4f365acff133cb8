"""Benchmark: loading a demo city into a Bolt server, rows/s per batch size, next to the
server's own ceiling (a bare ``UNWIND … MERGE`` of ids) measured in the same run.

    .venv/bin/python bench/bolt_load.py --claims 200000 --batch-sizes 1000,2000,5000,10000

For every batch size, on a wiped database:

1. the loader (``load_bundle_neo4j``: validation, pseudonymisation, writing) — bundle rows/s;
2. the ceiling: ``UNWIND $rows AS r MERGE (n:BenchNode {id: r.id})`` on a uniqueness
   constraint, ``min(rows, 100k)`` ids, same batch size;
3. a second reference, "same statements, ids only": the loader's own statements for the same
   bundle with every property except the keys removed, written straight (no validation, no
   checkpoints) into the wiped database — what the server can do for this graph's shape
   (nodes and relationships per bundle row), timed over the writes alone.

A small city (1,000 patients) is loaded first and not measured, so that the server's JIT
warms up on it rather than on the first batch size. Also reported: graph elements (nodes + relationships) written per bundle row, and — when this
script started the server itself — the server process's CPU time per row for the loader and
for the ceiling (less sensitive to other work on the machine than wall-clock time).

Starts ArcadeDB (arcadedb-embedded) unless NEO4J_URI is set (then that server is used and
its database is WIPED). Prints a table and writes JSON (``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphkit.demo import generate_city  # noqa: E402
from graphkit.neo4jstore import Connection, load_bundle_neo4j  # noqa: E402
from graphkit.neo4jstore.loader import Stmt, _plan, _run_stmts  # noqa: E402
from graphkit.neo4jstore.runner import run_in  # noqa: E402

CLAIMS_PER_PATIENT = 11.75  # measured on the demo city (587,623 claims for 50,000 patients)

#: the row fields the "ids only" reference keeps (node keys and the ids relationships point to)
ID_FIELDS = {"key", "from", "to", "claimId", "claimIds", "itemKey", "patientId", "cardId", "institutionId",
             "pharmacyId", "doctorId", "referralId", "terminalId"}


def _cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a process so far (Linux), None when not available."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _cpu_delta(pid: int | None, since: float | None) -> float | None:
    now = _cpu_seconds(pid)
    return None if now is None or since is None else now - since


def ceiling(conn: Connection, n: int, batch: int) -> float:
    """Rows/s of a bare UNWIND … MERGE of ids (with a uniqueness constraint), same batch size."""
    with conn.session() as s:
        s.run("CREATE CONSTRAINT bench_id IF NOT EXISTS FOR (n:BenchNode) REQUIRE n.id IS UNIQUE").consume()
    rate = _rows_per_s(conn, "UNWIND $rows AS r MERGE (n:BenchNode {id: r.id})", [{"id": f"B{i:09d}"} for i in range(n)], batch)
    conn.write(lambda tx: tx.run("MATCH (n:BenchNode) DETACH DELETE n").consume(), name="bench cleanup")
    return rate


def _rows_per_s(conn: Connection, statement: str, rows: list[dict], batch: int) -> float:
    """Rows/s of ``statement`` over ``rows`` (built beforehand), one transaction per batch."""
    t0 = time.perf_counter()
    for i in range(0, len(rows), batch):
        part = rows[i : i + batch]
        conn.write(lambda tx, part=part: tx.run(statement, rows=part).consume(), name="bench")
    return len(rows) / (time.perf_counter() - t0)


#: per-element write costs of the server: (name, statement, row maker) — each row writes what the name says
_ELEMENTS: list[tuple[str, str, Callable[[int], dict]]] = [
    ("MERGE a node by id (the ceiling's statement)", "UNWIND $rows AS r MERGE (n:BenchNode {id: r.id})",
     lambda i: {"id": f"N{i}"}),
    ("CREATE a node", "UNWIND $rows AS r CREATE (n:BenchNode {id: r.id})", lambda i: {"id": f"C{i}"}),
    ("CREATE a node + look up one other by id",
     "UNWIND $rows AS r CREATE (n:BenchNode {id: r.id}) WITH n, r MATCH (h:BenchHub {id: r.h}) RETURN count(*)",
     lambda i: {"id": f"L{i}", "h": f"H{i * 7919 % 2000}"}),
    ("CREATE a node + a relationship to another",
     "UNWIND $rows AS r CREATE (n:BenchNode {id: r.id}) WITH n, r MATCH (h:BenchHub {id: r.h}) CREATE (n)-[:BENCH]->(h)",
     lambda i: {"id": f"R{i}", "h": f"H{i * 7919 % 2000}"}),
]


def element_costs(conn: Connection, n: int, batch: int) -> dict[str, float]:
    """Rows/s of statements that write one node, a node and a lookup, a node and a relationship:
    what each graph element costs this server (rows reference 2,000 hub nodes)."""
    with conn.session() as s:
        s.run("CREATE CONSTRAINT bench_id IF NOT EXISTS FOR (n:BenchNode) REQUIRE n.id IS UNIQUE").consume()
        s.run("CREATE CONSTRAINT bench_hub IF NOT EXISTS FOR (n:BenchHub) REQUIRE n.id IS UNIQUE").consume()
    hubs = [{"id": f"H{i}"} for i in range(2000)]
    conn.write(lambda tx: tx.run("UNWIND $rows AS r MERGE (n:BenchHub {id: r.id})", rows=hubs).consume(), name="bench hubs")
    out = {name: round(_rows_per_s(conn, q, [make(j) for j in range(n)], batch)) for name, q, make in _ELEMENTS}
    conn.write(lambda tx: tx.run("MATCH (n) WHERE n:BenchNode OR n:BenchHub DETACH DELETE n").consume(), name="bench cleanup")
    return out


def _ids_only(value: Any) -> Any:
    """Parameters with every property removed but the keys (``props`` maps become empty)."""
    if isinstance(value, dict):
        return {k: ({} if k == "props" else _ids_only(v)) for k, v in value.items() if k in ID_FIELDS or k in ("rows", "items", "props")}
    if isinstance(value, list):
        return [_ids_only(v) for v in value]
    return value


def same_statements_ids_only(conn: Connection, tables: dict, batch: int) -> tuple[float, int]:
    """Seconds spent writing the loader's own statements with ids only, and the rows they cover."""
    conn.write(lambda tx: run_in(tx, "admin/wipe"), name="wipe")
    conn.schema()
    secs = 0.0
    rows = 0
    for step in _plan(tables, batch):
        rows += step.rows
        for build in step.batches:
            stmts = [Stmt(st.query, _ids_only(st.params), st.expect) for st in build()]
            t0 = time.perf_counter()
            conn.write(lambda tx, stmts=stmts: _run_stmts(tx, stmts), name="bench ids only")
            secs += time.perf_counter() - t0
    return secs, rows


def _graph_size(conn: Connection) -> tuple[int, int]:
    """Nodes (without the loader's own bookkeeping nodes) and relationships in the graph."""
    nodes = conn.driver.execute_query(
        "MATCH (n) WHERE NOT n:GraphkitMeta AND NOT n:GraphkitLoad RETURN count(n) AS n", database_=conn.database).records[0]["n"]
    rels = conn.driver.execute_query("MATCH ()-[r]->() RETURN count(r) AS n", database_=conn.database).records[0]["n"]
    return int(nodes), int(rels)


def run_one(conn_args: tuple, bundle: Path, batch: int, server_pid: int | None, ids_only: bool,
            prepared: Callable[[], dict]) -> dict[str, Any]:
    conn = Connection(*conn_args)
    try:
        conn.write(lambda tx: run_in(tx, "admin/wipe"), name="wipe")
        cpu0 = _cpu_seconds(server_pid)
        res = load_bundle_neo4j(bundle, conn, batch_size=batch)
        load_cpu = _cpu_delta(server_pid, cpu0)
        rows, claims = res.rows_written, res.rows["claims"]
        nodes, rels = _graph_size(conn)
        n_ceiling = min(rows, 100_000)
        cpu0 = _cpu_seconds(server_pid)
        ceil = ceiling(conn, n_ceiling, batch)
        ceil_cpu = _cpu_delta(server_pid, cpu0)
        loader_rate = rows / res.seconds
        out: dict[str, Any] = {
            "batch_size": batch, "bundle_rows": rows, "claims": claims, "seconds": round(res.seconds, 1),
            "write_seconds": round(res.write_seconds, 1), "rows_per_s": round(loader_rate),
            "write_rows_per_s": round(rows / res.write_seconds), "claims_per_s": round(claims / res.seconds),
            "client_build_seconds": round(res.build_seconds, 1),
            "ceiling_rows_per_s": round(ceil), "share_of_ceiling": round(loader_rate / ceil, 3),
            "nodes": nodes, "relationships": rels, "elements_per_row": round((nodes + rels) / rows, 2),
            "elements_per_s": round((nodes + rels) / res.seconds),
            "elements_share_of_ceiling": round((nodes + rels) / res.seconds / ceil, 3),
        }
        if load_cpu is not None and ceil_cpu is not None:
            out["server_cpu_us_per_row"] = round(1e6 * load_cpu / rows, 1)
            out["ceiling_server_cpu_us_per_row"] = round(1e6 * ceil_cpu / n_ceiling, 1)
        if ids_only:
            secs, n = same_statements_ids_only(conn, prepared(), batch)
            out["ids_only_rows_per_s"] = round(n / secs)
            out["share_of_ids_only"] = round(loader_rate / (n / secs), 3)
            # the most any loader of this graph shape could reach: no client work, no properties
            out["ids_only_share_of_ceiling"] = round(n / secs / ceil, 3)
        return out
    finally:
        conn.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--claims", type=int, default=200_000)
    ap.add_argument("--batch-sizes", default="1000,2000,5000,10000")
    ap.add_argument("--cache", default=str(ROOT / ".bench-cache"))
    ap.add_argument("--no-ids-only", action="store_true", help="skip the 'same statements, ids only' reference")
    ap.add_argument("--no-warmup", action="store_true", help="skip the unmeasured warm-up load of a small city")
    ap.add_argument("--element-costs", action="store_true",
                    help="also measure what one node, a lookup and a relationship cost the server (rows/s, 100k rows)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    patients = max(1000, int(a.claims / CLAIMS_PER_PATIENT))  # the demo city needs 1,000 patients or more
    bundle = Path(a.cache) / f"city-{patients}"
    if not (bundle / "truth.json").exists():
        generate_city(bundle, patients=patients, seed=0, fmt="parquet")

    cache: dict[str, dict] = {}

    def prepared() -> dict:
        if "t" not in cache:
            from loaders.embedded import ready_bundle

            ready = ready_bundle(bundle, known_keys={}, mapping=None, encoding=None, lenient=False, key=None,
                                 pseudonymise=True, allow_demo_key=None)
            cache["t"] = ready.prepared.tables
        return cache["t"]

    server = None
    if os.environ.get("NEO4J_URI"):
        conn_args = (os.environ["NEO4J_URI"], os.environ.get("NEO4J_USER", "neo4j"), os.environ.get("NEO4J_PASSWORD"), os.environ.get("NEO4J_DATABASE"))
        agent, pid = os.environ["NEO4J_URI"], None
    else:
        from graphkit.neo4jstore.arcadedb import ArcadeDBServer

        server = ArcadeDBServer.start(heap="4g")
        conn_args = (server.uri, server.user, server.password, server.database)
        agent, pid = "ArcadeDB (arcadedb-embedded) on 127.0.0.1", server.process.pid
    results = []
    elements: dict[str, float] = {}
    try:
        if not a.no_warmup:  # a small city first, not measured: the server's JIT compiles on it, not on the first batch size
            small = Path(a.cache) / "city-1000"
            if not (small / "truth.json").exists():
                generate_city(small, patients=1000, seed=0, fmt="parquet")
            conn = Connection(*conn_args)
            conn.write(lambda tx: run_in(tx, "admin/wipe"), name="wipe")
            load_bundle_neo4j(small, conn, batch_size=1000)
            ceiling(conn, 20_000, 1000)
            conn.close()
        for batch in [int(x) for x in a.batch_sizes.split(",")]:
            results.append(run_one(conn_args, bundle, batch, pid, not a.no_ids_only, prepared))
            print(json.dumps(results[-1]), flush=True)
        if a.element_costs:
            conn = Connection(*conn_args)
            conn.write(lambda tx: run_in(tx, "admin/wipe"), name="wipe")
            elements = element_costs(conn, 100_000, 1000)
            conn.close()
    finally:
        if server:
            server.stop()
    print()
    print(f"server: {agent}; machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print("| batch | bundle rows | seconds (client build) | rows/s | ceiling rows/s | share | same statements, ids only: rows/s | loader's share of it | its share of the ceiling | graph elements/row | server CPU µs/row (loader / ceiling) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        ids = (f"{r['ids_only_rows_per_s']:,} | {r['share_of_ids_only']:.0%} | {r['ids_only_share_of_ceiling']:.0%}"
               if "ids_only_rows_per_s" in r else "— | — | —")
        cpu = f"{r['server_cpu_us_per_row']} / {r['ceiling_server_cpu_us_per_row']}" if "server_cpu_us_per_row" in r else "—"
        print(f"| {r['batch_size']} | {r['bundle_rows']:,} | {r['seconds']} ({r['client_build_seconds']}) | {r['rows_per_s']:,} | {r['ceiling_rows_per_s']:,} | "
              f"{r['share_of_ceiling']:.0%} | {ids} | {r['elements_per_row']} | {cpu} |")
    if elements:
        print()
        print("| what each row writes (batches of 1,000) | rows/s | µs per row |")
        print("|---|---:|---:|")
        for name, rate in elements.items():
            print(f"| {name} | {rate:,} | {1e6 / rate:.1f} |")
    if a.json:
        Path(a.json).write_text(json.dumps({"server": agent, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                                            "claims": a.claims, "results": results, "element_costs": elements}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
