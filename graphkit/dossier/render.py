"""Rendering: self-contained HTML with inline SVG pictures, Markdown, PDF through headless Chromium."""

from __future__ import annotations

import html
import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable

import networkx as nx
import pandas as pd

from ..errors import GraphkitError

__all__ = ["page", "table_html", "column_widths", "text_em", "graph_svg", "timeline_svg", "html_to_pdf", "chromium_path", "esc"]

COLOURS = {"patient": "#4e79a7", "card": "#59a14f", "doctor": "#f28e2b", "institution": "#e15759", "pharmacy": "#b07aa1", "terminal": "#9c755f"}

CSS = """
@page { size: A4; margin: 16mm 14mm; }
body { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", "Source Han Serif SC", "SimSun", serif; font-size: 10.5pt; color: #111; max-width: 60em; margin: 1.5em auto; line-height: 1.5; }
h1 { font-size: 18pt; text-align: center; margin: 0.2em 0 0.6em; }
h2 { font-size: 13pt; border-bottom: 1px solid #888; margin-top: 1.4em; }
h3 { font-size: 11pt; margin-bottom: 0.3em; }
h1, h2, h3 { break-after: avoid; page-break-after: avoid; }
.keep { break-inside: avoid; page-break-inside: avoid; }
table { border-collapse: collapse; width: 100%; margin: 0.4em 0 0.8em; font-size: 9pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border: 1px solid #999; padding: 2px 4px; text-align: left; vertical-align: top; }
th { white-space: nowrap; }
td.nowrap, .nowrap { white-space: nowrap; }
td.code { font-family: monospace; font-size: 7pt; word-break: break-all; }
svg { max-width: 100%; height: auto; }
.watermark { position: fixed; top: 38%; left: 0; right: 0; text-align: center; font-size: 110pt; font-weight: bold;
             color: rgba(190, 0, 0, 0.10); transform: rotate(-28deg); z-index: -1; pointer-events: none; }
.banner { border: 2px solid #b00; color: #b00; padding: 0.3em 0.6em; font-weight: bold; margin: 0 0 0.8em; }
.banner.signed { border-color: #176b2c; color: #176b2c; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta { color: #444; font-size: 9pt; }
.prov { font-size: 8pt; vertical-align: super; }
.box { border: 1px solid #999; padding: 0.5em 0.8em; margin: 0.5em 0; }
.doc { page-break-after: always; }
.sign { margin-top: 3em; text-align: right; }
svg text { font-family: "Noto Sans CJK SC", sans-serif; }
"""


def esc(x: Any, *, zh: bool = False) -> str:
    """HTML text of a value: empty for None / NaN / NaT / pd.NA, amounts with two decimals,
    times as ``2024-07-05 08:30`` (or ``2024年7月5日 08:30`` with ``zh``)."""
    if x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, float):
        return f"{x:,.2f}"
    if isinstance(x, pd.Timestamp):
        if zh:
            from .zh import zh_datetime

            return zh_datetime(x)
        return x.strftime("%Y-%m-%d %H:%M")
    return html.escape(str(x))


def page(title: str, body: str, *, banner: str = "", draft: bool = False) -> str:
    """A self-contained page; ``draft`` adds the 草稿 watermark (on every printed page) and
    ``banner`` the review line above the body (red for a draft, green once signed)."""
    mark = "<div class='watermark'>草稿</div>" if draft else ""
    bar = f"<div class='banner{'' if draft else ' signed'}'>{html.escape(banner)}</div>" if banner else ""
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{'【草稿】' if draft else ''}{html.escape(title)}</title><style>{CSS}</style></head><body>{mark}{bar}{body}</body></html>"
    )


def table_html(df: pd.DataFrame, headers: dict[str, str] | None = None, limit: int | None = None, *, zh: bool = False,
               nowrap: tuple[str, ...] = (), code: tuple[str, ...] = ()) -> str:
    """A table of ``df``'s ``headers`` columns (all when None). ``zh``: Chinese-only notes and dates;
    ``nowrap`` columns never wrap (ids, dates), ``code`` columns are small monospace (hashes)."""
    if df is None or df.empty:
        return "<p class='meta'>（无）</p>" if zh else "<p class='meta'>（无 / none）</p>"
    headers = headers or {c: c for c in df.columns}
    cols = [c for c in headers if c in df.columns]
    rows = df.head(limit) if limit else df

    def td(c: str, v: Any) -> str:
        cls = "num" if isinstance(v, (int, float)) and not isinstance(v, bool) else "code" if c in code else "nowrap" if c in nowrap else ""
        return f"<td class='{cls}'>{esc(v, zh=zh)}</td>" if cls else f"<td>{esc(v, zh=zh)}</td>"

    widths = column_widths([headers[c] for c in cols], [[esc(v, zh=zh) for v in rows[c]] for c in cols],
                           skip=[c in code for c in cols])
    out = ["<table><thead><tr>", *(f"<th style='width:{w:.1f}em'>{html.escape(headers[c])}</th>" if w else f"<th>{html.escape(headers[c])}</th>"
                                   for c, w in zip(cols, widths)), "</tr></thead><tbody>"]
    for r in rows[cols].itertuples(index=False):
        out.append("<tr>" + "".join(td(c, v) for c, v in zip(cols, r)) + "</tr>")
    out.append("</tbody></table>")
    if limit and len(df) > limit:
        out.append(f"<p class='meta'>仅列出前{limit}行，共{len(df)}行，完整清单见附件。</p>" if zh else
                   f"<p class='meta'>仅列出前 {limit} 行，共 {len(df)} 行，完整清单见附件 / first {limit} of {len(df)} rows; the full list is attached.</p>")
    return "".join(out)


#: printed table width in ems of the table's 9pt type (A4 less 14mm margins: 182mm ≈ 57em), and the
#: narrowest a wrapping text column may become
TABLE_EM, TEXT_MIN_EM, SHORT_EM = 56.0, 8.0, 12.0


def text_em(s: str) -> float:
    """Printed width of ``s`` in ems: CJK and full-width characters 1em, others about 0.55em.

    >>> text_em("结算机构"), text_em("H0004")
    (4.0, 2.75)
    """
    return sum(1.0 if ord(ch) >= 0x2E80 else 0.55 for ch in html.unescape(s))


def column_widths(headers: list[str], cells: list[list[str]], *, skip: list[bool] | None = None) -> list[float | None]:
    """Widths (em) that keep each short column on one line: a column whose longest cell fits in
    ``SHORT_EM`` gets the width of that cell (at least its header's); longer text columns stay
    automatic and share the rest of the page, each at least ``TEXT_MIN_EM``. When the short columns
    would leave the text columns less than that, the widest short columns are left automatic too.
    ``None``: no width (automatic). Chromium's table layout treats a cell's width as its minimum, so
    a CJK column (which may break between any two characters) no longer shrinks to one
    character per line next to a long one.

    >>> column_widths(["角色", "说明"], [["结算机构", "转诊医师"], ["结算12笔，基金支付3,456.00元；法定代表人、主要负责人待核实"]])
    [4.8, None]
    """
    pad = 0.8  # cell padding and border
    skip = skip or [False] * len(headers)
    need = [max([text_em(h)] + [text_em(v) for v in col]) + pad for h, col in zip(headers, cells)]
    short = [i for i, n in enumerate(need) if n <= SHORT_EM + pad and not skip[i]]
    long_ = [i for i in range(len(headers)) if i not in short]
    while short and sum(need[i] for i in short) + TEXT_MIN_EM * len(long_) > TABLE_EM:
        widest = max(short, key=lambda i: need[i])
        short.remove(widest)
        long_.append(widest)
    return [round(need[i], 1) if i in short else None for i in range(len(headers))]


#: column of each entity type in the printed evidence graph: people → cards → doctors / terminals → providers
LAYER = {"patient": 0, "card": 1, "doctor": 2, "terminal": 2, "institution": 3, "pharmacy": 3}


def graph_svg(g: nx.Graph, *, width: int = 1000, max_per_column: int = 40) -> str:
    """The evidence graph drawn for print: one column per entity type (people, cards, doctors and
    terminals, providers), labels beside the nodes, fund amounts on the edges into providers, a
    legend; nodes without any edge are left out (and counted below the picture)."""
    g = nx.Graph(g)
    stranded = [n for n in g.nodes if g.degree(n) == 0]
    g.remove_nodes_from(stranded)
    if g.number_of_nodes() == 0:
        return "<p class='meta'>（无图 / no graph）</p>"
    cols: dict[int, list[Any]] = {}
    for n, d in g.nodes(data=True):
        cols.setdefault(LAYER.get(d.get("type", ""), 1), []).append(n)
    hidden = 0
    for k, ns in cols.items():
        ns.sort(key=lambda n: (-g.degree(n), str(n)))
        hidden += max(len(ns) - max_per_column, 0)
        cols[k] = sorted(ns[:max_per_column], key=str)
    g = g.subgraph([n for ns in cols.values() for n in ns]).copy()
    used = sorted(cols)
    row_h, top = 18, 24
    rows = max(len(ns) for ns in cols.values())
    height = top + row_h * rows + 40
    span = width - 250
    pos = {}
    for ci, k in enumerate(used):
        ns = cols[k]
        x = 20 + (span * ci / max(len(used) - 1, 1))
        y0 = top + (rows - len(ns)) * row_h / 2
        for i, n in enumerate(ns):
            pos[n] = (x, y0 + i * row_h + row_h / 2)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}'>"]
    for a, b, d in g.edges(data=True):
        (x1, y1), (x2, y2) = pos[a], pos[b]
        w = 0.6 + min(float(d.get("claims", 1) or 1), 10) * 0.25
        parts.append(f"<line x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' y2='{y2:.1f}' stroke='#aaa' stroke-width='{w:.1f}'/>")
    for a, b, d in g.edges(data=True):
        if d.get("fund") and {g.nodes[a].get("type"), g.nodes[b].get("type")} & {"institution", "pharmacy"}:
            if g.nodes[a].get("type") in ("institution", "pharmacy"):
                a, b = b, a
            (x1, y1), (x2, y2) = pos[a], pos[b]  # label near the spread-out end, away from the provider's fan
            xm, ym = x1 + (x2 - x1) * 0.3, y1 + (y2 - y1) * 0.3
            parts.append(f"<text x='{xm:.1f}' y='{ym - 2:.1f}' font-size='8' fill='#555' text-anchor='middle'>{float(d['fund']):,.0f}元</text>")
    for n, d in g.nodes(data=True):
        t = d.get("type", "")
        x, y = pos[n]
        r = 6 if t in ("institution", "pharmacy") else 4.5
        parts.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{r}' fill='{COLOURS.get(t, '#777')}'/>")
        parts.append(f"<text x='{x + 8:.1f}' y='{y + 4:.1f}' font-size='10'>{html.escape(str(d.get('id', n)))}</text>")
    lx = 10
    for t in [t for t in COLOURS if any(LAYER.get(t) == k for k in used) and any(d.get("type") == t for _, d in g.nodes(data=True))]:
        parts.append(f"<circle cx='{lx + 5}' cy='{height - 12}' r='4.5' fill='{COLOURS[t]}'/>"
                     f"<text x='{lx + 13}' y='{height - 8}' font-size='10'>{TYPE_LABEL[t]}</text>")
        lx += 150
    parts.append(f"<text x='{lx}' y='{height - 8}' font-size='10' fill='#555'>线上数字：基金支付 / fund on edges</text>")
    parts.append("</svg>")
    note = []
    if hidden:
        note.append(f"另有{hidden}个节点未画出（每列最多{max_per_column}个，按关联数）/ {hidden} more nodes not drawn")
    if stranded:
        note.append(f"{len(stranded)}个无结算关联的节点未画出 / {len(stranded)} nodes without a link not drawn")
    return "<div class='keep'>" + "".join(parts) + "</div>" + (f"<p class='meta'>{'；'.join(note)}</p>" if note else "")


TYPE_LABEL = {"patient": "参保人 patient", "card": "医保卡 card", "doctor": "医师 doctor", "institution": "机构 institution",
              "pharmacy": "药店 pharmacy", "terminal": "终端 terminal"}
CLAIM_COLOURS = {"inpatient": "#e15759", "outpatient": "#4e79a7", "pharmacy": "#59a14f"}


def timeline_svg(tl: pd.DataFrame, *, width: int = 760, max_rows: int = 40) -> str:
    """Members' settlements over time: one row per person, a mark per claim (bars for stays)."""
    if tl.empty:
        return "<p class='meta'>（无 / none）</p>"
    people = list(tl.groupby("patient_id")["claim_id"].count().sort_values(ascending=False).index[:max_rows])
    people.sort()
    t0, t1 = tl["start_time"].min(), tl[["start_time", "end_time"]].max(axis=1).max()
    span = max((t1 - t0).total_seconds(), 86400.0)
    row_h, left = 14, 110
    height = 30 + row_h * len(people)

    def x(t: pd.Timestamp) -> float:
        return left + (t - t0).total_seconds() / span * (width - left - 10)

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}'>"]
    for i, p in enumerate(people):
        y = 10 + i * row_h
        parts.append(f"<text x='2' y='{y + 9}' font-size='8'>{html.escape(str(p))}</text><line x1='{left}' y1='{y + 6}' x2='{width - 10}' y2='{y + 6}' stroke='#eee'/>")
        for r in tl[tl["patient_id"] == p].itertuples(index=False):
            col = CLAIM_COLOURS.get(r.claim_type, "#777")
            if pd.notna(r.end_time) and r.end_time > r.start_time:
                parts.append(f"<rect x='{x(r.start_time):.1f}' y='{y + 2}' width='{max(x(r.end_time) - x(r.start_time), 2):.1f}' height='8' fill='{col}' opacity='0.7'/>")
            else:
                parts.append(f"<circle cx='{x(r.start_time):.1f}' cy='{y + 6}' r='3' fill='{col}'/>")
    parts.append(f"<text x='{left}' y='{height - 4}' font-size='8'>{t0:%Y-%m-%d}</text>")
    parts.append(f"<text x='{width - 70}' y='{height - 4}' font-size='8'>{t1:%Y-%m-%d}</text>")
    parts.append("</svg>")
    return "".join(parts)


def chromium_path() -> str | None:
    for name in (os.environ.get("GRAPHKIT_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def html_to_pdf(html_path: Path, pdf_path: Path, *, timeout: float = 120) -> None:
    """Typeset an HTML file to PDF with headless Chromium (offline, no header/footer)."""
    exe = chromium_path()
    if exe is None:
        raise GraphkitError("PDF needs Chromium (Debian: apt-get install chromium fonts-noto-cjk); or pass --no-pdf")
    with tempfile.TemporaryDirectory(prefix="graphkit-chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--no-pdf-header-footer",
               f"--user-data-dir={profile}", f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise GraphkitError(f"Chromium did not produce {pdf_path.name} within {timeout:.0f}s") from None
    if not pdf_path.exists() or pdf_path.stat().st_size == 0:
        raise GraphkitError(f"Chromium failed to write {pdf_path}: {out.stderr[-500:]}")


def paragraphs(lines: Iterable[str]) -> str:
    return "".join(f"<p>{l}</p>" for l in lines)
