"""Benchmark: the one view in the browser on a ~1M-claim store — a click on a lead's row until its
graph is drawn, a double-click on a node until the expanded graph is drawn.

Usage::

    .venv/bin/python bench/oneview_browser.py                        # the open_lead bench's demo city (≈1M claims, made once)
    .venv/bin/python bench/oneview_browser.py --store S --findings F  # any store

Starts ``graphkit lab`` on the store (a working folder of its own, a fresh token, every request
that is not loopback refused), opens ``00_workbench`` in headless Chromium (Playwright with
Debian's ``/usr/bin/chromium`` or ``$GRAPHKIT_CHROMIUM``) and, per lead (the largest listed lead of
each kind, then the best-scored; not the lead open at the start), clicks its row in the queue with
the mouse and times until the canvas holds every entity the lead names and has painted two
animation frames; then double-clicks a card or patient node of the drawing and times until the
view says it is expanded and the canvas has painted again. Unlike ``bench/oneview_clicks.py`` (the Python side alone) these figures include the
widget messages, vis-network's drawing and the browser. Prints median and max per action and
PASS/FAIL against ``--target`` seconds; writes ``bench/results/oneview-browser.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from open_lead import add_store_args, store_and_findings  # the bench folder is on sys.path

RESULTS = Path(__file__).parent / "results" / "oneview-browser.json"
#: every id in ``ids`` is a node of the graph widget's network
_HAS_JS = """(ids) => { const b = document.querySelector('.gk-graph-widget'); const n = b && b.gkNetwork;
    if (!n) return false; const have = new Set(n.body.data.nodes.getIds()); return ids.every((i) => have.has(i)); }"""
_PAINTED_JS = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_store_args(p)
    p.add_argument("--target", type=float, default=1.0, help="seconds allowed per click (default 1.0)")
    a = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from graphkit.findings import read_findings
    from graphkit.workbench.testing import (CHROMIUM, CHROMIUM_ARGS, DRAWN_COUNT_JS, NODE_POINT_JS, offline_gate,
                                            run_notebook, start_lab)

    store, findings = store_and_findings(a)
    found = read_findings(findings).findings
    by_id = {f.id: f for f in found}
    root = Path(tempfile.mkdtemp(prefix="oneview-browser-"))
    env = {**os.environ, "GRAPHKIT_USER": "bench", "GRAPHKIT_CASES": str(root / "cases.sqlite"),
           "GRAPHKIT_AUDIT_LOG": str(root / "audit.jsonl"), "JUPYTER_CONFIG_DIR": str(root / "jupyter-config"),
           "JUPYTER_RUNTIME_DIR": str(root / "jupyter-runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces")}
    srv = start_lab(["--store", str(store), "--findings", str(findings), "--workdir", str(root / "work")],
                    env=env, cwd=root, log=root / "lab.log", timeout=300)
    external: list[str] = []

    t: dict[str, list[float]] = {"row click → graph drawn": [], "double-click → expanded graph drawn": []}
    detail: list[dict] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            ctx = browser.new_context(viewport={"width": 1600, "height": 1800}, service_workers="block")
            ctx.route("**/*", offline_gate(external))
            page = ctx.new_page()
            t0 = time.perf_counter()
            run_notebook(page, srv.base, srv.token, "00_workbench.ipynb", "bench")
            page.wait_for_selector(".gk-graph-widget canvas", timeout=600_000)
            opts = page.locator(".gk-leads-list select option")
            page.wait_for_function("() => document.querySelectorAll('.gk-leads-list select option').length > 1", timeout=60_000)
            t_open = time.perf_counter() - t0
            listed = [opts.nth(i).inner_text().split()[-1] for i in range(opts.count())]
            listed = [x for x in listed if x in by_id]
            first_open = page.locator(".gk-leads-list select").evaluate("(s) => s.selectedOptions.length ? s.selectedOptions[0].text : ''")
            # the largest listed lead of each kind, then the best-scored; not the one open at the start
            kinds: dict[str, str] = {}
            for x in sorted(listed, key=lambda x: -len(by_id[x].claims)):
                kinds.setdefault(by_id[x].kind, x)
            picks = [x for x in dict.fromkeys([*kinds.values(), *listed]) if not first_open.endswith(x)][: a.leads]
            print(f"store {store}: {len(found)} leads, {len(listed)} listed; lab + notebook ready in {t_open:.1f}s")
            for fid in picks:
                f = by_id[fid]
                own = sorted({f"{e.type}:{e.id}" for e in f.entities})
                opt = page.locator(".gk-leads-list select option", has_text=fid).first
                opt.scroll_into_view_if_needed()
                box = opt.bounding_box()
                page.mouse.move(5, 5)
                c0 = time.perf_counter()
                page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                page.wait_for_selector(f".gk-status :text('{fid}')", timeout=120_000)
                page.wait_for_function(_HAS_JS, arg=own, timeout=120_000)
                page.evaluate(_PAINTED_JS)
                dt_open = time.perf_counter() - c0
                t["row click → graph drawn"].append(dt_open)
                rec = {"lead": fid, "kind": f.kind, "claims": len(f.claims), "open_s": round(dt_open, 3)}
                x, y, node = page.evaluate(NODE_POINT_JS, None)
                if node:
                    n0 = page.evaluate(DRAWN_COUNT_JS)
                    page.mouse.move(5, 5)
                    c1 = time.perf_counter()
                    page.mouse.dblclick(x, y)
                    try:
                        page.wait_for_selector(f".gk-status :text('已展开 / expanded {node}')", timeout=60_000)
                        page.wait_for_function(f"() => ({DRAWN_COUNT_JS})() >= {n0}", timeout=60_000)
                        page.evaluate(_PAINTED_JS)
                        dt_exp = time.perf_counter() - c1
                        t["double-click → expanded graph drawn"].append(dt_exp)
                        rec.update(expanded=node, expand_s=round(dt_exp, 3), nodes=page.evaluate(DRAWN_COUNT_JS))
                    except Exception as exc:  # noqa: BLE001 - a node under a burst box: no expansion to time
                        rec["expand_error"] = str(exc)[:200]
                detail.append(rec)
                print(f"  {fid} {f.kind:22s} {len(f.claims):6d} claims: open {dt_open:.2f}s"
                      + (f", expand {rec['expand_s']:.2f}s ({rec['nodes']} nodes)" if "expand_s" in rec else ""))
            ctx.close()
            browser.close()
    finally:
        srv.stop()
    ok = True
    summary = {}
    for k, v in t.items():
        if not v:
            continue
        med, mx = statistics.median(v), max(v)
        ok &= mx <= a.target
        summary[k] = {"median_s": round(med, 3), "max_s": round(mx, 3), "n": len(v)}
        print(f"{k:40s} median {med:.2f}s  max {mx:.2f}s  (n={len(v)})")
    if external:
        print(f"requests left the machine: {external[:5]}")
        ok = False
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"bench": "oneview_browser", "store": str(store), "target_s": a.target,
                                   "summary": summary, "leads": detail, "external_requests": len(external)},
                                  ensure_ascii=False, indent=1), "utf-8")
    print(f"ONE-VIEW BROWSER {'PASS' if ok else 'FAIL'} (target {a.target:.1f}s per click); {RESULTS}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
