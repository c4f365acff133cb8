"""Data shapes: rule forms that need no catalogue (they work on item codes no KB holds).

Each learns what is usual from the bundle itself — what same-level providers charge for a
code, which codes are (almost) never billed twice a day anywhere, how much of a drug a person
takes per month, how long a dispensed quantity lasts — and flags what lies far outside it.
Thresholds are Tukey's far-out fence (Q3 + 3·IQR) unless the rule says otherwise: a
distribution-free bound that ordinary variation rarely crosses.

Examples
--------
>>> tukey_fence(np.array([10.0, 10.0, 11.0, 12.0]), 3.0)
15.0
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["peer_price", "data_repeat", "peer_quantity", "supply_overlap", "split_claims", "claim_count",
           "tukey_fence"]


def tukey_fence(x: np.ndarray, k: float) -> float:
    """``Q3 + k · IQR`` of ``x``."""
    q1, q3 = np.quantile(x, [0.25, 0.75])
    return float(q3 + k * (q3 - q1))


def _hits(rows, deduct) -> pd.DataFrame:
    return pd.DataFrame({"row": np.asarray(rows, dtype=np.int64), "deduct": np.asarray(deduct, dtype="float64")})


def codes_of(s: pd.Series) -> np.ndarray:
    from .shapes import codes_of as codes

    return codes(s)


def group_ids(sub: pd.DataFrame, keys: list[str]) -> np.ndarray:
    from .shapes import group_ids as gids

    return gids(sub, keys)


def _cats(sub: pd.DataFrame, rule, ctx) -> pd.DataFrame:
    from .shapes import _cats as cats

    return cats(sub, rule, ctx)


def _group_quantiles(df: pd.DataFrame, keys: list[str], col: str) -> pd.DataFrame:
    g = df.groupby(keys, sort=False, observed=True)[col]
    return pd.DataFrame({"q1": g.quantile(0.25), "q2": g.quantile(0.5), "q3": g.quantile(0.75), "n": g.size()})


def peer_price(sub, rule, ctx):
    """Unit price far above what providers of the same level (pharmacies as their own level)
    charge for the code: above ``max(Q3 + fence·IQR, median·(1 + min_rel))`` of the code's
    lines at that level, where at least ``min_lines`` lines from ``min_providers`` providers
    exist. 违规金额 = (price − Q3) × quantity."""
    from .shapes import _unit

    p = rule.params
    d = pd.DataFrame({"code": codes_of(sub["item_code"]), "lvl": sub["level"].fillna(0).to_numpy(),
                      "unit": _unit(sub), "prov": codes_of(sub["provider_id"])}, index=sub.index)
    d = d[np.isfinite(d["unit"])]
    q = _group_quantiles(d, ["code", "lvl"], "unit")
    q["provs"] = d.groupby(["code", "lvl"], sort=False)["prov"].nunique()
    q = q[(q["n"] >= int(p.get("min_lines", 30))) & (q["provs"] >= int(p.get("min_providers", 3)))]
    fence = np.maximum(q["q3"] + float(p.get("fence", 3.0)) * (q["q3"] - q["q1"]), q["q2"] * (1 + float(p.get("min_rel", 0.05))))
    q = q.assign(fence=fence)
    m = d.join(q[["fence", "q3"]], on=["code", "lvl"], how="inner")
    m = m[m["unit"] > m["fence"]]
    qty = sub["quantity"].reindex(m.index).fillna(1).clip(lower=1).to_numpy() if "quantity" in sub.columns else 1.0
    ded = np.minimum((m["unit"] - m["q3"]).to_numpy() * qty, sub["amount"].reindex(m.index).to_numpy())
    return _hits(m.index, ded)


def data_repeat(sub, rule, ctx):
    """Codes (almost) never billed on two lines for one person on one day anywhere in the data —
    a share of repeated person-days at most ``max_share`` over at least ``min_support``
    person-days — billed twice a day: every line after the first of such a day.
    违规金额 = those lines' amounts."""
    p = rule.params
    gid = group_ids(sub, ["patient_id", "item_code", "iday"])
    n = np.bincount(gid)[gid]
    code = codes_of(sub["item_code"])
    dup = pd.Series(gid).duplicated().to_numpy()
    days = pd.DataFrame({"code": code, "rep": n > 1})[~dup]
    per = days.groupby("code")["rep"].agg(["mean", "size"])
    rare = per[(per["size"] >= int(p.get("min_support", 200))) & (per["mean"] <= float(p.get("max_share", 0.002)))].index
    hit = (n > 1) & np.isin(code, rare.to_numpy()) & dup & _notna(sub, ["patient_id", "item_code", "iday"])
    return _hits(sub.index[hit], sub["amount"].to_numpy()[hit])


def peer_quantity(sub, rule, ctx):
    """A person's quantity of a code in a calendar month far above the city's people of that
    code: above ``max(Q3 + fence·IQR, min_ratio·Q3)`` on the log scale, over at least
    ``min_patients`` person-months. 违规金额 = the excess share of the month's lines."""
    p = rule.params
    sub = _cats(sub, rule, ctx)
    sub = sub[sub["quantity"].fillna(0) > 0]
    gid = group_ids(sub, ["patient_id", "item_code", "month"])
    tot = pd.Series(sub["quantity"].to_numpy("float64")).groupby(gid, sort=False).transform("sum").to_numpy()
    tot = np.where(_notna(sub, ["patient_id", "item_code", "month"]), tot, np.nan)
    code = codes_of(sub["item_code"])
    pm = pd.DataFrame({"code": code, "lq": np.log(tot)})[~pd.Series(gid).duplicated().to_numpy()]
    q = _group_quantiles(pm, ["code"], "lq")
    q = q[q["n"] >= int(p.get("min_patients", 30))]
    lim = np.maximum(q["q3"] + float(p.get("fence", 3.0)) * (q["q3"] - q["q1"]),
                     q["q3"] + np.log(float(p.get("min_ratio", 2.0))))
    per = np.full(int(code.max(initial=-1)) + 2, np.nan)
    per[lim.index.to_numpy() + 1] = lim.to_numpy("float64")
    lim = np.exp(per[code + 1])
    hit = tot > lim
    ded = sub["amount"].to_numpy() * np.where(hit, (tot - lim) / tot, 0)
    return _hits(sub.index[hit], ded[hit])


def _inferred_supply(sub: pd.DataFrame, min_patients: int, max_spread: float = 0.5) -> np.ndarray:
    """Days a line's quantity lasts, from the data: per code, the median quantity per line
    over the median interval between a person's consecutive purchases of it — only for codes
    refilled regularly (interquartile range of those intervals at most ``max_spread`` × their
    median: taken continuously, like a chronic drug); NaN for the others (an acute drug bought
    now and then says nothing of how fast it is used)."""
    pat, code = codes_of(sub["patient_id"]), codes_of(sub["item_code"])
    day = sub["sday"].to_numpy()
    o = np.lexsort((day, code, pat))
    pat_o, code_o, day_o = pat[o], code[o], day[o]
    same = (pat_o[1:] == pat_o[:-1]) & (code_o[1:] == code_o[:-1])
    gap = np.diff(day_o)
    g = pd.DataFrame({"code": code_o[1:][same], "gap": gap[same], "pat": pat_o[1:][same]})
    g = g[g["gap"] > 0]
    gg = g.groupby("code")["gap"]
    per = pd.DataFrame({"gap": gg.median(), "pats": g.groupby("code")["pat"].nunique(),
                        "spread": gg.quantile(0.75) - gg.quantile(0.25)})
    per = per[(per["pats"] >= min_patients) & (per["spread"] <= max_spread * per["gap"])]
    qty = sub["quantity"].to_numpy("float64")
    qmed = pd.Series(qty).groupby(code).median()
    rate = (qmed.reindex(per.index) / per["gap"]).replace(0, np.nan)  # units per day
    r = np.full(int(code.max(initial=-1)) + 2, np.nan)
    r[rate.index.to_numpy() + 1] = rate.to_numpy("float64")  # index 0: a null code
    return qty / r[code + 1]


def supply_overlap(sub, rule, ctx):
    """The same person gets the same code again before the last supply ran out: next claim day
    < previous day + previous days supply − ``grace_days``, by at least ``min_overlap_days``.
    Days supply is the billed ``days_supply``; with ``infer = true`` it is inferred from the
    dispensed quantity where missing (:func:`_inferred_supply`). 违规金额 = the later line's
    amount × overlapped days / its days supply."""
    p = rule.params
    sub = _cats(sub, rule, ctx) if p.get("categories") else sub
    ds = sub["days_supply"].to_numpy("float64") if "days_supply" in sub.columns else np.full(len(sub), np.nan)
    if p.get("infer"):
        inf = _inferred_supply(sub, int(p.get("min_patients", 30)), float(p.get("max_gap_spread", 0.5)))
        ds = np.where(np.isnan(ds), inf, ds)
    ok = np.isfinite(ds) & (ds > 0)
    s = pd.DataFrame({"pat": codes_of(sub["patient_id"])[ok], "code": codes_of(sub["item_code"])[ok],
                      "day": sub["sday"].to_numpy()[ok], "ci": sub["ci"].to_numpy()[ok], "ds": ds[ok],
                      "amt": sub["amount"].to_numpy()[ok], "row": sub.index[ok].to_numpy()})
    if not len(s):
        return _hits([], [])
    # one supply per claim and code (lines of one prescription add up); codes sort like the values
    s = s.groupby(["pat", "code", "ci"], sort=False).agg(day=("day", "first"), ds=("ds", "sum"),
                                                          row=("row", "first"), amt=("amt", "sum"))
    s = s.reset_index()
    s = s.iloc[np.lexsort((s["ci"].to_numpy(), s["day"].to_numpy(), s["code"].to_numpy(), s["pat"].to_numpy()))]
    same = np.r_[False, (s["pat"].to_numpy()[1:] == s["pat"].to_numpy()[:-1]) &
                 (s["code"].to_numpy()[1:] == s["code"].to_numpy()[:-1])]
    # supply end carried forward: a person's running end of cover for the code
    end = (s["day"] + s["ds"]).to_numpy("float64")
    grp = np.cumsum(~same)
    run_end = pd.Series(end).groupby(grp).cummax().to_numpy()
    prev_end = np.r_[np.nan, run_end[:-1]]
    overlap = np.where(same, prev_end - s["day"].to_numpy(), 0)
    hit = same & (overlap > float(p.get("grace_days", 3))) & (overlap >= float(p.get("min_overlap_days", 1)))
    ds_l = s["ds"].to_numpy()
    ded = s["amt"].to_numpy() * np.minimum(overlap, ds_l) / ds_l
    return _hits(s["row"].to_numpy()[hit], ded[hit])


def _notna(sub: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Rows whose ``keys`` are all known (a grouping drops the others)."""
    return sub[keys].notna().all(axis=1).to_numpy()


def _distinct_per_group(gid: np.ndarray, val: np.ndarray) -> np.ndarray:
    """Per row: the number of distinct ``val`` in its group ``gid``."""
    pairs = pd.DataFrame({"g": gid, "v": val}).drop_duplicates()
    return np.bincount(pairs["g"].to_numpy(), minlength=int(gid.max(initial=-1)) + 1)[gid]


def split_claims(sub, rule, ctx):
    """One code on ``min_claims`` or more claims of one person at one provider on one day:
    every line not on the day's first claim. 违规金额 = those lines' amounts."""
    sub = _cats(sub, rule, ctx)
    key = ["patient_id", "provider_id", "sday", "item_code"]
    gid = group_ids(sub, key)
    ci = sub["ci"].to_numpy()
    n = _distinct_per_group(gid, ci)
    first = pd.Series(ci).groupby(gid, sort=False).transform("min").to_numpy()
    hit = (n >= int(rule.params.get("min_claims", 2))) & (ci != first) & _notna(sub, key)
    return _hits(sub.index[hit], sub["amount"].to_numpy()[hit])


def claim_count(sub, rule, ctx):
    """``min_claims`` or more claims (of ``claim_types``) of one person at one provider on one
    day: the item lines of every claim after the day's first. 违规金额 = their amounts."""
    types = rule.params.get("claim_types")
    if types:
        sub = sub[sub["claim_type"].isin(list(types))]
    key = ["patient_id", "provider_id", "sday"]
    gid = group_ids(sub, key)
    ci = sub["ci"].to_numpy()
    n = _distinct_per_group(gid, ci)
    first = pd.Series(ci).groupby(gid, sort=False).transform("min").to_numpy()
    hit = (n >= int(rule.params.get("min_claims", 3))) & (ci != first) & _notna(sub, key)
    return _hits(sub.index[hit], sub["amount"].to_numpy()[hit])
