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

__all__ = ["page", "table_html", "graph_svg", "timeline_svg", "html_to_pdf", "chromium_path", "esc"]

COLOURS = {"patient": "#4e79a7", "card": "#59a14f", "doctor": "#f28e2b", "institution": "#e15759", "pharmacy": "#b07aa1", "terminal": "#9c755f"}

CSS = """
@page { size: A4; margin: 16mm 14mm; }
body { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", "Source Han Serif SC", "SimSun", serif; font-size: 10.5pt; color: #111; max-width: 60em; margin: 1.5em auto; line-height: 1.5; }
h1 { font-size: 18pt; text-align: center; margin: 0.2em 0 0.6em; }
h2 { font-size: 13pt; border-bottom: 1px solid #888; margin-top: 1.4em; }
h3 { font-size: 11pt; margin-bottom: 0.3em; }
table { border-collapse: collapse; width: 100%; margin: 0.4em 0 0.8em; font-size: 9pt; }
th, td { border: 1px solid #999; padding: 2px 4px; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta { color: #444; font-size: 9pt; }
.prov { font-size: 8pt; vertical-align: super; }
.box { border: 1px solid #999; padding: 0.5em 0.8em; margin: 0.5em 0; }
.doc { page-break-after: always; }
.sign { margin-top: 3em; text-align: right; }
svg text { font-family: "Noto Sans CJK SC", sans-serif; }
"""


def esc(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NaT:
        return ""
    if isinstance(x, float):
        return f"{x:,.2f}"
    if isinstance(x, pd.Timestamp):
        return x.strftime("%Y-%m-%d %H:%M")
    return html.escape(str(x))


def page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>{body}</body></html>"
    )


def table_html(df: pd.DataFrame, headers: dict[str, str] | None = None, limit: int | None = None) -> str:
    if df is None or df.empty:
        return "<p class='meta'>（无 / none）</p>"
    headers = headers or {c: c for c in df.columns}
    cols = [c for c in headers if c in df.columns]
    rows = df.head(limit) if limit else df
    out = ["<table><thead><tr>", *(f"<th>{html.escape(headers[c])}</th>" for c in cols), "</tr></thead><tbody>"]
    for r in rows[cols].itertuples(index=False):
        out.append("<tr>" + "".join(
            f"<td class='num'>{esc(v)}</td>" if isinstance(v, (int, float)) and not isinstance(v, bool) else f"<td>{esc(v)}</td>"
            for v in r) + "</tr>")
    out.append("</tbody></table>")
    if limit and len(df) > limit:
        out.append(f"<p class='meta'>仅列出前 {limit} 行，共 {len(df)} 行，完整清单见附件 / first {limit} of {len(df)} rows; the full list is attached.</p>")
    return "".join(out)


def graph_svg(g: nx.Graph, *, width: int = 760, height: int = 520, max_nodes: int = 120) -> str:
    """The evidence graph as an inline SVG (deterministic layout; the busiest nodes if large)."""
    if g.number_of_nodes() == 0:
        return "<p class='meta'>（无图 / no graph）</p>"
    if g.number_of_nodes() > max_nodes:
        keep = [n for n, _ in sorted(g.degree, key=lambda x: (-x[1], str(x[0])))[:max_nodes]]
        g = g.subgraph(keep).copy()
    pos = nx.spring_layout(g, seed=7, k=1.6 / math.sqrt(max(g.number_of_nodes(), 1)))
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    minx, maxx, miny, maxy = min(xs), max(xs), min(ys), max(ys)

    def sx(x: float) -> float:
        return 40 + (x - minx) / ((maxx - minx) or 1) * (width - 80)

    def sy(y: float) -> float:
        return 30 + (y - miny) / ((maxy - miny) or 1) * (height - 60)

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}'>"]
    for a, b, d in g.edges(data=True):
        w = 0.6 + min(float(d.get("claims", 1)), 10) * 0.3
        parts.append(f"<line x1='{sx(pos[a][0]):.1f}' y1='{sy(pos[a][1]):.1f}' x2='{sx(pos[b][0]):.1f}' y2='{sy(pos[b][1]):.1f}' stroke='#999' stroke-width='{w:.1f}'/>")
    for n, d in g.nodes(data=True):
        t = d.get("type", "")
        r = 7 if t in ("institution", "pharmacy") else 5
        parts.append(f"<circle cx='{sx(pos[n][0]):.1f}' cy='{sy(pos[n][1]):.1f}' r='{r}' fill='{COLOURS.get(t, '#777')}'/>")
        parts.append(f"<text x='{sx(pos[n][0]) + 8:.1f}' y='{sy(pos[n][1]) + 3:.1f}' font-size='8'>{html.escape(str(d.get('id', n)))}</text>")
    legend_x = 10
    for t, col in COLOURS.items():
        parts.append(f"<circle cx='{legend_x + 5}' cy='{height - 10}' r='4' fill='{col}'/><text x='{legend_x + 12}' y='{height - 7}' font-size='9'>{TYPE_LABEL[t]}</text>")
        legend_x += 110
    parts.append("</svg>")
    return "".join(parts)


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
