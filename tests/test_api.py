"""The library's public surface (#20 item 4): ``import graphkit`` exports the workflow, lazily.

- every name of ``graphkit.__all__`` imports, and each is the one implementation (``load_bundle`` is
  ``loaders.load_bundle``, ``explain`` is ``graphkit.risk.explain_provider`` …);
- ``import graphkit`` loads neither the ``neo4j`` driver nor the loaders, demo and dossier parts;
  ``graphkit.Neo4jStore`` imports the driver on first access, and without the ``[neo4j]`` extra it
  raises :class:`graphkit.MissingExtra` (a star import still works);
- ``to_json`` round trips and is what ``write_scan`` writes to ``findings.json``;
- the README's "In Python" example and docs/api.md's example run as they are written.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import graphkit
import loaders

ROOT = Path(__file__).resolve().parents[1]

WORKFLOW = {"load_bundle", "open_store", "Neo4jStore", "generate_city", "scan", "explain", "write_dossier",
            "Finding", "Entity", "FindingsReport", "ScanResult", "write_scan", "read_findings", "MissingExtra"}


def _python(code: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", path.read_text("utf-8"), re.S | re.M)


# ---------------------------------------------------------------- names


def test_public_names_import_and_are_the_one_implementation() -> None:
    assert WORKFLOW <= set(graphkit.__all__)  # the dev venv has every extra, Neo4jStore included
    assert len(set(graphkit.__all__)) == len(graphkit.__all__)
    for name in graphkit.__all__:
        assert getattr(graphkit, name) is not None, name
    ns: dict = {}
    exec("from graphkit import *", ns)
    assert set(graphkit.__all__) <= set(ns)
    from graphkit import dossier, neo4jstore, risk

    assert graphkit.load_bundle is loaders.load_bundle and graphkit.validate_bundle is loaders.validate_bundle
    assert graphkit.explain is risk.explain_provider and graphkit.provider_risk is risk.provider_risk
    assert graphkit.write_dossier is dossier.write_dossier and graphkit.verify_dossier is dossier.verify_dossier
    assert graphkit.Neo4jStore is neo4jstore.Neo4jStore
    assert graphkit.generate_city.__module__ == "graphkit.demo.city"
    assert set(dir(graphkit)) >= set(graphkit.__all__)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        graphkit.no_such_name  # noqa: B018


def test_graphkit_loaders_re_exports_the_loaders_package() -> None:
    import graphkit.loaders as gl

    assert gl.__all__ == loaders.__all__
    assert all(getattr(gl, name) is getattr(loaders, name) for name in loaders.__all__)


def test_public_modules_declare_all() -> None:
    """Every public module of graphkit/ (not ``_private.py``, not ``__main__``) has ``__all__``."""
    lacking = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "graphkit").rglob("*.py"))
               if not (p.name.startswith("_") and p.name != "__init__.py")
               and "__all__" not in p.read_text("utf-8")]
    assert lacking == []


# ---------------------------------------------------------------- lazy imports


def test_import_graphkit_loads_no_driver_and_neo4jstore_loads_it_on_access() -> None:
    r = _python(
        "import json, sys, graphkit\n"
        "heavy = ['neo4j', 'graphkit.neo4jstore', 'loaders', 'graphkit.dossier', 'graphkit.demo']\n"
        "before = {m: m in sys.modules for m in heavy}\n"
        "store_cls = graphkit.Neo4jStore\n"
        "print(json.dumps([before, 'neo4j' in sys.modules, store_cls.__module__]))")
    assert r.returncode == 0, r.stderr[-2000:]
    before, after, module = json.loads(r.stdout)
    assert before == {"neo4j": False, "graphkit.neo4jstore": False, "loaders": False, "graphkit.dossier": False,
                      "graphkit.demo": False}
    assert after is True and module == "graphkit.neo4jstore.store"


def test_neo4jstore_without_the_extra_names_it() -> None:
    """``sys.modules['neo4j'] = None`` makes the driver uninstalled as far as import and find_spec go."""
    r = _python(
        "import sys\n"
        "sys.modules['neo4j'] = None\n"
        "import graphkit\n"
        "assert 'Neo4jStore' not in graphkit.__all__ and 'scan' in graphkit.__all__\n"
        "from graphkit import *\n"
        "try:\n"
        "    graphkit.Neo4jStore\n"
        "except graphkit.MissingExtra as e:\n"
        "    print('attr', e.extra, e.missing, isinstance(e, ImportError))\n"
        "from graphkit import Neo4jStore\n")
    assert r.returncode == 1
    assert r.stdout == "attr neo4j ['neo4j'] True\n"
    assert r.stderr.strip().splitlines()[-1].startswith(
        "graphkit.extras.MissingExtra: graphkit.neo4jstore (Neo4j 图数据库 / graph database) 需要可选组件 / needs the "
        "optional extra [neo4j] (missing: neo4j): pip install 'graphkit[neo4j]'")


# ---------------------------------------------------------------- JSON


def test_to_json_round_trips_and_is_findings_json(tmp_path: Path) -> None:
    graphkit.generate_city(tmp_path / "city", patients=1000, seed=1, months=2)
    graphkit.load_bundle(tmp_path / "city", tmp_path / "store")
    result = graphkit.scan(graphkit.open_store(tmp_path / "store"))
    assert len(result.findings) > 5
    for f in result.findings:
        text = f.to_json()
        assert json.loads(text) == f.to_dict() and graphkit.Finding.from_json(text) == f
        assert graphkit.Finding.from_json(text.encode("utf-8")) == f
    assert any(re.search(r"[\u4e00-\u9fff]", f.to_json()) for f in result.findings)  # Chinese unescaped
    paths = graphkit.write_scan(result, tmp_path / "scan")
    written = json.loads(paths["findings"].read_text("utf-8"))
    ours = json.loads(result.to_json())
    assert written.pop("generated_at") and ours.pop("generated_at")
    assert ours == written
    assert [f["id"] for f in ours["findings"]] == [f.id for f in result.findings]
    assert paths["findings"].read_text("utf-8").startswith(result.to_json(indent=1)[:40])
    report = graphkit.FindingsReport.from_json(result.to_json())
    assert report.findings == result.findings and report.extra["skipped"] == result.skipped
    assert graphkit.FindingsReport.from_json(report.to_json()) == report
    assert graphkit.read_findings(paths["findings"]).findings == result.findings


# ---------------------------------------------------------------- documented examples


@pytest.mark.parametrize("doc", ["README.md", "docs/api.md"])
def test_documented_python_example_runs(doc: str, tmp_path: Path) -> None:
    (block,) = _python_blocks(ROOT / doc)
    assert len(block.strip().splitlines()) <= 20 and "from graphkit import" in block
    r = _python(block, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "out" / "store" / "manifest.json").is_file()
    if doc == "README.md":  # the lead, its findings.json entry, the provider ranking
        summary, entry = r.stdout.splitlines()[:2]
        assert re.search(r"[\u4e00-\u9fff].* / .* 0\.\d+ \['C\d+'", summary)
        assert entry.startswith('{"id": "') and '"kind": "' in entry and len(entry) == 300
        assert "entity_type" in r.stdout
    else:  # the explanation of the top provider; the dossier
        assert "风险分 / score" in r.stdout and "检测线索 / findings touching it" in r.stdout
        assert (tmp_path / "out" / "dossier" / "manifest.sig").is_file()
