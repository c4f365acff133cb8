"""Two providers side by side in the workbench: the one a lead is about and any other.

:func:`comparison_html` shapes :func:`graphkit.risk.explain.compare_providers`'s table into
HTML (pure, tested without a browser); :class:`ProviderCompare` is the widget: a type picker
and a search box (id or name; suggestions limited to the best-ranked matches) for the second
provider, and the table. The one view puts it under the peer profile; :class:`ProviderRisk`
under its explanation.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"item": ["风险分 / score"], "a": [0.9], "b": [0.1], "a_shown": ["0.9000"], "b_shown": ["0.1000"]},
...                  index=pd.Index(["score"], name="key"))
>>> t.attrs["labels"] = ("医疗机构 H1", "医疗机构 H2")
>>> html = comparison_html(t)
>>> "医疗机构 H2" in html and "0.9000" in html
True
"""

from __future__ import annotations

import html as _html
import ipywidgets as W
import pandas as pd

from ..risk.explain import TYPE_NAMES, compare_providers, format_comparison
from .data import Workbench
from .widgets import _WIDE, _Panel, guarded

__all__ = ["ProviderCompare", "comparison_html", "find_provider"]

#: rows that start a section of the table (a line above them)
_SECTIONS = {"rank": "排名与风险 / rank and risk", "claims": "业务量 / volume", "finding_count": "检测线索 / findings"}


def comparison_html(table: pd.DataFrame) -> str:
    """The side-by-side table as HTML: item, provider A, provider B; differing rows marked."""
    shown = format_comparison(table)
    la, lb = shown.columns[1], shown.columns[2]
    body = []
    first_ind = next((k for k in table.index if str(k).startswith("ind.")), None)
    for key, (item, a, b) in zip(table.index, shown.itertuples(index=False)):
        sec = _SECTIONS.get(key) or ("同类比较指标 / peer-relative indicators" if key == first_ind else "")
        if sec:
            body.append(f"<tr class='gk-risk-compare-section'><td colspan='3'><b>{_html.escape(sec)}</b></td></tr>")
        diff = " class='gk-risk-compare-diff'" if a != b else ""
        body.append(f"<tr{diff}><td>{_html.escape(item)}</td><td style='text-align:right'>{_html.escape(a)}</td>"
                    f"<td style='text-align:right'>{_html.escape(b)}</td></tr>")
    return ("<style>.gk-risk-compare-table td,.gk-risk-compare-table th{padding:2px 8px}"
            ".gk-risk-compare-diff td{background:#fff7e6}.gk-risk-compare-section td{border-top:1px solid #999}</style>"
            f"<table class='gk-risk-compare-table'><tr><th>项目 / item</th><th>{_html.escape(la)}</th><th>{_html.escape(lb)}</th></tr>"
            + "".join(body) + "</table>")


def find_provider(scores: pd.DataFrame, text: str, entity_type: str = "") -> tuple[str, str]:
    """``(entity_type, entity_id)`` of what the user typed: an id, a suggestion (``H0007 名称``) or a
    name (a unique part of one). A friendly error (Chinese and English) when none or several match.

    Examples
    --------
    >>> sc = pd.DataFrame({"entity_type": ["institution", "pharmacy"], "entity_id": ["H1", "Y1"],
    ...                    "name": ["第一医院", "大药房"], "rank": [1, 2]})
    >>> find_provider(sc, "H1"), find_provider(sc, "大药房"), find_provider(sc, "Y1 大药房 [#2]")
    (('institution', 'H1'), ('pharmacy', 'Y1'), ('pharmacy', 'Y1'))
    >>> find_provider(sc, "pharmacy:Y1")
    ('pharmacy', 'Y1')
    >>> find_provider(sc, "H9")
    Traceback (most recent call last):
    ValueError: 没有找到机构/医师 H9，请检查编号或名称 / no provider matches H9: check the id or name
    """
    q = str(text or "").strip()
    head, sep, rest = q.partition(":")
    if sep and head in TYPE_NAMES and head != "terminal" and rest.strip():  # a node id: institution:H1
        entity_type, q = head, rest.strip()
    if not q:
        raise ValueError("请输入要对比的机构编号或名称 / type the id or name of the provider to compare")
    sc = scores[scores["entity_type"] == entity_type] if entity_type else scores
    sc = sc[sc["entity_type"] != "terminal"]
    ids = sc["entity_id"].astype(str)
    for cand in (q, q.split()[0]):
        hit = sc[ids == cand]
        if len(hit) == 1:
            return str(hit["entity_type"].iloc[0]), str(hit["entity_id"].iloc[0])
        if len(hit) > 1:
            raise ValueError(f"{cand} 对应多个类型，请先选择类型 / {cand} names several types: pick the type first")
    names = sc["name"].astype("object").where(sc["name"].notna(), "").astype(str)
    hit = sc[names == q]
    if len(hit) != 1:
        hit = sc[names.str.contains(q, regex=False)]
    if len(hit) == 1:
        return str(hit["entity_type"].iloc[0]), str(hit["entity_id"].iloc[0])
    if len(hit) > 1:
        some = "、".join(f"{i} {n}" for i, n in zip(hit["entity_id"].head(5), hit["name"].head(5)))
        raise ValueError(f"“{q}”匹配 {len(hit)} 个，请输入编号：{some} / “{q}” matches {len(hit)}: type an id")
    raise ValueError(f"没有找到机构/医师 {q}，请检查编号或名称 / no provider matches {q}: check the id or name")


class ProviderCompare(_Panel):
    """Pick a second provider and see it beside the first (``provider``: ``institution:H1``)."""

    def __init__(self, wb: Workbench, *, provider: str | None = None, suggestions: int = 30) -> None:
        super().__init__(wb)
        self.add_class("gk-risk-compare-panel")
        self.provider = provider
        self.suggestions = suggestions
        self.kind = W.Dropdown(options=[("全部 / all", "")] + [(f"{zh} / {t}", t) for t, zh in TYPE_NAMES.items() if t != "terminal"],
                               description="类型 type", style=_WIDE, layout=W.Layout(width="220px"))
        self.query = W.Combobox(placeholder="输入编号或名称 / type an id or a name", ensure_option=False,
                                description="对比 compare", style=_WIDE, layout=W.Layout(width="380px"))
        self.query.add_class("gk-risk-compare-query")
        self.button = W.Button(description="对比 / Compare", icon="columns", layout=W.Layout(width="auto"))
        self.button.add_class("gk-risk-compare-button")
        self.table_html = W.HTML()
        self.table_html.add_class("gk-risk-compare")
        self.table: pd.DataFrame | None = None
        self.kind.observe(lambda _c: self._suggest(), names="value")
        self.query.observe(lambda _c: self._suggest(), names="value")
        self.button.on_click(lambda _b: self.compare())
        self.children = [W.HBox([self.kind, self.query, self.button]), self.table_html, self.status, self.output]
        self._suggested = False  # the risk scores are computed when first needed, not on construction
        if provider:
            self._suggest()

    def _scores(self) -> pd.DataFrame:
        return self.wb.risk.scores

    @guarded
    def _suggest(self) -> None:
        """Suggestions for the search box: the best-ranked providers whose id or name holds the text."""
        sc = self._scores()
        sc = sc[sc["entity_type"] != "terminal"]
        if self.kind.value:
            sc = sc[sc["entity_type"] == self.kind.value]
        q = self.query.value.strip().split()[0] if self.query.value.strip() else ""
        if q:
            names = sc["name"].astype("object").where(sc["name"].notna(), "").astype(str)
            sc = sc[sc["entity_id"].astype(str).str.contains(q, regex=False) | names.str.contains(q, regex=False)]
        sc = sc.head(self.suggestions)
        self._suggested = True
        self.query.options = [f"{i} {'' if n is None or n != n else n} [#{r}]".replace("  ", " ")
                              for i, n, r in zip(sc["entity_id"], sc["name"], sc["rank"])]

    def set_provider(self, provider: str | None) -> None:
        """The first provider (``institution:H1``); the table follows when a second one is picked."""
        if not self._suggested:
            self._suggest()
        if provider == self.provider:
            return
        self.provider = provider
        if self.table is not None and self.query.value.strip():
            self.compare()

    @guarded
    def compare(self, other: str | None = None) -> pd.DataFrame:
        """Compare the first provider with ``other`` (default: what is typed in the search box)."""
        if not self.provider:
            raise ValueError("请先打开线索或选择机构 / open a lead or pick a provider first")
        etype, eid = find_provider(self._scores(), other if other is not None else self.query.value, self.kind.value)
        self.table = compare_providers(self.wb.risk, self.provider, eid, b_type=etype, findings=self.wb.report.findings,
                                       regions=self.wb.region_names)
        self.table_html.value = comparison_html(self.table)
        a, b = self.table.attrs["labels"]
        self.say(f"对比 / compared: {a} ↔ {b}")
        return self.table
