"""The workbench in a real browser, offline: JupyterLab + headless Chromium (Playwright).

Starts JupyterLab on a copy of ``notebooks/`` pointed at a small demo store, opens each
notebook in Chromium, runs it, and checks that the widgets rendered: rows in the leads
table, a pyvis canvas with nodes (also after expanding a node), a saved and exported case,
and the disposition fed back into the triage notebook. Every request that is not to the
local server is blocked and recorded; the test fails if any was attempted (air-gapped).
Screenshots go to ``tests/artifacts/`` (git-ignored).

Skips with a reason when Playwright (the Python package) or Chromium is missing. Chromium
is the Debian package (``apt-get install chromium``), found at ``/usr/bin/chromium`` or
``$GRAPHKIT_CHROMIUM``; Playwright's own browser download is not needed.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from graphkit.workbench import lab
from graphkit.workbench.testing import (CHROMIUM, CHROMIUM_ARGS, DRAWN_COUNT_JS, NODE_POINT_JS, offline_gate, run_notebook,
                                        start_lab)

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).parent / "artifacts"


def _require_browser():
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        pytest.skip("playwright (Python package) is not installed: pip install playwright "
                    "(no browser download needed; Debian chromium is used)")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set GRAPHKIT_CHROMIUM)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The bare ``graphkit lab`` (no store given) run from an empty folder, as a newcomer runs it:
    it builds the demo city in ``demo-out/``, copies the notebooks into its working folder and
    serves that copy. Only the token, the folders of this test and the case database are set."""
    _require_browser()
    root = tmp_path_factory.mktemp("lab")
    env = {k: v for k, v in os.environ.items()
           if k not in ("GRAPHKIT_STORE", "GRAPHKIT_FINDINGS", "GRAPHKIT_SCORES", "NEO4J_URI")}
    env.update({"GRAPHKIT_USER": "browser", "GRAPHKIT_CASES": str(root / "cases.sqlite"),
                "GRAPHKIT_OUT": "",  # dossiers go to the served copy (work/notebooks/exports/dossiers)
                "GRAPHKIT_AUDIT_LOG": str(root / "audit.jsonl"), "GRAPHKIT_LAB_DIR": str(root / "work"),
                "JUPYTER_CONFIG_DIR": str(root / "jupyter-config"), "JUPYTER_RUNTIME_DIR": str(root / "jupyter-runtime"),
                "JUPYTERLAB_WORKSPACES_DIR": str(root / "lab-workspaces")})
    srv = start_lab([], env=env, cwd=root, log=root / "jupyterlab.log")  # the demo city is built first (3,000 insured)
    demo = {"store": root / "demo-out" / "store", "findings": root / "demo-out" / "findings.json"}
    try:
        assert (demo["store"] / "manifest.json").exists() and demo["findings"].exists()
        from graphkit.store import open_store

        patient = str(open_store(demo["store"]).table("claims", ["patient_id"])["patient_id"].iloc[0])
        yield {"base": srv.base, "token": srv.token, "root": root, "served": root / "work" / "notebooks", "demo": demo,
               "demo_patient": patient}
    finally:
        srv.stop()


def _wait_graph(page, title: str, timeout: float = 60.0) -> int:
    """Wait until the graph iframe shows ``title`` and has drawn; return its node count."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        el = page.query_selector("iframe.gk-graph-frame")
        frame = el.content_frame() if el else None
        try:
            if frame and frame.evaluate(
                    "(t) => document.body && document.body.getAttribute('data-gk-ready') === '1' "
                    "&& document.getElementById('gk-title').textContent.includes(t)", title):
                return int(frame.evaluate("() => window.gkNodes.length"))
        except Exception:  # noqa: BLE001 - the frame was replaced while we looked
            pass
        time.sleep(0.05)
    raise AssertionError(f"the graph of {title} was not drawn within {timeout}s")


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_workbench_in_chromium_offline(server):
    from playwright.sync_api import sync_playwright

    base, token = server["base"], server["token"]
    external: list[str] = []

    gate = offline_gate(external)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        ctx = browser.new_context(viewport={"width": 1500, "height": 2200}, locale="zh-CN",
                                  service_workers="block")
        ctx.route("**/*", gate)
        errors: list[str] = []
        try:
            # -- 01 triage: the leads table has rows; open a lead -------------------------
            triage = ctx.new_page()
            triage.on("pageerror", lambda e: errors.append(f"01: {e}"))
            run_notebook(triage, base, token, "01_triage.ipynb", "w1")
            triage.wait_for_selector(".gk-leads-table tbody tr", timeout=120_000)
            rows = triage.locator(".gk-leads-table tbody tr").count()
            assert rows > 0
            assert triage.locator(".gk-by-kind .gk-bar-row").count() > 0
            assert triage.locator(".gk-by-provider .gk-bar-row").count() > 0
            triage.locator("button.gk-open-lead").click()
            triage.wait_for_selector(".gk-opened :text('已打开')", timeout=30_000)
            _shot(triage, "01_triage.png")

            # -- 02 explore: a pyvis canvas with nodes; expand a node -----------------------
            explore = ctx.new_page()
            explore.on("pageerror", lambda e: errors.append(f"02: {e}"))
            run_notebook(explore, base, token, "02_explore.ipynb", "w2")
            frame_el = explore.wait_for_selector("iframe.gk-graph-frame", timeout=120_000)
            frame = frame_el.content_frame()
            frame.wait_for_function("() => document.body.getAttribute('data-gk-ready') === '1'", timeout=60_000)
            assert frame.locator("#gk-network canvas").count() == 1
            n0 = frame.evaluate("() => window.gkNodes.length")
            assert n0 > 0
            assert frame.evaluate("() => Object.keys(window.gkNetwork.getPositions()).length") == n0
            _shot(explore, "02_explore.png")
            explore.locator("button.gk-expand").click()
            explore.wait_for_selector(".gk-status :text('已展开')", timeout=60_000)
            frame = explore.wait_for_selector("iframe.gk-graph-frame", timeout=30_000).content_frame()
            frame.wait_for_function("() => document.body.getAttribute('data-gk-ready') === '1'", timeout=60_000)
            n1 = frame.evaluate("() => window.gkNodes.length")
            assert n1 > n0
            _shot(explore, "02_explore_expanded.png")
            # pick another lead: how long until its graph is drawn in the browser
            options = explore.locator(".gk-lead-pick select option")
            other_label = options.nth(1).inner_text()
            other_id = other_label.split()[-1]  # option labels use no-break spaces
            t0 = time.perf_counter()
            explore.locator(".gk-lead-pick select").select_option(label=other_label)
            drawn = _wait_graph(explore, other_id)
            seconds = time.perf_counter() - t0
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "timings.txt").write_text(
                f"browser: pick a lead → its graph drawn: {seconds:.2f}s ({drawn} nodes)\n", "utf-8")
            assert drawn > 0 and seconds < 15
            explore.locator(".lm-TabBar-tab, .p-TabBar-tab").filter(has_text="时间线").first.click()
            explore.wait_for_selector("svg.gk-timeline circle", timeout=30_000)
            _shot(explore, "02_explore_timeline.png")
            explore.locator(".lm-TabBar-tab, .p-TabBar-tab").filter(has_text="机构画像").first.click()
            explore.wait_for_selector(".gk-profile table", timeout=60_000)
            _shot(explore, "02_explore_profile.png")

            # -- 03 case: create, dispose, save, export --------------------------------------
            case = ctx.new_page()
            case.on("pageerror", lambda e: errors.append(f"03: {e}"))
            run_notebook(case, base, token, "03_case.ipynb", "w3")
            case.wait_for_selector(".gk-case-title input", timeout=120_000)
            case.locator(".gk-case-title input").fill("浏览器测试案件 / browser test case")
            case.locator("button.gk-case-new").click()
            case.wait_for_selector(".gk-case-status :text('已保存新案件')", timeout=30_000)
            case.locator(".gk-case-status-pick select").select_option(label="已确认 confirmed")
            case.locator(".gk-case-assignee input").fill("王五")
            case.locator(".gk-case-notes textarea").fill("浏览器中确认 / confirmed in the browser")
            case.wait_for_timeout(500)  # let the widget state sync before saving
            case.locator("button.gk-case-save").click()
            case.wait_for_selector(".gk-case-status :text('已保存案件')", timeout=30_000)
            case.locator(".gk-export-pdf input").uncheck()  # HTML only here; the one view's test makes the PDF
            case.wait_for_timeout(300)
            case.locator("button.gk-case-export").click()
            case.wait_for_selector(".gk-case-exported :text('dossier')", timeout=60_000)
            case.wait_for_selector(".gk-audit-table :text('王五')", timeout=30_000)
            _shot(case, "03_case.png")

            # -- the decision feeds back into triage ------------------------------------------
            triage.bring_to_front()
            triage.get_by_role("button", name="刷新处置反馈 / Refresh feedback").click()
            triage.wait_for_selector(".gk-precision-table tbody tr", timeout=30_000)
            triage.locator(".gk-precision").scroll_into_view_if_needed()
            _shot(triage, "01_triage_feedback.png")
        except Exception:
            for i, pg in enumerate(ctx.pages):  # what the browser showed when it failed
                try:
                    _shot(pg, f"failure-{i}.png")
                except Exception:  # noqa: BLE001
                    pass
            raise
        finally:
            ctx.close()
            browser.close()

    with sqlite3.connect(server["root"] / "cases.sqlite") as db:
        title, status, assignee = db.execute("SELECT title, status, assignee FROM cases").fetchone()
        actions = [a for (a,) in db.execute("SELECT action FROM audit ORDER BY id")]
    assert (title, status, assignee) == ("浏览器测试案件 / browser test case", "confirmed", "王五")
    assert actions[0] == "create" and "export" in actions
    dossiers = server["served"] / "exports" / "dossiers"
    assert list(dossiers.glob("case-*/dossier.html")) and not list(dossiers.glob("case-*/dossier.pdf"))
    assert external == [], f"requests left the machine (must work air-gapped): {external[:10]}"
    assert errors == [], errors


#: a line typed into a new cell of the served notebook, then saved (docmanager:save)
EDIT_MARK = "# 浏览器中编辑并保存 / edited and saved in the browser"
_EDIT_AND_SAVE_JS = """async (mark) => {
    const app = window.jupyterapp; const nb = app.shell.currentWidget;
    await app.commands.execute('notebook:insert-cell-below');
    nb.content.activeCell.model.sharedModel.setSource(mark);
    await app.commands.execute('docmanager:save');
    return nb.context.path; }"""


def _repo_state() -> tuple[str, dict[str, str]]:
    """``git status --porcelain`` of the checkout and the SHA-256 of its shipped notebooks."""
    import hashlib

    st = subprocess.run(["git", "status", "--porcelain"], cwd=lab.NOTEBOOKS.parent, capture_output=True, text=True)
    return st.stdout, {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(lab.NOTEBOOKS.glob("*.ipynb"))}


def _clickable_node(page, node: str | None = None, *, timeout_s: float = 20.0) -> tuple[float, float, str]:
    """Screen point of ``node`` (default: the first card or patient node) once the drawing is still.

    A small drawing runs physics, so a node keeps moving for a while after it is drawn (and after a
    click); the point is taken when two readings 400 ms apart agree, and the node must be the
    topmost one at that point (in a dense drawing another node or a burst's box may cover it).
    """
    deadline = time.perf_counter() + timeout_s
    last = None
    while time.perf_counter() < deadline:
        got = tuple(page.evaluate(NODE_POINT_JS, node))
        if got[2] and last and got[2] == last[2] and abs(got[0] - last[0]) < 1 and abs(got[1] - last[1]) < 1:
            return got
        last = got
        page.wait_for_timeout(400)
    raise AssertionError(f"no card or patient node is still and clickable in the drawing (last: {last})")


def test_one_view_two_way_graph_in_chromium_offline(server):
    """00_workbench: click a lead row → its graph; click a node on the canvas → selected in
    Python; add it to a case; set the status; export the drawing as a PNG; compare the lead's
    provider with another — all in one view, offline."""
    from playwright.sync_api import sync_playwright

    base, token = server["base"], server["token"]
    external: list[str] = []
    repo_before = _repo_state()

    gate = offline_gate(external)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        ctx = browser.new_context(viewport={"width": 1600, "height": 1800}, locale="zh-CN", service_workers="block")
        ctx.route("**/*", gate)
        errors: list[str] = []
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            run_notebook(page, base, token, "00_workbench.ipynb", "w0")
            page.wait_for_selector(".gk-graph-widget canvas", timeout=120_000)
            sel = page.locator(".gk-leads-list select")
            label = sel.locator("option").nth(2).inner_text()
            lead_id = label.split()[-1]
            box = sel.locator("option").nth(2).bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # a click on the lead's row
            page.wait_for_selector(f".gk-status :text('{lead_id}')", timeout=60_000)
            # the drawing is the lead's: every entity it names is a node on the canvas
            from graphkit.findings import read_findings

            lead = next(f for f in read_findings(server["demo"]["findings"]).findings if f.id == lead_id)
            own = sorted({f"{e.type}:{e.id}" for e in lead.entities})
            page.wait_for_function("(ids) => { const n = document.querySelector('.gk-graph-widget').gkNetwork;"
                                   " const have = new Set(n.body.data.nodes.getIds()); return ids.every((i) => have.has(i)); }",
                                   arg=own, timeout=30_000)
            x, y, node = _clickable_node(page)
            assert node, "no card or patient node is clickable in the drawing"
            page.mouse.click(x, y)  # a click on the node in the drawing
            page.wait_for_selector(f".gk-node-info :text('{node.split(':', 1)[1]}')", timeout=30_000)
            _shot(page, "00_workbench_node.png")
            page.mouse.move(5, 5)  # away first: a hover tooltip left under the pointer would take the clicks
            x, y, _ = _clickable_node(page, node)  # where it is now: a small drawing's physics may still move it
            n_before = page.evaluate(DRAWN_COUNT_JS)
            page.mouse.dblclick(x, y)  # a double-click expands it: its other claims join the drawing
            page.wait_for_selector(f".gk-status :text('已展开 / expanded {node}')", timeout=30_000)
            page.wait_for_function(f"() => ({DRAWN_COUNT_JS})() > {n_before}", timeout=30_000)
            _shot(page, "00_workbench_expanded.png")
            # search a patient id in the same view: its leads, claims and neighbourhood
            patient = server["demo_patient"]
            page.locator(".lm-TabBar-tab, .p-TabBar-tab").filter(has_text="查找").first.click()
            page.locator(".gk-search input").first.fill(patient)
            page.locator(".gk-search input").first.press("Enter")
            page.wait_for_selector(f".gk-search-info :text('{patient}')", timeout=60_000)
            _shot(page, "00_workbench_search.png")
            page.locator("button.gk-add-to-case").click()
            page.wait_for_selector(".gk-status :text('已加入案件')", timeout=30_000)
            page.locator(".gk-status-pick select").select_option(label="核查中 reviewing")
            page.locator("button.gk-set-status").click()
            page.wait_for_selector(".gk-status :text('状态')", timeout=30_000)
            _shot(page, "00_workbench_case.png")
            # export the case's dossier for the police, as PDF (on by default), and open its link
            page.locator(".gk-export-profile select").first.select_option(label="公安 police")
            page.wait_for_timeout(300)
            page.locator("button.gk-oneview-export").click()
            pdf_link = page.locator(".gk-oneview-exported a[href$='dossier.pdf']")
            pdf_link.wait_for(timeout=120_000)
            href = pdf_link.get_attribute("href")
            assert href.startswith("/files/exports/dossiers/case-"), href
            # what a click sends: the session's cookie and the page as Referer (files/ refuses requests of unknown origin)
            got = page.request.get(base + href, headers={"Referer": page.url})
            assert got.status == 200 and got.body()[:5] == b"%PDF-"
            _shot(page, "00_workbench_dossier.png")
            # export the drawing as a PNG: the canvas travels to Python, which writes the file
            t_added = time.perf_counter()
            page.locator("button.gk-export-png").click()
            page.wait_for_selector(".gk-exported-png :text('.png')", timeout=30_000)
            assert page.locator(".gk-exported-png a[download]").count() == 1
            t_export = time.perf_counter() - t_added
            # brush the timeline: a drag across its middle third sets the period (graph and claims follow)
            page.locator(".lm-TabBar-tab, .p-TabBar-tab").filter(has_text="时间线").first.click()
            svg = page.locator(".gk-timeline-brush svg[data-t0]")
            svg.wait_for(timeout=30_000)
            box = svg.bounding_box()
            left, plot_w = float(svg.get_attribute("data-left")), float(svg.get_attribute("data-plot-width"))
            y = box["y"] + box["height"] / 2
            page.mouse.move(box["x"] + left + plot_w / 3, y)
            page.mouse.down()
            page.mouse.move(box["x"] + left + plot_w * 2 / 3, y, steps=5)
            page.mouse.up()
            page.wait_for_selector(".gk-status :text('时间范围 / period')", timeout=30_000)
            _shot(page, "00_workbench_brushed.png")
            # the lead's provider beside another, picked from the search box's suggestions
            page.locator(".lm-TabBar-tab, .p-TabBar-tab").filter(has_text="机构画像").first.click()
            page.wait_for_selector(".gk-risk-compare-query datalist option", state="attached", timeout=60_000)
            other = page.locator(".gk-risk-compare-query datalist option").nth(1).get_attribute("value")
            page.locator(".gk-risk-compare-query input").fill(other)
            page.locator("button.gk-risk-compare-button").click()
            page.wait_for_selector(f".gk-risk-compare-table :text('{other.split()[0]}')", timeout=60_000)
            print(f"browser: export PNG {t_export:.1f}s; compare two providers (risk scored on first use) "
                  f"{time.perf_counter() - t_added - t_export:.1f}s")
            page.locator(".gk-risk-compare-table").scroll_into_view_if_needed()
            _shot(page, "00_workbench_compare.png")
            # edit the notebook and save it, as a user would: it lands in the served copy, never in the repository
            saved = page.evaluate(_EDIT_AND_SAVE_JS, EDIT_MARK)
            assert saved == "00_workbench.ipynb", saved
            copy = server["served"] / "00_workbench.ipynb"
            deadline = time.time() + 30
            while EDIT_MARK not in copy.read_text("utf-8") and time.time() < deadline:
                time.sleep(0.2)
            assert EDIT_MARK in copy.read_text("utf-8")
        except Exception:
            _shot(page, "failure-00.png")
            raise
        finally:
            ctx.close()
            browser.close()
    with sqlite3.connect(server["root"] / "cases.sqlite") as db:
        (cid,) = db.execute("SELECT MAX(id) FROM cases").fetchone()
        ents = {f"{t}:{i}" for t, i in db.execute("SELECT type, entity_id FROM case_entities WHERE case_id=?", (cid,))}
        (status,) = db.execute("SELECT status FROM cases WHERE id=?", (cid,)).fetchone()
    assert node in ents
    assert status == "reviewing"  # the status picked in the view, set on the case the node went into
    pngs = list((server["served"] / "exports").glob("graph-*.png"))
    assert len(pngs) == 1 and pngs[0].stat().st_size > 1000 and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(pngs[0]) as im:
        assert im.size[0] > 300 and im.size[1] > 300  # the drawn canvas, not an empty one
        lo, hi = im.convert("L").getextrema()
        assert lo < 128 and hi > 240  # something drawn on the white
    assert _repo_state() == repo_before  # the session's edits, saves and outputs left the checkout as it was
    assert external == [], f"requests left the machine (must work air-gapped): {external[:10]}"
    assert errors == [], errors
