"""Evidence graphs for the workbench: claims → graph, a lead's graph, capping, layout,
vis-network nodes and edges, and the settlement timeline (SVG)."""

from __future__ import annotations

import html
import math
from typing import Any, Iterable, Mapping

import networkx as nx
import pandas as pd

from ..evidence import TYPE_ZH
from ..findings import Finding
from .styles import REL_COLOR, REL_ZH, ROLE_ZH, TYPE_STYLE, yuan

__all__ = ["claims_graph", "lead_graph", "filter_period", "cap_graph", "layout_positions", "vis_elements", "timeline_svg"]


def _node_weight(g: nx.MultiDiGraph) -> dict[Any, float]:
    w: dict[Any, float] = {n: 0.0 for n in g.nodes}
    for s, d, a in g.edges(data=True):
        f = float(a.get("fund", 0.0) or 0.0)
        w[s] += f
        w[d] += f
    return w


def claims_graph(claims: pd.DataFrame, g: nx.MultiDiGraph | None = None, *, mark: str = "",
                 holders: Mapping[str, str] | None = None) -> nx.MultiDiGraph:
    """Add claims to an evidence graph with the edges of :func:`graphkit.evidence.evidence_graph`.

    Patient → card (``PAID_WITH``), card → provider (``SETTLED_AT``), patient → doctor
    (``TREATED_BY``), and with ``holders`` (card id → holder's patient id) holder → card
    (``HOLDS``, no claims) for every card in the graph. Claims already on an edge are not
    counted twice. New nodes get ``added=mark`` (e.g. ``"expanded"``).

    Examples
    --------
    >>> c = pd.DataFrame({"claim_id": ["C1"], "patient_id": ["P1"], "card_id": ["K1"], "institution_id": ["H1"],
    ...                   "pharmacy_id": [None], "doctor_id": ["D1"], "fund_amount": [5.0]})
    >>> g = claims_graph(c)
    >>> sorted(g.nodes), g.number_of_edges()
    (['card:K1', 'doctor:D1', 'institution:H1', 'patient:P1'], 3)
    >>> claims_graph(c, g).number_of_edges(), g["card:K1"]["institution:H1"]["SETTLED_AT"]["claims"]
    (3, 1)
    """
    g = nx.MultiDiGraph() if g is None else g
    if claims.empty:
        return g

    def ids(col: str, prefix: str) -> list[str | None]:
        vals = claims[col].to_numpy(dtype=object, na_value=None) if col in claims else [None] * len(claims)
        return [None if v is None or v != v else f"{prefix}:{v}" for v in vals]

    inst, pharm = ids("institution_id", "institution"), ids("pharmacy_id", "pharmacy")
    cols = {"patient": ids("patient_id", "patient"), "card": ids("card_id", "card"),
            "provider": [i if i is not None else p for i, p in zip(inst, pharm)], "doctor": ids("doctor_id", "doctor")}
    cids = [str(x) for x in claims["claim_id"].to_numpy(dtype=object)]
    funds = claims["fund_amount"].astype(float).to_numpy()
    for src, dst, rel in (("patient", "card", "PAID_WITH"), ("card", "provider", "SETTLED_AT"), ("patient", "doctor", "TREATED_BY")):
        groups: dict[tuple[str, str], list[int]] = {}
        for i, (a, b) in enumerate(zip(cols[src], cols[dst])):
            if a is not None and b is not None:
                groups.setdefault((a, b), []).append(i)
        for (s, d) in sorted(groups):
            rows = groups[(s, d)]
            for n in (s, d):
                if n not in g:
                    t, i = n.split(":", 1)
                    g.add_node(n, type=t, id=i, role="", label=f"{TYPE_ZH.get(t, t)} {i}", added=mark)
            if g.has_edge(s, d, key=rel):
                a = g[s][d][rel]
                have = set(a.get("claim_ids", []))
                new = [r for r in rows if cids[r] not in have]
                if new:
                    a["claim_ids"] = sorted(have | {cids[r] for r in new})
                    a["claims"] = int(a.get("claims", 0)) + len(new)
                    a["fund"] = round(float(a.get("fund", 0.0)) + float(sum(funds[r] for r in new)), 2)
            else:
                g.add_edge(s, d, key=rel, rel=rel, claims=len(rows), fund=round(float(sum(funds[r] for r in rows)), 2),
                           claim_ids=sorted(cids[r] for r in rows), added=mark)
    if holders:
        for card in sorted(v for v in g.nodes if isinstance(v, str) and v.startswith("card:")):
            holder = holders.get(card.split(":", 1)[1])
            if not isinstance(holder, str):
                continue
            hn = f"patient:{holder}"
            if hn not in g:
                g.add_node(hn, type="patient", id=holder, role="card_holder", label=f"{TYPE_ZH['patient']} {holder}", added=mark)
            if not g.has_edge(hn, card, key="HOLDS"):
                g.add_edge(hn, card, key="HOLDS", rel="HOLDS", claims=0, fund=0.0, claim_ids=[], added=mark)
    return g


def lead_graph(finding: Finding, claims: pd.DataFrame, *, holders: Mapping[str, str] | None = None,
               claims_total: int | None = None) -> nx.MultiDiGraph:
    """A finding's evidence graph built from its claims in one vectorised pass.

    The same graph as :func:`graphkit.evidence.evidence_graph` (entities with their roles,
    then :func:`claims_graph` edges and card holders), fast enough for leads with thousands
    of claims; the test suite checks the two agree.

    Examples
    --------
    >>> from graphkit.findings import Entity
    >>> f = Finding.create("shared_card", key=["K1"], claims=["C1"], entities=[Entity("card", "K1", "card")])
    >>> c = pd.DataFrame({"claim_id": ["C1"], "patient_id": ["P2"], "card_id": ["K1"], "institution_id": [None],
    ...                   "pharmacy_id": ["Y1"], "doctor_id": [None], "fund_amount": [5.0]})
    >>> g = lead_graph(f, c, holders={"K1": "P1"})
    >>> sorted(k for _, _, k in g.edges(keys=True)), g.nodes["card:K1"]["role"]
    (['HOLDS', 'PAID_WITH', 'SETTLED_AT'], 'card')
    """
    g = nx.MultiDiGraph(finding_id=finding.id, kind=finding.kind, summary=finding.summary)
    for e in finding.entities:
        g.add_node(f"{e.type}:{e.id}", type=e.type, id=e.id, role=e.role, label=f"{TYPE_ZH[e.type]} {e.id}")
    g.graph["claims_shown"] = int(len(claims))
    g.graph["claims_total"] = len(finding.claims) if claims_total is None else claims_total
    if claims.empty:
        return g
    return claims_graph(claims, g, holders=holders)


def filter_period(g: nx.MultiDiGraph, claims: pd.DataFrame, start: Any, end: Any, *,
                  keep: Iterable[Any] = ()) -> nx.MultiDiGraph:
    """The part of an evidence graph settled between ``start`` and ``end`` (dates, inclusive).

    ``claims`` gives ``claim_id``, ``start_time`` and ``fund_amount`` of the claims on the edges.
    An edge that carries claims keeps those in the period (its count and fund recomputed) and
    is dropped when none is; edges without claims (a card's holder, referrals, shared phones)
    stay. Nodes left without an edge are dropped unless in ``keep`` (the lead's own entities).
    The result records the period in ``g.graph["period"]``.

    Examples
    --------
    >>> g = nx.MultiDiGraph()
    >>> _ = g.add_edge("card:K1", "pharmacy:Y1", key="SETTLED_AT", rel="SETTLED_AT", claims=2, fund=30.0, claim_ids=["C1", "C2"])
    >>> _ = g.add_edge("card:K1", "pharmacy:Y2", key="SETTLED_AT", rel="SETTLED_AT", claims=1, fund=5.0, claim_ids=["C3"])
    >>> c = pd.DataFrame({"claim_id": ["C1", "C2", "C3"], "fund_amount": [10.0, 20.0, 5.0],
    ...                   "start_time": pd.to_datetime(["2024-01-02", "2024-03-01", "2024-03-02"])})
    >>> h = filter_period(g, c, "2024-01-01", "2024-01-31")
    >>> sorted(h.nodes), h["card:K1"]["pharmacy:Y1"]["SETTLED_AT"]["fund"]
    (['card:K1', 'pharmacy:Y1'], 10.0)
    """
    t = pd.to_datetime(claims["start_time"], errors="coerce").dt.normalize()
    lo, hi = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    inside = (t >= lo) & (t <= hi)
    ids = claims["claim_id"].astype(str).to_numpy()
    fund = dict(zip(ids, pd.to_numeric(claims["fund_amount"], errors="coerce").fillna(0.0).to_numpy(float)))
    ok = set(ids[inside.to_numpy()])
    known = set(ids)
    h = nx.MultiDiGraph(**g.graph)
    h.graph["period"] = (str(lo.date()), str(hi.date()))
    for s, d, k, a in g.edges(keys=True, data=True):
        cl = [str(x) for x in a.get("claim_ids", [])]
        if not cl:
            h.add_edge(s, d, key=k, **a)
            continue
        # claims the view has no time for (aggregated edges) are kept rather than guessed away
        mine = [x for x in cl if x in ok or x not in known]
        if not mine:
            continue
        h.add_edge(s, d, key=k, **{**a, "claim_ids": mine, "claims": len(mine),
                                    "fund": round(float(sum(fund.get(x, 0.0) for x in mine)), 2)})
    keep = set(keep)
    for v, a in g.nodes(data=True):
        if v in h or v in keep:
            h.add_node(v, **a)
    return h


def cap_graph(g: nx.MultiDiGraph, max_nodes: int = 150, *, keep: Iterable[Any] = ()) -> nx.MultiDiGraph:
    """At most ``max_nodes`` nodes: the least important are folded into one cluster node per type.

    Importance is ``keep`` membership (the finding's own entities) first, then the fund on
    the node's edges. Edges of folded nodes are re-pointed to their cluster and summed.
    The result records ``clustered`` (nodes folded) in ``g.graph``.

    Examples
    --------
    >>> g = nx.MultiDiGraph()
    >>> for i in range(10):
    ...     _ = g.add_edge(f"patient:P{i}", "card:K1", key="PAID_WITH", rel="PAID_WITH", claims=1, fund=float(i), claim_ids=[f"C{i}"])
    >>> nx.set_node_attributes(g, {n: n.split(":")[0] for n in g}, "type")
    >>> h = cap_graph(g, 5, keep=["card:K1"])
    >>> h.number_of_nodes(), h.graph["clustered"], h.nodes["cluster:patient"]["members"]
    (5, 7, 7)
    """
    n = g.number_of_nodes()
    if n <= max_nodes:
        h = g.copy()
        h.graph.setdefault("clustered", 0)
        return h
    max_nodes = max(int(max_nodes), 2)
    keep = set(keep)
    weight = _node_weight(g)
    ranked = sorted(g.nodes, key=lambda v: (v not in keep, -weight[v], str(v)))
    # reserve one slot per type that will be folded
    types = [g.nodes[v].get("type", "?") for v in ranked]
    kept: list[Any] = []
    for budget in range(max_nodes - 1, 0, -1):
        kept = ranked[:budget]
        if budget + len(set(types[budget:])) <= max_nodes:
            break
    kept_set = set(kept)
    folded = [v for v in ranked if v not in kept_set]
    h = nx.MultiDiGraph(**g.graph)
    for v in kept:
        h.add_node(v, **g.nodes[v])
    target: dict[Any, Any] = {v: v for v in kept}
    members: dict[str, list[Any]] = {}
    for v in folded:
        t = g.nodes[v].get("type", "?")
        members.setdefault(t, []).append(v)
        target[v] = f"cluster:{t}"
    for t, vs in members.items():
        st = TYPE_STYLE.get(t, {"zh": t, "en": t})
        h.add_node(f"cluster:{t}", type="cluster", member_type=t, id=f"{len(vs)}", role="", members=len(vs),
                   member_ids=[g.nodes[v].get("id", str(v)) for v in vs][:500],
                   label=f"其余 {len(vs)} 个{st['zh']}\n{len(vs)} more {st['en']}")
    merged: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    for s, d, k, a in g.edges(keys=True, data=True):
        key = (target[s], target[d], k)
        b = merged.get(key)
        if b is None:
            merged[key] = {**a, "claim_ids": list(a.get("claim_ids", []))}
        else:  # in place: a cluster may take thousands of edges
            b["claims"] = int(b.get("claims", 0)) + int(a.get("claims", 0))
            b["fund"] = float(b.get("fund", 0.0)) + float(a.get("fund", 0.0))
            b["claim_ids"].extend(a.get("claim_ids", []))
    for (ts, td, k), b in merged.items():
        b["fund"] = round(float(b.get("fund", 0.0)), 2)
        h.add_edge(ts, td, key=k, **b)
    h.graph["clustered"] = len(folded)
    return h


def layout_positions(g: nx.Graph, *, seed: int = 0, scale: float | None = None) -> dict[Any, tuple[float, float]]:
    """Precomputed node positions (networkx spring layout), so the browser needs no physics.

    Examples
    --------
    >>> pos = layout_positions(nx.path_graph(3))
    >>> sorted(pos) == [0, 1, 2] and all(len(p) == 2 for p in pos.values())
    True
    """
    n = g.number_of_nodes()
    if n == 0:
        return {}
    scale = scale if scale is not None else 120.0 + 40.0 * math.sqrt(n)
    simple = nx.Graph()
    simple.add_nodes_from(g.nodes)
    simple.add_edges_from((s, d) for s, d in g.edges() if s != d)
    if n == 1:
        return {next(iter(g.nodes)): (0.0, 0.0)}
    pos = nx.spring_layout(simple, seed=seed, iterations=60 if n <= 300 else 30, scale=scale)
    return {v: (round(float(p[0]), 1), round(float(p[1]), 1)) for v, p in pos.items()}


def _node_title(a: Mapping[str, Any], name: str, fund: float) -> str:
    t = a.get("type", "")
    st = TYPE_STYLE.get(t, {"zh": t, "en": t})
    lines = [f"{st['zh']} / {st['en']}: {a.get('id', '')}"]
    if name:
        lines.append(f"名称 / name: {name}")
    role = a.get("role") or ""
    if role:
        lines.append(f"角色 / role: {ROLE_ZH.get(role, role)} ({role})")
    if t == "cluster":
        lines.append(f"成员 / members: {', '.join(map(str, a.get('member_ids', [])[:20]))}"
                     + (" …" if a.get("members", 0) > 20 else ""))
    if a.get("added"):
        lines.append("展开添加 / added by expansion")
    lines.append(f"涉及基金 / fund on edges: {yuan(fund)}")
    return "\n".join(lines)


def vis_elements(g: nx.MultiDiGraph, *, positions: Mapping[Any, tuple[float, float]] | None = None,
                 names: Mapping[str, str] | None = None,
                 edge_labels: bool | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """vis-network nodes and edges for an evidence graph.

    Node colour and shape by type, Chinese label (with the provider's name), size by the
    fund on its edges, a thick border for the finding's own entities (those with a role),
    dashed border for nodes added by expansion; edges labelled with fund and claim count
    (``edge_labels``; default: only when there are at most 80 edges, else in the tooltip only).

    Examples
    --------
    >>> g = nx.MultiDiGraph()
    >>> g.add_node("patient:P1", type="patient", id="P1", role="deceased", label="参保人 P1")
    >>> nodes, _ = vis_elements(g, positions={"patient:P1": (1.0, 2.0)})
    >>> nodes[0]["x"], nodes[0]["borderWidth"], nodes[0]["color"]["background"]
    (1.0, 4, '#4e79a7')
    """
    names = names or {}
    weight = _node_weight(g)
    wmax = max(weight.values(), default=0.0) or 1.0
    nodes = []
    for v, a in g.nodes(data=True):
        t = a.get("type", "")
        st = TYPE_STYLE.get(t, TYPE_STYLE["cluster"])
        name = names.get(str(v), "")
        label = a.get("label") or f"{st['zh']} {a.get('id', v)}"
        if name:
            label = f"{label}\n{name}"
        has_role = bool(a.get("role"))
        node = {
            "id": str(v),
            "label": label,
            "title": _node_title(a, name, weight[v]),
            "shape": st["shape"],
            "color": {"background": st["color"], "border": "#222222" if has_role else st["color"],
                      "highlight": {"background": st["color"], "border": "#000000"}},
            "size": 30 if t == "cluster" else round(12 + 18 * math.sqrt(weight[v] / wmax), 1),
            "borderWidth": 4 if has_role else 1,
            "gkType": t,
            "font": {"size": 14, "face": "Noto Sans CJK SC, Microsoft YaHei, sans-serif"},
        }
        if a.get("added"):
            node["shapeProperties"] = {"borderDashes": [4, 3]}
            node["borderWidth"] = 2
            node["color"]["border"] = "#444444"
        if positions and v in positions:
            node["x"], node["y"] = positions[v]
        nodes.append(node)
    edges = []
    if edge_labels is None:
        edge_labels = g.number_of_edges() <= 80
    fmax = max((float(a.get("fund", 0.0) or 0.0) for _, _, a in g.edges(data=True)), default=0.0) or 1.0
    for s, d, k, a in g.edges(keys=True, data=True):
        rel = a.get("rel", k)
        zh, en = REL_ZH.get(rel, (rel, rel))
        fund = float(a.get("fund", 0.0) or 0.0)
        cl = int(a.get("claims", 0) or 0)
        if rel == "HOLDS":  # a relation, not money: thin dashed line
            edges.append({"id": f"{s}|{d}|{k}", "from": str(s), "to": str(d), "label": "持卡" if edge_labels else "",
                          "title": f"{zh} / {en}", "arrows": "to", "color": REL_COLOR["HOLDS"], "width": 1, "dashes": True,
                          "font": {"size": 10, "align": "middle", "face": "Noto Sans CJK SC, Microsoft YaHei, sans-serif"}})
            continue
        edges.append({
            "id": f"{s}|{d}|{k}",
            "from": str(s),
            "to": str(d),
            "label": f"{fund:,.0f}元 · {cl}笔" if edge_labels else "",
            "title": f"{zh} / {en}\n结算 / claims: {cl}\n基金 / fund: {yuan(fund)}",
            "arrows": "to",
            "color": REL_COLOR.get(rel, "#888888"),
            "width": round(1 + 5 * math.sqrt(fund / fmax), 2),
            "font": {"size": 11, "align": "middle", "face": "Noto Sans CJK SC, Microsoft YaHei, sans-serif"},
        })
    return nodes, edges


# -- timeline ------------------------------------------------------------------------

def timeline_svg(claims: pd.DataFrame, *, highlight: Iterable[str] = (), max_rows: int = 30,
                 width: int = 900, row_height: int = 22) -> str:
    """Settlements per member over time as an SVG strip chart.

    One row per person (most claims first, at most ``max_rows``), one dot per claim,
    coloured by provider type (institution / pharmacy), area by fund; claims in
    ``highlight`` (the lead's own) are outlined in black.

    Examples
    --------
    >>> c = pd.DataFrame({"claim_id": ["C1"], "patient_id": ["P1"], "start_time": pd.to_datetime(["2024-01-01"]),
    ...                   "fund_amount": [10.0], "institution_id": ["H1"], "pharmacy_id": [None]})
    >>> svg = timeline_svg(c)
    >>> svg.count("<circle"), "P1" in svg
    (1, True)
    """
    if claims.empty:
        return "<div class='gk-timeline' style='color:#666'>（无结算 / no settlements）</div>"
    c = claims.dropna(subset=["start_time"]).copy()
    c["member"] = c["patient_id"].astype("object").astype(str)
    order = c["member"].value_counts(sort=False)
    order = order.sort_values(ascending=False, kind="stable")
    members = list(order.index[:max_rows])
    c = c[c["member"].isin(members)]
    t0, t1 = c["start_time"].min(), c["start_time"].max()
    span = max((t1 - t0).total_seconds(), 86400.0)
    left, right, top = 120, 20, 24
    plot_w = width - left - right
    height = top + row_height * len(members) + 30
    hl = set(highlight)
    fmax = max(float(c["fund_amount"].max()), 1.0)
    # where time runs along x, for the brush (graphkit.workbench.timeline_brush)
    axis = f"data-t0='{t0:%Y-%m-%dT%H:%M:%S}' data-span='{span:.0f}' data-left='{left}' data-plot-width='{plot_w}'"
    parts = [f"<svg class='gk-timeline' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' {axis} "
             "style='font-family:Noto Sans CJK SC,Microsoft YaHei,sans-serif;font-size:11px'>"]
    # month ticks
    ticks = pd.date_range(t0.normalize().replace(day=1), t1 + pd.Timedelta(days=31), freq="MS")
    step = max(1, len(ticks) // 12)
    for tk in ticks[::step]:
        x = left + plot_w * (tk - t0).total_seconds() / span
        if left <= x <= width - right:
            parts.append(f"<line x1='{x:.1f}' y1='{top - 6}' x2='{x:.1f}' y2='{height - 24}' stroke='#eee'/>")
            parts.append(f"<text x='{x:.1f}' y='{height - 10}' text-anchor='middle' fill='#666'>{tk:%Y-%m}</text>")
    for i, m in enumerate(members):
        y = top + row_height * i + row_height / 2
        parts.append(f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end'>{html.escape(m)}</text>")
        parts.append(f"<line x1='{left}' y1='{y:.1f}' x2='{width - right}' y2='{y:.1f}' stroke='#ddd'/>")
    row_of = {m: i for i, m in enumerate(members)}
    inst = c["institution_id"].astype("object")
    pharm = c["pharmacy_id"].astype("object") if "pharmacy_id" in c else pd.Series(None, index=c.index)
    for (cid, m, ts, fund, iid, pid) in zip(c["claim_id"].astype(str), c["member"], c["start_time"], c["fund_amount"].astype(float), inst, pharm):
        x = left + plot_w * (ts - t0).total_seconds() / span
        y = top + row_height * row_of[m] + row_height / 2
        is_inst = iid is not None and not pd.isna(iid)
        color = TYPE_STYLE["institution" if is_inst else "pharmacy"]["color"]
        where = f"医疗机构 {iid}" if is_inst else f"药店 {pid}"
        r = 3 + 6 * math.sqrt(max(fund, 0.0) / fmax)
        stroke = "stroke='#000' stroke-width='1.5'" if cid in hl else "stroke='none'"
        tip = html.escape(f"{cid} {ts:%Y-%m-%d %H:%M} {where} {yuan(fund)}")
        parts.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{r:.1f}' fill='{color}' fill-opacity='0.75' {stroke}>"
                     f"<title>{tip}</title></circle>")
    parts.append(f"<text x='4' y='14' fill='#333'>参保人 / member</text>"
                 f"<text x='{width - right}' y='14' text-anchor='end' fill='#333'>"
                 f"<tspan fill='{TYPE_STYLE['institution']['color']}'>●</tspan> 医疗机构 institution "
                 f"<tspan fill='{TYPE_STYLE['pharmacy']['color']}'>●</tspan> 药店 pharmacy；"
                 "黑圈=本线索结算 / outlined = this lead</text>")
    parts.append("</svg>")
    more = ""
    if len(order) > max_rows:
        more = f"<div style='color:#666'>仅显示结算最多的 {max_rows} 人，共 {len(order)} 人 / top {max_rows} of {len(order)} people</div>"
    return "".join(parts) + more


# -- provider profile ----------------------------------------------------------------
