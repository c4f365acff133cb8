"""One workbench view: pick a lead in the queue and see its graph, claims, timeline and peer
profile beside it; click a node to expand it, see its claims, add it to a case or write a
note on it; export the case's dossier (:class:`~graphkit.workbench.export_view.CaseExport`);
pick claims in the table to highlight them in the graph; narrow the period with the slider
under the graph or by dragging across the timeline (graph, claims and timeline follow;
a double-click on the timeline brings every claim back); search anyone.

Everything runs in one kernel (``notebooks/00_workbench.ipynb``); the graph is the two-way
:class:`~graphkit.workbench.graphwidget.GraphWidget`.

Examples
--------
>>> from graphkit.workbench import Workbench                  # doctest: +SKIP
>>> v = WorkbenchView(Workbench.from_env())                    # doctest: +SKIP
>>> v.leads_list.value = v.leads_list.options[1][1]            # doctest: +SKIP
>>> v.graph.selected = ["card:K1"]                             # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path
from typing import Any

import ipywidgets as W
import networkx as nx
import pandas as pd

from ..findings import KINDS, Entity
from . import labels, shaping
from .cases import STATUSES
from .compare_view import ProviderCompare
from .data import Workbench
from .export_view import CaseExport
from .graphwidget import GraphWidget
from .kindgraph import defining_nodes, lead_kind_graph
from .rule_view import picked, rule_detail_html, rule_filter_widgets, rule_lines
from .search_view import SearchPanel
from .timeline_brush import TimelineBrush, brush_days
from .widgets import _WIDE, _h, _Panel, _set_options, guarded
from .workdir import browser_url, exports_dir

__all__ = ["WorkbenchView"]


class WorkbenchView(_Panel):
    """Queue, graph, claims, timeline, profile, node actions and the case, side by side.

    Attributes
    ----------
    graph_full
        The lead's kind graph plus expansions; ``graph_shown`` is what is drawn (capped).
    open_seconds
        Time the last lead took to open (graph, claims and timeline).
    """

    def __init__(self, wb: Workbench, *, max_nodes: int = 150, height: int = 560, max_claims: int = 3000) -> None:
        super().__init__(wb)
        self.add_class("gk-oneview")
        self.max_nodes, self.max_claims = max_nodes, max_claims
        leads = wb.leads
        kinds = [k for k in KINDS if k in set(leads["kind"])]
        self.kind = W.Dropdown(options=[("全部类型 / all kinds", "")] + [(f"{KINDS[k][0]} {k}", k) for k in kinds],
                               description="类型 kind", style=_WIDE, layout=W.Layout(width="98%"))
        # rule violations: by rule and 判断等级 (hidden when there are none)
        self.rule, self.level = rule_filter_widgets(leads)
        self.leads_list = W.Select(rows=22, layout=W.Layout(width="98%"))
        self.leads_list.add_class("gk-leads-list")
        self.header = W.HTML()
        self.header.add_class("gk-lead-header")
        self.graph = GraphWidget(height=f"{height}px")
        self.graph.add_class("gk-graph-two-way")
        self.node_info = W.HTML("<div style='color:#666'>点击图中节点 / click a node in the graph</div>")
        self.node_info.add_class("gk-node-info")
        self.expand_button = W.Button(description="展开邻居 / Expand", icon="plus", layout=W.Layout(width="auto"))
        self.expand_button.add_class("gk-expand")
        self.case_pick = W.Dropdown(description="案件 case", style=_WIDE, layout=W.Layout(width="98%"))
        self.new_case_button = W.Button(description="新建案件 / New case", icon="plus", layout=W.Layout(width="auto"))
        self.add_button = W.Button(description="加入案件 / Add to case", icon="briefcase", button_style="primary",
                                   layout=W.Layout(width="auto"))
        self.add_button.add_class("gk-add-to-case")
        self.note = W.Textarea(placeholder="备注此节点 / a note on this node", layout=W.Layout(width="98%", height="60px"))
        self.note_button = W.Button(description="保存备注 / Save note", icon="comment", layout=W.Layout(width="auto"))
        self.status_pick = W.Dropdown(options=[(f"{zh} {en}", s) for s, (zh, en) in shaping.STATUS_ZH.items() if s in STATUSES],
                                      description="状态 status", style=_WIDE)
        self.status_pick.add_class("gk-status-pick")
        self.status_button = W.Button(description="设置状态 / Set status", icon="check", layout=W.Layout(width="auto"))
        self.status_button.add_class("gk-set-status")
        self.rule_detail = W.HTML()  # a violation lead: its rule's text and item lines
        self.rule_detail.add_class("gk-rule-box")
        self.claims_pick = W.SelectMultiple(rows=10, layout=W.Layout(width="98%"))
        self.claims_pick.add_class("gk-claims-pick")
        self.timeline = TimelineBrush()  # drag across it to set the period (as with the slider)
        self.timeline.add_class("gk-timeline-brushable")
        self.period = W.SelectionRangeSlider(options=[("—", 0)], index=(0, 0), description="时间 period", disabled=True,
                                             continuous_update=False, style=_WIDE, layout=W.Layout(width="98%"))
        self.period.add_class("gk-period")
        self.export_button = W.Button(description="导出图片 / Export PNG", icon="image",
                                      layout=W.Layout(width="auto", min_width="170px", flex="0 0 auto"))
        self.export_button.add_class("gk-export-png")
        self.exported = W.HTML()
        self.exported.add_class("gk-exported-png")
        self.case_export = CaseExport(wb, lambda: self.case_pick.value, self,
                                      on_done=lambda cid, _paths: self._reload_cases(select=cid))
        self.case_export.button.add_class("gk-oneview-export")
        self.case_export.result.add_class("gk-oneview-exported")
        self.profile = W.HTML()
        self.compare = ProviderCompare(wb)
        self.search = SearchPanel(wb, on_lead=self.open_lead, height=420)
        tabs = W.Tab(children=[W.VBox([self.rule_detail, W.HTML("选中结算在图中高亮 / pick claims to highlight them in the graph"),
                                       self.claims_pick]), self.timeline, W.VBox([self.profile, self.compare]), self.search])
        tabs.titles = ("结算 Claims", "时间线 Timeline", "机构画像 Profile", "查找 Search")
        self.tabs = tabs
        left = W.VBox([_h("线索 / Leads"), self.kind, self.rule, self.level, self.leads_list], layout=W.Layout(width="26%"))
        middle = W.VBox([self.header, self.graph, self.period, W.HBox([self.export_button, self.exported])],
                        layout=W.Layout(width="50%"))
        right = W.VBox([_h("节点 / Node"), self.node_info, self.expand_button, _h("案件 / Case"), self.case_pick,
                        W.HBox([self.new_case_button, self.add_button]), self.note, self.note_button,
                        W.HBox([self.status_pick, self.status_button]), _h("案件材料 / Dossier"), self.case_export],
                       layout=W.Layout(width="24%"))
        self.children = [_h("调查工作台 / Workbench", 2), W.HBox([left, middle, right]), tabs, self.status, self.output]
        self.graph_full = nx.MultiDiGraph()
        self.graph_shown = nx.MultiDiGraph()
        self.lead_claims = pd.DataFrame()
        self.claims_seen = pd.DataFrame(columns=["claim_id", "start_time", "fund_amount"])  # times of drawn claims
        self.timeline_claims = pd.DataFrame()
        self._quiet = False
        self.lead: str | None = None
        self.open_seconds = float("nan")
        for w in (self.kind, self.rule, self.level):
            w.observe(lambda _c: self._fill_leads(), names="value")
        self.leads_list.observe(self._on_row, names="value")
        self.graph.observe(self._on_select, names="selected")
        self.graph.observe(self._on_activate, names="activations")
        self.claims_pick.observe(self._on_claims, names="value")
        self.period.observe(self._on_period, names="value")
        self.timeline.observe(self._on_brush, names="brush")
        self.timeline.observe(self._on_brush_reset, names="resets")
        self.tabs.observe(lambda _c: self._maybe_profile(), names="selected_index")
        self.expand_button.on_click(lambda _b: self.expand())
        self.new_case_button.on_click(lambda _b: self.new_case())
        self.add_button.on_click(lambda _b: self.add_to_case())
        self.note_button.on_click(lambda _b: self.save_note())
        self.status_button.on_click(lambda _b: self.set_status())
        self.export_button.on_click(lambda _b: self.export_png())
        self._reload_cases()
        self._fill_leads(select=wb.current_lead)

    # -- queue ----------------------------------------------------------------------------
    def _fill_leads(self, select: str | None = None) -> None:
        flt = shaping.LeadFilter(kinds=(self.kind.value,) if self.kind.value else (), rules=picked(self.rule),
                                 levels=picked(self.level))
        leads = shaping.filter_leads(self.wb.leads, flt)
        opts = [(shaping.lead_label(r), r["id"]) for r in leads.head(1000).to_dict("records")]
        keep = select or self.leads_list.value
        self.leads_list.options = opts
        if keep in {v for _, v in opts}:
            self.leads_list.value = keep

    @guarded
    def _on_row(self, change: Any) -> None:
        if change["new"] and change["new"] != self.lead:
            self.open_lead(change["new"])

    def open_lead(self, finding_id: str) -> None:
        """Open a lead (a click on its row, or a lead found by search): graph, claims, timeline."""
        t0 = time.perf_counter()
        f = self.wb.finding(finding_id)
        self.lead = finding_id
        self.wb.current_lead = finding_id
        if self.leads_list.value != finding_id and finding_id in {v for _, v in self.leads_list.options}:
            self.leads_list.value = finding_id
        self.graph_full = lead_kind_graph(self.wb, finding_id, max_claims=self.max_claims)
        zh, en = KINDS.get(f.kind, (f.kind, f.kind))
        self.header.value = (f"<div><b>{html.escape(zh)} / {html.escape(en)}</b> · 评分 score {f.score:.3f} · "
                             f"{shaping.yuan(f.amount_at_risk)} · {len(f.claims)} 笔 claims<br>"
                             f"<span style='font-size:12px'>{html.escape(f.summary)}</span></div>")
        self.lead_claims = self.wb.lead_claims(finding_id, limit=2000)
        c = self.lead_claims
        members = [e.id for e in f.entities if e.type == "patient"][:30]
        cards = [e.id for e in f.entities if e.type == "card"][:10]
        cols = ["claim_id", "patient_id", "start_time", "fund_amount", "institution_id", "pharmacy_id"]
        ctx = self.wb.involving(patients=members, cards=cards)[cols] if members or cards else c[cols].iloc[:0]
        allc = pd.concat([x for x in (c[cols], ctx) if len(x)] or [c[cols]], ignore_index=True).drop_duplicates("claim_id")
        self.timeline_claims = allc
        self.claims_seen = allc[["claim_id", "start_time", "fund_amount"]].reset_index(drop=True)
        self.rule_detail.value = rule_detail_html(f, rule_lines(self.wb, f)) if f.kind == "rule_violation" else ""
        self._set_period(reset=True)
        self.draw()
        self._show_period_tables()
        self.profile.value = "<div style='color:#666'>选择此页签时计算 / computed when this tab is opened</div>"
        self.status_pick.value = self._case().status if self._case() is not None else "new"
        self.open_seconds = time.perf_counter() - t0
        self.say(f"已打开 / opened {finding_id}（{self.open_seconds:.2f}s）")
        self._maybe_profile()

    def draw(self) -> None:
        f = self.wb.finding(self.lead) if self.lead else None
        g = self.graph_full
        # the lead's entities and the evidence its kind draws (shared identifiers, stays, bursts …)
        # are never folded away by the period filter or the node cap
        keep = list(dict.fromkeys([f"{e.type}:{e.id}" for e in f.entities] + defining_nodes(g))) if f else []
        lo, hi = self.period_range()
        if lo is not None:
            g = shaping.filter_period(g, self.claims_seen, lo, hi, keep=keep)
        self.graph_shown = shaping.cap_graph(g, self.max_nodes, keep=keep)
        self.graph.show(self.graph_shown, names=self.wb.names)

    # -- period ------------------------------------------------------------------------------
    def period_range(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The period picked on the slider, or ``(None, None)`` when it spans every claim shown."""
        if self.period.disabled or len(self.period.options) < 2:
            return None, None
        i, j = self.period.index
        if i == 0 and j == len(self.period.options) - 1:
            return None, None
        return pd.Timestamp(self.period.options[i][1]), pd.Timestamp(self.period.options[j][1])

    def _set_period(self, *, reset: bool = False) -> None:
        """Slider options: the days of the claims seen (the lead's, its people's, expansions')."""
        t = pd.to_datetime(self.claims_seen["start_time"], errors="coerce").dropna()
        days = sorted({d.date() for d in t.dt.normalize()}) if len(t) else []
        lo, hi = (None, None) if reset else self.period_range()
        self._quiet = True  # options and index change together: one redraw, by the caller
        try:
            if len(days) < 2:
                self.period.options = [(str(days[0]) if days else "—", 0)]
                self.period.index = (0, 0)
                self.period.disabled = True
                return
            self.period.options = [(f"{d:%Y-%m-%d}", str(d)) for d in days]
            i = 0 if lo is None else next((k for k, d in enumerate(days) if pd.Timestamp(d) >= lo), 0)
            j = len(days) - 1 if hi is None else max((k for k, d in enumerate(days) if pd.Timestamp(d) <= hi), default=len(days) - 1)
            self.period.index = (i, max(i, j))
            self.period.disabled = False
        finally:
            self._quiet = False

    @guarded
    def _on_period(self, _change: Any) -> None:
        if not self.lead or self._quiet:
            return
        self.draw()
        self._show_period_tables()
        lo, hi = self.period_range()
        self.say("时间范围 / period: 全部 / all" if lo is None else f"时间范围 / period: {lo:%Y-%m-%d} — {hi:%Y-%m-%d}")

    @guarded
    def _on_brush(self, change: Any) -> None:
        """A drag across the timeline: the days it covers become the slider's range."""
        days = brush_days(change["new"])
        if days is None or not self.lead:
            return
        if self.period.disabled:
            raise ValueError("此线索的结算只在一天内，无需选择时间段 / this lead's claims fall on one day: no period to pick")
        opts = [pd.Timestamp(v) for _, v in self.period.options]
        inside = [k for k, d in enumerate(opts) if days[0] <= d <= days[1]]
        if not inside:
            raise ValueError(f"所选时间段内没有结算 / no claims between {days[0]:%Y-%m-%d} and {days[1]:%Y-%m-%d}")
        if (inside[0], inside[-1]) == tuple(self.period.index):
            self.timeline.brush = []  # already the period shown
            return
        self.period.index = (inside[0], inside[-1])  # graph, claims and timeline follow (_on_period)

    @guarded
    def _on_brush_reset(self, _change: Any) -> None:
        """A double-click on the timeline: every claim again."""
        if not self.period.disabled:
            self.period.index = (0, len(self.period.options) - 1)

    def _in_period(self, frame: pd.DataFrame) -> pd.DataFrame:
        lo, hi = self.period_range()
        if lo is None or frame.empty:
            return frame
        t = pd.to_datetime(frame["start_time"], errors="coerce").dt.normalize()
        return frame[(t >= lo) & (t <= hi)]

    def _show_period_tables(self) -> None:
        """Claims list and timeline of the open lead within the picked period."""
        f = self.wb.finding(self.lead)
        c = self._in_period(self.lead_claims)
        self.claims_pick.options = [
            (f"{cid} {t:%Y-%m-%d %H:%M} {labels.entity_label(p, self.wb.names)} {labels.value_label(ct)} {fund:,.2f}元", cid)
            for cid, t, p, ct, fund in zip(c["claim_id"], c["start_time"], c["provider"], c["claim_type"], c["fund_amount"])]
        self.timeline.value = shaping.timeline_svg(self._in_period(self.timeline_claims), highlight=set(f.claims))
        self.timeline.brush = []  # the timeline now spans the period: nothing brushed on it

    # -- graph → Python --------------------------------------------------------------------
    @guarded
    def _on_select(self, change: Any) -> None:
        node = change["new"][0] if change["new"] else None
        if not node or node not in self.graph_shown:
            return
        a = self.graph_shown.nodes[node]
        rows = [f"<b>{html.escape(labels.entity_label(node, self.wb.names))}</b>"]
        if a.get("role"):
            rows.append(f"角色 role: {html.escape(shaping.ROLE_ZH.get(a['role'], a['role']))}")
        if a.get("type") in labels.VALUE_ZH and a.get("type") not in ("cluster",):
            cl = [x for _, _, d in self.graph_shown.edges(node, data=True) for x in d.get("claim_ids", [])]
            cl += [x for _, _, d in self.graph_shown.in_edges(node, data=True) for x in d.get("claim_ids", [])]
            rows.append(f"本线索结算 claims here: {len(set(cl))}")
        self.node_info.value = "<br>".join(rows)

    @guarded
    def _on_activate(self, _change: Any) -> None:
        if self.graph.activated:
            self.expand(self.graph.activated)

    @guarded
    def expand(self, node: str | None = None, *, limit: int = 200) -> int:
        """Add the claims touching ``node`` (default: the clicked one), the ``limit`` largest by fund."""
        node = node or self.graph.selected_node
        if not node:
            raise ValueError("请先在图中点击一个节点 / click a node in the graph first")
        if node.split(":", 1)[0] not in labels.VALUE_ZH or node.startswith(("cluster:", "context:", "group:")):
            raise ValueError(f"此节点不能展开 / {node} cannot be expanded")
        before = self.graph_full.number_of_nodes()
        more = self.wb.touching(node, limit=limit)
        shaping.claims_graph(more, self.graph_full, mark="expanded", holders=self.wb.holders)
        if {"claim_id", "start_time", "fund_amount"} <= set(more.columns) and len(more):
            self.claims_seen = pd.concat([self.claims_seen, more[["claim_id", "start_time", "fund_amount"]]],
                                         ignore_index=True).drop_duplicates("claim_id")
            self._set_period()
        self.draw()
        added = self.graph_full.number_of_nodes() - before
        self.say(f"已展开 / expanded {node}: 新增 {added} 个节点 / {added} new nodes")
        return added

    # -- table → graph ---------------------------------------------------------------------
    @guarded
    def _on_claims(self, change: Any) -> None:
        picked = set(change["new"])
        nodes = sorted({str(v) for s, d, a in self.graph_shown.edges(data=True) if picked & set(a.get("claim_ids", []))
                        for v in (s, d)})
        self.graph.highlight = nodes

    # -- case ------------------------------------------------------------------------------
    def _reload_cases(self, select: int | None = None) -> None:
        cl = self.wb.cases.list()
        opts = [(f"#{r.id} {r.title}（{shaping.STATUS_ZH.get(r.status, (r.status,))[0]}）", int(r.id)) for r in cl.itertuples()]
        _set_options(self.case_pick, opts, select if select is not None else self.case_pick.value)

    def _case(self):
        return self.wb.cases.get(int(self.case_pick.value)) if self.case_pick.value is not None else None

    @guarded
    def new_case(self) -> int:
        """A new case from the open lead."""
        if not self.lead:
            raise ValueError("请先打开线索 / open a lead first")
        f = self.wb.finding(self.lead)
        c = self.wb.cases.create(f"{KINDS.get(f.kind, (f.kind,))[0]} {f.id[-8:]}", actor=self.wb.user, findings=[f])
        self._reload_cases(select=c.id)
        self.say(f"已新建案件 / new case #{c.id}")
        return c.id

    @guarded
    def add_to_case(self) -> None:
        """Add the clicked node (or, with none clicked, the open lead) to the picked case."""
        if self.case_pick.value is None:
            self.new_case()
        cid = int(self.case_pick.value)
        node = self.graph.selected_node
        if node and node.split(":", 1)[0] in ("patient", "card", "doctor", "institution", "pharmacy", "terminal"):
            t, i = node.split(":", 1)
            role = self.graph_shown.nodes[node].get("role", "") if node in self.graph_shown else ""
            self.wb.cases.add_entities(cid, [Entity(t, i, role)], actor=self.wb.user)
            self.say(f"已加入案件 #{cid} / added {node} to case #{cid}")
        elif self.lead:
            self.wb.cases.add_findings(cid, [self.wb.finding(self.lead)], actor=self.wb.user)
            self.say(f"已将线索加入案件 #{cid} / added the lead to case #{cid}")
        else:
            raise ValueError("请先点击节点或打开线索 / click a node or open a lead first")
        self._reload_cases(select=cid)

    @guarded
    def save_note(self) -> None:
        """Write the note on the clicked node (or on the lead) into the case's audit trail."""
        text = self.note.value.strip()
        if not text:
            raise ValueError("备注为空 / the note is empty")
        if self.case_pick.value is None:
            raise ValueError("请先选择或新建案件 / pick or create a case first")
        on = self.graph.selected_node or self.lead or ""
        self.wb.cases.log(int(self.case_pick.value), actor=self.wb.user, action="note", detail={"on": on, "text": text})
        self.note.value = ""
        self.say(f"已保存备注 / note saved on {on}")

    @guarded
    def set_status(self) -> None:
        if self.case_pick.value is None:
            raise ValueError("请先选择或新建案件 / pick or create a case first")
        cid = int(self.case_pick.value)
        self.wb.cases.update(cid, actor=self.wb.user, status=self.status_pick.value)
        self._reload_cases(select=cid)
        self.say(f"案件 #{cid} 状态 / status: {labels.value_label(self.status_pick.value)}")

    # -- export ----------------------------------------------------------------------------
    @guarded
    def export_png(self, path: str | Path | None = None) -> Path:
        """Save the drawn graph as a PNG (default: ``exports/`` of the working folder, see
        :func:`~graphkit.workbench.workdir.exports_dir`); written when the browser answers."""
        if not self.graph.nodes:
            raise ValueError("没有可导出的图 / there is no graph to export")
        stem = f"graph-{(self.lead or 'view')[-12:]}-{time.strftime('%Y%m%d-%H%M%S')}"
        path = Path(path) if path is not None else exports_dir() / f"{stem}.png"
        self.exported.value = "<span style='color:#666'>正在导出… / exporting…</span>"
        self.graph.export_png(path, on_done=self._exported)
        return path

    def _exported(self, path: Path | None, error: str | None) -> None:
        if error or path is None:
            self.report_error(ValueError(error or "导出失败 / export failed"))
            self.exported.value = ""
            return
        png = path.read_bytes()
        url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        link = browser_url(path)
        opened = (f"<a href='{html.escape(link)}' target='_blank'>打开 / open</a> · " if link else "")
        self.exported.value = (f"<div>已导出 / saved: <code>{html.escape(str(path))}</code> {opened}"
                               f"<a href='{url}' download='{html.escape(path.name)}'>下载 / download</a> · "
                               "也可在左侧文件浏览器的 exports/ 中打开 / or open it in exports/ in the file browser<br>"
                               f"<img src='{url}' alt='{html.escape(path.name)}' style='max-width:160px;border:1px solid #ddd'></div>")
        self.say(f"已导出图片 / PNG saved: {path}（{len(png):,} 字节 bytes）")

    # -- profile ----------------------------------------------------------------------------
    @guarded
    def _maybe_profile(self) -> None:
        if self.tabs.selected_index != 2 or not len(self.lead_claims):
            return
        prov = self.lead_claims.groupby("provider")["fund_amount"].sum().idxmax()
        self.profile.value = shaping.profile_html(self.wb.provider_profile(prov),
                                                  title=f"{labels.entity_label(prov, self.wb.names)} — 与同类比较 / against peers")
        self.compare.set_provider(prov)
