"""The investigation workbench: JupyterLab notebooks over the store, findings and cases.

- :mod:`~graphkit.workbench.shaping` — pure data shaping (leads rows, filters, totals, vis
  nodes/edges, timelines, provider profiles, precision), tested without a browser;
- :mod:`~graphkit.workbench.render` — offline pyvis pages (vis-network inlined, no CDN);
- :mod:`~graphkit.workbench.cases` — cases in SQLite beside the store, with an audit trail;
- :mod:`~graphkit.workbench.data` — the :class:`Workbench` the notebooks share, configured
  from the environment;
- :mod:`~graphkit.workbench.widgets` — :class:`LeadsQueue`, :class:`EvidenceExplorer`,
  :class:`CaseBuilder`;
- :mod:`~graphkit.workbench.risk_view` — :class:`ProviderRisk`: the provider risk ranking and
  why one provider ranks where it does;
- :mod:`~graphkit.workbench.compare_view` — :class:`ProviderCompare`: two providers' risk side
  by side (under the one view's peer profile and in :class:`ProviderRisk`);
- :mod:`~graphkit.workbench.kindgraph` — each kind's defining evidence in its graph;
- :mod:`~graphkit.workbench.search` / :mod:`~graphkit.workbench.search_view` — search any id
  or name → its leads, claims and neighbourhood; two providers side by side;
- :mod:`~graphkit.workbench.oneview` — :class:`WorkbenchView`: queue, two-way graph
  (:mod:`~graphkit.workbench.graphwidget`), claims, timeline, profile and case in one view;
- :mod:`~graphkit.workbench.labels` — names instead of codes, formatted tables;
- :mod:`~graphkit.workbench.lab` — ``graphkit lab``: JupyterLab on a per-user copy of
  ``notebooks/`` (:mod:`~graphkit.workbench.workdir`).

Names are imported lazily so ``graphkit lab --help`` stays fast.

Examples
--------
>>> import graphkit.workbench as wbk
>>> sorted(wbk.__all__)[:3]
['CaseBuilder', 'CaseExport', 'CaseStore']
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["Workbench", "WorkbenchConfig", "LeadsQueue", "EvidenceExplorer", "CaseBuilder", "CaseStore", "graph_html",
           "ProviderRisk", "ProviderCompare", "SearchPanel", "search", "WorkbenchView", "GraphWidget",
           "CaseExport", "TimelineBrush"]

_WHERE = {
    "Workbench": "data",
    "WorkbenchConfig": "data",
    "LeadsQueue": "widgets",
    "EvidenceExplorer": "widgets",
    "CaseBuilder": "widgets",
    "CaseStore": "cases",
    "graph_html": "render",
    "ProviderRisk": "risk_view",
    "ProviderCompare": "compare_view",
    "SearchPanel": "search_view",
    "search": "search",
    "WorkbenchView": "oneview",
    "GraphWidget": "graphwidget",
    "CaseExport": "export_view",
    "TimelineBrush": "timeline_brush",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
