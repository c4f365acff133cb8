"""HTML pieces of the workbench: bar charts, tables of any frame, the leads table."""

from __future__ import annotations

import html
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from .styles import yuan

__all__ = ["bars_html", "frame_html", "leads_table_html", "LEAD_HEADERS"]


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
    >>> from graphkit.findings import Finding
    >>> from graphkit.workbench.leads import leads_frame
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
