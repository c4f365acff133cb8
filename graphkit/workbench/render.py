"""Evidence graphs as self-contained, offline pyvis pages.

pyvis builds the node/edge data; the page comes from our own template, which inlines the
vis-network 9.1.2 script and style that pyvis ships in ``pyvis/lib`` — no Bootstrap, no
tom-select, no CDN, no web fonts (system CJK fonts only). Positions are precomputed with
networkx and physics is switched off above :data:`PHYSICS_MAX_NODES` nodes, so the browser
never has to settle a large graph.

Examples
--------
>>> import networkx as nx
>>> g = nx.MultiDiGraph()
>>> g.add_node("card:K1", type="card", id="K1", role="card", label="医保卡 K1")
>>> page = graph_html(g, title="示例 / example")
>>> "vis.Network" in page and "https://" not in page.split("<script>", 1)[0]
True
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import networkx as nx

from ..extras import require_extra

require_extra("lab", "jinja2", "pyvis", part="graphkit.workbench graph pages (关系图 / pyvis)")

from jinja2 import Environment  # noqa: E402

from .shaping import REL_ZH, TYPE_STYLE, layout_positions, vis_elements

__all__ = ["graph_html", "graph_iframe", "write_graph_html", "vis_assets", "PHYSICS_MAX_NODES"]

#: above this many nodes the page draws the precomputed layout with physics off
PHYSICS_MAX_NODES = 60

_TEMPLATE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>{{ vis_css }}</style>
<style>
html, body { margin: 0; padding: 0; height: 100%; font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; }
#gk-network { width: 100%; height: {{ height }}; border: 1px solid #ddd; box-sizing: border-box; }
#gk-legend { font-size: 12px; padding: 4px 6px; color: #333; }
#gk-legend span.sw { display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 10px; vertical-align: middle; }
#gk-title { font-size: 13px; font-weight: bold; padding: 4px 6px 0; }
div.vis-tooltip { white-space: pre-line; font-family: inherit; font-size: 12px; }
</style>
<script>{{ vis_js }}</script>
</head>
<body>
<div id="gk-title">{{ title }}</div>
<div id="gk-legend">{{ legend }}</div>
<div id="gk-network"></div>
<script>
(function () {
  var nodes = new vis.DataSet({{ nodes|tojson }});
  var edges = new vis.DataSet({{ edges|tojson }});
  var options = {{ options|tojson }};
  var container = document.getElementById("gk-network");
  var network = new vis.Network(container, {nodes: nodes, edges: edges}, options);
  window.gkNetwork = network;
  window.gkNodes = nodes;
  window.gkEdges = edges;
  network.once("afterDrawing", function () {
    document.body.setAttribute("data-gk-ready", "1");
    {% if not physics %}network.fit({animation: false});{% endif %}
  });
  {% if physics %}
  network.once("stabilizationIterationsDone", function () {
    network.setOptions({physics: {enabled: false}});
    network.fit({animation: false});
  });
  {% endif %}
})();
</script>
</body>
</html>
"""


@lru_cache(maxsize=1)
def vis_assets() -> tuple[str, str]:
    """The vis-network script and style shipped with pyvis (read once).

    Examples
    --------
    >>> js, css = vis_assets()
    >>> "vis" in js and len(css) > 0
    True
    """
    import pyvis

    lib = Path(pyvis.__file__).parent / "lib" / "vis-9.1.2"
    js = (lib / "vis-network.min.js").read_text("utf-8")
    css = (lib / "vis-network.css").read_text("utf-8")
    # the script must not be able to close its own <script> element
    return js.replace("</script", "<\\/script"), css


@lru_cache(maxsize=1)
def _template():
    env = Environment(autoescape=True)
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}  # readable Chinese in the page
    return env.from_string(_TEMPLATE)


def _legend(g: nx.MultiDiGraph) -> str:
    types = [t for t in TYPE_STYLE if any(a.get("type") == t for _, a in g.nodes(data=True))]
    rels = sorted({a.get("rel", "") for _, _, a in g.edges(data=True)} - {""})
    parts = [
        f"<span class='sw' style='background:{TYPE_STYLE[t]['color']}'></span>{TYPE_STYLE[t]['zh']} {TYPE_STYLE[t]['en']}"
        for t in types
    ]
    parts += [f"&nbsp;&nbsp;→ {REL_ZH.get(r, (r, r))[0]} {REL_ZH.get(r, (r, r))[1]}" for r in rels]
    info = f"&nbsp;&nbsp;节点 {g.number_of_nodes()} nodes · 边 {g.number_of_edges()} edges"
    if g.graph.get("clustered"):
        info += f" · 已折叠 {g.graph['clustered']} 个 / {g.graph['clustered']} folded"
    return "".join(parts) + info


def graph_html(
    g: nx.MultiDiGraph,
    *,
    title: str = "",
    height: str = "560px",
    names: Mapping[str, str] | None = None,
    positions: Mapping[Any, tuple[float, float]] | None = None,
    physics: bool | None = None,
    seed: int = 0,
) -> str:
    """A complete offline HTML page drawing ``g`` with vis-network (via pyvis's data model).

    Parameters
    ----------
    g
        An evidence graph (see :func:`graphkit.evidence.evidence_graph`), already capped.
    title
        Shown above the graph.
    height
        CSS height of the drawing.
    names
        Node id → display name (providers' names).
    positions
        Precomputed positions; computed with :func:`~graphkit.workbench.shaping.layout_positions` if absent.
    physics
        Force physics on/off; default: on only for graphs up to :data:`PHYSICS_MAX_NODES` nodes.
    seed
        Layout seed.

    Examples
    --------
    >>> import networkx as nx
    >>> page = graph_html(nx.MultiDiGraph())
    >>> page.startswith("<!doctype html>")
    True
    """
    from pyvis.network import Network

    n = g.number_of_nodes()
    if physics is None:
        physics = n <= PHYSICS_MAX_NODES
    if positions is None:
        positions = layout_positions(g, seed=seed)
    from .kindgraph import vis_elements_kind  # kind graphs' own edge texts; the lead's entities enlarged

    vnodes, vedges = vis_elements_kind(g, positions=positions, names=names)
    net = Network(height=height, width="100%", directed=True, cdn_resources="in_line")
    for node in vnodes:
        node = dict(node)
        nid = node.pop("id")
        net.add_node(nid, **node)
    for e in vedges:
        e = dict(e)
        net.add_edge(e.pop("from"), e.pop("to"), **e)
    net.options = {
        "autoResize": True,
        "nodes": {"font": {"multi": False}},
        "edges": {"smooth": {"enabled": n <= 150, "type": "dynamic" if physics else "continuous"},
                  "arrows": {"to": {"scaleFactor": 0.5}}},
        "physics": {
            "enabled": bool(physics),
            "solver": "barnesHut",
            "barnesHut": {"gravitationalConstant": -4000, "springLength": 140, "avoidOverlap": 0.2},
            "stabilization": {"enabled": True, "iterations": 150, "fit": True},
        },
        "interaction": {"hover": True, "tooltipDelay": 120, "hideEdgesOnDrag": n > 150, "navigationButtons": False},
        "layout": {"improvedLayout": False, "randomSeed": seed},
    }
    nodes, edges, _heading, _h, _w, _opts = net.get_network_data()
    js, css = vis_assets()
    from markupsafe import Markup

    return _template().render(
        title=title, height=height, nodes=nodes, edges=edges, options=net.options, physics=bool(physics),
        vis_js=Markup(js), vis_css=Markup(css), legend=Markup(_legend(g)),
    )


def graph_iframe(page: str, *, height: int = 640, css_class: str = "gk-graph-frame") -> str:
    """Embed a page in an ``<iframe srcdoc>`` (sandboxed: scripts only) for an ipywidgets ``HTML``.

    Examples
    --------
    >>> graph_iframe("<p>x</p>").startswith("<iframe")
    True
    """
    return (f"<iframe class='{css_class}' sandbox='allow-scripts' style='width:100%;height:{height}px;border:0' "
            f"srcdoc=\"{html.escape(page, quote=True)}\"></iframe>")


def write_graph_html(g: nx.MultiDiGraph, path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`graph_html` to ``path`` (a standalone page that works offline).

    Examples
    --------
    >>> import networkx as nx, tempfile, os
    >>> p = write_graph_html(nx.MultiDiGraph(), os.path.join(tempfile.mkdtemp(), "g.html"))
    >>> p.stat().st_size > 100000
    True
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(graph_html(g, **kwargs), "utf-8")
    return p
