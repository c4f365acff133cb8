"""``graphkit lab`` before JupyterLab starts: the bare command builds the demo city, the
notebooks are served from a per-user copy (never the tracked files), the news prompt is off."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import pytest

from graphkit.errors import GraphkitError
from graphkit.workbench import lab
from graphkit.workbench.workdir import DISABLED_PLUGINS, default_workdir, exports_dir, prepare_workdir

REPO = Path(__file__).resolve().parents[1]


def _bare() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    lab.add_arguments(p)
    return p.parse_args([])


def test_bare_lab_builds_the_demo_city_and_serves_a_user_copy(tmp_path, monkeypatch):
    """`graphkit lab` with no arguments, from a fresh folder: demo city made, copy served."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GRAPHKIT_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    for var in ("GRAPHKIT_STORE", "GRAPHKIT_FINDINGS", "NEO4J_URI", "GRAPHKIT_LAB_DIR", "JUPYTER_CONFIG_PATH"):
        monkeypatch.delenv(var, raising=False)
    a = _bare()
    assert a.demo_out == "demo-out" and a.store is None and a.workdir is None  # the bare command's relative default
    a.demo_patients = 1000  # the smallest city the generator makes (keeps the test short)
    environ = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    env, served = lab.prepare(a, environ)
    assert env["GRAPHKIT_STORE"] == str(tmp_path / "demo-out" / "store")
    assert (tmp_path / "demo-out" / "store" / "manifest.json").is_file()
    assert Path(env["GRAPHKIT_FINDINGS"]).is_file()
    assert served == tmp_path / "xdg" / "graphkit" / "lab" / "notebooks"
    shipped = sorted(p.name for p in lab.NOTEBOOKS.glob("*.ipynb"))
    assert sorted(p.name for p in served.glob("*.ipynb")) == shipped
    assert served.resolve() != lab.NOTEBOOKS.resolve()
    assert exports_dir(env) == served / "exports"  # graph pictures land in the served copy, never in notebooks/
    cmd = lab.lab_command(a, served)
    assert f"--ServerApp.root_dir={served}" in cmd and f"--ServerApp.root_dir={lab.NOTEBOOKS}" not in cmd
    cfg = Path(env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0]) / "labconfig" / "page_config.json"
    assert json.loads(cfg.read_text())["disabledExtensions"] == {p: True for p in DISABLED_PLUGINS}
    # a second start finds the store and the copies: nothing regenerated
    mtime = (tmp_path / "demo-out" / "store" / "manifest.json").stat().st_mtime_ns
    lab.prepare(a, environ)
    assert (tmp_path / "demo-out" / "store" / "manifest.json").stat().st_mtime_ns == mtime


def test_missing_non_demo_store_is_an_error_not_a_demo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = _bare()
    a.store, a.workdir = "elsewhere/store", str(tmp_path / "w")
    with pytest.raises(GraphkitError, match="no store at .*elsewhere/store"):
        lab.prepare(a, {})
    assert not (tmp_path / "demo-out").exists()


def test_workdir_copies_updates_untouched_and_keeps_edited_notebooks(tmp_path):
    src, work = tmp_path / "src", tmp_path / "work"
    src.mkdir()
    (src / "a.ipynb").write_text("v1")
    (src / "b.ipynb").write_text("v1")
    assert prepare_workdir(src, work) == {"a.ipynb": "copied", "b.ipynb": "copied"}
    (work / "notebooks" / "b.ipynb").write_text("my edits")  # the investigator saved outputs
    (src / "a.ipynb").write_text("v2")
    (src / "b.ipynb").write_text("v2")
    assert prepare_workdir(src, work) == {"a.ipynb": "updated", "b.ipynb": "kept"}
    assert (work / "notebooks" / "a.ipynb").read_text() == "v2"
    assert (work / "notebooks" / "b.ipynb").read_text() == "my edits"
    assert (work / "notebooks" / "b.new.ipynb").read_text() == "v2"
    assert (src / "a.ipynb").read_text() == "v2" and sorted(p.name for p in src.iterdir()) == ["a.ipynb", "b.ipynb"]


def test_default_workdir_is_per_user_and_outside_the_checkout(monkeypatch):
    monkeypatch.delenv("GRAPHKIT_LAB_DIR", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    w = default_workdir()
    assert w == Path.home() / ".local" / "share" / "graphkit" / "lab"
    assert REPO not in w.parents
    assert default_workdir({"GRAPHKIT_LAB_DIR": "~/x"}) == Path.home() / "x"


def test_shipped_notebooks_are_git_tracked_and_the_lab_never_serves_them():
    tracked = subprocess.run(["git", "ls-files", "notebooks"], cwd=REPO, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    assert "notebooks/01_triage.ipynb" in tracked
    a = _bare()
    a.workdir = "/tmp/never-created-by-this-test"
    env, nb = lab.resolve(a, {})
    assert nb == lab.NOTEBOOKS  # resolve names the source; prepare() serves the copy (test above)
