"""The investigator's own working folder for ``graphkit lab``.

JupyterLab writes what it serves: autosave and Ctrl+S put cell outputs, the local store
path and the user's name into the notebook files. So ``graphkit lab`` never serves the
shipped (git-tracked) ``notebooks/``: it copies them into a per-user working folder on
first use and serves that copy. A later graphkit version's notebooks replace a copy only
while the investigator has not changed it (a manifest records what was copied); an edited
copy is kept and the new version is put beside it.

The folder also holds a JupyterLab configuration that switches the news prompt
("Would you like to receive official Jupyter news?") and the update check off by
disabling the announcements plugin (``labconfig/page_config.json``, found through
``JUPYTER_CONFIG_PATH``, which is added to, not replacing, the user's own settings).

Examples
--------
>>> import tempfile
>>> src = Path(tempfile.mkdtemp()); dest = Path(tempfile.mkdtemp()) / "work"
>>> _ = (src / "01_triage.ipynb").write_text('{"cells": []}')
>>> prepare_workdir(src, dest)["01_triage.ipynb"]
'copied'
>>> prepare_workdir(src, dest)["01_triage.ipynb"]
'unchanged'
>>> (dest / "notebooks" / "01_triage.ipynb").read_text()
'{"cells": []}'
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Mapping
from urllib.parse import quote

__all__ = ["default_workdir", "exports_dir", "dossier_dir", "served_root", "browser_href", "browser_url", "prepare_workdir", "lab_config_env",
           "DISABLED_PLUGINS", "MANIFEST"]

#: JupyterLab plugins switched off in the workbench: the news prompt and update check
DISABLED_PLUGINS = ("@jupyterlab/apputils-extension:announcements",)
#: what was copied from where (name → sha256 of the shipped file at copy time)
MANIFEST = ".graphkit-notebooks.json"


def default_workdir(environ: Mapping[str, str] | None = None) -> Path:
    """The per-user working folder: ``$GRAPHKIT_LAB_DIR``, else ``$XDG_DATA_HOME/graphkit/lab``
    (``~/.local/share/graphkit/lab``).

    Examples
    --------
    >>> default_workdir({"GRAPHKIT_LAB_DIR": "/w"}).as_posix()
    '/w'
    >>> default_workdir({"XDG_DATA_HOME": "/x"}).as_posix()
    '/x/graphkit/lab'
    """
    env = os.environ if environ is None else environ
    if env.get("GRAPHKIT_LAB_DIR"):
        return Path(env["GRAPHKIT_LAB_DIR"]).expanduser()
    base = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else Path.home() / ".local" / "share"
    return base / "graphkit" / "lab"


def exports_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the workbench saves what the investigator exports (pictures of the graph, case
    dossiers under ``dossiers/``):
    ``$GRAPHKIT_EXPORTS``, else ``exports/`` in the served copy of the notebooks
    (``<working folder>/notebooks/exports``), so JupyterLab's file browser lists and opens
    them. Never the shipped (git-tracked) ``notebooks/``. Created by the caller.

    Examples
    --------
    >>> exports_dir({"GRAPHKIT_LAB_DIR": "/w"}).as_posix()
    '/w/notebooks/exports'
    >>> exports_dir({"GRAPHKIT_EXPORTS": "/e", "GRAPHKIT_LAB_DIR": "/w"}).as_posix()
    '/e'
    """
    env = os.environ if environ is None else environ
    if env.get("GRAPHKIT_EXPORTS"):
        return Path(env["GRAPHKIT_EXPORTS"]).expanduser()
    return served_root(env) / "exports"


def dossier_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the workbench writes case dossiers by default: ``dossiers/`` in :func:`exports_dir`.

    Examples
    --------
    >>> dossier_dir({"GRAPHKIT_LAB_DIR": "/w"}).as_posix()
    '/w/notebooks/exports/dossiers'
    """
    return exports_dir(environ) / "dossiers"


def served_root(environ: Mapping[str, str] | None = None) -> Path:
    """The folder JupyterLab serves under ``graphkit lab``: ``<working folder>/notebooks``.

    Examples
    --------
    >>> served_root({"GRAPHKIT_LAB_DIR": "/w"}).as_posix()
    '/w/notebooks'
    """
    return default_workdir(environ) / "notebooks"


def browser_href(path: str | Path, environ: Mapping[str, str] | None = None) -> str | None:
    """``files/<path relative to the served folder>`` (URL-quoted): where JupyterLab's server
    hands out that file, relative to its base URL; ``None`` for a file outside the served folder
    (the browser cannot open it, e.g. with ``$GRAPHKIT_EXPORTS`` elsewhere).

    Examples
    --------
    >>> browser_href("/w/notebooks/exports/案件 1/dossier.pdf", {"GRAPHKIT_LAB_DIR": "/w"})
    'files/exports/%E6%A1%88%E4%BB%B6%201/dossier.pdf'
    >>> browser_href("/elsewhere/x.pdf", {"GRAPHKIT_LAB_DIR": "/w"}) is None
    True
    """
    root = served_root(environ).resolve()
    try:
        rel = Path(path).resolve().relative_to(root)
    except ValueError:
        return None
    return "files/" + quote(rel.as_posix())


def browser_url(path: str | Path, environ: Mapping[str, str] | None = None) -> str | None:
    """:func:`browser_href` under the server's base URL (``$GRAPHKIT_LAB_BASE_URL``, else
    JupyterHub's ``$JUPYTERHUB_SERVICE_PREFIX``, else ``/``), for a link in a widget: a bare
    relative ``files/…`` would resolve against the page (``/lab/tree/…``), not the server.

    Examples
    --------
    >>> browser_url("/w/notebooks/exports/g.png", {"GRAPHKIT_LAB_DIR": "/w"})
    '/files/exports/g.png'
    >>> browser_url("/w/notebooks/exports/g.png", {"GRAPHKIT_LAB_DIR": "/w", "JUPYTERHUB_SERVICE_PREFIX": "/user/li"})
    '/user/li/files/exports/g.png'
    """
    env = os.environ if environ is None else environ
    href = browser_href(path, env)
    if href is None:
        return None
    base = env.get("GRAPHKIT_LAB_BASE_URL") or env.get("JUPYTERHUB_SERVICE_PREFIX") or "/"
    return "/" + base.strip("/") + "/" + href if base.strip("/") else "/" + href


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepare_workdir(source: str | Path, workdir: str | Path) -> dict[str, str]:
    """Copy the shipped notebooks of ``source`` into ``workdir/notebooks`` and write the lab config.

    Returns what happened per notebook: ``copied`` (new), ``updated`` (the shipped version
    changed and the copy was untouched), ``unchanged``, or ``kept`` (the investigator
    edited the copy; the new shipped version is written beside it as ``NAME.new.ipynb``).
    The source folder is only read.
    """
    source, workdir = Path(source), Path(workdir)
    nbdir = workdir / "notebooks"
    nbdir.mkdir(parents=True, exist_ok=True)
    mpath = nbdir / MANIFEST
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8")) if mpath.is_file() else {}
    except (OSError, ValueError):
        manifest = {}
    result: dict[str, str] = {}
    for nb in sorted(source.glob("*.ipynb")):
        dest = nbdir / nb.name
        shipped = _sha(nb)
        if not dest.exists():
            shutil.copyfile(nb, dest)
            result[nb.name] = "copied"
        elif manifest.get(nb.name) == shipped:
            result[nb.name] = "unchanged"
        elif _sha(dest) == manifest.get(nb.name) or _sha(dest) == shipped:
            shutil.copyfile(nb, dest)  # untouched copy of an older version
            result[nb.name] = "updated"
        else:
            shutil.copyfile(nb, dest.with_suffix(".new.ipynb"))
            result[nb.name] = "kept"
            continue  # the manifest keeps the version the investigator's copy came from
        manifest[nb.name] = shipped
    tmp = mpath.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, mpath)
    labconfig = workdir / "jupyter-config" / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {p: True for p in DISABLED_PLUGINS}}, indent=1), encoding="utf-8")
    return result


def lab_config_env(workdir: str | Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``JUPYTER_CONFIG_PATH`` with the workbench's lab config first (the user's paths kept).

    Examples
    --------
    >>> lab_config_env("/w", {"JUPYTER_CONFIG_PATH": "/etc/j"})["JUPYTER_CONFIG_PATH"] == os.pathsep.join(["/w/jupyter-config", "/etc/j"])
    True
    """
    env = os.environ if environ is None else environ
    own = str(Path(workdir) / "jupyter-config")
    rest = [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p and p != own]
    return {"JUPYTER_CONFIG_PATH": os.pathsep.join([own, *rest])}
