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

import html
import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable, Mapping, Sequence

import networkx as nx
import numpy as np
import pandas as pd

from ..evidence import TYPE_ZH
from ..findings import KINDS, Finding

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

#: node type → colour, vis-network shape, 中文 and English name (colour-blind-safe palette)
TYPE_STYLE: dict[str, dict[str, str]] = {
    "patient": {"color": "#4e79a7", "shape": "dot", "zh": "参保人", "en": "insured person"},
    "card": {"color": "#f28e2b", "shape": "diamond", "zh": "医保卡", "en": "card"},
    "doctor": {"color": "#59a14f", "shape": "triangle", "zh": "医师", "en": "doctor"},
    "institution": {"color": "#e15759", "shape": "square", "zh": "医疗机构", "en": "institution"},
    "pharmacy": {"color": "#b07aa1", "shape": "hexagon", "zh": "药店", "en": "pharmacy"},
    "terminal": {"color": "#9c755f", "shape": "star", "zh": "终端", "en": "terminal"},
    "cluster": {"color": "#bab0ac", "shape": "ellipse", "zh": "折叠", "en": "cluster"},
}

#: relationship → (中文, English)
REL_ZH: dict[str, tuple[str, str]] = {
    "PAID_WITH": ("持卡结算", "paid with"),
    "SETTLED_AT": ("结算于", "settled at"),
    "TREATED_BY": ("就诊医师", "treated by"),
    "HOLDS": ("持卡人", "card holder"),
}
REL_COLOR = {"PAID_WITH": "#f28e2b", "SETTLED_AT": "#e15759", "TREATED_BY": "#59a14f", "HOLDS": "#999999"}

#: entity role → 中文 (roles detectors write; unknown roles are shown as they are)
ROLE_ZH: dict[str, str] = {
    "card": "涉案医保卡",
    "used_card": "被用医保卡",
    "lost_card": "挂失医保卡",
    "card_holder": "持卡人",
    "settled_person": "结算人",
    "user": "使用人",
    "deceased": "死亡人员",
    "member": "团伙成员",
    "organiser": "组织者",
    "treating": "接诊医师",
    "venue": "结算机构",
}

#: case status → (中文, English)
STATUS_ZH: dict[str, tuple[str, str]] = {
    "new": ("新建", "new"),
    "reviewing": ("核查中", "reviewing"),
    "confirmed": ("已确认", "confirmed"),
    "dismissed": ("已排除", "dismissed"),
    "referred": ("已移送", "referred"),
}

LEAD_COLUMNS = [
    "id", "kind", "kind_zh", "score", "amount", "n_claims", "start", "end",
    "providers", "provider_names", "regions", "summary",
]


def yuan(x: float) -> str:
    """Format an amount in yuan.

    Examples
    --------
    >>> yuan(1234.5)
    '1,234.50元'
    """
    return f"{x:,.2f}元"


# -- leads ---------------------------------------------------------------------------

def lead_attribution(findings: Iterable[Finding], claims: pd.DataFrame,
                     providers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Fund of each finding's claims per provider (institution or pharmacy).

    Parameters
    ----------
    findings
        The findings.
    claims
        Claims with ``claim_id``, ``institution_id``, ``pharmacy_id``, ``fund_amount``.
    providers
        Optional ``provider`` (``"institution:H1"``), ``name``, ``region`` per provider.

    Returns
    -------
    DataFrame
        ``finding_id, provider, name, region, claims, fund``, one row per finding and provider.

    Examples
    --------
    >>> f = Finding.create("shared_card", key=["K1"], claims=["C1", "C2"])
    >>> c = pd.DataFrame({"claim_id": ["C1", "C2"], "institution_id": ["H1", None],
    ...                   "pharmacy_id": [None, "Y1"], "fund_amount": [10.0, 5.0]})
    >>> lead_attribution([f], c)[["provider", "fund"]].values.tolist()
    [['institution:H1', 10.0], ['pharmacy:Y1', 5.0]]
    """
    cols = ["finding_id", "provider", "name", "region", "claims", "fund"]
    pairs = [(f.id, c) for f in findings for c in f.claims]
    if not pairs or claims.empty:
        return pd.DataFrame({c: pd.Series([], dtype="float64" if c == "fund" else "int64" if c == "claims" else "object")
                             for c in cols})
    link = pd.DataFrame(pairs, columns=["finding_id", "claim_id"])
    c = claims[["claim_id", "institution_id", "pharmacy_id", "fund_amount"]].copy()
    inst = c["institution_id"].astype("object")
    pharm = c["pharmacy_id"].astype("object")
    c["provider"] = np.where(pd.notna(inst), "institution:" + inst.fillna("").astype(str),
                             np.where(pd.notna(pharm), "pharmacy:" + pharm.fillna("").astype(str), None))
    c["claim_id"] = c["claim_id"].astype("object")
    m = link.merge(c[["claim_id", "provider", "fund_amount"]], on="claim_id", how="inner").dropna(subset=["provider"])
    out = (m.groupby(["finding_id", "provider"], sort=True)["fund_amount"].agg(["size", "sum"])
           .reset_index().rename(columns={"size": "claims", "sum": "fund"}))
    out["fund"] = out["fund"].astype(float).round(2)
    if providers is not None and len(providers):
        out = out.merge(providers[["provider", "name", "region"]], on="provider", how="left")
    else:
        out["name"], out["region"] = None, None
    out["name"] = out["name"].astype("object").where(out["name"].notna(), "")
    out["region"] = out["region"].astype("object").where(out["region"].notna(), "")
    return out[cols]


def leads_frame(findings: Iterable[Finding], attribution: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per finding: the leads table.

    Providers and regions come from ``attribution`` (see :func:`lead_attribution`),
    falling back to the institution and pharmacy entities the finding lists.

    Examples
    --------
    >>> f = Finding.create("shared_card", key=["K1"], score=0.5, amount_at_risk=9.0, claims=["C1"])
    >>> row = leads_frame([f]).iloc[0]
    >>> print(row["kind_zh"], row["n_claims"], row["amount"])
    冒用/盗用医保卡 1 9.0
    """
    by_f: dict[str, pd.DataFrame] = {}
    if attribution is not None and len(attribution):
        by_f = {k: v.sort_values("fund", ascending=False) for k, v in attribution.groupby("finding_id", sort=False)}
    rows = []
    for f in findings:
        a = by_f.get(f.id)
        if a is not None:
            providers = list(a["provider"])
            names = [n for n in a["name"] if n]
            regions = sorted({r for r in a["region"] if r})
        else:
            providers = [f"{e.type}:{e.id}" for e in f.entities if e.type in ("institution", "pharmacy")]
            names, regions = [], []
        rows.append({
            "id": f.id,
            "kind": f.kind,
            "kind_zh": KINDS.get(f.kind, (f.kind, f.kind))[0],
            "score": float(f.score),
            "amount": float(f.amount_at_risk),
            "n_claims": len(f.claims),
            "start": pd.Timestamp(f.period.get("start")) if f.period.get("start") else pd.NaT,
            "end": pd.Timestamp(f.period.get("end")) if f.period.get("end") else pd.NaT,
            "providers": ";".join(providers),
            "provider_names": ";".join(names),
            "regions": ";".join(regions),
            "summary": f.summary,
        })
    df = pd.DataFrame(rows, columns=LEAD_COLUMNS)
    df["score"] = df["score"].astype(float)
    df["amount"] = df["amount"].astype(float)
    df["n_claims"] = df["n_claims"].astype(int)
    df["start"] = pd.to_datetime(df["start"])
    df["end"] = pd.to_datetime(df["end"])
    return df


@dataclass
class LeadFilter:
    """What the leads queue shows: filters and sort order.

    Examples
    --------
    >>> LeadFilter(kinds=("shared_card",), min_score=0.5).sort_by
    'score'
    """

    kinds: tuple[str, ...] = ()
    region: str = ""
    provider: str = ""
    start: date | None = None
    end: date | None = None
    min_amount: float = 0.0
    max_amount: float | None = None
    min_score: float = 0.0
    sort_by: str = "score"
    descending: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


SORT_KEYS = {"score": "score", "amount": "amount", "n_claims": "n_claims", "start": "start", "kind": "kind"}


def filter_leads(leads: pd.DataFrame, flt: LeadFilter) -> pd.DataFrame:
    """Leads passing ``flt``, sorted as it says.

    A lead passes the period filter when its period overlaps ``[start, end]``; the
    provider filter matches ids or names as a case-insensitive substring.

    Examples
    --------
    >>> df = pd.DataFrame({"id": ["a", "b"], "kind": ["x", "y"], "score": [0.2, 0.9],
    ...     "amount": [5.0, 1.0], "n_claims": [1, 1], "start": pd.to_datetime(["2024-01-01"] * 2),
    ...     "end": pd.to_datetime(["2024-01-02"] * 2), "providers": ["institution:H1", ""],
    ...     "provider_names": ["", ""], "regions": ["3701", ""]})
    >>> list(filter_leads(df, LeadFilter(min_score=0.1))["id"])
    ['b', 'a']
    >>> list(filter_leads(df, LeadFilter(provider="h1"))["id"])
    ['a']
    """
    m = pd.Series(True, index=leads.index)
    if flt.kinds:
        m &= leads["kind"].isin(list(flt.kinds))
    if flt.region:
        m &= leads["regions"].fillna("").str.split(";").map(lambda rs: flt.region in rs)
    if flt.provider.strip():
        needle = flt.provider.strip().lower()
        hay = (leads["providers"].fillna("") + ";" + leads["provider_names"].fillna("")).str.lower()
        m &= hay.str.contains(needle, regex=False)
    if flt.start is not None:
        m &= leads["end"].isna() | (leads["end"] >= pd.Timestamp(flt.start))
    if flt.end is not None:
        m &= leads["start"].isna() | (leads["start"] < pd.Timestamp(flt.end) + pd.Timedelta(days=1))
    if flt.min_amount:
        m &= leads["amount"] >= flt.min_amount
    if flt.max_amount is not None:
        m &= leads["amount"] <= flt.max_amount
    if flt.min_score:
        m &= leads["score"] >= flt.min_score
    return sort_leads(leads[m], flt.sort_by, descending=flt.descending)


def sort_leads(leads: pd.DataFrame, by: str = "score", *, descending: bool = True) -> pd.DataFrame:
    """Sort by ``by`` (score, amount, n_claims, start or kind), ties broken by score then id.

    Examples
    --------
    >>> df = pd.DataFrame({"id": ["a", "b"], "score": [0.1, 0.1], "amount": [1.0, 2.0]})
    >>> list(sort_leads(df, "amount")["id"])
    ['b', 'a']
    """
    if by not in SORT_KEYS:
        raise ValueError(f"sort key must be one of {list(SORT_KEYS)}; got {by!r}")
    keys = [SORT_KEYS[by]] + [k for k in ("score", "id") if k != SORT_KEYS[by]]
    asc = [not descending] + [k == "id" for k in keys[1:]]
    return leads.sort_values(keys, ascending=asc, kind="stable", na_position="last")


def totals_by_kind(leads: pd.DataFrame) -> pd.DataFrame:
    """Leads and amount per kind, largest amount first.

    Examples
    --------
    >>> df = pd.DataFrame({"kind": ["a", "a", "b"], "amount": [1.0, 2.0, 5.0]})
    >>> totals_by_kind(df).values.tolist()
    [['b', 'b', 1, 5.0], ['a', 'a', 2, 3.0]]
    """
    if leads.empty:
        return pd.DataFrame({"kind": [], "label": [], "leads": [], "amount": []})
    t = leads.groupby("kind")["amount"].agg(["size", "sum"]).reset_index()
    t.columns = ["kind", "leads", "amount"]
    t.insert(1, "label", t["kind"].map(lambda k: f"{KINDS[k][0]} {k}" if k in KINDS else k))
    return t.sort_values(["amount", "kind"], ascending=[False, True]).reset_index(drop=True)


def totals_by_provider(leads: pd.DataFrame, attribution: pd.DataFrame, *, top: int = 10) -> pd.DataFrame:
    """Fund at risk per provider over the shown leads (from ``attribution``), top ``top``.

    Examples
    --------
    >>> leads = pd.DataFrame({"id": ["f1"]})
    >>> att = pd.DataFrame({"finding_id": ["f1", "f1"], "provider": ["institution:H1", "pharmacy:Y1"],
    ...                     "name": ["一院", ""], "region": ["", ""], "claims": [2, 1], "fund": [3.0, 9.0]})
    >>> totals_by_provider(leads, att)[["provider", "fund"]].values.tolist()
    [['pharmacy:Y1', 9.0], ['institution:H1', 3.0]]
    """
    cols = ["provider", "label", "leads", "claims", "fund"]
    if leads.empty or attribution is None or attribution.empty:
        return pd.DataFrame({c: [] for c in cols})
    a = attribution[attribution["finding_id"].isin(leads["id"])]
    if a.empty:
        return pd.DataFrame({c: [] for c in cols})
    t = a.groupby("provider").agg(leads=("finding_id", "nunique"), claims=("claims", "sum"), fund=("fund", "sum"),
                                  name=("name", "first")).reset_index()
    t["label"] = [_provider_label(p, n) for p, n in zip(t["provider"], t["name"])]
    t["fund"] = t["fund"].round(2)
    return t.sort_values(["fund", "provider"], ascending=[False, True]).head(top)[cols].reset_index(drop=True)


def _provider_label(provider: str, name: str = "") -> str:
    t, i = provider.split(":", 1) if ":" in provider else ("", provider)
    zh = TYPE_STYLE.get(t, {}).get("zh", t)
    return f"{zh} {i}" + (f" {name}" if name else "")


def bars_html(labels: Sequence[str], values: Sequence[float], *, notes: Sequence[str] | None = None,
              title: str = "", color: str = "#4e79a7", fmt=yuan, css_class: str = "gk-bars") -> str:
    """A horizontal bar chart in plain HTML/CSS (no plotting library, works offline).

    Examples
    --------
    >>> "width:100.0%" in bars_html(["a"], [3.0])
    True
    """
    vmax = max([float(v) for v in values] + [0.0])
    rows = []
    for i, (lab, v) in enumerate(zip(labels, values)):
        w = 100.0 * float(v) / vmax if vmax > 0 else 0.0
        note = f" <span style='color:#666'>{html.escape(notes[i])}</span>" if notes else ""
        rows.append(
            "<div class='gk-bar-row' style='display:flex;align-items:center;margin:2px 0'>"
            f"<div style='width:16em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap' title='{html.escape(lab)}'>"
            f"{html.escape(lab)}</div>"
            "<div style='flex:1;background:#eee;height:14px;margin:0 6px'>"
            f"<div style='width:{w:.1f}%;background:{color};height:14px'></div></div>"
            f"<div style='width:16em;text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums'>{html.escape(fmt(float(v)))}{note}</div>"
            "</div>"
        )
    if not rows:
        rows.append("<div style='color:#666'>（无数据 / no data）</div>")
    head = f"<div style='font-weight:bold;margin:4px 0'>{html.escape(title)}</div>" if title else ""
    return f"<div class='{css_class}'>{head}{''.join(rows)}</div>"


def _cell(v: Any) -> str:
    if v is None or (not isinstance(v, (list, tuple, str)) and pd.isna(v)):
        return ""
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M") if (v.hour or v.minute) else v.strftime("%Y-%m-%d")
    if isinstance(v, float):
        return f"{v:,.2f}"
    return str(v)


def frame_html(df: pd.DataFrame, *, headers: Mapping[str, str] | None = None, limit: int = 200,
               css_class: str = "gk-table", numeric: Iterable[str] = (), wrap: Iterable[str] = ()) -> str:
    """A DataFrame as an HTML table (escaped, at most ``limit`` rows, a note when cut).

    Cells do not wrap, except in the ``wrap`` columns (long text, given a minimum width).

    Examples
    --------
    >>> "<td>x</td>" in frame_html(pd.DataFrame({"a": ["x"]}))
    True
    """
    headers = headers or {}
    wrap = set(wrap)
    numeric = set(numeric) | {c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])}
    th = "".join(f"<th>{html.escape(headers.get(c, c))}</th>" for c in df.columns)
    body = []
    for row in df.head(limit).itertuples(index=False):
        tds = "".join(
            f"<td style='text-align:right'>{html.escape(_cell(v))}</td>" if c in numeric
            else f"<td class='gk-wrap'>{html.escape(_cell(v))}</td>" if c in wrap
            else f"<td>{html.escape(_cell(v))}</td>"
            for c, v in zip(df.columns, row)
        )
        body.append(f"<tr>{tds}</tr>")
    note = ""
    if len(df) > limit:
        note = f"<div style='color:#666'>仅显示前 {limit} 行，共 {len(df)} 行 / first {limit} of {len(df)} rows</div>"
    if not len(df):
        note = "<div style='color:#666'>（无 / none）</div>"
    style = ("<style>.gk-table{border-collapse:collapse;font-size:12px}.gk-table th,.gk-table td{border:1px solid #ddd;"
             "padding:2px 6px;white-space:nowrap;vertical-align:top}.gk-table td.gk-wrap{white-space:normal;min-width:24em}"
             ".gk-table th{background:#f3f3f3;position:sticky;top:0}.gk-table tr:nth-child(even){background:#fafafa}</style>")
    return (f"{style}<div style='max-height:420px;overflow:auto'><table class='gk-table {css_class}'>"
            f"<thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table></div>{note}")


LEAD_HEADERS = {
    "rank": "#", "kind_zh": "类型 kind", "score": "评分 score", "amount": "金额(元) amount",
    "n_claims": "笔数 claims", "start": "开始 start", "end": "结束 end", "providers": "机构 providers",
    "regions": "地区 region", "summary": "摘要 summary", "id": "编号 id",
}


def leads_table_html(leads: pd.DataFrame, *, limit: int = 100) -> str:
    """The leads queue as an HTML table (class ``gk-leads-table``).

    Examples
    --------
    >>> f = Finding.create("shared_card", key=["K1"], score=0.5)
    >>> "gk-leads-table" in leads_table_html(leads_frame([f]))
    True
    """
    def first(n: int):
        return lambda p: "; ".join(p[:n]) + (f" …(+{len(p) - n})" if len(p) > n else "")

    view = leads.assign(rank=range(1, len(leads) + 1), score=leads["score"].round(3),
                        start=leads["start"].dt.normalize(), end=leads["end"].dt.normalize(),
                        providers=leads["providers"].str.split(";").map(first(1)),
                        regions=leads["regions"].str.split(";").map(first(1)),
                        summary=leads["summary"].str.split(" / ").str[0].str.slice(0, 90))
    cols = ["rank", "kind_zh", "score", "amount", "n_claims", "start", "end", "providers", "regions", "summary", "id"]
    return frame_html(view[cols], headers=LEAD_HEADERS, limit=limit, css_class="gk-leads-table", wrap=["summary"])


def lead_label(row: Mapping[str, Any]) -> str:
    """A one-line label for a lead in pickers.

    Examples
    --------
    >>> lead_label({"score": 0.9, "kind_zh": "异地", "amount": 10.0, "id": "impossible_travel:ab"})
    '[0.900] 异地 10.00元 impossible_travel:ab'
    """
    return f"[{row['score']:.3f}] {row['kind_zh']} {yuan(row['amount'])} {row['id']}"


# -- evidence graphs -----------------------------------------------------------------

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
    parts = [f"<svg class='gk-timeline' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
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

PROFILE_METRICS: dict[str, tuple[str, str]] = {
    "claims": ("结算笔数", "claims"),
    "fund": ("基金支付(元)", "fund paid (yuan)"),
    "fund_per_claim": ("次均基金(元)", "fund per claim"),
    "patients": ("就诊人数", "people"),
    "claims_per_patient": ("人均结算次数", "claims per person"),
    "night_share": ("夜间结算占比", "night-time share (22–6 h)"),
    "foreign_card_share": ("非本人卡结算占比", "share settled on another's card"),
}


def provider_stats(claims: pd.DataFrame, cards: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-provider activity over all claims, for peer comparison.

    Parameters
    ----------
    claims
        ``claim_id, patient_id, card_id, institution_id, pharmacy_id, start_time, fund_amount``.
    cards
        Optional ``card_id, patient_id`` (the holder) for the foreign-card share.

    Examples
    --------
    >>> c = pd.DataFrame({"claim_id": ["C1", "C2"], "patient_id": ["P1", "P2"], "card_id": ["K1", "K1"],
    ...     "institution_id": ["H1", "H1"], "pharmacy_id": [None, None],
    ...     "start_time": pd.to_datetime(["2024-01-01 23:00", "2024-01-02 10:00"]), "fund_amount": [1.0, 3.0]})
    >>> s = provider_stats(c, pd.DataFrame({"card_id": ["K1"], "patient_id": ["P1"]}))
    >>> s.loc["institution:H1", ["claims", "patients", "night_share", "foreign_card_share"]].tolist()
    [2.0, 2.0, 0.5, 0.5]
    """
    inst = claims["institution_id"].astype("object")
    pharm = claims["pharmacy_id"].astype("object")
    provider = pd.Series(np.where(pd.notna(inst), "institution:" + inst.fillna("").astype(str),
                                  np.where(pd.notna(pharm), "pharmacy:" + pharm.fillna("").astype(str), None)),
                         index=claims.index)
    hour = claims["start_time"].dt.hour
    df = pd.DataFrame({
        "provider": provider,
        "patient": claims["patient_id"],
        "fund": claims["fund_amount"].astype(float),
        "night": ((hour >= 22) | (hour < 6)).astype(float),
    })
    if cards is not None and len(cards):
        holder = claims["card_id"].map(pd.Series(cards["patient_id"].to_numpy(), index=cards["card_id"].to_numpy()))
        df["foreign"] = (holder.notna() & (holder != claims["patient_id"])).astype(float)
    else:
        df["foreign"] = 0.0
    df = df.dropna(subset=["provider"])
    g = df.groupby("provider", sort=True)
    out = pd.DataFrame({
        "claims": g.size().astype(float),
        "fund": g["fund"].sum(),
        "patients": g["patient"].nunique().astype(float),
        "night_share": g["night"].mean(),
        "foreign_card_share": g["foreign"].mean(),
    })
    out["fund_per_claim"] = out["fund"] / out["claims"]
    out["claims_per_patient"] = out["claims"] / out["patients"].where(out["patients"] > 0)
    out.insert(0, "type", [p.split(":", 1)[0] for p in out.index])
    return out


def provider_profile(stats: pd.DataFrame, provider: str, peer_group: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One provider's metrics against its peers (same type, and same peer group if given).

    Returns one row per metric: value, peer median, peer 90th percentile, and the share of
    peers at or below the value (percentile rank, 0–1).

    Examples
    --------
    >>> s = pd.DataFrame({"type": ["pharmacy"] * 3, "claims": [1.0, 2.0, 9.0]},
    ...                  index=["pharmacy:Y1", "pharmacy:Y2", "pharmacy:Y3"])
    >>> p = provider_profile(s, "pharmacy:Y3")
    >>> print(*p.loc[0, ["metric", "value", "peer_median", "percentile"]])
    claims 9.0 2.0 1.0
    """
    cols = ["metric", "zh", "en", "value", "peer_median", "peer_p90", "percentile", "peers"]
    if provider not in stats.index:
        return pd.DataFrame({c: [] for c in cols})
    ptype = stats.loc[provider, "type"]
    peers = stats[stats["type"] == ptype]
    if peer_group:
        grp = peer_group.get(provider)
        if grp is not None:
            same = peers.index.map(lambda p: peer_group.get(p) == grp)
            if int(np.sum(same)) >= 5:
                peers = peers[np.asarray(same, dtype=bool)]
    rows = []
    for m, (zh, en) in PROFILE_METRICS.items():
        if m not in stats.columns:
            continue
        col = peers[m].dropna()
        v = stats.loc[provider, m]
        rows.append({
            "metric": m, "zh": zh, "en": en, "value": float(v) if pd.notna(v) else float("nan"),
            "peer_median": float(col.median()) if len(col) else float("nan"),
            "peer_p90": float(col.quantile(0.9)) if len(col) else float("nan"),
            "percentile": float((col <= v).mean()) if len(col) and pd.notna(v) else float("nan"),
            "peers": int(len(col)),
        })
    return pd.DataFrame(rows, columns=cols)


def profile_html(profile: pd.DataFrame, *, title: str = "") -> str:
    """The provider profile as a table with percentile bars (red at or above the 90th).

    Examples
    --------
    >>> p = pd.DataFrame([{"metric": "claims", "zh": "结算笔数", "en": "claims", "value": 9.0,
    ...                    "peer_median": 2.0, "peer_p90": 8.0, "percentile": 1.0, "peers": 3}])
    >>> "gk-profile" in profile_html(p)
    True
    """
    if profile.empty:
        return "<div class='gk-profile' style='color:#666'>（无该机构数据 / no data for this provider）</div>"
    rows = []
    for r in profile.itertuples(index=False):
        pct = 0.0 if pd.isna(r.percentile) else r.percentile
        color = "#e15759" if pct >= 0.9 else "#4e79a7"
        share = r.metric.endswith("share")
        f = (lambda x: "" if pd.isna(x) else f"{100 * x:.1f}%") if share else (lambda x: "" if pd.isna(x) else f"{x:,.2f}")
        rows.append(
            f"<tr><td>{html.escape(r.zh)}<br><span style='color:#777'>{html.escape(r.en)}</span></td>"
            f"<td style='text-align:right'>{f(r.value)}</td><td style='text-align:right'>{f(r.peer_median)}</td>"
            f"<td style='text-align:right'>{f(r.peer_p90)}</td>"
            f"<td style='width:220px'><div style='background:#eee;height:12px'><div style='width:{100 * pct:.0f}%;"
            f"background:{color};height:12px'></div></div>{100 * pct:.0f}%</td></tr>"
        )
    n = int(profile["peers"].iloc[0])
    style = ("<style>.gk-profile table{border-collapse:collapse;font-size:12px}.gk-profile th,.gk-profile td"
             "{border:1px solid #ddd;padding:2px 6px}.gk-profile th{background:#f3f3f3}</style>")
    head = f"<div style='font-weight:bold'>{html.escape(title)}</div>" if title else ""
    return (f"{style}<div class='gk-profile'>{head}<table class='gk-table'><thead><tr><th>指标 metric</th><th>本机构 value</th>"
            f"<th>同类中位数 peer median</th><th>同类P90 peer p90</th><th>百分位 percentile</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table><div style='color:#666'>同类机构 {n} 家 / {n} peers</div></div>")


# -- dispositions → precision ----------------------------------------------------------

def suggest_threshold(scores: Sequence[float], labels: Sequence[int], *, target: float = 0.8) -> dict[str, Any]:
    """The lowest score threshold whose labelled precision reaches ``target``.

    Among labelled leads (1 = confirmed, 0 = dismissed) with score ≥ t, precision is the
    confirmed share. The lowest qualifying t keeps the most confirmed leads; when none
    reaches the target, the threshold with the best precision is returned with
    ``met=False``.

    Examples
    --------
    >>> r = suggest_threshold([0.9, 0.8, 0.7, 0.3], [1, 1, 0, 0], target=0.8)
    >>> r["threshold"], r["precision"], r["recall"], r["met"]
    (0.8, 1.0, 1.0, True)
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    if len(s) == 0:
        return {"threshold": None, "precision": None, "recall": None, "met": False}
    best = None
    pos_total = max(int(y.sum()), 1)
    for t in sorted(set(s.tolist())):
        sel = s >= t
        prec = float(y[sel].mean())
        rec = float(y[sel].sum()) / pos_total
        cand = {"threshold": round(t, 6), "precision": round(prec, 4), "recall": round(rec, 4), "met": prec >= target}
        if cand["met"]:
            return cand
        if best is None or prec > best["precision"]:
            best = cand
    return best  # type: ignore[return-value]


def precision_report(labels: pd.DataFrame, leads: pd.DataFrame | None = None, *, target: float = 0.8,
                     min_labels: int = 5) -> pd.DataFrame:
    """Per-detector precision from dispositions, with a suggested threshold.

    Parameters
    ----------
    labels
        ``finding_id, kind, score, label`` (1 confirmed or referred, 0 dismissed).
    leads
        All leads (``kind, score``): to say how many leads the suggested threshold keeps.
    target
        Precision the suggested threshold should reach.
    min_labels
        Fewer labelled leads than this → the suggestion is marked unreliable.

    Examples
    --------
    >>> lab = pd.DataFrame({"finding_id": list("abcd"), "kind": ["shared_card"] * 4,
    ...                     "score": [0.9, 0.8, 0.7, 0.3], "label": [1, 1, 0, 0]})
    >>> r = precision_report(lab, min_labels=2).iloc[0]
    >>> print(r["precision"], r["suggested_threshold"], r["reliable"])
    0.5 0.8 True
    """
    cols = ["kind", "kind_zh", "confirmed", "dismissed", "precision", "suggested_threshold",
            "precision_at_threshold", "recall_at_threshold", "target_met", "leads", "leads_kept", "reliable"]
    if labels is None or labels.empty:
        return pd.DataFrame({c: [] for c in cols})
    rows = []
    for kind, grp in labels.groupby("kind", sort=True):
        sug = suggest_threshold(grp["score"].tolist(), grp["label"].tolist(), target=target)
        n_leads = kept = None
        if leads is not None and len(leads):
            lk = leads[leads["kind"] == kind]
            n_leads = int(len(lk))
            kept = int((lk["score"] >= sug["threshold"]).sum()) if sug["threshold"] is not None else None
        rows.append({
            "kind": kind, "kind_zh": KINDS.get(kind, (kind,))[0],
            "confirmed": int(grp["label"].sum()), "dismissed": int((grp["label"] == 0).sum()),
            "precision": round(float(grp["label"].mean()), 4),
            "suggested_threshold": sug["threshold"], "precision_at_threshold": sug["precision"],
            "recall_at_threshold": sug["recall"], "target_met": sug["met"],
            "leads": n_leads, "leads_kept": kept, "reliable": len(grp) >= min_labels,
        })
    return pd.DataFrame(rows, columns=cols)


def precision_html(report: pd.DataFrame, *, target: float = 0.8) -> str:
    """The precision report as HTML (class ``gk-precision``).

    Examples
    --------
    >>> "gk-precision" in precision_html(pd.DataFrame())
    True
    """
    if report.empty:
        return ("<div class='gk-precision' style='color:#666'>尚无已确认或已排除的案件 — 在 03_case 中处置案件后，这里给出各检测器的"
                "准确率与建议阈值。<br>No confirmed or dismissed cases yet — dispose cases in 03_case to see "
                "per-detector precision and a suggested threshold here.</div>")
    view = report.assign(
        precision=report["precision"].map(lambda x: f"{100 * x:.0f}%"),
        precision_at_threshold=report["precision_at_threshold"].map(lambda x: "" if x is None or pd.isna(x) else f"{100 * x:.0f}%"),
        recall_at_threshold=report["recall_at_threshold"].map(lambda x: "" if x is None or pd.isna(x) else f"{100 * x:.0f}%"),
        target_met=report["target_met"].map(lambda b: "是 yes" if b else "否 no"),
        reliable=report["reliable"].map(lambda b: "" if b else "样本不足 few labels"),
    )
    headers = {"kind_zh": "类型", "kind": "kind", "confirmed": "确认 confirmed", "dismissed": "排除 dismissed",
               "precision": "准确率 precision", "suggested_threshold": "建议阈值 suggested threshold",
               "precision_at_threshold": "阈值下准确率 precision ≥ t", "recall_at_threshold": "保留确认 recall ≥ t",
               "target_met": f"达到 {target:.0%}? met", "leads": "线索 leads", "leads_kept": "阈值以上 kept",
               "reliable": "备注 note"}
    table = frame_html(view, headers=headers, css_class="gk-precision-table")
    return (f"<div class='gk-precision'><div style='font-weight:bold'>处置反馈：各检测器准确率与建议阈值 / "
            f"Disposition feedback: precision per detector and suggested threshold (target {target:.0%})</div>"
            f"{table}<div style='color:#666'>确认=已确认或已移送，排除=已排除；建议阈值为使准确率达到目标的最低评分。"
            f" Confirmed = confirmed or referred; the suggested threshold is the lowest score reaching the target.</div></div>")
