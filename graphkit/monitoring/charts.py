"""Charts of the supervision routines (matplotlib, imported on use, with a CJK font when one is
installed): budget pace, monthly indicators, inspection draws, review samples, penalties and the
yearly ranking (``plot_*``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .constants import _PROVIDER_COLS

__all__ = ["plot_budget_pace", "plot_indicators", "plot_inspection", "plot_review_sample", "plot_penalties", "plot_ranking"]


_CJK_FONTS = ("Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
              "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC")


def _plt():
    from ..extras import require_extra

    require_extra("lab", "matplotlib", part="graphkit.monitoring charts (图表 / charts)")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [f for f in _CJK_FONTS if f in have]
    if cjk:
        plt.rcParams["font.family"] = [*cjk[:1], "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    return plt, bool(cjk)


def _t(zh: str, en: str, cjk: bool) -> str:
    return f"{zh} / {en}" if cjk else en


def _done(plt, fig):
    fig.tight_layout()
    plt.close(fig)  # shown once when returned to a notebook, not again by pyplot
    return fig


def plot_budget_pace(pace: pd.DataFrame, *, providers: int = 8, warn_above: float = 0.05, refuse_above: float = 0.10):
    """Line chart of the deviation from budget pace per month for the ``providers`` most over pace
    at the latest month.

    Examples
    --------
    >>> import pandas as pd
    >>> pace = pd.DataFrame({"provider_type": ["institution"] * 2, "provider_id": ["H1"] * 2, "year": [2024] * 2,
    ...     "month": ["2024-01", "2024-02"], "deviation": [0.12, 0.07]})
    >>> plot_budget_pace(pace).axes[0].get_ylabel()[-9:]
    'deviation'
    """
    plt, cjk = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    if len(pace):
        p = pace.sort_values(["provider_type", "provider_id", "year", "month"], kind="stable")
        latest = p.groupby(["provider_type", "provider_id", "year"])["deviation"].last().sort_values(ascending=False)
        for (t, i, y), _ in latest.head(providers).items():
            d = pace[(pace["provider_type"] == t) & (pace["provider_id"] == i) & (pace["year"] == y)]
            ax.plot(d["month"].astype(str), d["deviation"] * 100, marker="o", label=f"{i} ({y})")
        ax.legend(fontsize=8, ncol=2)
    ax.axhline(warn_above * 100, color="orange", ls="--", lw=1)
    ax.axhline(refuse_above * 100, color="red", ls="--", lw=1)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel(_t("超序时进度 %", "% deviation", cjk))
    ax.set_title(_t("预算序时进度（超 5% 约谈提醒，超 10% 拒付）", "Budget pace (warn > +5 %, refuse > +10 %)", cjk))
    ax.tick_params(axis="x", rotation=45)
    return _done(plt, fig)


def plot_indicators(indicators: pd.DataFrame, focus: pd.DataFrame | None = None):
    """Monthly totals (visits, admissions, fund spend) and the focus list's values.

    Examples
    --------
    >>> import pandas as pd
    >>> ind = pd.DataFrame({"provider_type": ["institution"], "provider_id": ["H1"], "month": ["2024-01"],
    ...     "visits": [3], "admissions": [1], "fund_spend": [10.0]})
    >>> len(plot_indicators(ind).axes)  # totals, their twin axis, focus list
    3
    """
    plt, cjk = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    tot = indicators.groupby("month")[["visits", "admissions", "fund_spend"]].sum() if len(indicators) else None
    ax = axes[0]
    if tot is not None:
        ax.bar(tot.index.astype(str), tot["fund_spend"] / 1e4, color="#4c78a8")
        ax2 = ax.twinx()
        ax2.plot(tot.index.astype(str), tot["visits"], color="#f58518", marker="o", label="visits")
        ax2.plot(tot.index.astype(str), tot["admissions"] * 10, color="#54a24b", marker="s", label="admissions ×10")
        ax2.legend(fontsize=8, loc="upper left")
        ax.tick_params(axis="x", rotation=45)
    ax.set_ylabel(_t("基金支出(万元)", "fund spend (10k yuan)", cjk))
    ax.set_title(_t("月度总量", "Monthly totals", cjk))
    ax = axes[1]
    if focus is not None and len(focus):
        lab = focus["criterion"].astype(str) + " #" + focus["rank"].astype(str) + " " + focus["provider_id"].astype(str)
        if "department" in focus.columns:
            lab = lab + " " + focus["department"].astype(str)
        share = focus.groupby("criterion")["value"].transform(lambda s: s / s.abs().max() if s.abs().max() else s)
        colors = focus["criterion"].map({"visits": "#f58518", "cost_growth": "#e45756", "fund_spend": "#4c78a8"})
        ax.barh(lab[::-1], share[::-1], color=colors[::-1])
        ax.set_xlabel(_t("相对于本指标最大值", "relative to the criterion's top value", cjk))
    ax.set_title(_t("重点审核名单", "Focus list", cjk))
    return _done(plt, fig)


def plot_inspection(candidates: pd.DataFrame, draw: pd.DataFrame):
    """Selection weight of every candidate (sorted), the drawn targets highlighted.

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"provider_type": ["institution"] * 2, "provider_id": ["H1", "H2"], "weight": [1.0, 3.0]})
    >>> d = c.iloc[[1]]
    >>> len(plot_inspection(c, d).axes)
    1
    """
    plt, cjk = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.8))
    c = candidates.sort_values("weight", ascending=False, kind="stable").reset_index(drop=True)
    hit = pd.MultiIndex.from_frame(c[_PROVIDER_COLS].astype(str)).isin(
        pd.MultiIndex.from_frame(draw[_PROVIDER_COLS].astype(str)))
    ax.bar(np.arange(len(c)), c["weight"], color=np.where(hit, "#e45756", "#bab0ac"), width=1.0)
    for x in np.flatnonzero(hit):
        ax.annotate(str(c["provider_id"].iloc[x]), (x, c["weight"].iloc[x]), fontsize=7, rotation=90,
                    xytext=(0, 3), textcoords="offset points", ha="center")
    ax.set_xlabel(_t("候选机构（按权重排序）", "candidates by weight", cjk))
    ax.set_ylabel(_t("抽取权重", "selection weight", cjk))
    ax.set_title(_t("双随机抽取：红色为抽中对象", "Double-random draw: drawn targets in red", cjk))
    return _done(plt, fig)


def plot_review_sample(sample: pd.DataFrame, *, manual_threshold: float = 50_000.0):
    """Amounts of the sampled claims by reason (log scale), with the manual threshold.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"total_amount": [100.0, 60000.0], "reason": ["random_inpatient", "manual_large"]})
    >>> len(plot_review_sample(s).axes)
    1
    """
    plt, cjk = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for reason, color in (("random_inpatient", "#4c78a8"), ("manual_large", "#e45756"),
                          ("random_inpatient;manual_large", "#b279a2")):
        v = sample.loc[sample["reason"] == reason, "total_amount"]
        if len(v):
            ax.hist(np.log10(v.clip(lower=1)), bins=30, alpha=0.7, color=color, label=f"{reason} ({len(v)})")
    ax.axvline(np.log10(manual_threshold), color="red", ls="--", lw=1)
    ax.set_xlabel(_t("费用 log10(元)", "amount, log10(yuan)", cjk))
    ax.set_ylabel(_t("结算单数", "claims", cjk))
    ax.set_title(_t("审核抽查样本", "Review sample", cjk))
    if len(sample):
        ax.legend(fontsize=8)
    return _done(plt, fig)


def plot_penalties(pen: pd.DataFrame):
    """Violation and penalty amounts per tier.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({"tier": ["≤10,000"], "amount": [100.0], "penalty_amount": [200.0]})
    >>> len(plot_penalties(p).axes)
    1
    """
    plt, cjk = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if len(pen):
        g = pen.groupby("tier", sort=False)[["amount", "penalty_amount"]].sum()
        g = g.loc[pen.groupby("tier")["amount"].min().sort_values(kind="stable").index]  # tiers are amount ranges: lowest first
        x = np.arange(len(g))
        ax.bar(x - 0.2, g["amount"] / 1e4, 0.4, label=_t("违规金额", "violation", cjk), color="#4c78a8")
        ax.bar(x + 0.2, g["penalty_amount"] / 1e4, 0.4, label=_t("罚款", "penalty", cjk), color="#e45756")
        ax.set_xticks(x, g.index.astype(str))
        ax.legend(fontsize=8)
    ax.set_ylabel(_t("万元", "10k yuan", cjk))
    ax.set_title(_t("按金额档次的罚款", "Penalties by amount tier", cjk))
    return _done(plt, fig)


def plot_ranking(yearly: pd.DataFrame, bottom: pd.DataFrame):
    """Yearly scores per provider type (sorted), the bottom of the ranking in red.

    Examples
    --------
    >>> import pandas as pd
    >>> y = pd.DataFrame({"provider_type": ["pharmacy"] * 2, "provider_id": ["Y1", "Y2"], "year": 2024,
    ...                   "score": [90.0, 99.0]})
    >>> len(plot_ranking(y, y.iloc[[0]]).axes)
    1
    """
    plt, cjk = _plt()
    types = [t for t in ("institution", "pharmacy") if (yearly["provider_type"] == t).any()] or ["institution"]
    fig, axes = plt.subplots(1, len(types), figsize=(5.5 * len(types), 3.5), squeeze=False)
    low = set(zip(bottom["provider_type"].astype(str), bottom["provider_id"].astype(str)))
    for ax, t in zip(axes[0], types):
        g = yearly[yearly["provider_type"] == t].sort_values("score", kind="stable")
        hit = [(t, str(i)) in low for i in g["provider_id"]]
        ax.bar(np.arange(len(g)), g["score"], color=np.where(hit, "#e45756", "#72b7b2"), width=1.0)
        ax.set_ylim(max(0, float(g["score"].min()) - 10) if len(g) else 0, 100)
        ax.set_title(_t("年度评分末位（红）", "Yearly score, bottom in red", cjk) + f": {t}")
    return _done(plt, fig)
