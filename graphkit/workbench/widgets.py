"""The notebooks' widgets: leads queue (triage), evidence explorer, case builder.

Each widget is an ``ipywidgets.VBox`` built on a :class:`~graphkit.workbench.data.Workbench`;
the data shaping lives in :mod:`graphkit.workbench.shaping`. Widget behaviour is tested by
setting ``.value`` on the controls (or calling ``.click()`` on buttons) and reading the
outputs. A callback that fails never loses its error: it goes to the widget's ``output``
(an ``Output`` widget) and to :attr:`errors`.

Examples
--------
>>> from graphkit.workbench import Workbench, LeadsQueue   # doctest: +SKIP
>>> q = LeadsQueue(Workbench.from_env())                    # doctest: +SKIP
>>> q.min_score.value = 0.5                                 # doctest: +SKIP
>>> len(q.rows)                                             # doctest: +SKIP
"""

from __future__ import annotations

import functools
import html
import threading
import time
import traceback
from datetime import date
from typing import Any, Callable

from ..extras import require_extra

require_extra("lab", "ipywidgets", part="graphkit.workbench widgets (调查工作台 / workbench)")

import ipywidgets as W  # noqa: E402
import networkx as nx
import pandas as pd

from ..errors import GraphkitError
from ..findings import ENTITY_TYPES, KINDS, Entity
from . import labels, shaping
from .checks_view import checks_html
from .cases import STATUSES, CaseError
from .data import Workbench
from .kindgraph import lead_kind_graph
from .rule_view import RULE_KIND, picked, rule_detail_html, rule_filter_widgets, rule_lines
from .render import graph_html, graph_iframe

__all__ = ["LeadsQueue", "EvidenceExplorer", "CaseBuilder", "guarded"]

_WIDE = {"description_width": "initial"}


def guarded(method: Callable) -> Callable:
    """Route any exception of a widget callback to the widget's ``output`` instead of losing it."""

    @functools.wraps(method)
    def wrapper(self: "_Panel", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - shown to the user, kept in .errors
            self.report_error(exc)
            return None

    return wrapper


class _Panel(W.VBox):
    """Common parts: an error log (``Output``) and a status line."""

    def __init__(self, wb: Workbench, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wb = wb
        self.errors: list[BaseException] = []
        self.output = W.Output(layout=W.Layout(max_height="200px", overflow="auto"))
        self.output.add_class("gk-log")
        self.status = W.HTML()
        self.status.add_class("gk-status")

    #: errors that are the user's input (a mistyped id, nothing picked): their message only, no traceback
    EXPECTED = (ValueError, KeyError, GraphkitError)

    def report_error(self, exc: BaseException) -> None:
        self.errors.append(exc)
        if isinstance(exc, self.EXPECTED):
            text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            msg = f"输入有误 / input error: {text}"
            self.status.value = f"<span style='color:#c00'>{html.escape(msg)}</span>"
            self.output.append_stderr(msg + "\n")
            return
        msg = f"错误 / error: {type(exc).__name__}: {exc}"
        self.status.value = f"<span style='color:#c00'>{html.escape(msg)}</span>"
        self.output.append_stderr(msg + "\n" + "".join(traceback.format_exception(exc)) + "\n")

    def say(self, text: str) -> None:
        self.status.value = f"<span style='color:#060'>{html.escape(text)}</span>"


def _set_options(w: W.Dropdown, options: list[tuple[str, Any]], keep: Any = None) -> None:
    """Replace a dropdown's options, keeping ``keep`` when still offered, else the first option."""
    values = [v for _, v in options]
    w.options = options
    if keep is not None and keep in values:
        w.value = keep
    elif values:
        w.value = values[0]


def _h(text: str, level: int = 3) -> W.HTML:
    return W.HTML(f"<h{level} style='margin:6px 0 2px'>{html.escape(text)}</h{level}>")


# -- 01 triage -----------------------------------------------------------------------

class LeadsQueue(_Panel):
    """The leads queue: filters, sort, totals by kind and provider, disposition feedback, open a lead.

    Attributes
    ----------
    rows
        The leads currently shown (a DataFrame, see :func:`shaping.leads_frame`).
    """

    def __init__(self, wb: Workbench, *, on_open: Callable[[str], None] | None = None, limit: int = 100) -> None:
        super().__init__(wb)
        self.add_class("gk-leads")
        self.limit = limit
        self._callbacks: list[Callable[[str], None]] = [on_open] if on_open else []
        leads = wb.leads
        kinds = [k for k in KINDS if k in set(leads["kind"])] + sorted(set(leads["kind"]) - set(KINDS))
        self.kind = W.SelectMultiple(options=[(f"{KINDS[k][0]} {k}" if k in KINDS else k, k) for k in kinds],
                                     description="类型 kind", rows=min(max(len(kinds), 3), 6), style=_WIDE)
        self.rule, self.level = rule_filter_widgets(leads, multiple=True)  # hidden without rule violations
        regions = sorted({r for rs in leads["regions"] for r in rs.split(";") if r})
        self.region = W.Dropdown(options=[("全部 / all", "")] + [(labels.region_label(r, wb.region_names), r) for r in regions],
                                 description="地区 region", style=_WIDE)
        self.provider = W.Text(description="机构 provider", placeholder="机构编号或名称 / provider id or name", style=_WIDE,
                               continuous_update=False)
        self.start = W.DatePicker(description="自 from", style=_WIDE)
        self.end = W.DatePicker(description="至 to", style=_WIDE)
        self.min_amount = W.FloatText(value=0.0, description="最低金额 min amount (元)", style=_WIDE)
        self.min_score = W.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05, description="最低评分 min score",
                                       style=_WIDE, continuous_update=False)
        self.sort_by = W.Dropdown(options=[("评分 score", "score"), ("金额 amount", "amount"), ("笔数 claims", "n_claims"),
                                           ("开始时间 start", "start"), ("类型 kind", "kind")],
                                  value="score", description="排序 sort by", style=_WIDE)
        self.descending = W.Checkbox(value=True, description="降序 descending", indent=False)
        self.summary = W.HTML()
        self.summary.add_class("gk-leads-summary")
        self.by_kind = W.HTML(layout=W.Layout(width="50%"))
        self.by_provider = W.HTML(layout=W.Layout(width="50%"))
        self.table = W.HTML()
        self.table.add_class("gk-leads-tablebox")
        self.pick = W.Dropdown(description="线索 lead", style=_WIDE, layout=W.Layout(width="70%"))
        self.open_button = W.Button(description="打开线索 / Open lead", button_style="primary", icon="folder-open",
                                    layout=W.Layout(width="auto"))
        self.open_button.add_class("gk-open-lead")
        self.opened = W.HTML()
        self.opened.add_class("gk-opened")
        self.feedback = W.HTML()
        self.feedback_refresh = W.Button(description="刷新处置反馈 / Refresh feedback", icon="refresh",
                                         layout=W.Layout(width="auto"))
        self.target = W.FloatSlider(value=0.8, min=0.5, max=0.99, step=0.01, description="目标准确率 target precision",
                                    style=_WIDE, continuous_update=False)
        for w in (self.kind, self.rule, self.level, self.region, self.provider, self.start, self.end, self.min_amount,
                  self.min_score, self.sort_by, self.descending):
            w.observe(self._on_filter, names="value")
        self.open_button.on_click(lambda _b: self.open_lead())
        self.feedback_refresh.on_click(lambda _b: self.refresh_feedback())
        self.target.observe(lambda _c: self.refresh_feedback(), names="value")
        self.children = [
            _h("线索分诊 / Leads triage", 2),
            W.HBox([W.VBox([self.kind, self.rule, self.level]), W.VBox([self.region, self.provider, self.start, self.end]),
                    W.VBox([self.min_amount, self.min_score, self.sort_by, self.descending])]),
            self.summary,
            W.HBox([self.by_kind, self.by_provider]),
            self.table,
            W.HBox([self.pick, self.open_button]),
            self.opened,
            _h("处置反馈 / Disposition feedback"),
            W.HBox([self.target, self.feedback_refresh]),
            self.feedback,
            self.status,
            self.output,
        ]
        self.rows = leads.iloc[:0]
        self.refresh()
        self.refresh_feedback()

    def on_open(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(finding_id)`` whenever a lead is opened."""
        self._callbacks.append(callback)

    @property
    def filter(self) -> shaping.LeadFilter:
        """The current filter, read from the controls."""
        return shaping.LeadFilter(
            kinds=tuple(self.kind.value), region=self.region.value or "", provider=self.provider.value or "",
            start=self.start.value if isinstance(self.start.value, date) else None,
            end=self.end.value if isinstance(self.end.value, date) else None,
            min_amount=float(self.min_amount.value or 0.0), min_score=float(self.min_score.value or 0.0),
            rules=picked(self.rule), levels=picked(self.level), sort_by=self.sort_by.value, descending=bool(self.descending.value),
        )

    @guarded
    def _on_filter(self, _change: Any = None) -> None:
        self.refresh()

    @guarded
    def refresh(self) -> None:
        """Re-apply the filters and redraw table, totals and picker."""
        rows = shaping.filter_leads(self.wb.leads, self.filter)
        self.rows = rows
        total = len(self.wb.leads)
        self.summary.value = (f"<b>显示 {len(rows)} / {total} 条线索，涉及基金 {shaping.yuan(rows['amount'].sum())}</b>"
                              f" — showing {len(rows)} of {total} leads, {rows['amount'].sum():,.2f} yuan at risk")
        tk = shaping.totals_by_kind(rows)
        self.by_kind.value = shaping.bars_html(list(tk["label"]), list(tk["amount"]),
                                               notes=[f"{n} 条" for n in tk["leads"]],
                                               title="按类型合计 / totals by kind", css_class="gk-bars gk-by-kind")
        tp = shaping.totals_by_provider(rows, self.wb.attribution, top=10)
        self.by_provider.value = shaping.bars_html(list(tp["label"]), list(tp["fund"]),
                                                   notes=[f"{n} 条" for n in tp["leads"]], color="#e15759",
                                                   title="按机构合计（前10）/ totals by provider (top 10)",
                                                   css_class="gk-bars gk-by-provider")
        self.table.value = shaping.leads_table_html(self.wb.named_leads(rows), limit=self.limit)
        opts = [(shaping.lead_label(r), r["id"]) for r in rows.head(500).to_dict("records")]
        _set_options(self.pick, opts, self.pick.value)

    @guarded
    def open_lead(self, finding_id: str | None = None) -> str | None:
        """Open ``finding_id`` (default: the picked one): remember it for 02_explore / 03_case."""
        fid = finding_id or self.pick.value
        if not fid:
            raise ValueError("没有可打开的线索（筛选结果为空）/ no lead to open (the filter shows none)")
        f = self.wb.finding(fid)
        self.wb.current_lead = fid
        ents = "".join(f"<li>{html.escape(labels.entity_label(f'{e.type}:{e.id}', self.wb.names))} "
                       f"<span style='color:#777'>{html.escape(shaping.ROLE_ZH.get(e.role, e.role))}</span></li>"
                       for e in f.entities[:12])
        more = f"<li>… 共 {len(f.entities)} 个 / {len(f.entities)} in all</li>" if len(f.entities) > 12 else ""
        zh, en = KINDS.get(f.kind, (f.kind, f.kind))
        self.opened.value = (
            f"<div style='border:1px solid #ccc;padding:6px;margin:4px 0'><b>已打开 / opened:</b> <code>{html.escape(f.id)}</code><br>"
            f"{html.escape(zh)} / {html.escape(en)} · 评分 score {f.score:.3f} · {shaping.yuan(f.amount_at_risk)} · "
            f"{len(f.claims)} 笔 claims<br>{html.escape(f.summary)}<ul style='margin:2px 0'>{ents}{more}</ul>"
            f"{checks_html(f.evidence)}{rule_detail_html(f, rule_lines(self.wb, f)) if f.kind == RULE_KIND else ''}"
            "在 <a href='02_explore.ipynb' target='_blank'>02_explore.ipynb</a> 查看关系图，在 "
            "<a href='03_case.ipynb' target='_blank'>03_case.ipynb</a> 立案 / see the graph in 02_explore, build a case in 03_case.</div>")
        self.say(f"已打开线索 / opened lead {fid}")
        for cb in self._callbacks:
            cb(fid)
        return fid

    @guarded
    def refresh_feedback(self) -> None:
        """Re-read case dispositions and show precision per detector with suggested thresholds."""
        rep = self.wb.precision(target=float(self.target.value))
        self.feedback.value = shaping.precision_html(rep, target=float(self.target.value))
        self.precision = rep


# -- 02 explore ----------------------------------------------------------------------

class EvidenceExplorer(_Panel):
    """One lead's evidence: pyvis graph (expand on demand, capped), claims, timeline, provider profile.

    Attributes
    ----------
    graph_full
        The evidence graph plus expansions.
    graph_shown
        What is drawn: ``graph_full`` capped at ``max_nodes.value`` nodes (the rest folded).
    max_claims
        Claims of a lead put into its graph (the header says when a lead has more).
    open_seconds
        Time the last lead open took (graph, claims, timeline and page).
    """

    def __init__(self, wb: Workbench, lead: str | None = None, *, max_nodes: int = 150, height: int = 600,
                 max_claims: int = 3000, follow: float | None = None) -> None:
        super().__init__(wb)
        self.add_class("gk-explore")
        self.height = height
        self.max_claims = max_claims
        leads = wb.leads
        self.lead = W.Dropdown(options=[(shaping.lead_label(r), r["id"]) for r in leads.to_dict("records")],
                               value=None, description="线索 lead", style=_WIDE, layout=W.Layout(width="75%"))
        self.lead.add_class("gk-lead-pick")
        self.max_nodes = W.IntSlider(value=max_nodes, min=20, max=500, step=10, description="节点上限 node cap",
                                     style=_WIDE, continuous_update=False)
        self.header = W.HTML()
        self.header.add_class("gk-lead-header")
        self.node = W.Dropdown(description="节点 node", style=_WIDE, layout=W.Layout(width="45%"))
        self.expand_limit = W.BoundedIntText(value=200, min=1, max=5000, description="最多结算 max claims", style=_WIDE,
                                             layout=W.Layout(width="220px"))
        self.expand_button = W.Button(description="展开邻居 / Expand", icon="plus", layout=W.Layout(width="auto"))
        self.expand_button.add_class("gk-expand")
        self.reset_button = W.Button(description="还原 / Reset", icon="undo", layout=W.Layout(width="auto"))
        self.graph_info = W.HTML()
        self.graph_info.add_class("gk-graph-info")
        self.graph = W.HTML(layout=W.Layout(width="100%"))
        self.graph.add_class("gk-graph")
        self.claims = W.HTML()
        self.claims.add_class("gk-claims")
        self.timeline = W.HTML()
        self.timeline.add_class("gk-timeline-box")
        self.provider = W.Dropdown(description="机构 provider", style=_WIDE, layout=W.Layout(width="60%"))
        self.profile = W.HTML()
        self.profile.add_class("gk-profile-box")
        self.tabs = W.Tab(children=[
            W.VBox([W.HBox([self.node, self.expand_limit, self.expand_button, self.reset_button]), self.graph_info, self.graph]),
            self.claims,
            self.timeline,
            W.VBox([self.provider, self.profile]),
        ])
        self.tabs.titles = ("关系图 Graph", "结算明细 Claims", "时间线 Timeline", "机构画像 Provider profile")
        self.children = [_h("线索证据 / Lead evidence", 2), W.HBox([self.lead, self.max_nodes]), self.header, self.tabs,
                         self.status, self.output]
        self.graph_full: nx.MultiDiGraph = nx.MultiDiGraph()
        self.graph_shown: nx.MultiDiGraph = nx.MultiDiGraph()
        self.page = ""
        self.open_seconds = float("nan")
        self.lead_claims = pd.DataFrame()
        self._opening = False
        self.lead.observe(self._on_lead, names="value")
        self.max_nodes.observe(lambda _c: self._guarded_draw(), names="value")
        self.expand_button.on_click(lambda _b: self.expand())
        self.reset_button.on_click(lambda _b: self.reset())
        self.provider.observe(lambda _c: self._maybe_profile(), names="value")
        self.tabs.observe(lambda _c: self._maybe_profile(), names="selected_index")
        first = lead or wb.current_lead
        self.opened: str | None = None
        self._seen_lead = wb.cases.get_pref(wb.user, "current_lead")  # what triage last opened
        if first is not None:
            self.lead.value = first
        self._stop = threading.Event()
        if follow:
            self.follow(follow)

    # -- following the lead opened elsewhere (01 triage, the one view) in another kernel ---------
    def follow_current(self) -> bool:
        """Open the lead another notebook opened since the last look (the user's ``current_lead``
        in the shared case database); True when it did. A lead picked here is not undone."""
        seen = self.wb.cases.get_pref(self.wb.user, "current_lead")
        if seen == self._seen_lead:
            return False
        self._seen_lead = seen
        if not seen or seen not in self.wb.findings or seen in (self.lead.value, self.opened) or self._opening:
            return False
        self.lead.value = seen
        return True

    def follow(self, every: float = 1.0) -> None:
        """Look for a lead opened elsewhere every ``every`` seconds (a daemon thread; :meth:`close` stops it)."""
        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    self.follow_current()
                except Exception as exc:  # noqa: BLE001 - a database being written: try again next time
                    self.status.value = f"<span style='color:#999'>跟随线索暂不可用 / following paused: {html.escape(str(exc))}</span>"
        threading.Thread(target=loop, name="gk-follow-lead", daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        super().close()

    @guarded
    def _on_lead(self, change: Any) -> None:
        if change["new"]:
            self.open_lead(change["new"])

    @guarded
    def _guarded_draw(self) -> None:
        self.draw()

    def open_lead(self, finding_id: str) -> None:
        """Open a lead: evidence graph, claims table, timeline (the provider profile waits for its tab)."""
        self._opening = True
        try:
            self.opened = finding_id
            self._open_lead(finding_id)
        finally:
            self._opening = False
        self._maybe_profile()

    def _open_lead(self, finding_id: str) -> None:
        t0 = time.perf_counter()
        f = self.wb.finding(finding_id)
        self.graph_full = lead_kind_graph(self.wb, finding_id, max_claims=self.max_claims)
        zh, en = KINDS.get(f.kind, (f.kind, f.kind))
        shown = self.graph_full.graph.get("claims_shown", len(f.claims))
        self.header.value = (
            f"<div style='margin:4px 0'><b>{html.escape(zh)} / {html.escape(en)}</b> · 评分 score {f.score:.3f} · "
            f"涉及基金 {shaping.yuan(f.amount_at_risk)} · {len(f.claims)} 笔 claims"
            + (f"（图中 {shown} 笔 / {shown} drawn）" if shown < len(f.claims) else "")
            + f" · {html.escape(str(f.period.get('start') or ''))} — {html.escape(str(f.period.get('end') or ''))}"
            f"<br>{html.escape(f.summary)}</div>")
        self.draw()
        self.lead_claims = self.wb.lead_claims(finding_id, limit=2000)
        view = self.lead_claims[["claim_id", "start_time", "patient_id", "card_id", "claim_type", "provider", "provider_name",
                                 "doctor_id", "fund_amount", "total_amount"]]
        view = view.assign(claim_type=view["claim_type"].map(labels.value_label),
                           provider=view["provider"].map(lambda p: labels.entity_label(p) if not str(p).endswith(":") else ""))
        self.claims.value = shaping.frame_html(view, headers={
            "claim_id": "结算单 claim", "start_time": "时间 time", "patient_id": "参保人 person", "card_id": "医保卡 card",
            "claim_type": "类别 type", "provider": "机构 provider", "provider_name": "名称 name", "doctor_id": "医师 doctor",
            "fund_amount": "基金 fund", "total_amount": "总额 total"}, limit=500, css_class="gk-claims-table")
        self.timeline.value = self._timeline(f)
        provs = list(dict.fromkeys(p for p in self.lead_claims["provider"] if not p.endswith(":")))
        provs += [f"{e.type}:{e.id}" for e in f.entities if e.type in ("institution", "pharmacy") and f"{e.type}:{e.id}" not in provs]
        _set_options(self.provider, [(f"{shaping.TYPE_STYLE[p.split(':')[0]]['zh']} {p.split(':', 1)[1]} "
                                      f"{self.wb.names.get(p, '')}".strip(), p) for p in provs])
        self.profile.value = "<div style='color:#666'>选择此页签时计算 / computed when this tab is opened</div>"
        self.open_seconds = time.perf_counter() - t0
        self.say(f"已打开 / opened {finding_id}（{self.open_seconds:.2f}s）")

    def _timeline(self, f) -> str:
        members = [e.id for e in f.entities if e.type == "patient"]
        cards = [e.id for e in f.entities if e.type == "card"]
        # the members' and cards' other settlements give the lead's claims their context
        cols = ["claim_id", "patient_id", "start_time", "fund_amount", "institution_id", "pharmacy_id"]
        frames = [self.lead_claims[cols]]
        if members or cards:
            frames.append(self.wb.involving(patients=members[:30], cards=cards[:10])[cols])
        allc = pd.concat([x for x in frames if len(x)], ignore_index=True).drop_duplicates("claim_id")
        return shaping.timeline_svg(allc, highlight=set(f.claims))

    def draw(self) -> None:
        """Cap the current graph and redraw the page."""
        f = self.wb.finding(self.lead.value) if self.lead.value else None
        keep = [f"{e.type}:{e.id}" for e in f.entities] if f else []
        self.graph_shown = shaping.cap_graph(self.graph_full, int(self.max_nodes.value), keep=keep)
        title = f"{f.id}" if f else ""
        self.page = graph_html(self.graph_shown, title=title, names=self.wb.names, height=f"{self.height - 70}px")
        self.graph.value = graph_iframe(self.page, height=self.height)
        g = self.graph_shown
        folded = g.graph.get("clustered", 0)
        self.graph_info.value = (f"节点 {g.number_of_nodes()} · 边 {g.number_of_edges()}"
                                 + (f" · 已折叠 {folded} 个节点（提高节点上限可展开）" if folded else "")
                                 + f" — {g.number_of_nodes()} nodes, {g.number_of_edges()} edges"
                                 + (f", {folded} folded into clusters (raise the node cap to see them)" if folded else ""))
        opts = []
        for v, a in g.nodes(data=True):
            if a.get("type") == "cluster":
                continue
            st = shaping.TYPE_STYLE.get(a.get("type", ""), {"zh": a.get("type", "")})
            opts.append((f"{st['zh']} {a.get('id', v)} {self.wb.names.get(v, '')}".strip(), v))
        _set_options(self.node, sorted(opts), self.node.value)

    @guarded
    def expand(self, node: str | None = None, *, limit: int | None = None) -> int:
        """Add the claims touching ``node`` (default: the picked one), the largest ``limit`` by fund."""
        node = node or self.node.value
        if not node:
            raise ValueError("请先选择节点 / pick a node first")
        limit = int(limit or self.expand_limit.value)
        claims = self.wb.touching(node, limit=limit)
        before = self.graph_full.number_of_nodes()
        shaping.claims_graph(claims, self.graph_full, mark="expanded", holders=self.wb.holders)
        added = self.graph_full.number_of_nodes() - before
        self.draw()
        self.say(f"已展开 / expanded {node}: {len(claims)} 笔结算 claims, 新增 {added} 个节点 / {added} new nodes")
        return added

    @guarded
    def reset(self) -> None:
        """Back to the lead's own evidence."""
        if self.lead.value:
            self.graph_full = lead_kind_graph(self.wb, self.lead.value, max_claims=self.max_claims)
            self.draw()

    @guarded
    def _maybe_profile(self) -> None:
        if not self._opening and self.tabs.selected_index == 3 and self.provider.value:
            self.show_profile(self.provider.value)

    def show_profile(self, provider: str) -> None:
        """The provider's activity against its peers."""
        prof = self.wb.provider_profile(provider)
        name = self.wb.names.get(provider, "")
        self.profile.value = shaping.profile_html(prof, title=f"{provider} {name} — 与同类机构比较 / against its peers")


# -- 03 case -------------------------------------------------------------------------

class CaseBuilder(_Panel):
    """Build and dispose a case: findings, entities, claims, status, assignee, notes, audit, dossier."""

    def __init__(self, wb: Workbench, lead: str | None = None) -> None:
        super().__init__(wb)
        self.add_class("gk-case")
        leads = wb.leads
        lead_opts = [(shaping.lead_label(r), r["id"]) for r in leads.to_dict("records")]
        first = lead or wb.current_lead
        self.case = W.Dropdown(description="案件 case", style=_WIDE, layout=W.Layout(width="60%"))
        self.case.add_class("gk-case-pick")
        self.reload_button = W.Button(description="刷新 / Reload", icon="refresh", layout=W.Layout(width="auto"))
        self.new_title = W.Text(description="新案件标题 new case title", placeholder="例如：某药店冒卡结算 / e.g. card misuse at Y0034",
                                style=_WIDE, layout=W.Layout(width="60%"))
        self.new_title.add_class("gk-case-title")
        self.new_button = W.Button(description="新建案件 / New case", button_style="primary", icon="plus",
                                   layout=W.Layout(width="auto"))
        self.new_button.add_class("gk-case-new")
        self.info = W.HTML()
        self.info.add_class("gk-case-info")
        self.available = W.SelectMultiple(options=lead_opts, value=tuple(v for v in [first] if v), rows=6,
                                          description="可选线索 leads", style=_WIDE, layout=W.Layout(width="48%"))
        self.add_findings_button = W.Button(description="加入 / Add →", layout=W.Layout(width="auto"))
        self.in_case = W.SelectMultiple(rows=6, description="案件线索 in case", style=_WIDE, layout=W.Layout(width="40%"))
        self.remove_findings_button = W.Button(description="移除 / Remove", layout=W.Layout(width="auto"))
        self.entities = W.SelectMultiple(rows=6, description="涉案主体 entities", style=_WIDE, layout=W.Layout(width="48%"))
        self.remove_entities_button = W.Button(description="移除主体 / Remove", layout=W.Layout(width="auto"))
        self.entity_type = W.Dropdown(options=[(f"{shaping.TYPE_STYLE[t]['zh']} {t}", t) for t in ENTITY_TYPES],
                                      description="类型 type", style=_WIDE)
        self.entity_id = W.Text(description="编号 id", style=_WIDE)
        self.entity_role = W.Text(description="角色 role", style=_WIDE)
        self.add_entity_button = W.Button(description="添加主体 / Add entity", layout=W.Layout(width="auto"))
        self.claims_info = W.HTML()
        self.claims = W.SelectMultiple(rows=6, description="结算 claims", style=_WIDE, layout=W.Layout(width="48%"))
        self.remove_claims_button = W.Button(description="移除结算 / Remove", layout=W.Layout(width="auto"))
        self.claim_ids = W.Textarea(description="添加结算单号 add claim ids", placeholder="每行一个或逗号分隔 / one per line or comma-separated",
                                    style=_WIDE, layout=W.Layout(width="40%"))
        self.add_claims_button = W.Button(description="添加结算 / Add claims", layout=W.Layout(width="auto"))
        from .shaping import STATUS_ZH

        self.status_pick = W.Dropdown(options=[(f"{STATUS_ZH[s][0]} {s}", s) for s in STATUSES], description="状态 status",
                                      style=_WIDE)
        self.status_pick.add_class("gk-case-status-pick")
        self.assignee = W.Text(description="承办人 assignee", style=_WIDE)
        self.assignee.add_class("gk-case-assignee")
        self.notes = W.Textarea(description="备注 notes", style=_WIDE, layout=W.Layout(width="80%", height="80px"))
        self.notes.add_class("gk-case-notes")
        self.save_button = W.Button(description="保存 / Save", button_style="success", icon="save", layout=W.Layout(width="auto"))
        self.save_button.add_class("gk-case-save")
        from .export_view import CaseExport  # it builds on this module's panels

        self.export_panel = CaseExport(wb, lambda: self.case.value, self, on_done=lambda _cid, _paths: self.reload())
        self.export_button, self.exported = self.export_panel.button, self.export_panel.result
        self.export_button.add_class("gk-case-export")
        self.exported.add_class("gk-case-exported")
        self.audit = W.HTML()
        self.audit.add_class("gk-case-audit")
        self.status.add_class("gk-case-status")
        self.case.observe(self._on_case, names="value")
        self.reload_button.on_click(lambda _b: self.reload())
        self.new_button.on_click(lambda _b: self.new_case())
        self.add_findings_button.on_click(lambda _b: self.add_findings())
        self.remove_findings_button.on_click(lambda _b: self.remove_findings())
        self.remove_entities_button.on_click(lambda _b: self.remove_entities())
        self.add_entity_button.on_click(lambda _b: self.add_entity())
        self.remove_claims_button.on_click(lambda _b: self.remove_claims())
        self.add_claims_button.on_click(lambda _b: self.add_claims())
        self.save_button.on_click(lambda _b: self.save())
        self.children = [
            _h("立案与处置 / Case building and disposition", 2),
            W.HBox([self.case, self.reload_button]),
            W.HBox([self.new_title, self.new_button]),
            self.info,
            _h("线索 / Findings"),
            W.HBox([self.available, W.VBox([self.add_findings_button, self.remove_findings_button]), self.in_case]),
            _h("涉案主体 / Entities"),
            W.HBox([self.entities, W.VBox([self.remove_entities_button]),
                    W.VBox([self.entity_type, self.entity_id, self.entity_role, self.add_entity_button])]),
            _h("结算 / Claims"),
            self.claims_info,
            W.HBox([self.claims, W.VBox([self.remove_claims_button]), self.claim_ids, self.add_claims_button]),
            _h("处置 / Disposition"),
            W.HBox([self.status_pick, self.assignee]),
            self.notes,
            self.save_button,
            _h("案件材料 / Dossier"),
            self.export_panel,
            self.status,
            _h("审计记录 / Audit trail"),
            self.audit,
            self.output,
        ]
        self.current = None
        self.reload()

    # -- helpers ---------------------------------------------------------------------------
    @property
    def case_id(self) -> int:
        if self.case.value is None:
            raise CaseError("请先新建或选择案件 / create or pick a case first")
        return int(self.case.value)

    @guarded
    def reload(self, select: int | None = None) -> None:
        """Re-read the case list (other kernels may have changed it)."""
        df = self.wb.cases.list()
        keep = select if select is not None else self.case.value
        from .shaping import STATUS_ZH

        self.case.options = [(f"#{r.id} {r.title} [{STATUS_ZH[r.status][0]} {r.status}] {r.findings} 条线索",
                              int(r.id)) for r in df.itertuples(index=False)]
        ids = set(int(i) for i in df["id"])
        if keep is not None and int(keep) in ids:
            self.case.value = int(keep)
            self.show(int(keep))
        elif len(df):
            self.case.value = int(df["id"].iloc[0])
        else:
            self.case.value = None
            self.show(None)

    @guarded
    def _on_case(self, change: Any) -> None:
        self.show(change["new"])

    def show(self, case_id: int | None) -> None:
        """Fill the controls from the stored case."""
        if case_id is None:
            self.current = None
            self.info.value = "<div style='color:#666'>尚无案件：选择线索后点“新建案件” / no case yet: pick leads and press New case</div>"
            for w in (self.in_case, self.entities, self.claims):
                w.options = []
            self.claims_info.value = self.audit.value = ""
            return
        c = self.wb.cases.get(case_id)
        self.current = c
        fund = 0.0
        if c.claims:
            fund = float(self.wb.claims(c.claims, ["fund_amount"])["fund_amount"].sum())
        self.info.value = (f"<div class='gk-case-summary' style='border:1px solid #ccc;padding:6px'><b>案件 #{c.id}</b> {html.escape(c.title)}"
                           f" · 建立 created {html.escape(c.created_at)} by {html.escape(c.created_by)}"
                           f" · 更新 updated {html.escape(c.updated_at)} by {html.escape(c.updated_by)}<br>"
                           f"{len(c.findings)} 条线索 findings · {len(c.entities)} 个主体 entities · {len(c.claims)} 笔结算 claims · "
                           f"涉及基金 {shaping.yuan(fund)}</div>")
        self.in_case.options = [(f"{KINDS.get(f.kind, (f.kind,))[0]} {f.id}", f.id) for f in c.findings]
        self.entities.options = [(f"{shaping.TYPE_STYLE[e.type]['zh']} {e.id} {shaping.ROLE_ZH.get(e.role, e.role)}".strip(),
                                  f"{e.type}:{e.id}") for e in c.entities]
        self.claims.options = c.claims[:1000]
        self.claims_info.value = (f"{len(c.claims)} 笔结算，涉及基金 {shaping.yuan(fund)}"
                                  + (f"（列表显示前 1000 笔 / list shows the first 1000）" if len(c.claims) > 1000 else "")
                                  + f" — {len(c.claims)} claims, {fund:,.2f} yuan")
        self.status_pick.value = c.status
        self.assignee.value = c.assignee
        self.notes.value = c.notes
        au = self.wb.cases.audit(c.id).iloc[::-1]
        self.audit.value = shaping.frame_html(au[["at", "actor", "action", "field", "old", "new"]].assign(
            action=au["action"].map(labels.value_label), field=au["field"].fillna("").map(labels.value_label),
            old=au["old"].fillna("").str.slice(0, 80).map(labels.value_label),
            new=au["new"].fillna("").str.slice(0, 80).map(labels.value_label)),
            headers={"at": "时间 when", "actor": "人员 who", "action": "操作 action", "field": "字段 field",
                     "old": "原值 old", "new": "新值 new"}, limit=200, css_class="gk-audit-table")

    # -- actions -----------------------------------------------------------------------------
    @guarded
    def new_case(self, title: str | None = None) -> int:
        """Create a case from the selected leads (title from the text box)."""
        title = (title if title is not None else self.new_title.value).strip() or "未命名案件 / untitled case"
        findings = [self.wb.finding(i) for i in self.available.value]
        c = self.wb.cases.create(title, actor=self.wb.user, findings=findings)
        self.new_title.value = ""
        self.reload(select=c.id)
        self.say(f"已保存新案件 #{c.id} / saved new case #{c.id}（{len(findings)} 条线索 findings）")
        return c.id

    @guarded
    def add_findings(self) -> None:
        ids = list(self.available.value)
        if not ids:
            raise ValueError("请在左侧选择线索 / pick leads on the left first")
        self.wb.cases.add_findings(self.case_id, [self.wb.finding(i) for i in ids], actor=self.wb.user)
        self.reload()
        self.say(f"已加入 / added {len(ids)} 条线索")

    @guarded
    def remove_findings(self) -> None:
        ids = list(self.in_case.value)
        if not ids:
            raise ValueError("请选择要移除的线索 / pick findings to remove")
        self.wb.cases.remove_findings(self.case_id, ids, actor=self.wb.user)
        self.reload()
        self.say(f"已移除 / removed {len(ids)} 条线索")

    @guarded
    def remove_entities(self) -> None:
        keys = [tuple(k.split(":", 1)) for k in self.entities.value]
        if not keys:
            raise ValueError("请选择要移除的主体 / pick entities to remove")
        self.wb.cases.remove_entities(self.case_id, keys, actor=self.wb.user)  # type: ignore[arg-type]
        self.reload()
        self.say(f"已移除 / removed {len(keys)} 个主体")

    @guarded
    def add_entity(self) -> None:
        e = Entity(self.entity_type.value, self.entity_id.value.strip(), self.entity_role.value.strip())
        self.wb.cases.add_entities(self.case_id, [e], actor=self.wb.user)
        self.entity_id.value = ""
        self.reload()
        self.say(f"已添加 / added {e.type}:{e.id}")

    @guarded
    def remove_claims(self) -> None:
        ids = list(self.claims.value)
        if not ids:
            raise ValueError("请选择要移除的结算 / pick claims to remove")
        self.wb.cases.remove_claims(self.case_id, ids, actor=self.wb.user)
        self.reload()
        self.say(f"已移除 / removed {len(ids)} 笔结算")

    @guarded
    def add_claims(self) -> None:
        raw = self.claim_ids.value.replace(",", "\n").replace("，", "\n").split()
        if not raw:
            raise ValueError("请输入结算单号 / enter claim ids")
        known = set(self.wb.claims(raw, ["fund_amount"])["claim_id"])
        unknown = [c for c in raw if c not in known]
        if unknown:
            shown = "、".join(unknown[:10]) + (f" …（共 {len(unknown)} 个 / {len(unknown)} in all）" if len(unknown) > 10 else "")
            raise ValueError(f"没有这些结算单号，请检查输入：{shown} / these claim ids are not in the data, check them: {shown}")
        self.wb.cases.add_claims(self.case_id, raw, actor=self.wb.user)
        self.claim_ids.value = ""
        self.reload()
        self.say(f"已添加 / added {len(raw)} 笔结算")

    @guarded
    def save(self) -> None:
        """Write status, assignee and notes (each change audited)."""
        cid = self.case_id
        self.wb.cases.update(cid, actor=self.wb.user, status=self.status_pick.value, assignee=self.assignee.value.strip(),
                             notes=self.notes.value)
        self.reload()
        self.say(f"已保存案件 #{cid} / saved case #{cid}")

    def export(self) -> dict[str, Any] | None:
        """Export the case with the chosen profile and PDF option (:class:`~graphkit.workbench.export_view.CaseExport`)."""
        return self.export_panel.export()
