"""Benchmark: what each click of the one view (``WorkbenchView``) costs on a ~1M-claim store.

Usage::

    .venv/bin/python bench/oneview_clicks.py                        # the open_lead bench's demo city (≈1M claims, made once)
    .venv/bin/python bench/oneview_clicks.py --store S --findings F  # any store

A click is driven the way the browser drives it: the Python side of the widgets (a row picked
in the queue sets ``leads_list.value``, a click on a node sets ``graph.selected``, a double-click
bumps ``graph.activations``, the period slider sets ``period.index``, a claim picked in the
table sets ``claims_pick.value``, a search sets ``search.query.value``); each figure is the time
until Python has answered (graph data sent to the widget, tables filled). The browser's drawing
is not included (see ``tests/test_browser.py`` for the page timings). Prints median and max per
action and PASS/FAIL against ``--target`` seconds (the largest lead, capped to ``max_claims``,
included).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

from open_lead import add_store_args, pick_leads, store_and_findings  # the bench folder is on sys.path


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_store_args(p)
    p.add_argument("--target", type=float, default=1.0, help="seconds allowed per click (default 1.0)")
    a = p.parse_args(argv)
    store, findings = store_and_findings(a)
    from graphkit.workbench import Workbench
    from graphkit.workbench.oneview import WorkbenchView
    Path(a.cache).mkdir(parents=True, exist_ok=True)
    wb = Workbench.open(store, findings, user="bench", cases=Path(a.cache) / "oneview.cases.sqlite")
    claims = wb.store.row_counts().get("claims", 0)
    t_index = _timed(lambda: wb.warm(background=False))
    view: list[WorkbenchView] = []
    t_view = _timed(lambda: view.append(WorkbenchView(wb)))
    v = view[0]
    print(f"store: {claims:,} claims, {len(wb.leads)} leads; claims index {t_index:.2f}s (once, in the background), "
          f"one view built {t_view:.2f}s")

    listed = {val for _, val in v.leads_list.options}  # the queue lists the 1,000 best-scored leads
    leads = wb.leads[wb.leads["id"].isin(listed)]
    picks = pick_leads(leads, a.leads)
    t: dict[str, list[float]] = {k: [] for k in ("row click (open lead)", "node click", "double-click (expand)",
                                                 "period slider", "claim picked → highlight", "search an id")}
    for fid in picks:
        t["row click (open lead)"].append(_timed(lambda: setattr(v.leads_list, "value", fid)))
        assert v.lead == fid and not v.errors, v.errors
        nodes = [n for n, d in v.graph_shown.nodes(data=True)
                 if str(n).split(":", 1)[0] in ("patient", "card", "institution", "pharmacy", "doctor")]
        if nodes:
            node = nodes[0]
            t["node click"].append(_timed(lambda: setattr(v.graph, "selected", [node])))
            v.graph.activated = node
            t["double-click (expand)"].append(_timed(lambda: setattr(v.graph, "activations", v.graph.activations + 1)))
        if not v.period.disabled and len(v.period.options) > 2:
            n = len(v.period.options)
            t["period slider"].append(_timed(lambda: setattr(v.period, "index", (n // 4, 3 * n // 4))))
        if v.claims_pick.options:
            first = v.claims_pick.options[0][1]
            t["claim picked → highlight"].append(_timed(lambda: setattr(v.claims_pick, "value", (first,))))
        f = wb.finding(fid)
        who = next((e for e in f.entities if e.type in ("patient", "card")), None)
        if who is not None:
            t["search an id"].append(_timed(lambda: setattr(v.search.query, "value", who.id)))
        assert not v.errors, v.errors
    worst = 0.0
    for k, xs in t.items():
        if xs:
            worst = max(worst, max(xs))
            print(f"{k:28s} n={len(xs):3d}  median {statistics.median(xs) * 1000:6.0f} ms  max {max(xs) * 1000:6.0f} ms")
    t_profile = _timed(lambda: setattr(v.tabs, "selected_index", len(v.tabs.children) - 2))
    print(f"profile tab (provider risk scored on first use, then cached): {t_profile:.2f}s")
    ok = worst <= a.target
    print(f"ONE-VIEW {'PASS' if ok else 'FAIL'}: slowest click {worst:.3f}s vs target {a.target:.1f}s on {claims:,} claims")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
