"""Benchmark: opening a lead and drawing its graph on a ~1M-claim store (target ≤ 1 s).

Usage::

    .venv/bin/python bench/open_lead.py                       # makes .bench-cache/open-lead (≈1M claims) once
    .venv/bin/python bench/open_lead.py --store S --findings F # any store

"Open a lead" is what the 02_explore widget does when a lead is picked
(``EvidenceExplorer.lead.value = id``): evidence graph from the claims index, cap, layout,
offline pyvis page, claims table and members' timeline. The claims index is built once per
workbench (when the notebook opens, in the background); its time is printed separately.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


def add_store_args(p: argparse.ArgumentParser) -> None:
    """The options every workbench bench shares: a store (or a demo city made once) and leads."""
    p.add_argument("--store", help="store folder (default: a demo city in --cache)")
    p.add_argument("--findings", help="findings.json (default: beside the store)")
    p.add_argument("--cache", default=".bench-cache/open-lead", help="where the demo city is made (default %(default)s)")
    p.add_argument("--patients", type=int, default=86000, help="demo size (86000 ≈ 1M claims)")
    p.add_argument("--leads", type=int, default=20, help="leads to open (largest first, then the top-scored)")


def pick_leads(leads, n: int) -> list[str]:
    """The leads to open: the ``n // 2`` largest by claims, then the best-scored (score order)."""
    by_size = leads.sort_values("n_claims", ascending=False)["id"].tolist()
    return list(dict.fromkeys(by_size[: n // 2] + leads["id"].tolist()[: n - n // 2]))


def store_and_findings(a: argparse.Namespace) -> tuple[Path, Path]:
    """``--store``/``--findings``, or the demo city in ``--cache`` (made on the first run)."""
    import warnings

    warnings.filterwarnings("ignore")
    if a.store:
        return Path(a.store), Path(a.findings) if a.findings else Path(a.store).parent / "findings.json"
    from graphkit.workbench.testing import make_demo

    t0 = time.perf_counter()
    paths = make_demo(a.cache, patients=a.patients)
    print(f"demo city in {a.cache}: {time.perf_counter() - t0:.1f}s (cached after the first run)")
    return paths["store"], paths["findings"]


def ex_nodes(wb, fid: str, max_claims: int) -> str:
    g = wb.evidence(fid, max_claims=max_claims)
    return f"{g.number_of_nodes()} nodes, drawn ≤150"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_store_args(p)
    p.add_argument("--target", type=float, default=1.0, help="seconds allowed per open (default 1.0)")
    a = p.parse_args(argv)
    from graphkit.workbench import EvidenceExplorer, Workbench
    from graphkit.workbench import shaping
    from graphkit.workbench.render import graph_html

    store, findings = store_and_findings(a)

    t0 = time.perf_counter()
    wb = Workbench.open(store, findings, user="bench", cases=Path(a.cache) / "bench.cases.sqlite")
    t_open = time.perf_counter() - t0
    claims = wb.store.row_counts().get("claims", 0)
    t0 = time.perf_counter()
    wb.warm(background=False)
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    leads = wb.leads
    t_leads = time.perf_counter() - t0
    print(f"store: {claims:,} claims, {len(leads)} leads; open workbench {t_open:.2f}s, claims index {t_index:.2f}s "
          f"(once, in the background when 01/02 open), leads table {t_leads:.2f}s")

    # the demo's leads are small; add a large one (a ring-like lead over the busiest provider's
    # 5,000 largest claims) so the figure covers graphs that must be capped
    from graphkit.findings import Entity, Finding

    busiest = wb.provider_stats["claims"].idxmax()
    big_claims = wb.touching(busiest, limit=5000)
    ptype, pid = busiest.split(":", 1)
    members = sorted(set(big_claims["patient_id"]))[:50]
    big = Finding.create("collusion_ring", key=["bench", busiest], score=0.5, amount_at_risk=float(big_claims["fund_amount"].sum()),
                         claims=big_claims["claim_id"].tolist(),
                         entities=[Entity(ptype, pid, "venue")] + [Entity("patient", m, "member") for m in members],
                         summary="基准测试用大线索 / synthetic large lead for the benchmark")
    wb.findings[big.id] = big
    wb.__dict__.pop("leads", None)
    wb.__dict__.pop("attribution", None)
    leads = wb.leads
    picks = pick_leads(leads, a.leads)
    ex = EvidenceExplorer(wb, lead=picks[-1])  # the widget as the notebook builds it
    times, graph_only = [], []
    for fid in picks:
        t0 = time.perf_counter()
        ex.lead.value = fid
        times.append(time.perf_counter() - t0)
        assert not ex.errors, ex.errors
        t0 = time.perf_counter()
        g = shaping.cap_graph(wb.evidence(fid, max_claims=ex.max_claims), 150,
                              keep=[f"{e.type}:{e.id}" for e in wb.finding(fid).entities])
        graph_html(g, names=wb.names)
        graph_only.append(time.perf_counter() - t0)
    print(f"open lead + draw (widget: graph, claims table, timeline, page), {len(picks)} leads: "
          f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms "
          f"(largest lead: {len(big.claims)} claims, graphed from its first {ex.max_claims} → {ex_nodes(wb, big.id, ex.max_claims)})")
    print(f"evidence graph + cap + pyvis page only: median {statistics.median(graph_only) * 1000:.0f} ms, "
          f"max {max(graph_only) * 1000:.0f} ms")

    # a large neighbourhood: expand the busiest provider by 2,000 claims, drawn capped at 150 nodes
    ex.lead.value = leads["id"].iloc[0]
    t0 = time.perf_counter()
    ex.expand(busiest, limit=2000)
    t_expand = time.perf_counter() - t0
    full, shown = ex.graph_full.number_of_nodes(), ex.graph_shown.number_of_nodes()
    print(f"expand {busiest} (2,000 claims → {full} nodes, drawn {shown}, physics off): {t_expand * 1000:.0f} ms")
    ok = max(times) <= a.target
    print(f"OPEN-LEAD {'PASS' if ok else 'FAIL'}: max {max(times):.3f}s vs target {a.target:.1f}s on {claims:,} claims")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
