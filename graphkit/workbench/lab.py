"""``graphkit lab``: JupyterLab on the workbench notebooks, pointed at a store.

The data comes from the options, else the environment (``GRAPHKIT_STORE``,
``GRAPHKIT_FINDINGS``, ``NEO4J_URI`` …, see :mod:`graphkit.workbench.data`), else the demo
city in ``demo-out/`` (generated on first use). JupyterLab is started offline-friendly:
no news feed or news prompt, no update check, read-only extension manager; everything it
serves is local. It serves a per-user copy of the notebooks (:mod:`.workdir`), never the
shipped ones, so saving never writes outputs, paths or names into tracked files.

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

from .._argtypes import int_at_least, int_between
from ..demo.city import MIN_PATIENTS

__all__ = ["add_arguments", "resolve", "ensure_store", "prepare", "lab_command", "main", "NOTEBOOKS", "OFFLINE_ARGS"]

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
    p.add_argument("--store", metavar="DIR",
                   help="嵌入式存储目录 / embedded store folder (default: env GRAPHKIT_STORE, else demo-out/store, made if absent)")
    p.add_argument("--findings", metavar="JSON",
                   help="扫描结果 / findings.json (default: env GRAPHKIT_FINDINGS, else beside the store)")
    p.add_argument("--scores", metavar="CSV", help="机构评分 / scores.csv (default: env GRAPHKIT_SCORES, else beside findings.json)")
    p.add_argument("--cases", metavar="FILE", help="案件库 / case database (default: env GRAPHKIT_CASES, else <store>.cases.sqlite)")
    p.add_argument("--neo4j", metavar="URI", help="改用 Neo4j 存储（需 --findings）/ use a Neo4j store, needs --findings (default: env NEO4J_URI)")
    p.add_argument("--user", metavar="NAME",
                   help="审计记录中的姓名 / your name for the audit trail (default: env GRAPHKIT_USER, else the login name)")
    p.add_argument("--notebooks", metavar="DIR",
                   help="笔记本来源（首次使用时复制）/ where the notebooks are copied from (default: notebooks/ of the installed package)")
    p.add_argument("--workdir", metavar="DIR",
                   help="工作目录：笔记本复制到此处并从此处打开 / your working folder: the notebooks are copied there on first use "
                        "and served from there (default: env GRAPHKIT_LAB_DIR, else ~/.local/share/graphkit/lab)")
    p.add_argument("--demo-out", default="demo-out", metavar="DIR", help="默认示范城市所在目录 / where the default demo city lives")
    p.add_argument("--demo-patients", type=int_at_least(MIN_PATIENTS, "参保人数 / insured people"), default=3000, metavar="N",
                   help="首次使用时生成的示范城市人数 / size of a demo city made on first use")
    p.add_argument("--ip", default="127.0.0.1", help="监听地址 / address to listen on")
    p.add_argument("--port", type=int_between(1, 65535, "端口 / port"), default=8888, help="端口 / port")
    p.add_argument("--no-browser", action="store_true", help="不打开浏览器 / do not open a web browser")
    p.add_argument("--dry-run", action="store_true", help="只打印命令与环境，不启动 / print the command and environment, start nothing")
    p.add_argument("lab_args", nargs=argparse.REMAINDER, help="-- 之后的 JupyterLab 选项 / further JupyterLab options after --")


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


def ensure_store(a: argparse.Namespace, env: Mapping[str, str]) -> Path:
    """The embedded store ``env`` points at; the demo city is generated there on first use.

    Only the default demo location (``--demo-out``/store, relative or absolute) is ever
    generated; any other missing store is an error.
    """
    from ..errors import GraphkitError

    store = Path(env["GRAPHKIT_STORE"])
    if (store / "manifest.json").exists():
        return store
    if store.resolve() != (Path(a.demo_out) / "store").resolve():
        raise GraphkitError(f"no store at {store} (missing manifest.json; run `graphkit load` first)")
    print(f"首次使用：生成示范城市 / first use: generating the demo city in {a.demo_out} ({a.demo_patients} patients)")
    from ..pipeline import run_demo

    run_demo(a.demo_out, patients=a.demo_patients)
    if not (store / "manifest.json").exists():
        raise GraphkitError("示范城市生成失败 / the demo city could not be made; see above")
    return store


def prepare(a: argparse.Namespace, environ: Mapping[str, str]) -> tuple[dict[str, str], Path]:
    """Everything ``graphkit lab`` does before starting JupyterLab: resolve the data (building
    the demo city on first use), copy the notebooks into the working folder, switch the news
    prompt off. Returns the kernels' environment and the folder to serve.
    """
    from ..errors import GraphkitError
    from .workdir import default_workdir, lab_config_env, prepare_workdir

    env, source = resolve(a, environ)
    if not (source / "01_triage.ipynb").exists():
        raise GraphkitError(f"no workbench notebooks in {source}; pass --notebooks DIR")
    if "NEO4J_URI" not in env:
        ensure_store(a, env)
    workdir = Path(a.workdir).expanduser() if getattr(a, "workdir", None) else default_workdir(environ)
    done = prepare_workdir(source, workdir)
    kept = [n for n, what in done.items() if what == "kept"]
    if kept:
        print(f"已保留您修改过的笔记本 / kept your edited notebooks: {', '.join(kept)} (new versions beside them as *.new.ipynb)")
    env.update(lab_config_env(workdir, environ))
    env["GRAPHKIT_LAB_DIR"] = str(workdir)  # the kernels save exports (graph pictures) into this copy
    return env, workdir / "notebooks"


def main(args: argparse.Namespace | Sequence[str] | None = None) -> int:
    """Run ``graphkit lab`` (an argparse namespace from the CLI, or an argument list)."""
    if not isinstance(args, argparse.Namespace):
        p = argparse.ArgumentParser(prog="graphkit lab", description="JupyterLab workbench / 调查工作台")
        add_arguments(p)
        args = p.parse_args(list(args) if args is not None else None)
    if not args.dry_run:
        from ..extras import require_extra

        require_extra("lab", "jupyterlab", "ipywidgets", "anywidget", "pyvis", "jinja2", "matplotlib", part="graphkit lab")
    if args.dry_run:
        env, nb = resolve(args, os.environ)
        for k, v in sorted(env.items()):
            print(f"{k}={v}")
        print(" ".join(lab_command(args, nb)))
        return 0
    env, nb = prepare(args, os.environ)
    cmd = lab_command(args, nb)
    print(f"数据 / store: {env.get('GRAPHKIT_STORE') or env.get('NEO4J_URI')}; 线索 / findings: {env.get('GRAPHKIT_FINDINGS')}")
    print(f"笔记本（您的副本）/ notebooks (your copy): {nb} — {' · '.join(sorted(p.stem for p in nb.glob('[0-9]*.ipynb')))}")
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
