"""Optional parts and the extras that install them.

``pip install graphkit`` brings the core (load, validate, scan, findings, risk, rules, dossiers as
JSON/CSV/HTML). The rest comes with an extra: ``graphkit[neo4j]`` (the graph-database backend),
``graphkit[lab]`` (JupyterLab workbench, widgets, pyvis pages, matplotlib charts), ``graphkit[pdf]``
(PDF dossiers: the system's headless Chromium, no Python package) or ``graphkit[all]``.
Each optional part calls :func:`require_extra` where it is imported, so a missing extra is named in
one clear error instead of a bare ``ModuleNotFoundError`` from deep inside.

Examples
--------
>>> require_extra("lab", "json")           # present: returns quietly
>>> try:
...     require_extra("lab", "no_such_module_xyz")
... except MissingExtra as e:
...     print(e.extra, e.missing)
lab ['no_such_module_xyz']
>>> sorted(EXTRAS)
['all', 'lab', 'neo4j', 'pdf']
"""

from __future__ import annotations

from importlib.util import find_spec

from .errors import GraphkitError

__all__ = ["EXTRAS", "MissingExtra", "require_extra"]

#: the extras of ``pyproject.toml`` and what each one is for (中文 / English)
EXTRAS: dict[str, str] = {
    "neo4j": "图数据库后端 / Neo4j graph-database backend",
    "lab": "调查工作台 / JupyterLab workbench, widgets, graph pages, charts",
    "pdf": "PDF 案件材料 / PDF dossiers (system Chromium + Noto CJK fonts)",
    "all": "全部可选组件 / every optional part",
}


class MissingExtra(GraphkitError, ImportError):
    """An optional part was imported without the extra that installs its packages.

    Both a :class:`GraphkitError` (the CLI prints it without a traceback) and an
    :class:`ImportError` (``import`` statements fail as Python users expect).
    """

    def __init__(self, extra: str, missing: list[str], part: str) -> None:
        self.extra, self.missing, self.part = extra, missing, part
        super().__init__(
            f"{part} 需要可选组件 / needs the optional extra [{extra}] "
            f"(missing: {', '.join(missing)}): pip install 'graphkit[{extra}]' "
            f"(or 'graphkit[all]'; in a source checkout ./dev setup installs all)"
        )


def require_extra(extra: str, *modules: str, part: str | None = None) -> None:
    """Raise :class:`MissingExtra` unless every top-level module in ``modules`` can be imported.

    Checks with :func:`importlib.util.find_spec` (nothing is imported, so it costs microseconds);
    call it before the optional imports of a module. ``part`` names what the user tried to use
    (default: the extra's description).
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; one of {sorted(EXTRAS)}")
    missing = [m for m in modules if find_spec(m.partition(".")[0]) is None]
    if missing:
        raise MissingExtra(extra, missing, part or EXTRAS[extra])
