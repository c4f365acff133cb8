"""Helpers for tests and benchmarks of the workbench: a small demo city on disk.

Examples
--------
>>> from graphkit.workbench.testing import make_demo   # doctest: +SKIP
>>> paths = make_demo("/tmp/wb-demo", patients=3000)     # doctest: +SKIP
>>> sorted(paths)                                       # doctest: +SKIP
['findings', 'out', 'scores', 'store']
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["make_demo", "workbench_env"]


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
