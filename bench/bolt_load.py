"""Benchmark: loading a demo city into a Bolt server, rows/s per batch size, next to the
server's own ceiling (a bare ``UNWIND … MERGE`` of ids) measured in the same run.

    .venv/bin/python bench/bolt_load.py --claims 200000 --batch-sizes 1000,2000,5000

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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphkit.demo import generate_city  # noqa: E402
from graphkit.neo4jstore import Connection, load_bundle_neo4j  # noqa: E402
from graphkit.neo4jstore.runner import run_in  # noqa: E402

CLAIMS_PER_PATIENT = 11.75  # measured on the demo city (587,623 claims for 50,000 patients)


def ceiling(conn: Connection, n: int, batch: int) -> float:
    """Rows/s of a bare UNWIND … MERGE of ids (with a uniqueness constraint), same batch size."""
    from neo4j import GraphDatabase  # noqa: F401  (only to make the dependency explicit)

    with conn.session() as s:
        s.run("CREATE CONSTRAINT bench_id IF NOT EXISTS FOR (n:BenchNode) REQUIRE n.id IS UNIQUE").consume()
    ids = [f"B{i:09d}" for i in range(n)]
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        rows = [{"id": x} for x in ids[i : i + batch]]
        conn.write(lambda tx, rows=rows: tx.run("UNWIND $rows AS r MERGE (n:BenchNode {id: r.id})", rows=rows).consume(), name="bench ceiling")
    secs = time.perf_counter() - t0
    conn.write(lambda tx: tx.run("MATCH (n:BenchNode) DETACH DELETE n").consume(), name="bench cleanup")
    return n / secs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--claims", type=int, default=200_000)
    ap.add_argument("--batch-sizes", default="1000,2000,5000")
    ap.add_argument("--cache", default=str(ROOT / ".bench-cache"))
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    patients = max(300, int(a.claims / CLAIMS_PER_PATIENT))
    bundle = Path(a.cache) / f"city-{patients}"
    if not (bundle / "truth.json").exists():
        generate_city(bundle, patients=patients, seed=0, fmt="parquet")
    server = None
    if os.environ.get("NEO4J_URI"):
        conn_args = (os.environ["NEO4J_URI"], os.environ.get("NEO4J_USER", "neo4j"), os.environ.get("NEO4J_PASSWORD"), os.environ.get("NEO4J_DATABASE"))
        agent = os.environ["NEO4J_URI"]
    else:
        from graphkit.neo4jstore.arcadedb import ArcadeDBServer

        server = ArcadeDBServer.start(heap="4g")
        conn_args = (server.uri, server.user, server.password, server.database)
        agent = "ArcadeDB (arcadedb-embedded) on 127.0.0.1"
    results = []
    try:
        for batch in [int(x) for x in a.batch_sizes.split(",")]:
            conn = Connection(*conn_args)
            conn.write(lambda tx: run_in(tx, "admin/wipe"), name="wipe")
            res = load_bundle_neo4j(bundle, conn, batch_size=batch)
            rows = res.rows_written
            claims = res.rows["claims"]
            ceil = ceiling(conn, min(rows, 100_000), batch)
            loader_rate = rows / res.seconds
            results.append({
                "batch_size": batch, "bundle_rows": rows, "claims": claims, "seconds": round(res.seconds, 1),
                "rows_per_s": round(loader_rate), "claims_per_s": round(claims / res.seconds),
                "ceiling_rows_per_s": round(ceil), "share_of_ceiling": round(loader_rate / ceil, 3),
            })
            conn.close()
            print(json.dumps(results[-1]), flush=True)
    finally:
        if server:
            server.stop()
    print()
    print(f"server: {agent}; machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print("| batch | bundle rows | claims | seconds | rows/s | ceiling rows/s | share |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['batch_size']} | {r['bundle_rows']:,} | {r['claims']:,} | {r['seconds']} | {r['rows_per_s']:,} | {r['ceiling_rows_per_s']:,} | {r['share_of_ceiling']:.0%} |")
    if a.json:
        Path(a.json).write_text(json.dumps({"server": agent, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
