"""A two-way graph widget: vis-network in an ``anywidget``, every asset bundled (no network).

Clicking a node in the browser sets :attr:`GraphWidget.selected` in Python (so Python can
expand it, show its claims, add it to a case, write a note on it); double-clicking sets
:attr:`GraphWidget.activated` (the view expands it); setting :attr:`GraphWidget.highlight`
from Python selects and focuses those nodes in the drawing (a row picked in a table). The
vis-network script is the one pyvis ships (:func:`graphkit.workbench.render.vis_assets`),
inlined into the widget's module; pyvis's HTML export stays for dossiers.

:meth:`GraphWidget.export_png` saves the current drawing as a PNG: Python sends a custom
message, the browser answers with the canvas as a ``data:image/png`` URL, Python decodes it
and writes the file (when the answer arrives; the kernel is free meanwhile). vis-network
draws only on a canvas, so there is no SVG export.

Examples
--------
>>> import networkx as nx
>>> g = nx.MultiDiGraph(); g.add_node("card:K1", type="card", id="K1", label="医保卡 K1")
>>> w = GraphWidget.from_graph(g)
>>> [n["id"] for n in w.nodes], w.selected
(['card:K1'], [])
>>> w.selected = ["card:K1"]  # what a click in the browser does
>>> w.selected_node
'card:K1'
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping

import anywidget
import networkx as nx
import traitlets as T

from .kindgraph import vis_elements_kind
from .render import vis_assets
from .shaping import layout_positions

__all__ = ["GraphWidget", "graph_options", "decode_png", "png_size", "PNG_SIGNATURE"]

#: the first eight bytes of every PNG file
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_png(data_url: str) -> bytes:
    """The PNG bytes of a ``data:image/png;base64,…`` URL (what ``canvas.toDataURL`` gives).

    Raises ``ValueError`` (Chinese and English) for anything that is not a PNG.

    Examples
    --------
    >>> png = decode_png("data:image/png;base64," + base64.b64encode(PNG_SIGNATURE + bytes(17)).decode())
    >>> png[:8] == PNG_SIGNATURE
    True
    >>> decode_png("data:,")
    Traceback (most recent call last):
    ValueError: 浏览器未返回图片（图尚未绘制？）/ the browser sent no picture (graph not drawn yet?)
    """
    head, sep, body = str(data_url or "").partition(",")
    if not sep or not body or head.replace(" ", "").lower() != "data:image/png;base64":
        raise ValueError("浏览器未返回图片（图尚未绘制？）/ the browser sent no picture (graph not drawn yet?)")
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"图片数据损坏 / the picture's data is corrupt: {exc}") from None
    if not raw.startswith(PNG_SIGNATURE) or len(raw) < 24:
        raise ValueError("返回的不是 PNG 图片 / the browser did not send a PNG")
    return raw


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (its IHDR chunk).

    Examples
    --------
    >>> png_size(PNG_SIGNATURE + struct.pack(">I4sII", 13, b"IHDR", 640, 480))
    (640, 480)
    """
    return struct.unpack(">II", png[16:24])

_ESM_BODY = r"""
function ensureVis() {
  if (!globalThis.vis || !globalThis.vis.Network) {
    const s = document.createElement("script");
    s.textContent = VIS_SRC;          // classic script: defines globalThis.vis (bundled, no request)
    document.head.appendChild(s);
  }
  return globalThis.vis;
}
function render({ model, el }) {
  const vis = ensureVis();
  const box = document.createElement("div");
  box.className = "gk-graph-widget";
  box.style.height = model.get("height");
  box.style.width = "100%";
  box.style.border = "1px solid #ddd";
  el.appendChild(box);
  const nodes = new vis.DataSet(model.get("nodes"));
  const edges = new vis.DataSet(model.get("edges"));
  const net = new vis.Network(box, { nodes, edges }, model.get("options"));
  box.gkNetwork = net;                // for browser tests: positions of nodes to click
  const fit = () => net.fit({ animation: false, maxZoomLevel: 1.6 });
  net.once("afterDrawing", fit);
  net.on("click", (p) => { model.set("selected", p.nodes.map(String)); model.save_changes(); });
  net.on("doubleClick", (p) => {
    if (p.nodes.length) { model.set("activated", String(p.nodes[0])); model.set("activations", model.get("activations") + 1); model.save_changes(); }
  });
  model.on("change:nodes", () => { nodes.clear(); nodes.add(model.get("nodes")); fit(); });
  model.on("change:edges", () => { edges.clear(); edges.add(model.get("edges")); });
  model.on("change:options", () => net.setOptions(model.get("options")));
  model.on("change:highlight", () => {
    const ids = model.get("highlight").filter((i) => nodes.get(i));
    net.selectNodes(ids);
    if (ids.length) net.fit({ nodes: ids, animation: false, maxZoomLevel: 1.4 });
  });
  // export: Python asks for the drawing (GraphWidget.export_png), the canvas answers as a PNG on white
  model.on("msg:custom", (msg) => {
    if (!msg || msg.type !== "export_png") return;
    try {
      const src = box.querySelector("canvas");
      if (!src || !src.width || !src.height) throw new Error("no drawing yet");
      const c = document.createElement("canvas");
      c.width = src.width; c.height = src.height;
      const ctx = c.getContext("2d");
      ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, c.width, c.height); ctx.drawImage(src, 0, 0);
      model.send({ type: "png", request: msg.request, data: c.toDataURL("image/png"), width: c.width, height: c.height });
    } catch (e) {
      model.send({ type: "png", request: msg.request, error: String(e) });
    }
  });
  return () => net.destroy();
}
export default { render };
"""


@lru_cache(maxsize=1)
def _esm() -> str:
    js, _css = vis_assets()
    return f"const VIS_SRC = {json.dumps(js)};\n{_ESM_BODY}"


@lru_cache(maxsize=1)
def _css() -> str:
    return vis_assets()[1] + "\n.gk-graph-widget{background:#fff}"


def graph_options(n: int) -> dict[str, Any]:
    """vis-network options: precomputed layout (no physics above 60 nodes), readable labels.

    Examples
    --------
    >>> graph_options(10)["physics"]["enabled"], graph_options(500)["physics"]["enabled"]
    (True, False)
    """
    physics = n <= 60
    return {
        "autoResize": True,
        "nodes": {"font": {"multi": False, "size": 16}},
        "edges": {"smooth": {"enabled": n <= 150, "type": "dynamic" if physics else "continuous"},
                  "arrows": {"to": {"scaleFactor": 0.5}}, "font": {"size": 13}},
        "physics": {"enabled": physics, "solver": "barnesHut",
                    "barnesHut": {"gravitationalConstant": -4000, "springLength": 140, "avoidOverlap": 0.2},
                    "stabilization": {"enabled": True, "iterations": 150, "fit": True}},
        "interaction": {"hover": True, "tooltipDelay": 120, "multiselect": True, "hideEdgesOnDrag": n > 150},
        "layout": {"improvedLayout": False, "randomSeed": 0},
    }


class GraphWidget(anywidget.AnyWidget):
    """vis-network, two-way: ``selected`` / ``activated`` come from clicks, ``highlight`` goes to the drawing."""

    _esm = T.Unicode(_esm()).tag(sync=True)
    _css = T.Unicode(_css()).tag(sync=True)
    nodes = T.List(T.Dict()).tag(sync=True)
    edges = T.List(T.Dict()).tag(sync=True)
    options = T.Dict().tag(sync=True)
    height = T.Unicode("560px").tag(sync=True)
    #: node ids the user clicked (browser → Python)
    selected = T.List(T.Unicode()).tag(sync=True)
    #: the node last double-clicked (browser → Python), with a counter so the same node can be activated twice
    activated = T.Unicode("").tag(sync=True)
    activations = T.Int(0).tag(sync=True)
    #: node ids to select and focus in the drawing (Python → browser)
    highlight = T.List(T.Unicode()).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._exports: dict[str, tuple[Path, Callable[[Path | None, str | None], None] | None]] = {}
        self.on_msg(self._on_message)

    @classmethod
    def from_graph(cls, g: nx.MultiDiGraph, *, names: Mapping[str, str] | None = None, height: str = "560px") -> "GraphWidget":
        w = cls(height=height)
        w.show(g, names=names)
        return w

    def show(self, g: nx.MultiDiGraph, *, names: Mapping[str, str] | None = None) -> None:
        """Draw ``g`` (positions precomputed, so big graphs need no physics)."""
        nodes, edges = vis_elements_kind(g, positions=layout_positions(g), names=names)
        self.options = graph_options(len(nodes))
        self.edges = edges
        self.nodes = nodes
        self.selected = [s for s in self.selected if any(n["id"] == s for n in nodes)]

    @property
    def selected_node(self) -> str | None:
        """The first selected node, if any."""
        return self.selected[0] if self.selected else None

    # -- export ----------------------------------------------------------------------------
    def export_png(self, path: str | Path, *, on_done: Callable[[Path | None, str | None], None] | None = None) -> str:
        """Ask the browser for the drawing and write it to ``path`` as a PNG when it arrives.

        The answer comes as a message after the calling cell (or button callback) returns;
        ``on_done(path, None)`` is called once the file is written, ``on_done(None, error)`` if
        the browser could not draw. Returns the request's id.
        """
        req = uuid.uuid4().hex[:12]
        self._exports[req] = (Path(path), on_done)
        self.send({"type": "export_png", "request": req})
        return req

    def _on_message(self, _widget: Any, content: Mapping[str, Any], _buffers: Any = None) -> None:
        """The browser's answer to :meth:`export_png` (a second view of the widget may answer too: first wins)."""
        if not isinstance(content, Mapping) or content.get("type") != "png":
            return
        pending = self._exports.pop(str(content.get("request")), None)
        if pending is None:
            return
        path, on_done = pending
        try:
            if content.get("error"):
                raise ValueError(f"浏览器无法导出图片 / the browser could not export the picture: {content['error']}")
            png = decode_png(str(content.get("data", "")))
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(png)
            os.replace(tmp, path)
        except (OSError, ValueError) as exc:
            if on_done is None:
                raise
            on_done(None, str(exc))
            return
        if on_done is not None:
            on_done(path, None)
