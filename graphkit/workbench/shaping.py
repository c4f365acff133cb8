"""Pure data shaping for the workbench: findings → table rows, filters, totals, bars,
evidence graphs → vis-network nodes and edges, timelines, provider profiles, precision.

Nothing here touches a widget, a kernel or a browser: every function takes plain data
(findings, DataFrames, networkx graphs) and returns plain data or an HTML string, so it
is unit-tested directly.

Examples
--------
>>> import networkx as nx
>>> g = nx.MultiDiGraph()
>>> g.add_node("card:K1", type="card", id="K1", role="card", label="医保卡 K1")
>>> g.add_node("pharmacy:Y1", type="pharmacy", id="Y1", role="", label="药店 Y1")
>>> g.add_edge("card:K1", "pharmacy:Y1", key="SETTLED_AT", rel="SETTLED_AT", claims=2, fund=300.0,
...            claim_ids=["C1", "C2"])
'SETTLED_AT'
>>> nodes, edges = vis_elements(g)
>>> nodes[0]["shape"], edges[0]["label"]
('diamond', '300元 · 2笔')
"""

from __future__ import annotations

# the pieces live in modules named for what they hold; this module keeps the one import path
from .graphs import _node_weight, cap_graph, claims_graph, filter_period, layout_positions, lead_graph, timeline_svg, vis_elements  # noqa: F401
from .leads import (  # noqa: F401
    LEAD_COLUMNS,
    SORT_KEYS,
    LeadFilter,
    filter_leads,
    lead_attribution,
    lead_label,
    leads_frame,
    sort_leads,
    totals_by_kind,
    totals_by_provider,
)
from .precision import precision_html, precision_report, suggest_threshold  # noqa: F401
from .profiles import PROFILE_METRICS, profile_html, provider_profile, provider_stats  # noqa: F401
from .styles import REL_COLOR, REL_ZH, ROLE_ZH, STATUS_ZH, TYPE_STYLE, yuan  # noqa: F401
from .tables import LEAD_HEADERS, bars_html, frame_html, leads_table_html  # noqa: F401

__all__ = [
    "TYPE_STYLE",
    "REL_ZH",
    "ROLE_ZH",
    "STATUS_ZH",
    "LEAD_COLUMNS",
    "LeadFilter",
    "leads_frame",
    "lead_attribution",
    "filter_leads",
    "sort_leads",
    "totals_by_kind",
    "totals_by_provider",
    "bars_html",
    "frame_html",
    "leads_table_html",
    "lead_label",
    "cap_graph",
    "lead_graph",
    "layout_positions",
    "vis_elements",
    "claims_graph",
    "timeline_svg",
    "provider_stats",
    "provider_profile",
    "profile_html",
    "precision_report",
    "suggest_threshold",
    "precision_html",
    "yuan",
]
