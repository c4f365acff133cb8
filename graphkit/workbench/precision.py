"""Investigator feedback: precision per kind from confirmed / dismissed leads and a
suggested score threshold."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..findings import kind_label
from .tables import frame_html

__all__ = ["suggest_threshold", "precision_report", "precision_html"]


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
            "kind": kind, "kind_zh": kind_label(kind, "zh"),
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
