"""Peer groups, empirical-Bayes shrinkage and one-sided, bounded indicator excess.

Peer groups (finest first; an entity falls back to a coarser group for an indicator when fewer
than ``min_peers`` entities of its group have that indicator):

* institutions: kind × level × ownership × region → kind × level × ownership → kind × level →
  kind → all institutions;
* pharmacies: chain/independent × region → chain/independent → all pharmacies;
* doctors: department × level of their institution → department → level → all doctors;
* providers in another city (``locality`` ``away``: no insured person lives in their region) and
  their doctors form groups of their own at every level; one without ``min_peers`` such peers at
  any level is not compared at all.

Shrinkage (empirical Bayes, per indicator and peer group): a rate ``k/n`` becomes
``(k + n0·p0)/(n + n0)`` with ``p0`` the pooled peer rate and ``n0 = p0(1-p0)/τ²`` (τ² the
between-provider variance left after subtracting binomial noise, method of moments); a mean
``sum/n`` becomes ``(sum + n0·m0)/(n + n0)`` with ``n0 = σ²/τ²`` (σ² the pooled within-provider
variance). A clinic with 3 visits is pulled almost all the way to its peers; a hospital with
30,000 keeps its own value. When providers do not differ beyond noise (τ² ≈ 0) everyone is
pulled to the peer value and the indicator carries no signal, as it should.

Excess: ``z = (shrunk − median)/scale`` with the median and ``1.4826·MAD`` of the raw values
of the peers that are measured well (shrink weight ≥ ½), the scale floored at the sampling
noise of a peer of median size (a MAD of 0 must not make every event infinite). τ (moments, not
robust: outliers are real between-provider variance) sets the shrinkage; the robust MAD sets
the scale, so the outliers being looked for do not hide themselves by widening it. Only the
part beyond a fence counts: ``excess = max(0, z − fence)`` — one-sided (only the risky
direction) and in robust SD units. The fence is Tukey's (Q3 + 1.5 IQR, ``z = 2.698`` for normal
data, a 0.35 % one-sided false-alarm rate) made Bonferroni over the ``K`` indicator families an
entity has, so the entity as a whole keeps that rate: ``fence = Φ⁻¹(1 − 0.0035/K)`` (≈ 3.5 for
K = 10).

Examples
--------
>>> import numpy as np
>>> k, n = np.array([0.0, 1, 2, 30, 1]), np.array([10.0, 10, 10, 10, 1000])
>>> s = shrink_rates(k, n)
>>> bool(s[3] > s[2] > s[0]), bool(abs(s[4] - 0.001) < 0.01)
(True, True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from .indicators import INDICATORS

__all__ = ["peer_levels", "indicator_excess", "shrink_rates", "shrink_means", "FENCE_Z", "FAMILIES"]

#: Tukey's outer fence Q3 + 1.5·IQR in SD units for normal data: 0.6745 + 1.5 × 1.349
FENCE_Z = 2.698
_MAD = 1.4826

#: indicators that measure the same thing count once together (each gets 1/|family|)
FAMILIES: dict[str, str] = {
    "cost_outpatient": "cost", "cost_inpatient": "cost", "cost_pharmacy": "cost",
    "fund_per_patient": "fund_per_patient", "visits_per_person": "visits_per_person",
    "admission_rate": "admission", "length_of_stay": "length_of_stay",
    "readmit_15d": "readmission", "readmit_30d": "readmission",
    "weekend_share": "timing", "night_share": "timing", "out_of_area_share": "out_of_area",
    "top_doctor_share": "concentration", "implausible_dx_share": "case_mix", "elderly_share": "case_mix",
    "post_death_share": "post_death",
    "drug_share": "items", "material_share": "items", "exam_share": "items", "non_medical_share": "items",
}


def _s(x: pd.Series) -> pd.Series:
    return x.astype(object).where(x.notna(), "?").astype(str)


def _level(v: object) -> object:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return v
    return None if np.isnan(f) else str(int(f)) if f.is_integer() else str(f)


def peer_levels(entities: pd.DataFrame) -> list[pd.Series]:
    """Peer-group labels per entity, finest level first (same length list for every type).

    >>> ent = pd.DataFrame({"entity_type": ["institution", "pharmacy"], "kind": ["clinic", None],
    ...     "level": [1, None], "ownership": ["private", None], "region": ["A", "B"], "chain": [None, "X"],
    ...     "department": [None, None]})
    >>> [lv.tolist() for lv in peer_levels(ent)][0]
    ['institution|clinic|L1|private|A', 'pharmacy|chain|B']
    """
    t = entities["entity_type"].astype(str)
    kind, own, reg = _s(entities["kind"]), _s(entities["ownership"]), _s(entities["region"])
    lvl = "L" + _s(entities["level"].astype(object).map(_level))
    chain = np.where(entities["chain"].notna() & (entities["chain"].astype(str).str.strip() != ""), "chain", "independent")
    chain = pd.Series(chain, index=entities.index)
    dept = _s(entities["department"])
    inst = [t + "|" + kind + "|" + lvl + "|" + own + "|" + reg, t + "|" + kind + "|" + lvl + "|" + own,
            t + "|" + kind + "|" + lvl, t + "|" + kind, t]
    phar = [t + "|" + chain + "|" + reg, t + "|" + chain, t + "|" + chain, t + "|" + chain, t]
    doc = [t + "|" + dept + "|" + lvl, t + "|" + dept, t + "|" + lvl, t + "|" + lvl, t]
    # providers in another city (and their doctors) are peers only of each other (:func:`_away`)
    away = np.where(_away(entities), "|away", "")
    out = []
    for a, b, c in zip(inst, phar, doc):
        out.append(pd.Series(np.where(t == "institution", a, np.where(t == "pharmacy", b, c)), index=entities.index) + away)
    return out


def _away(entities: pd.DataFrame) -> np.ndarray:
    """Entities whose ``locality`` is ``away`` (see :func:`graphkit.risk.activity.localities`)."""
    if "locality" not in entities.columns:
        return np.zeros(len(entities), bool)
    return (entities["locality"].astype(object) == "away").to_numpy(bool)


def shrink_rates(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Empirical-Bayes shrunk rates of one peer group (beta-binomial, method of moments)."""
    shrunk, _, _ = _rates(k, n)
    return shrunk


def _rates(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    p0 = float(k.sum() / n.sum()) if n.sum() > 0 else 0.0
    p = k / n
    noise = float(np.mean(p0 * (1 - p0) / n))
    tau2 = max(float(np.var(p)) - noise, 0.0) if p.size > 1 else 0.0
    var0 = p0 * (1 - p0)
    n0 = var0 / tau2 if tau2 > 1e-12 else (1e12 if var0 > 0 else 0.0)
    w = n / (n + n0) if n0 > 0 else np.ones_like(n)
    return (k + n0 * p0) / (n + n0) if n0 > 0 else p, w, tau2


def shrink_means(s: np.ndarray, ss: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Empirical-Bayes shrunk means of one peer group (normal-normal, method of moments).

    >>> import numpy as np
    >>> m = shrink_means(np.array([10.0, 1000, 100]), np.array([100.0, 100000, 10000]), np.array([10.0, 100, 1]))
    >>> bool(abs(m[2] - 100) > 0.0), bool(m[2] < 100)
    (True, True)
    """
    shrunk, _, _ = _means(s, ss, n)
    return shrunk


def _means(s: np.ndarray, ss: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    m = s / n
    m0 = float(s.sum() / n.sum())
    dof = n.sum() - n.size
    within = float((ss - s * s / n).sum() / dof) if dof > 0 else 0.0
    within = max(within, 0.0)
    noise = float(np.mean(within / n))
    tau2 = max(float(np.var(m)) - noise, 0.0) if m.size > 1 else 0.0
    n0 = within / tau2 if tau2 > 1e-12 else (1e12 if within > 0 else 0.0)
    w = n / (n + n0) if n0 > 0 else np.ones_like(n)
    return (s + n0 * m0) / (n + n0) if n0 > 0 else m, w, tau2


#: the columns of :func:`_stats`
_STATS = ("shrunk", "weight", "peer_median", "peer_scale", "peer_size", "tau")


def _stats(n: np.ndarray, s: np.ndarray, sumsq: np.ndarray, raw: np.ndarray, kind: str) -> tuple:
    """One peer group's shrunk values and weights, and its median, scale, size and τ."""
    if kind == "rate":
        shrunk, w, tau2 = _rates(s, n)
    else:
        shrunk, w, tau2 = _means(s, sumsq, n)
    good = w >= 0.5
    ref = raw[good] if good.sum() >= 3 else raw
    med = float(np.median(ref))
    mad = float(np.median(np.abs(ref - med))) * _MAD
    # floor: the sampling noise of a typical peer (a MAD of 0 must not make every event infinite)
    n_med = float(np.median(n))
    if kind == "rate":
        p0 = float(s.sum() / n.sum())
        noise = np.sqrt(p0 * (1 - p0) / n_med)
    else:
        dof = n.sum() - n.size
        within = max(float((sumsq - s * s / n).sum() / dof), 0.0) if dof > 0 else 0.0
        noise = np.sqrt(within / n_med) if within > 0 else 0.0
    scale = max(mad, noise, 1e-9 * max(abs(med), 1.0))
    return shrunk, w, med, scale, int(n.size), float(np.sqrt(tau2))


def _all_group_stats(sub: pd.DataFrame, kind: str) -> dict[str, np.ndarray]:
    """:func:`_stats` of every peer group of ``sub``, per row (a group's rows in their order, as groupby)."""
    codes = pd.factorize(sub["peer_group"])[0]
    order = np.argsort(codes, kind="stable")
    end = np.cumsum(np.bincount(codes))
    cols = [sub[c].to_numpy(float) for c in ("n", "sum", "sumsq", "value")]
    out = {c: np.empty(len(sub), np.int64 if c == "peer_size" else float) for c in _STATS}
    for i in range(end.size):
        idx = order[end[i - 1] if i else 0:end[i]]
        for c, v in zip(_STATS, _stats(*(a[idx] for a in cols), kind)):
            out[c][idx] = v
    return out


def indicator_excess(ind: pd.DataFrame, entities: pd.DataFrame, *, min_peers: int = 10) -> pd.DataFrame:
    """Per (indicator, entity): peer group, shrunk value, peer median and scale, robust z and
    the one-sided excess beyond :data:`FENCE_Z`, plus the family weight.

    ``ind`` is :func:`graphkit.risk.indicators.provider_indicators`' frame.
    """
    cols = ["indicator", "row", "n", "value", "shrunk", "weight", "peer_group", "peer_size", "peer_median",
            "peer_scale", "z", "fence", "excess", "family_weight", "contribution"]
    if ind.empty:
        return pd.DataFrame(columns=cols)
    levels = peer_levels(entities)
    away = _away(entities)
    # each level's labels as objects and codes once: a label's peers are counted by a bincount
    lv_lab = [lv.to_numpy(object) for lv in levels]
    lv_code = [pd.factorize(lab)[0] for lab in lv_lab]
    parts = []
    for name, sub in ind.groupby("indicator", sort=False):
        sub = sub.copy()
        label = None
        rows = sub["row"].to_numpy()
        for lab_all, code_all in zip(lv_lab, lv_code):
            lab, code = lab_all[rows], code_all[rows]
            cnt = np.bincount(code)[code]
            if label is None:
                label = np.where(cnt >= min_peers, lab, None)
            else:
                label = np.where(pd.isna(label) & (cnt >= min_peers), lab, label)
        last = lv_lab[-1][rows]
        sub["peer_group"] = np.where(pd.isna(label), last, label).astype(str)
        # out-of-area providers without min_peers of their own kind are not compared: travellers'
        # and referred patients' care is unlike the city's, and the 就医地 bureau supervises it
        alone = pd.isna(label) & away[rows]
        if alone.any():
            sub = sub[~alone]
            if sub.empty:
                continue
        for c, v in _all_group_stats(sub, INDICATORS[name].kind).items():
            sub[c] = v
        parts.append(sub)
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    out["z"] = (out["shrunk"] - out["peer_median"]) / out["peer_scale"]
    fam = out["indicator"].map(FAMILIES)
    # Bonferroni over the indicator families an entity has: the fence keeps Tukey's one-test
    # false-alarm rate for the entity as a whole
    fam_code = pd.factorize(fam)[0].astype(np.int64)
    pairs = np.unique(out["row"].to_numpy(np.int64) * 64 + fam_code)
    k = np.bincount((pairs // 64).astype(np.int64))[out["row"].to_numpy(np.int64)].astype(float)
    out["fence"] = norm.isf(norm.sf(FENCE_Z) / np.maximum(k, 1.0))
    out["excess"] = np.maximum(out["z"] - out["fence"], 0.0)
    size = out.groupby([out["row"], fam])["indicator"].transform("size")
    out["family_weight"] = 1.0 / size
    out["contribution"] = out["excess"] * out["family_weight"]
    return out[cols]
