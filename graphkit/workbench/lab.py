"""``graphkit lab``: JupyterLab on the workbench notebooks, pointed at a store.

The data comes from the options, else the environment (``GRAPHKIT_STORE``,
``GRAPHKIT_FINDINGS``, ``NEO4J_URI`` …, see :mod:`graphkit.workbench.data`), else the demo
city in ``demo-out/`` (generated on first use). JupyterLab is started offline-friendly:
no news feed, no update check, read-only extension manager; everything it serves is local.

Examples
--------
>>> import argparse
>>> p = argparse.ArgumentParser(); add_arguments(p)
>>> a = p.parse_args(["--store", "/d/store", "--port", "9999", "--no-browser"])
>>> env, nb = resolve(a, {})
>>> env["GRAPHKIT_STORE"], env["GRAPHKIT_FINDINGS"]
('/d/store', '/d/findings.json')
>>> "--port=9999" in lab_command(a, nb)
True
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

__all__ = ["add_arguments", "resolve", "lab_command", "main", "NOTEBOOKS", "OFFLINE_ARGS"]

#: the notebooks folder of a source checkout (``graphkit lab --notebooks`` points elsewhere)
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

#: JupyterLab options that keep it from reaching the internet
OFFLINE_ARGS = [
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.extension_manager=readonly",
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``graphkit lab``'s options to a (sub)parser."""
    p.add_argument("--store", help="embedded store folder (env GRAPHKIT_STORE; default: demo-out/store, made if absent)")
    p.add_argument("--findings", help="findings.json (env GRAPHKIT_FINDINGS; default: beside the store)")
    p.add_argument("--scores", help="scores.csv (env GRAPHKIT_SCORES; default: beside findings.json)")
    p.add_argument("--cases", help="case database (env GRAPHKIT_CASES; default: <store>.cases.sqlite)")
    p.add_argument("--neo4j", metavar="URI", help="use a Neo4j store (env NEO4J_URI; needs --findings)")
    p.add_argument("--user", help="your name for the audit trail (env GRAPHKIT_USER; default: login name)")
    p.add_argument("--notebooks", help=f"notebooks folder (default: {NOTEBOOKS})")
    p.add_argument("--demo-out", default="demo-out", help="where the default demo city lives (default: demo-out)")
    p.add_argument("--demo-patients", type=int, default=3000, help="size of a demo city made on first use (default 3000)")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8888, help="port (default 8888)")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.add_argument("--dry-run", action="store_true", help="print the command and environment, start nothing")
    p.add_argument("lab_args", nargs=argparse.REMAINDER, help="further JupyterLab options after --")


def resolve(a: argparse.Namespace, environ: Mapping[str, str]) -> tuple[dict[str, str], Path]:
    """The environment for JupyterLab's kernels and the notebooks folder (creates nothing)."""
    env: dict[str, str] = {}
    store = a.store or (None if a.neo4j else environ.get("GRAPHKIT_STORE"))
    neo4j = a.neo4j or (None if store else environ.get("NEO4J_URI"))
    if neo4j:
        env["NEO4J_URI"] = neo4j
        env["GRAPHKIT_STORE"] = ""
    else:
        store = store or str(Path(a.demo_out) / "store")
        env["GRAPHKIT_STORE"] = os.path.abspath(store)  # kernels run in the notebooks folder
    findings = a.findings or environ.get("GRAPHKIT_FINDINGS")
    if not findings and not neo4j:
        findings = str(Path(env["GRAPHKIT_STORE"]).parent / "findings.json")
    if findings:
        env["GRAPHKIT_FINDINGS"] = os.path.abspath(findings)
    for opt, var in (("scores", "GRAPHKIT_SCORES"), ("cases", "GRAPHKIT_CASES"), ("user", "GRAPHKIT_USER")):
        val = getattr(a, opt) or environ.get(var)
        if val:
            env[var] = str(val) if var == "GRAPHKIT_USER" else os.path.abspath(val)
    nb = Path(a.notebooks) if a.notebooks else NOTEBOOKS
    return env, nb


def lab_command(a: argparse.Namespace, notebooks: Path, *, python: str = sys.executable) -> list[str]:
    """The JupyterLab command line."""
    cmd = [python, "-m", "jupyterlab", f"--ServerApp.root_dir={notebooks}", f"--ServerApp.ip={a.ip}",
           f"--port={a.port}", *OFFLINE_ARGS]
    if a.no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers run as root; JupyterLab refuses that unless told
    extra = list(a.lab_args or [])
    if extra[:1] == ["--"]:
        extra = extra[1:]
    return cmd + extra


def _ensure_demo(a: argparse.Namespace, env: Mapping[str, str]) -> None:
    store = Path(env["GRAPHKIT_STORE"])
    if (store / "manifest.json").exists():
        return
    if store != Path(a.demo_out) / "store":
        from ..errors import GraphkitError

        raise GraphkitError(f"no store at {store} (missing manifest.json; run `graphkit load` first)")
    print(f"首次使用：生成示范城市 / first use: generating the demo city in {a.demo_out} ({a.demo_patients} patients)")
    from ..cli import main as cli_main

    rc = cli_main(["demo", "--out", str(a.demo_out), "--patients", str(a.demo_patients)])
    if rc:
        from ..errors import GraphkitError

        raise GraphkitError("the demo city could not be made; see above")


def main(args: argparse.Namespace | Sequence[str] | None = None) -> int:
    """Run ``graphkit lab`` (an argparse namespace from the CLI, or an argument list)."""
    if not isinstance(args, argparse.Namespace):
        p = argparse.ArgumentParser(prog="graphkit lab", description="JupyterLab workbench / 调查工作台")
        add_arguments(p)
        args = p.parse_args(list(args) if args is not None else None)
    env, nb = resolve(args, os.environ)
    cmd = lab_command(args, nb)
    if not args.dry_run:
        from ..extras import require_extra

        require_extra("lab", "jupyterlab", "ipywidgets", "pyvis", "jinja2", "matplotlib", part="graphkit lab")
    if args.dry_run:
        for k, v in sorted(env.items()):
            print(f"{k}={v}")
        print(" ".join(cmd))
        return 0
    if not (nb / "01_triage.ipynb").exists():
        from ..errors import GraphkitError

        raise GraphkitError(f"no workbench notebooks in {nb}; pass --notebooks DIR")
    if "NEO4J_URI" not in env:
        _ensure_demo(args, env)
    print(f"数据 / store: {env.get('GRAPHKIT_STORE') or env.get('NEO4J_URI')}; 线索 / findings: {env.get('GRAPHKIT_FINDINGS')}")
    print(f"笔记本 / notebooks: {nb} — 01_triage → 02_explore → 03_case → 04_monitoring")
    proc = subprocess.Popen(cmd, env={**os.environ, **env})
    # a SIGTERM to `graphkit lab` stops JupyterLab too (Ctrl-C reaches both: JupyterLab asks to confirm)
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: proc.send_signal(signum))
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
