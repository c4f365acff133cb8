"""The search widget: anyone's leads, neighbourhood and claims; two providers side by side.

Examples
--------
>>> from graphkit.workbench import Workbench                 # doctest: +SKIP
>>> s = SearchPanel(Workbench.from_env())                     # doctest: +SKIP
>>> s.query.value = "PT00000001"; s.go_button.click()         # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import Any, Callable

import ipywidgets as W
import pandas as pd

from . import labels, shaping
from .data import Workbench
from .render import graph_html, graph_iframe
from ..risk.explain import compare_providers
from .compare_view import comparison_html, find_provider
from .search import SearchResult, search
from .widgets import _WIDE, _h, _Panel, _set_options, guarded

__all__ = ["SearchPanel"]


class SearchPanel(_Panel):
    """Search a patient, card, doctor, institution, pharmacy, terminal or claim id (or a name).

    Attributes
    ----------
    result
        The last :class:`~graphkit.workbench.search.SearchResult`.
    """

    def __init__(self, wb: Workbench, *, on_lead: Callable[[str], None] | None = None, height: int = 520) -> None:
        super().__init__(wb)
        self.add_class("gk-search")
        self.height = height
        self._on_lead = on_lead
        self.query = W.Text(description="查找 search", placeholder="参保人/医保卡/医师/机构/药店/终端/结算单号或名称 — any id or name",
                            style=_WIDE, layout=W.Layout(width="60%"), continuous_update=False)
        self.go_button = W.Button(description="查找 / Search", icon="search", button_style="primary",
                                  layout=W.Layout(width="auto"))
        self.go_button.add_class("gk-search-go")
        self.matches = W.Dropdown(description="匹配 match", style=_WIDE, layout=W.Layout(width="60%"))
        self.info = W.HTML()
        self.info.add_class("gk-search-info")
        self.leads = W.HTML()
        self.leads.add_class("gk-search-leads")
        self.lead_pick = W.Dropdown(description="线索 lead", style=_WIDE, layout=W.Layout(width="60%"))
        self.open_button = W.Button(description="打开线索 / Open lead", icon="folder-open", layout=W.Layout(width="auto"))
        self.claims = W.HTML()
        self.graph = W.HTML(layout=W.Layout(width="100%"))
        self.graph.add_class("gk-search-graph")
        self.cmp_a = W.Text(description="机构A provider A", style=_WIDE, continuous_update=False)
        self.cmp_b = W.Text(description="机构B provider B", style=_WIDE, continuous_update=False)
        self.cmp_button = W.Button(description="并排比较 / Compare", icon="columns", layout=W.Layout(width="auto"))
        self.comparison = W.HTML()
        self.comparison.add_class("gk-compare-box")
        self.result = SearchResult(query="", matches=[])
        self.go_button.on_click(lambda _b: self.run())
        self.query.observe(lambda _c: self.run(), names="value")
        self.matches.observe(lambda c: self._pick(c), names="value")
        self.open_button.on_click(lambda _b: self.open_lead())
        self.cmp_button.on_click(lambda _b: self.compare())
        self.tabs = W.Tab(children=[W.VBox([self.leads, W.HBox([self.lead_pick, self.open_button])]), self.claims, self.graph])
        self.tabs.titles = ("线索 Leads", "结算 Claims", "关系 Neighbourhood")
        self.children = [_h("查找 / Search", 2), W.HBox([self.query, self.go_button]), self.matches, self.info, self.tabs,
                         _h("两家机构并排比较 / Compare two providers"), W.HBox([self.cmp_a, self.cmp_b, self.cmp_button]),
                         self.comparison, self.status, self.output]
        self._busy = False

    @guarded
    def run(self, query: str | None = None) -> SearchResult:
        """Search ``query`` (default: the text box) and show the first match."""
        q = (query if query is not None else self.query.value).strip()
        if not q:
            raise ValueError("请输入编号或名称 / enter an id or a name")
        self._busy = True
        try:
            self.result = search(self.wb, q)
            _set_options(self.matches, [(f"{m['label']}（{'编号' if m['how'] == 'id' else '名称'}）", i)
                                        for i, m in enumerate(self.result.matches)])
        finally:
            self._busy = False
        if not self.result.matches:
            self.info.value = self.leads.value = self.claims.value = self.graph.value = ""
            raise ValueError(f"没有找到 {q} / nothing found for {q!r}（可输入编号或名称 / try an id or a name）")
        self._show()
        return self.result

    @guarded
    def _pick(self, change: Any) -> None:
        if self._busy or change["new"] is None or not self.result.matches:
            return
        self.result = search(self.wb, self.result.query, pick=int(change["new"]))
        self._show()

    def _show(self) -> None:
        r = self.result
        lab = labels.entity_label(r.node or "", self.wb.names) if r.node and not r.node.startswith("claim:") else r.node
        fund = float(r.claims["fund_amount"].astype(float).sum()) if len(r.claims) else 0.0
        self.info.value = (f"<b>{html.escape(str(lab))}</b> — 线索 {len(r.leads)} 条 leads · 结算 {len(r.claims)} 笔 claims"
                           f"（{shaping.yuan(fund)}）· 关系图 {r.graph.number_of_nodes()} 个节点 nodes")
        self.leads.value = shaping.leads_table_html(self.wb.named_leads(r.leads), limit=100) if len(r.leads) else (
            "<div style='color:#666'>（没有涉及此对象的线索 / no leads involve it）</div>")
        _set_options(self.lead_pick, [(shaping.lead_label(x), x["id"]) for x in r.leads.to_dict("records")])
        c = r.claims
        if len(c):
            view = c.assign(claim_type=c["claim_type"].map(labels.value_label)) if "claim_type" in c else c
            cols = [x for x in ("claim_id", "start_time", "patient_id", "card_id", "claim_type", "institution_id", "pharmacy_id",
                                "doctor_id", "fund_amount") if x in view.columns]
            self.claims.value = shaping.frame_html(view[cols], headers={
                "claim_id": "结算单 claim", "start_time": "时间 time", "patient_id": "参保人 person", "card_id": "医保卡 card",
                "claim_type": "类别 type", "institution_id": "医疗机构 institution", "pharmacy_id": "药店 pharmacy",
                "doctor_id": "医师 doctor", "fund_amount": "基金 fund"}, limit=500, css_class="gk-search-claims")
        else:
            self.claims.value = "<div style='color:#666'>（无结算 / no claims）</div>"
        g = shaping.cap_graph(r.graph, 150, keep=[r.node] if r.node else [])
        self.page = graph_html(g, title=str(lab), names=self.wb.names, height=f"{self.height - 70}px")
        self.graph.value = graph_iframe(self.page, height=self.height)
        self.say(f"已找到 / found {r.node}")

    @guarded
    def open_lead(self, finding_id: str | None = None) -> str:
        """Make the picked lead the current one (the explorer and case builder follow)."""
        fid = finding_id or self.lead_pick.value
        if not fid:
            raise ValueError("没有可打开的线索 / no lead to open")
        self.wb.current_lead = fid
        if self._on_lead:
            self._on_lead(fid)
        self.say(f"已打开线索 / opened lead {fid}")
        return fid

    @guarded
    def compare(self, a: str | None = None, b: str | None = None) -> pd.DataFrame:
        """Two providers side by side (ids like ``H0008``, ``institution:H0008`` or names)."""
        a = (a or self.cmp_a.value).strip()
        b = (b or self.cmp_b.value).strip()
        if not a or not b:
            raise ValueError("请输入两家机构 / enter two providers")
        scores = self.wb.risk.scores
        (ta, ia), (tb, ib) = find_provider(scores, a), find_provider(scores, b)
        cmp = compare_providers(self.wb.risk, ia, ib, a_type=ta, b_type=tb, findings=self.wb.report.findings,
                                regions=self.wb.region_names)
        self.comparison.value = comparison_html(cmp)
        la, lb = cmp.attrs["labels"]
        self.say(f"已比较 / compared {la} · {lb}")
        return cmp
