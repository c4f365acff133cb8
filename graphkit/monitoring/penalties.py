"""Penalties and yearly ranking (处罚与末位排名): the penalty tiers in force and the penalty
multiple and amount per violation by amount tier, from the dossier rulebook
(:func:`penalty_tiers`, :func:`penalties`); a transparent yearly assessment score per
institution and pharmacy, 100 minus deductions for risk, budget pace, violations and complaints
(:func:`yearly_scores`); and the bottom of the ranking per year and provider type
(:func:`bottom_ranking`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ParameterError
from .constants import DEFAULT_DEDUCTIONS, _PROVIDER_COLS
from .source import MonitoringError, _attach_counts, _count_by_provider, _empty, _table
from .inspection import inspection_candidates

__all__ = ["penalty_tiers", "penalties", "yearly_scores", "bottom_ranking"]


def _rulebook(rulebook: Any = None, tiers: Sequence[tuple[float | None, int]] | None = None):
    from ..dossier.rulebook import Rulebook

    rb = rulebook if isinstance(rulebook, Rulebook) else Rulebook.load(rulebook)
    if tiers is not None:
        t = [{"multiple": int(m)} if up is None else {"upto": float(up), "multiple": int(m)} for up, m in tiers]
        if not t or "upto" in t[-1]:
            raise ParameterError("tiers must end with (None, multiple): the last tier has no upper bound")
        rb = Rulebook({**rb.data, "penalty_tiers": t}, f"{rb.source} (tiers overridden)")
    return rb


def penalty_tiers(rulebook: Any = None, *, tiers: Sequence[tuple[float | None, int]] | None = None) -> pd.DataFrame:
    """The penalty tiers in force: tier label, lower (exclusive), upper (inclusive), multiple.

    Parameters
    ----------
    rulebook : Rulebook or path, optional
        Default: the rulebook shipped with graphkit (``graphkit/data/rulebook.toml``).
    tiers : sequence of (upper bound or None, multiple), optional
        Overrides the rulebook's tiers; the last has no bound.

    Examples
    --------
    >>> penalty_tiers(tiers=[(1000, 1), (None, 2)])[["tier", "multiple"]].to_dict("records")
    [{'tier': '≤1,000', 'multiple': 1}, {'tier': '>1,000', 'multiple': 2}]
    """
    rb = _rulebook(rulebook, tiers)
    rows, lo = [], 0.0
    for t in rb.data["penalty_tiers"]:
        up = float(t["upto"]) if "upto" in t else None
        label = f"≤{up:,.0f}" if up is not None else f">{lo:,.0f}"
        rows.append({"tier": label, "lower": lo, "upper": up if up is not None else np.inf, "multiple": int(t["multiple"])})
        lo = up if up is not None else lo
    return pd.DataFrame(rows)


def penalties(
    violations: pd.DataFrame,
    *,
    rulebook: Any = None,
    tiers: Sequence[tuple[float | None, int]] | None = None,
    amount_column: str = "amount",
) -> pd.DataFrame:
    """Penalty multiple and amount per violation by amount tier (reuses the dossier rulebook).

    Parameters
    ----------
    violations : DataFrame
        One row per violation with its amount (违规金额, yuan) in ``amount_column``; other
        columns (provider_id …) are kept.
    rulebook : Rulebook or path, optional
        Whose ``penalty_tiers`` apply (default: graphkit's rulebook: ≤10,000 → 2×,
        ≤50,000 → 3×, ≤100,000 → 4×, above → 5×).
    tiers : sequence of (upper bound or None, multiple), optional
        Configurable thresholds overriding the rulebook's.
    amount_column : str
        The amount column.

    Returns
    -------
    DataFrame
        The input plus tier, penalty_multiple, penalty_amount (= amount × multiple), recover (= amount).

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({"provider_id": ["H1", "H2", "H3"], "amount": [10000.0, 10000.01, 200000.0]})
    >>> penalties(v)[["amount", "penalty_multiple", "penalty_amount"]].to_dict("records")
    [{'amount': 10000.0, 'penalty_multiple': 2, 'penalty_amount': 20000.0}, {'amount': 10000.01, 'penalty_multiple': 3, 'penalty_amount': 30000.03}, {'amount': 200000.0, 'penalty_multiple': 5, 'penalty_amount': 1000000.0}]
    """
    if amount_column not in violations.columns:
        raise MonitoringError(f"violations need an {amount_column!r} column; got {list(violations.columns)}")
    rb = _rulebook(rulebook, tiers)
    tt = penalty_tiers(rb)
    out = violations.copy().reset_index(drop=True)
    amt = pd.to_numeric(out[amount_column]).astype("float64")
    if (amt < 0).any() or amt.isna().any():
        raise MonitoringError("violation amounts must be present and non-negative")
    mult = [rb.penalty_multiple(float(a)) for a in amt]
    idx = np.searchsorted(tt["upper"].to_numpy(), amt.to_numpy(), side="left")
    out["tier"] = pd.Series(tt["tier"].to_numpy()[np.minimum(idx, len(tt) - 1)], dtype="string")
    out["penalty_multiple"] = np.array(mult, dtype="int64")
    out["penalty_amount"] = (amt * out["penalty_multiple"]).round(2)
    out["recover"] = amt.round(2)
    return out


def yearly_scores(
    source: Any,
    year: int | None = None,
    *,
    scores: pd.DataFrame | None = None,
    pace: pd.DataFrame | None = None,
    violations: pd.DataFrame | None = None,
    complaints: pd.DataFrame | None = None,
    deductions: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """A transparent yearly assessment score (年度考核评分) per institution and pharmacy: 100 − deductions.

    Deductions (defaults in :data:`DEFAULT_DEDUCTIONS`): ``risk`` × the scan's risk score;
    ``warn``/``refuse`` for the worst budget-pace level of the year; ``violation`` per past
    violation (capped at ``violation_cap``); ``complaint`` per complaint (capped at
    ``complaint_cap``). Violations/complaints with a ``year`` column count only in that year.
    A bureau with its own assessment scores passes them to :func:`bottom_ranking` directly.

    Parameters
    ----------
    source : Store or mapping of DataFrames
        Where the institutions and pharmacies come from.
    year : int, optional
        The assessment year (default: the year of the last claim start).
    scores, pace, violations, complaints : DataFrame, optional
        Scan scores, :func:`budget_pace` output, violation and complaint rows.
    deductions : mapping, optional
        Overrides of :data:`DEFAULT_DEDUCTIONS`.

    Returns
    -------
    DataFrame
        provider_type, provider_id, year, score, risk_deduction, pace_deduction,
        violation_deduction, complaint_deduction.

    Examples
    --------
    >>> import pandas as pd
    >>> data = {"institutions": pd.DataFrame({"institution_id": ["H1", "H2"]})}
    >>> v = pd.DataFrame({"provider_id": ["H2", "H2"], "amount": [1.0, 2.0]})
    >>> yearly_scores(data, 2024, violations=v)[["provider_id", "score"]].to_dict("records")
    [{'provider_id': 'H1', 'score': 100.0}, {'provider_id': 'H2', 'score': 90.0}]
    """
    d = {**DEFAULT_DEDUCTIONS, **(deductions or {})}
    unknown = set(d) - set(DEFAULT_DEDUCTIONS)
    if unknown:
        raise ParameterError(f"unknown deduction(s) {sorted(unknown)}; known: {sorted(DEFAULT_DEDUCTIONS)}")
    if year is None:
        starts = _table(source, "claims", ["start_time"])["start_time"]
        if starts.notna().sum() == 0:
            raise MonitoringError("no claims: give the assessment year")
        year = int(starts.max().year)
    pop = inspection_candidates(source, scores=scores)[["provider_type", "provider_id", "score"]]
    pop = pop.rename(columns={"score": "_risk"})
    pop["year"] = int(year)
    pop["risk_deduction"] = (d["risk"] * pop["_risk"]).round(2)
    if pace is not None and len(pace):
        p = pace[pace["year"] == int(year)]
        worst = p.assign(_s=p["level"].map({"ok": 0.0, "warn": d["warn"], "refuse": d["refuse"]}).astype("float64")) \
                 .groupby(["provider_type", "provider_id"])["_s"].max()
        key = pd.MultiIndex.from_frame(pop[_PROVIDER_COLS].astype(object))
        worst.index = pd.MultiIndex.from_arrays([worst.index.get_level_values(0).astype(object),
                                                 worst.index.get_level_values(1).astype(object)])
        pop["pace_deduction"] = worst.reindex(key).fillna(0.0).to_numpy()
    else:
        pop["pace_deduction"] = 0.0
    v = _attach_counts(pop, _count_by_provider(violations, "violations", int(year)), "violations")
    c = _attach_counts(pop, _count_by_provider(complaints, "complaints", int(year)), "complaints")
    pop["violation_deduction"] = np.minimum(d["violation"] * v, d["violation_cap"]).round(2)
    pop["complaint_deduction"] = np.minimum(d["complaint"] * c, d["complaint_cap"]).round(2)
    pop["score"] = (100 - pop[["risk_deduction", "pace_deduction", "violation_deduction", "complaint_deduction"]]
                    .sum(axis=1)).clip(lower=0).round(2)
    return pop[["provider_type", "provider_id", "year", "score", "risk_deduction", "pace_deduction",
                "violation_deduction", "complaint_deduction"]].reset_index(drop=True)


def bottom_ranking(
    yearly: pd.DataFrame,
    *,
    pharmacy_share: float = 0.03,
    institution_share: float = 0.03,
    institution_min: int = 1,
    institution_max: int = 3,
    include_ties: bool = True,
) -> pd.DataFrame:
    """The bottom of the yearly ranking (末位): 3 % of pharmacies, 1–3 institutions by default.

    Per year and provider type, ``k`` = ``ceil(share × count)`` lowest scores (pharmacies at
    least 1; institutions clipped to ``[institution_min, institution_max]``). With
    ``include_ties`` every provider tied with the k-th score is listed too.

    Parameters
    ----------
    yearly : DataFrame
        provider_type, provider_id, year, score (higher is better), e.g. :func:`yearly_scores`.
    pharmacy_share, institution_share : float
        Shares of each type at the bottom.
    institution_min, institution_max : int
        Bounds on the number of institutions.
    include_ties : bool
        List providers tied with the last one too.

    Returns
    -------
    DataFrame
        provider_type, provider_id, year, score, rank (1 = lowest), of (providers of that type
        ranked) and the other input columns.

    Examples
    --------
    >>> import pandas as pd
    >>> y = pd.DataFrame({"provider_type": ["pharmacy"] * 40, "provider_id": [f"Y{i:02d}" for i in range(40)],
    ...                   "year": 2024, "score": [float(i) for i in range(40)]})
    >>> bottom_ranking(y)[["provider_id", "rank", "of"]].to_dict("records")
    [{'provider_id': 'Y00', 'rank': 1, 'of': 40}, {'provider_id': 'Y01', 'rank': 2, 'of': 40}]
    """
    if not (0 <= pharmacy_share <= 1 and 0 <= institution_share <= 1) or not (0 <= institution_min <= institution_max):
        raise ParameterError("shares must be in [0, 1] and 0 <= institution_min <= institution_max")
    need = {"provider_type", "provider_id", "year", "score"}
    if not need <= set(yearly.columns):
        raise MonitoringError(f"yearly scores need columns {sorted(need)}; got {list(yearly.columns)}")
    parts = []
    for (year, typ), g in yearly.groupby(["year", "provider_type"], sort=True):
        n = len(g)
        if typ == "pharmacy":
            k = max(1, math.ceil(round(pharmacy_share * n, 9)))
        else:
            k = min(max(math.ceil(round(institution_share * n, 9)), institution_min), institution_max)
        k = min(k, n)
        if k == 0:
            continue
        g = g.sort_values(["score", "provider_id"], kind="stable").reset_index(drop=True)
        g["rank"] = np.arange(1, n + 1)
        cut = g["score"].iloc[k - 1]
        sel = g[(g["score"] <= cut)] if include_ties else g.head(k)
        parts.append(sel.assign(of=n))
    cols = ["provider_type", "provider_id", "year", "score", "rank", "of"]
    if not parts:
        return _empty(cols)
    out = pd.concat(parts, ignore_index=True)
    rest = [c for c in out.columns if c not in cols]
    return out[cols + rest]
