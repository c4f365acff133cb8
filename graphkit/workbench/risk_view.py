"""Provider risk in the workbench: the ranking and why one provider ranks where it does.

:func:`explanation_html` shapes :func:`graphkit.risk.explain_provider`'s dict into HTML (pure,
tested without a browser); :class:`ProviderRisk` is the widget: a provider picker over the
ranking, the explanation below it and a side-by-side comparison with a second provider
(:class:`~graphkit.workbench.compare_view.ProviderCompare`).

Examples
--------
>>> html = explanation_html({"entity_type": "institution", "entity_id": "H1", "name": None, "region": "A",
...     "peer_group": "institution|clinic", "rank": 1, "of": 3, "rank_in_type": 1, "of_type": 2, "score": 0.9,
...     "prior_logit": -0.8, "prior": 0.31, "prior_hazard": 0.04, "findings_hazard": 3.0, "hazard": 3.04, "prior_weight": 0.1,
...     "parts": {"intercept": -2.9, "exposure": 1.0, "indicators": 1.1, "network": 0.0},
...     "volume": {"claims": 10, "fund_total": 100.0, "patients": 5}, "indicators": [], "findings": [],
...     "neighbours": [], "notes": []})
>>> "业务量暴露" in html and "H1" in html
True
"""

from __future__ import annotations

import html as _html
from typing import Any

from ..extras import require_extra

require_extra("lab", "ipywidgets", part="graphkit.workbench risk view (调查工作台 / workbench)")

import ipywidgets as W  # noqa: E402

from ..risk import explain_provider
from ..risk.explain import PART_NAMES
from .compare_view import ProviderCompare
from .data import Workbench
from .widgets import _h, _Panel, _set_options, guarded

__all__ = ["ProviderRisk", "explanation_html"]


def _e(x: Any) -> str:
    return _html.escape(str(x))


def explanation_html(d: dict[str, Any]) -> str:
    """One provider's explanation as an HTML fragment (parts, indicators vs peers, findings, neighbours)."""
    rows = "".join(f"<tr><td>{_e(zh)} / {_e(en)}</td><td style='text-align:right'>{d['parts'][p]:+.3f}</td></tr>"
                   for p, (zh, en) in PART_NAMES.items())
    head = (f"<b>{_e(d['entity_type'])} {_e(d['entity_id'])}</b> {_e(d.get('name') or '')} — "
            f"风险分 / score {d['score']:.4f}, 排名 / rank {d['rank']} / {d['of']} "
            f"（{_e(d['entity_type'])} {d['rank_in_type']} / {d['of_type']}）；同类组 / peer group {_e(d['peer_group'])}")
    vol = d["volume"]
    parts = (f"<table class='gk-risk-parts'>{rows}<tr><td><b>先验对数几率 / prior logit → π</b></td>"
             f"<td style='text-align:right'><b>{d['prior_logit']:+.3f} → {d['prior']:.3f}</b></td></tr>"
             f"<tr><td>先验风险 / prior hazard λ·(−ln(1−π) + I) (λ = {d['prior_weight']:.2f})</td>"
             f"<td style='text-align:right'>{d['prior_hazard']:.3f}</td></tr>"
             f"<tr><td>检测线索风险 / findings hazard F</td><td style='text-align:right'>{d['findings_hazard']:.3f}</td></tr>"
             f"<tr><td><b>总风险 / hazard L → score = L/(1+L)</b></td>"
             f"<td style='text-align:right'><b>{d['hazard']:.3f} → {d['score']:.4f}</b></td></tr></table>")
    ind = "".join(
        f"<tr><td>{'↑' if i['excess'] > 0 else ''}</td><td>{_e(i['zh'])} / {_e(i['en'])}</td><td>{_e(i['shown']['value'])}</td>"
        f"<td>{_e(i['shown']['peer_median'])} {_e(i['shown']['spread'])}</td><td>{i['z']:+.1f}</td><td>{i['n']:,.0f}</td></tr>"
        for i in d["indicators"])
    ind = (f"<table class='gk-risk-ind'><tr><th></th><th>指标 / indicator</th><th>本机构 / value</th>"
           f"<th>同类中位 / peer median</th><th>z</th><th>n</th></tr>{ind}</table>") if ind else "<p>无 / none</p>"
    fl = "".join(f"<li>[{f['score']:.3f}] {_e(f['kind'])}: {f['claims_here']} 笔/claims, {f['amount_here']:,.2f} 元, "
                 f"计入/counts {f.get('hazard', 0.0):.3f}</li>"
                 for f in d["findings"][:10]) or "<li>无 / none</li>"
    nb = "".join(f"<li>{_e(n['entity_type'])} {_e(n['entity_id'])} {_e(n.get('name') or '')}: "
                 f"{n['share']:.1%}, 风险/risk {n['risk']:.3f}</li>" for n in d["neighbours"]) or "<li>无 / none</li>"
    notes = "".join(f"<li>{_e(n)}</li>" for n in d.get("notes", []))
    return (f"<div class='gk-risk'><p>{head}</p><p>业务量 / volume: {vol['claims']:,} 笔, {vol['fund_total']:,.2f} 元, "
            f"{vol['patients']:,} 人</p>{parts}<h4>同类比较 / against peers</h4>{ind}"
            f"<h4>检测线索 / findings</h4><ul>{fl}</ul><h4>关联网络 / network</h4><ul>{nb}</ul>"
            + (f"<h4>说明 / notes</h4><ul>{notes}</ul>" if notes else "") + "</div>")


class ProviderRisk(_Panel):
    """Pick a provider from the risk ranking and see why it ranks there; compare it with another."""

    def __init__(self, wb: Workbench, *, top: int = 200) -> None:
        super().__init__(wb)
        self._res = wb.risk
        sc = self._res.scores
        self.kind = W.Dropdown(description="类型 / type", options=[("全部 / all", ""), ("机构 / institution", "institution"),
                                                                ("药店 / pharmacy", "pharmacy"), ("医师 / doctor", "doctor")])
        self.pick = W.Dropdown(description="机构 / provider", layout=W.Layout(width="70%"))
        self.view = W.HTML()
        self.compare = ProviderCompare(wb)
        self.top = top
        self.kind.observe(lambda _: self._options(), names="value")
        self.pick.observe(lambda _: self.show(), names="value")
        self._options()
        self.children = [_h("机构风险排名 / provider risk"), W.HBox([self.kind, self.pick]), self.view,
                         _h("对比另一机构 / compare with another provider", 4), self.compare, self.status, self.output]
        self.say(f"{len(sc):,} 个机构/医师已评分 / providers scored")

    @guarded
    def _options(self) -> None:
        sc = self._res.scores
        if self.kind.value:
            sc = sc[sc["entity_type"] == self.kind.value]
        sc = sc.head(self.top)
        opts = [(f"{r.rank}. {r.entity_type} {r.entity_id} {'' if r.name is None or r.name != r.name else r.name} [{r.score:.3f}]",
                 (r.entity_type, r.entity_id)) for r in sc.itertuples(index=False)]
        _set_options(self.pick, opts, keep=self.pick.value)
        self.show()

    @guarded
    def show(self) -> None:
        if not self.pick.value:
            self.view.value = ""
            return
        etype, eid = self.pick.value
        d = explain_provider(self._res, eid, entity_type=etype, findings=self.wb.report.findings)
        self.view.value = explanation_html(d)
        self.compare.set_provider(f"{etype}:{eid}")
