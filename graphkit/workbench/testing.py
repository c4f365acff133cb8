"""Helpers for tests and benchmarks of the workbench: a small demo city on disk, and ``graphkit
lab`` driven in headless Chromium (started, air-gapped, a notebook run).

Examples
--------
>>> from graphkit.workbench.testing import make_demo   # doctest: +SKIP
>>> paths = make_demo("/tmp/wb-demo", patients=3000)     # doctest: +SKIP
>>> sorted(paths)                                       # doctest: +SKIP
['findings', 'out', 'scores', 'store']
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlparse

__all__ = ["make_demo", "workbench_env", "CHROMIUM", "CHROMIUM_ARGS", "LOCAL_HOSTS", "DRAWN_COUNT_JS", "NODE_POINT_JS",
           "LabServer", "free_port", "start_lab", "offline_gate", "run_notebook"]


def make_demo(out: str | Path, *, patients: int = 3000, seed: int = 0) -> dict[str, Path]:
    """Generate, load and scan a demo city into ``out`` (skipped when already there).

    Returns the paths of ``store``, ``findings`` (``findings.json``), ``scores`` and ``out``.
    """
    out = Path(out)
    paths = {"out": out, "store": out / "store", "findings": out / "findings.json", "scores": out / "scores.csv"}
    if (paths["store"] / "manifest.json").exists() and paths["findings"].exists():
        return paths
    from loaders import load_bundle

    from ..demo import generate_city
    from ..scan import scan, write_scan
    from ..store import open_store

    out.mkdir(parents=True, exist_ok=True)
    generate_city(out / "bundle", patients=patients, seed=seed, fmt="parquet")
    load_bundle(out / "bundle", paths["store"])
    write_scan(scan(open_store(paths["store"])), out, check_out=False)  # our own folder (bundle, store, scan)
    return paths


def workbench_env(paths: dict[str, Path], *, user: str = "tester", cases: str | Path | None = None) -> dict[str, str]:
    """The environment variables that point a workbench (or notebook kernel) at ``paths``.

    Examples
    --------
    >>> workbench_env({"store": Path("/d/store"), "findings": Path("/d/findings.json")})["GRAPHKIT_USER"]
    'tester'
    """
    env = {"GRAPHKIT_STORE": str(paths["store"]), "GRAPHKIT_FINDINGS": str(paths["findings"]), "GRAPHKIT_USER": user,
           "GRAPHKIT_LEAD": "", "NEO4J_URI": ""}
    if cases:
        env["GRAPHKIT_CASES"] = str(cases)
    if "out" in paths:
        env["GRAPHKIT_OUT"] = str(Path(paths["out"]) / "dossiers")
    return env


# -- the workbench in a browser (tests/test_browser.py, bench/oneview_browser.py) ------------------
#: Chromium for the browser tests and benches: Debian's, or ``$GRAPHKIT_CHROMIUM``
CHROMIUM = os.environ.get("GRAPHKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
#: nodes in the one view's drawing (its graph widget's vis-network data set)
DRAWN_COUNT_JS = "() => document.querySelector('.gk-graph-widget').gkNetwork.body.data.nodes.length"
#: screen point of a node (``want``, else the first card or patient node) that is the topmost one there
NODE_POINT_JS = """(want) => {
    const box = document.querySelector('.gk-graph-widget'); const net = box.gkNetwork;
    const r = box.getBoundingClientRect();
    const ids = want ? [want] : net.body.data.nodes.getIds().filter((i) => /^(card|patient):/.test(i));
    for (const id of ids) {
        const p = net.canvasToDOM(net.getPositions([id])[id]);
        if (p.x > 20 && p.y > 20 && p.x < r.width - 20 && p.y < r.height - 20 && net.getNodeAt(p) === id)
            return [r.left + p.x, r.top + p.y, id];
    }
    return [0, 0, null]; }"""


@dataclass
class LabServer:
    """A ``graphkit lab`` started by :func:`start_lab`: its process, address and token."""

    proc: subprocess.Popen
    base: str
    token: str
    log: Any

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def free_port() -> int:
    """A free TCP port on the loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(args: list[str], *, env: Mapping[str, str], cwd: Path, log: Path, timeout: float = 420) -> LabServer:
    """Start ``graphkit lab ARGS --no-browser`` on a free port with a fresh token (the app exposed to
    the page's scripts) and wait until its server answers; raise with the log's end when it does not."""
    port, token = free_port(), uuid.uuid4().hex
    cmd = [sys.executable, "-m", "graphkit.cli", "lab", *args, "--no-browser", "--port", str(port), "--",
           f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True", "--ServerApp.open_browser=False"]
    fh = open(log, "w")
    srv = LabServer(subprocess.Popen(cmd, env=dict(env), stdout=fh, stderr=subprocess.STDOUT, cwd=cwd),
                    f"http://127.0.0.1:{port}", token, fh)
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{srv.base}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return srv
        except OSError:
            pass
        if srv.proc.poll() is not None or time.time() > deadline:
            srv.stop()
            raise RuntimeError("graphkit lab did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.5)


def offline_gate(external: list[str]) -> Callable[[Any], None]:
    """A Playwright route handler that lets through only loopback (and data/blob/about) requests and
    records every other URL in ``external``, aborting it: the browser session is air-gapped."""
    def gate(route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:")) or urlparse(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            external.append(url)
            route.abort()

    return gate


def run_notebook(page: Any, base: str, token: str, name: str, workspace: str) -> None:
    """Open notebook ``name`` in a fresh JupyterLab workspace, wait for its kernel, run every cell."""
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?reset&token={token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=90_000)
    page.wait_for_selector(".jp-Notebook", timeout=90_000)
    page.wait_for_function(
        """() => { const w = window.jupyterapp.shell.currentWidget;
                   return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
                          && w.sessionContext.session.kernel.status === 'idle'; }""", timeout=120_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
