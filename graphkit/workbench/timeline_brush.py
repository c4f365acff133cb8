"""A timeline you can brush: the one view's SVG timeline in an ``anywidget``, no assets to fetch.

Dragging across the timeline sets :attr:`TimelineBrush.brush` (the dragged period, two ISO
times) in Python; the one view turns it into its period slider's range, so graph, claims and
timeline follow as with the slider. A double-click adds one to :attr:`TimelineBrush.resets`
(back to every claim). The drawing is :func:`graphkit.workbench.graphs.timeline_svg`, whose
``data-t0`` / ``data-span`` / ``data-left`` / ``data-plot-width`` attributes say where time runs
along x; the widget's script is a few lines of plain JavaScript, bundled in this module.

Examples
--------
>>> w = TimelineBrush(value="<svg data-t0='2024-01-01T00:00:00' data-span='864000' data-left='120' data-plot-width='760'></svg>")
>>> w.brush = ["2024-01-02T08:00:00", "2024-01-04T20:00:00"]   # what a drag in the browser does
>>> brush_days(w.brush)
(Timestamp('2024-01-02 00:00:00'), Timestamp('2024-01-04 00:00:00'))
"""

from __future__ import annotations

from typing import Sequence

import anywidget
import pandas as pd
import traitlets as T

__all__ = ["TimelineBrush", "brush_days"]

_ESM = r"""
function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "gk-timeline-brush";
  box.title = "拖动选择时间段，双击恢复全部 / drag to pick a period, double-click for all";
  el.appendChild(box);
  let svg = null, band = null, start = null;
  const geom = () => {
    const d = svg.dataset;
    return { t0: Date.parse(d.t0 + "Z"), span: +d.span * 1000, left: +d.left, w: +d.plotWidth };
  };
  const xAt = (e) => {
    const g = geom(), r = svg.getBoundingClientRect();
    return Math.min(Math.max(e.clientX - r.left, g.left), g.left + g.w);
  };
  const timeAt = (x) => { const g = geom(); return new Date(g.t0 + (x - g.left) / g.w * g.span).toISOString().slice(0, 19); };
  const draw = () => {
    box.innerHTML = model.get("value");
    svg = box.querySelector("svg[data-t0]");
    band = null;
    if (!svg) return;
    svg.style.cursor = "crosshair";
    svg.style.userSelect = "none";
    band = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    band.setAttribute("class", "gk-brush-band");
    band.setAttribute("y", "0"); band.setAttribute("height", svg.getAttribute("height"));
    band.setAttribute("fill", "#1f77b4"); band.setAttribute("fill-opacity", "0.15"); band.setAttribute("stroke", "#1f77b4");
    band.setAttribute("width", "0");
    svg.appendChild(band);
  };
  box.addEventListener("mousedown", (e) => {
    if (!svg || e.button !== 0) return;
    start = xAt(e); band.setAttribute("x", start); band.setAttribute("width", "0"); e.preventDefault();
  });
  window.addEventListener("mousemove", (e) => {
    if (start === null || !band) return;
    const x = xAt(e); band.setAttribute("x", Math.min(start, x)); band.setAttribute("width", Math.abs(x - start));
  });
  const end = (e) => {
    if (start === null) return;
    const x = xAt(e), a = Math.min(start, x), b = Math.max(start, x);
    start = null;
    if (b - a < 3) { band.setAttribute("width", "0"); return; }  // a click, not a drag
    model.set("brush", [timeAt(a), timeAt(b)]); model.save_changes();
  };
  window.addEventListener("mouseup", end);
  box.addEventListener("dblclick", () => { model.set("resets", model.get("resets") + 1); model.save_changes(); });
  model.on("change:value", draw);
  model.on("change:brush", () => { if (band && !model.get("brush").length) band.setAttribute("width", "0"); });
  draw();
  return () => window.removeEventListener("mouseup", end);
}
export default { render };
"""


def brush_days(brush: Sequence[str]) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The days a brushed range covers (first and last, midnight), or ``None`` for no brush.

    >>> brush_days(["2024-03-05T23:10:00", "2024-03-01T01:00:00"])   # either direction
    (Timestamp('2024-03-01 00:00:00'), Timestamp('2024-03-05 00:00:00'))
    >>> brush_days([]) is None
    True
    """
    if len(brush) != 2:
        return None
    a, b = sorted(pd.Timestamp(t) for t in brush)
    return a.normalize(), b.normalize()


class TimelineBrush(anywidget.AnyWidget):
    """The timeline SVG (``value``, as an ``HTML`` widget's) with a brush: ``brush`` and ``resets`` come from the browser."""

    _esm = T.Unicode(_ESM).tag(sync=True)
    _css = T.Unicode(".gk-timeline-brush{overflow-x:auto}.gk-timeline-brush svg{display:block}").tag(sync=True)
    #: the drawing (an SVG from :func:`~graphkit.workbench.graphs.timeline_svg`, or a message)
    value = T.Unicode("").tag(sync=True)
    #: the dragged period, two ISO times (browser → Python); empty when none
    brush = T.List(T.Unicode()).tag(sync=True)
    #: double-clicks on the timeline (browser → Python): back to every claim
    resets = T.Int(0).tag(sync=True)
