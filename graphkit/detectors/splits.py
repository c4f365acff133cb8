"""``split_stay`` (分解住院): discharge and re-admission for the same diagnosis group at the same
or a *linked* institution, sooner than this city's own readmissions make likely.

Candidates
    A patient's consecutive inpatient stays (projection ``inpatient_admissions``) form a *step*
    when the next admission is ``0..window_days`` calendar days after the discharge day and has
    the same ICD-10 3-character group. Steps chain; a chain with ``min_stays`` stays is a
    candidate (the rulebook's "repeatedly"), and so is a single re-admission at a *linked*
    institution (a move to the branch hides the split), measured against every discharge of the
    city. A single re-admission at the same hospital is the commonest legitimate look-alike and
    is never reported alone. The institution of the next stay is the ``same``, a ``linked`` one
    (same name stem — …分院, 东院区 —, group column, shared doctor roster or frequent transfers:
    :mod:`._links`) or ``other`` (chained only with ``chain_unlinked``).

Null (calibrated on the bundle)
    For every discharge of the city, the gap to the person's next stay of the same group in each
    relation class r (same / linked — measured on discharges of institutions with a partner —
    / other) gives the empirical ``F_r(g)``, the probability of a same-group re-admission within
    ``g`` days. It is estimated per diagnosis group × peer group (the discharging institution's
    level and kind), empirical-Bayes shrunk (beta-binomial method of moments) towards the group
    and the city, leaving the chain's own stays out and iterated without the chains it flags. A
    step's p-value is ``F_r(gap)``, a chain's the product; the score is
    :func:`~._common.tiered_score` (Bonferroni over the candidate chains, over every discharge
    for a single branch re-admission) times the benign factor: beyond the bar ≥ 0.05, below it
    < 0.05 and listed only when the chain's own p ≤ ``report_p``. Chronic groups that readmit
    often score lower than the same gaps for a hernia, and a city where short re-admissions are
    common lowers every score.

Benign explanations (``evidence["benign_checks"]``)
    ``planned_cycle`` — regularly spaced admissions (coefficient of variation of the admission
    intervals ≤ ``regular_cv``) in a group that is planned treatment *in this data* (a majority
    of the city's regular same-group series, or oncology C00–D49, Z51 chemotherapy, N18/Z49
    dialysis, Z50 rehabilitation); ``day_care`` — every stay ≤ 1 day (日间病房);
    ``documented_transfer`` — a re-admission elsewhere that follows a referral within a day
    (转院) is not counted as a step; ``maternity`` — pregnancy groups (O, Z3x); and
    ``unrelated_diagnosis`` (always ruled out: steps need one group). Explains: × ``benign_weight``;
    partly: × √``benign_weight``.

Keyed on the patient and the chain's institutions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..findings import Entity, Finding
from ..params import Param
from . import register
from ._common import benign_check, benign_factor, report_p_param, surprise, tiered_score, yuan
from ._links import institution_links

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["split_stays", "dx_group", "readmission_null"]

DAY_S = 86_400
#: diagnosis groups of planned treatment by code: oncology, chemotherapy/radiotherapy sessions,
#: dialysis, rehabilitation
PLANNED_CODES = ("C", "Z51", "Z49", "N18", "Z50")


def dx_group(codes: pd.Series) -> pd.Series:
    """ICD-10 3-character diagnosis group of each code (trimmed, upper case; null stays null).

    >>> dx_group(pd.Series([" i63.9", "J44", None])).tolist()
    ['I63', 'J44', <NA>]
    """
    return codes.astype("string").str.strip().str.upper().str[:3]


def _planned_code(g: str | None) -> bool:
    """Oncology C00–D49, Z51 (chemo/radiotherapy), Z49/N18 (dialysis), Z50 (rehabilitation).

    >>> [_planned_code(g) for g in ("C34", "D48", "D50", "Z51", "N18", "M54", None)]
    [True, True, False, True, True, False, False]
    """
    if not g or len(g) < 3:
        return False
    if g[0] == "D" and g[1:3].isdigit():
        return int(g[1:3]) <= 49
    return g.startswith(PLANNED_CODES)


def _maternity(g: str | None) -> bool:
    """Pregnancy, childbirth and the puerperium (O), supervision of pregnancy and contraception (Z30–Z39).

    >>> [_maternity(g) for g in ("O80", "Z34", "Z40", "I10")]
    [True, True, False, False]
    """
    return bool(g) and (g[0] == "O" or (g[0] == "Z" and g[1:2] == "3"))


def _stays(store: Store) -> pd.DataFrame:
    adm = store.projection("inpatient_admissions")
    adm = adm[adm["end_time"].notna() & adm["patient_id"].notna() & adm["institution_id"].notna()]
    adm = adm.sort_values(["patient_id", "start_time", "claim_id"], kind="stable").reset_index(drop=True)
    return adm


def _eb_alpha(x: np.ndarray, n: np.ndarray, p: np.ndarray) -> float:
    """Empirical-Bayes prior strength (in discharges) of groups with ``x`` events of ``n`` around
    their parent rates ``p``: the method of moments of a beta-binomial, ``α = p(1-p)/τ² - 1``
    with ``τ²`` the between-group variance beyond binomial noise; no excess variance → groups
    are their parent (α large).

    >>> round(_eb_alpha(np.array([5., 5., 5.]), np.array([100., 100., 100.]), np.full(3, 0.05)))
    1000000
    >>> 5 < _eb_alpha(np.array([1., 30.]), np.array([100., 100.]), np.full(2, 0.155)) < 10
    True
    """
    ok = n > 0
    if ok.sum() < 2:
        return 1e6
    x, n, p = x[ok], n[ok], np.clip(p[ok], 1e-9, 1 - 1e-9)
    r = x / n
    w = n / n.sum()
    s = float(np.sum(w * (r - p) ** 2))
    noise = float(np.sum(w * p * (1 - p) / n))
    pbar = float(np.sum(w * p))
    tau2 = s - noise
    if tau2 <= 0:
        return 1e6
    return float(np.clip(pbar * (1 - pbar) / tau2 - 1.0, 1.0, 1e6))


#: relation classes of a re-admission and the discharges each is measured against
RELATIONS = ("same", "linked", "other")


def readmission_null(stays: pd.DataFrame, inst: pd.DataFrame, rel: np.ndarray, has_partner: np.ndarray, *,
                     window_days: int, drop: np.ndarray | None = None) -> dict[str, Any]:
    """Counts behind ``F_r(g)`` (module docstring) from stays sorted by patient and admission.

    ``rel[k]``: relation of stay ``k + 1`` to stay ``k`` (``same``/``linked``/``other``);
    ``has_partner[k]``: stay ``k``'s institution has a linked institution (the discharges a
    ``linked`` re-admission is measured against). ``drop``: stays left out of the counts (the
    chains a previous pass flagged, so splits do not raise their own bar). Per relation class: the gap of each discharge
    to a same-group re-admission within the window in that class (``-1``: none), and the
    cumulative event counts per (dx, peer), per dx and for the city, with the empirical-Bayes
    prior strength of each level.
    """
    W = int(window_days)
    p = stays["patient_id"].astype(str).to_numpy(object)
    d0 = stays["start_time"].to_numpy("datetime64[s]").astype("datetime64[D]").astype(np.int64)
    d1 = stays["end_time"].to_numpy("datetime64[s]").astype("datetime64[D]").astype(np.int64)
    dx = dx_group(stays["diagnosis_code"]).fillna("?").to_numpy(object)
    n = len(stays)
    gap = np.full(n, -1, np.int64)
    same_p = np.zeros(n, bool)
    if n > 1:
        same_p[:-1] = p[1:] == p[:-1]
        gap[:-1] = d0[1:] - d1[:-1]
    nxt_dx = np.append(dx[1:], "?").astype(object)
    ok = same_p & (gap >= 0) & (gap <= W) & (nxt_dx == dx) & (dx != "?")
    lv = inst.reindex(stays["institution_id"].astype(str).to_numpy(object))
    peer = (lv["level"].astype("string").fillna("?") + "|" + lv["kind"].astype("string").fillna("?")).to_numpy(object)
    keys = {"city": np.zeros(n, np.int64), "dx": pd.factorize(dx)[0],
            "dxp": pd.factorize(pd.Series(dx) + "\x00" + pd.Series(peer))[0]}
    keep = np.ones(n, bool) if drop is None else ~drop
    out: dict[str, Any] = {"dx": dx, "peer": peer, "gap": np.where(ok, gap, -1), "W": W, "N": n, "keep": keep}
    for r in RELATIONS:
        g = np.where(ok & (rel == r), gap, -1)
        base = (has_partner if r == "linked" else np.ones(n, bool)) & keep
        cnt: dict[str, Any] = {"g": g, "base": base}
        parent_rate = None
        for level, key in keys.items():
            k = int(key.max()) + 1 if n else 1
            hits = (g >= 0) & base
            c = np.zeros((k, W + 1))
            np.add.at(c, (key[hits], g[hits]), 1.0)
            tot = np.bincount(key[base], minlength=k).astype(float)
            cum = np.cumsum(c, axis=1)
            if parent_rate is None:
                alpha = 0.0
            else:
                # parent's rate at the window for each group (its first member's parent)
                first = pd.Series(np.arange(n)).groupby(key).first().reindex(range(k)).fillna(0).astype(int).to_numpy()
                pr = parent_rate[first]
                alpha = _eb_alpha(cum[:, W], tot, pr)
            cnt[level] = (key, cum, tot, alpha)
            parent_rate = (cum[:, W] / np.maximum(tot, 1.0))[key]
        out[r] = cnt
    return out


def _F(null: dict[str, Any], r: str, rows: np.ndarray, gaps: np.ndarray, own_rows: np.ndarray) -> np.ndarray:
    """Shrunk ``F_r(g)`` for discharges ``rows`` at ``gaps``, leaving the chain's own discharges
    (``own_rows``) out of every level."""
    floor = 0.5 / max(null["N"], 1)
    cnt = null[r]
    og, obase = cnt["g"][own_rows], cnt["base"][own_rows]  # base already excludes dropped stays
    est = None
    for level in ("city", "dx", "dxp"):
        key, cum, tot, alpha = cnt[level]
        k = key[rows]
        x = cum[k, gaps].copy()
        n = tot[k].copy()
        okey = key[own_rows]
        for j in range(len(rows)):
            same = (okey == k[j]) & obase
            n[j] -= same.sum()
            x[j] -= np.sum(same & (og >= 0) & (og <= gaps[j]))
        x, n = np.maximum(x, 0.0), np.maximum(n, 0.0)
        est = x / np.maximum(n, 1.0) if est is None else (x + alpha * est) / (n + alpha)
    return np.maximum(est, floor)


@register(
    "split_stay",
    [
        Param("window_days", 15, "int", low=0, high=90, doc="days from discharge to re-admission"),
        Param("min_stays", 3, "int", low=2, doc="stays in a chain (a single re-admission is reported only beyond the city-wide bar)"),
        Param("chain_unlinked", True, "bool", doc="also chain re-admissions at unlinked institutions (null: F_other)"),
        Param("regular_cv", 0.15, "float", low=0.0, high=1.0, doc="admission intervals this regular (coefficient of variation) are a schedule"),
        Param("benign_weight", 0.25, "float", low=0.0, high=1.0, doc="score factor when a legal explanation fits (partly: its square root)"),
        report_p_param("chains"),
    ],
    needs=("time:day",),
)
def split_stays(
    store: Store,
    *,
    window_days: int = 15,
    min_stays: int = 3,
    chain_unlinked: bool = True,
    regular_cv: float = 0.15,
    benign_weight: float = 0.25,
    report_p: float = 0.05,
) -> list[Finding]:
    """Repeated discharge and re-admission for one diagnosis group at the same or linked institutions.

    Examples
    --------
    >>> from graphkit.store import open_store                   # doctest: +SKIP
    >>> split_stays(open_store("store"))[0].evidence["null"]     # doctest: +SKIP
    """
    st = _stays(store)
    if len(st) < 2:
        return []
    links = institution_links(store, adm=st)
    inst = store.table("institutions", ["institution_id", "level", "kind"])
    inst = inst.assign(institution_id=inst["institution_id"].astype(str)).drop_duplicates("institution_id").set_index("institution_id")
    ii = st["institution_id"].astype(str).to_numpy(object)
    n = len(st)
    nxt_i = np.append(ii[1:], None).astype(object)
    rel = np.full(n, "other", dtype=object)
    basis = np.full(n, None, dtype=object)
    same_i = np.append(ii[1:] == ii[:-1], False)
    rel[same_i] = "same"
    diff = np.flatnonzero(~same_i[:-1])
    b = links.linked(ii[diff], nxt_i[diff])
    basis[diff] = b
    rel[diff[pd.notna(b)]] = "linked"
    has_partner = np.asarray(pd.Index(ii).isin(list(links.partnered())), dtype=bool)
    gap = readmission_null(st, inst, rel, has_partner, window_days=window_days)["gap"]
    step = gap >= 0
    if not chain_unlinked:
        step &= rel != "other"
    # a move to another institution within a day through a referral is a documented transfer
    # (转院): it links the stays but is no evidence of a split
    referred_next = np.append(st["referral_id"].notna().to_numpy()[1:], False)
    transfer = step & (rel != "same") & (gap <= 1) & referred_next
    new = np.r_[True, ~step[:-1]]
    chain = np.cumsum(new) - 1
    size = np.bincount(chain)
    starts = np.flatnonzero(new)
    chains = [np.arange(starts[ch], starts[ch] + size[ch]) for ch in np.flatnonzero(size >= 2)]
    # the null is estimated without the chains it flags (iterated), so splits do not raise their own bar
    city_bar = float(np.log10(max(n, 1)))

    def chain_kind(it: tuple) -> str | None:
        # min_stays stays ("chain"); or a single re-admission at a linked institution ("branch": the
        # move hides the split), measured against every discharge of the city. A single
        # re-admission at the same institution is the commonest legitimate look-alike: never alone.
        counted = int(it[3].sum())  # documented transfers are no evidence: they do not make a chain longer
        if counted + 1 >= min_stays:
            return "chain"
        if counted >= 1 and bool((rel[it[1][it[3]]] == "linked").all()):
            return "branch"
        return None

    drop = np.zeros(n, bool)
    for _ in range(5):
        null = readmission_null(st, inst, rel, has_partner, window_days=window_days, drop=drop)
        items = [_chain_p(null, rows, rel, transfer) for rows in chains]
        kinds = [chain_kind(it) for it in items]
        n_chain = max(kinds.count("chain"), 1)
        flagged = np.zeros(n, bool)
        for it, k in zip(items, kinds):
            if k and surprise(it[4], n_chain if k == "chain" else n) > 0:
                flagged[it[0]] = True
        if (flagged == drop).all():
            break
        drop = flagged
    # beyond the bar, or listed below it (score < 0.05) when the chain's own p-value is small
    keep = [(it, n_chain if k == "chain" else n) for it, k in zip(items, kinds)
            if k and it[4] <= np.log10(max(report_p, 1e-300))]
    if not keep:
        return []
    planned_groups = _planned_groups(st, null["dx"], regular_cv)
    groups: dict[tuple, list] = {}
    for it, nt in keep:
        key = (str(st["patient_id"].iloc[it[0][0]]), tuple(sorted(set(ii[it[0]]))))
        groups.setdefault(key, []).append((*it, nt))
    findings = []
    for (pid, insts), its in sorted(groups.items()):
        rows = np.concatenate([it[0] for it in its])
        srows = np.concatenate([it[1] for it in its])
        pstep = np.concatenate([it[2] for it in its])
        counted = np.concatenate([it[3] for it in its])
        log10p = float(sum(it[4] for it in its))
        n_tests = max(it[5] for it in its)
        sub = st.iloc[rows]
        dxs = sorted(set(null["dx"][rows]) - {"?"})
        checks, cvs = _benign(st, rows, its, dxs, planned_groups, counted, regular_cv, benign_weight)
        sv = float(surprise(log10p, n_tests))
        score = tiered_score(log10p, n_tests) * benign_factor(checks)
        if score <= 0.0:
            continue  # wholly explained (documented transfers)
        fund = float(sub["fund_amount"].sum())
        gaps = gap[srows]
        rels = pd.Series(rel[srows]).value_counts().to_dict()
        link_b = sorted({str(x) for x in basis[srows] if x is not None and not pd.isna(x)})
        inst_txt = "、".join(insts)
        planned = any(c["check"] in ("planned_cycle", "day_care") and c["outcome"] != "ruled_out" for c in checks)
        note = "（疑似计划性治疗，已降权）" if planned else ""
        note_en = " (looks like planned treatment; down-weighted)" if planned else ""
        linked_txt = f"（关联机构：{'/'.join(link_b)}）" if link_b else ""
        findings.append(
            Finding.create(
                "split_stay",
                key=("patient", pid, "institutions", *insts),
                score=score,
                amount_at_risk=fund,
                start=sub["start_time"].min(),
                end=sub["end_time"].max(),
                entities=[Entity("patient", pid, "patient")] + [Entity("institution", i, "venue") for i in insts],
                claims=sub["claim_id"].astype(str),
                summary=(
                    f"参保人{pid}在{inst_txt}{linked_txt}以同一诊断组{'/'.join(dxs)}住院{len(rows)}次，"
                    f"出院后{int(gaps.min())}–{int(gaps.max())}天内再入院，疑似分解住院{note}，基金{yuan(fund)}"
                    f" / patient {pid}: {len(rows)} stays at {', '.join(insts)} for diagnosis group {'/'.join(dxs)},"
                    f" each re-admitted {int(gaps.min())}-{int(gaps.max())} days after discharge{note_en}"
                ),
                evidence={
                    "diagnosis_groups": dxs,
                    "stays": [
                        {"claim_id": str(r.claim_id), "institution": str(r.institution_id), "admitted": r.start_time,
                         "discharged": r.end_time, "fund": float(r.fund_amount)}
                        for r in sub.itertuples(index=False)
                    ],
                    "steps": [
                        {"from_claim": str(st["claim_id"].iloc[k]), "to_claim": str(st["claim_id"].iloc[k + 1]),
                         "gap_days": int(gap[k]), "relation": rel[k],
                         "link_basis": None if basis[k] is None or pd.isna(basis[k]) else str(basis[k]),
                         "p_value": float(pv), "counted": bool(cn)}
                        for k, pv, cn in zip(srows, pstep, counted)
                    ],
                    "readmissions": int(len(srows)),
                    "median_gap_days": float(np.median(gaps)),
                    "relations": rels,
                    "link_basis": link_b,
                    "interval_cv": cvs,
                    "planned_cycle": planned,
                    "null": {
                        "method": "empirical F_r(gap): share of the city's discharges followed by a same-group "
                                  "re-admission within gap days at the same (r=same), a linked (r=linked; discharges "
                                  "of institutions with a partner) or another institution (r=other), per diagnosis "
                                  "group x peer group (level, kind), empirical-Bayes shrunk to the group and the city, "
                                  "the chain's own stays left out; chain p = product over its steps",
                        "discharges": int(n), "window_days": int(window_days),
                        "peer_group": str(null["peer"][rows[0]]),
                        "log10_p": round(log10p, 4), "n_tests": int(n_tests),
                        "surprise": round(sv, 4), "city_bar": round(city_bar, 4),
                        "beyond_city_bar": bool(-log10p > city_bar),
                    },
                    "benign_checks": checks,
                    "fund": fund,
                },
            )
        )
    return findings


def _chain_p(null: dict[str, Any], rows: np.ndarray, rel: np.ndarray, transfer: np.ndarray) -> tuple:
    """(stays, discharges with a step, step p-values, counted steps, log10 p) of one chain."""
    srows = rows[:-1]  # discharges whose next stay is a step
    counted = ~transfer[srows]
    g = null["gap"][srows]
    pstep = np.ones(len(srows))
    for r in RELATIONS:
        m = rel[srows] == r
        if m.any():
            pstep[m] = _F(null, r, srows[m], g[m], rows)
    log10p = float(np.sum(np.log10(pstep[counted]))) if counted.any() else 0.0
    return rows, srows, pstep, counted, log10p


def _planned_groups(st: pd.DataFrame, dx: np.ndarray, regular_cv: float, max_interval: int = 35) -> set[str]:
    """Diagnosis groups that are planned treatment *in this data*: most of the city's same-group,
    same-institution series (≥ 3 admissions, each within ``max_interval`` days of the previous
    one) keep a schedule (interval CV ≤ ``regular_cv``), and at least three patients' do."""
    p = st["patient_id"].astype(str).to_numpy(object)
    ii = st["institution_id"].astype(str).to_numpy(object)
    d0 = st["start_time"].to_numpy("datetime64[s]").astype("datetime64[D]").astype(np.int64)
    if len(st) < 3:
        return set()
    link = np.r_[False, (p[1:] == p[:-1]) & (ii[1:] == ii[:-1]) & (dx[1:] == dx[:-1]) & (d0[1:] - d0[:-1] <= max_interval)
                 & (d0[1:] - d0[:-1] > 0)]
    sid = np.cumsum(~link) - 1
    df = pd.DataFrame({"s": sid, "dx": dx, "iv": np.r_[0, np.diff(d0)], "link": link})
    agg = df[df["link"]].groupby("s")["iv"].agg(["size", "mean", "std"])
    agg = agg[agg["size"] >= 2]
    if agg.empty:
        return set()
    agg["regular"] = agg["std"].fillna(0.0) / agg["mean"].clip(lower=1e-9) <= regular_cv
    agg["dx"] = df.groupby("s")["dx"].first().reindex(agg.index)
    g = agg.groupby("dx")["regular"].agg(["sum", "size"])
    return {str(k) for k, r in g.iterrows() if r["sum"] >= 3 and r["sum"] > 0.5 * r["size"] and k != "?"}





def _benign(st, rows, its, dxs, planned_groups, counted, regular_cv, w) -> tuple[list[dict], list]:
    """Benign checks of one finding (module docstring)."""
    checks = []
    cvs = []
    regular_any = False
    for it in its:
        adm = st["start_time"].iloc[it[0]].to_numpy("datetime64[s]").astype("datetime64[D]").astype(np.int64)
        iv = np.diff(adm).astype(float)
        cv = float(np.std(iv) / np.mean(iv)) if iv.size >= 2 and np.mean(iv) > 0 else None
        cvs.append(None if cv is None else round(cv, 3))
        regular_any |= cv is not None and cv <= regular_cv
    code_planned = any(_planned_code(g) for g in dxs)
    data_planned = sorted(set(dxs) & planned_groups)
    why = "by code" if code_planned else ("by data: most of the city's series in this group keep a schedule"
                                          if data_planned else "")
    if (code_planned or data_planned) and regular_any:
        checks.append(benign_check("planned_cycle", "计划性周期治疗", "explains",
                                   f"regular admissions (interval CV {cvs}) in a planned-treatment group ({why})", w))
    elif code_planned or data_planned:
        checks.append(benign_check("planned_cycle", "计划性周期治疗", "partial",
                                   f"planned-treatment group ({why}) but irregular admissions (CV {cvs})", w ** 0.5))
    else:
        checks.append(benign_check("planned_cycle", "计划性周期治疗", "ruled_out",
                                   f"group {'/'.join(dxs)} is no planned treatment here (interval CV {cvs}; regular "
                                   "spacing alone explains nothing: two or three intervals are often regular by chance)"))
    los = (st["end_time"].iloc[rows] - st["start_time"].iloc[rows]).dt.total_seconds().to_numpy() / DAY_S
    d_los = (st["end_time"].iloc[rows].dt.floor("D") - st["start_time"].iloc[rows].dt.floor("D")).dt.days.to_numpy()
    if (d_los <= 1).all():
        checks.append(benign_check("day_care", "日间病房/日间手术", "partial", "every stay ≤ 1 day", w ** 0.5))
    else:
        checks.append(benign_check("day_care", "日间病房/日间手术", "ruled_out", f"stays of {np.round(los, 1).tolist()} days"))
    nt = int((~counted).sum())
    if nt == len(counted):
        checks.append(benign_check("documented_transfer", "转院（有转诊单）", "explains",
                                   "every re-admission follows a referral within a day", 0.0))
    elif nt:
        checks.append(benign_check("documented_transfer", "转院（有转诊单）", "partial",
                                   f"{nt} of {len(counted)} re-admissions follow a referral within a day: not counted", 1.0))
    else:
        checks.append(benign_check("documented_transfer", "转院（有转诊单）", "ruled_out", "no re-admission follows a referral"))
    if any(_maternity(g) for g in dxs):
        checks.append(benign_check("maternity", "孕产期住院", "partial", f"pregnancy group {'/'.join(dxs)}", w ** 0.5))
    else:
        checks.append(benign_check("maternity", "孕产期住院", "ruled_out"))
    checks.append(benign_check("unrelated_diagnosis", "不同疾病再入院", "ruled_out",
                               f"every re-admission is in group {'/'.join(dxs)}"))
    return checks, cvs
