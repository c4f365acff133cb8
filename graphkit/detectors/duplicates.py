"""``duplicate_claim`` (重复结算/重复收费): one service settled twice at one provider.

Two shapes, both claim against claim of the same person at the same provider:

* **overlapping stays** (住院时间重叠): two inpatient claims of one person at one institution
  whose periods share at least ``min_overlap_days`` whole calendar days. A person is in one
  bed of one hospital at a time; a stay settled in parts (中途结算, transfer between
  departments) gives segments that meet on the boundary day and never overlap by a whole day,
  so they are not counted. Works with dates only.
* **double settlement** (同一服务重复结算): two claims of one person at one provider with the
  same claim type, diagnosis, total and fund amount, settled within ``window_minutes`` (within
  the hour when times are only known to the hour). Two sessions on one day hours apart
  (twice-daily treatment) are not counted. With dates only this shape is not compared (one
  service billed twice cannot be told from two sessions) and the scan says so.

**Null (calibrated on this bundle).** Per provider, ``d`` duplicate claims (the later claim of
each pair) among ``n`` eligible claims (stays; claims) are compared with a Poisson count at the
background rate (:func:`background_null`: the *other* providers, leaving out those beyond the
bar, iterated — so a few heavy re-billers do not hide each other — with half a duplicate of prior
weight so a city without any other duplicate still has a rate):
``P(X ≥ d | λ = r_stay·n_stay + r_claim·n_claim)``, scored against the bar of the number of providers tested (:func:`._common.tiered_score`): a
provider far beyond the city's rate ranks high; a single duplicate at a big hospital in a city
full of them ranks low, and is still listed for a person to check.

**Legal look-alikes tested** (``evidence["benign_checks"]``): a newborn settled under the
mother's identity during her delivery stay (新生儿随母结算: one stay of the pair has a perinatal
diagnosis, ICD-10 P00–P96 / Z38, ICD-9 760–779 / V30–V39) is not counted; interim settlement
and twice-daily sessions are excluded by the shapes' definitions (counts recorded); a reversal
and re-settlement (冲正后重新结算) is not testable from a bundle that carries no reversal flag,
and the finding says so.

Examples
--------
>>> from graphkit.store import open_store                                  # doctest: +SKIP
>>> duplicate_claims(open_store("store"))[0].evidence["pairs"][0]["shape"]  # doctest: +SKIP
'overlapping_stay'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..evidence import TYPE_ZH
from ..findings import Entity, Finding
from ..params import Param
from ..projections import projection, provider_codes
from . import register
from ._common import benign_check, claims_time_precision, report_p_param, span, surprise, tiered_score, yuan
from ._nulls import poisson_log10_sf

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["duplicate_claims", "overlapping_stays", "double_settlements", "is_perinatal"]

DAY_S = 86_400
#: evidence pairs listed per finding (all claims are in ``claims``)
MAX_PAIRS = 50
PAIR_COLUMNS = ["shape", "claim_id", "duplicate_of", "patient_id", "provider_type", "provider_id", "doctor_id",
                "start_time", "fund_amount", "overlap_days", "minutes_apart"]


def is_perinatal(dx: pd.Series) -> np.ndarray:
    """Diagnoses of a newborn: ICD-10 ``P00``–``P96`` and ``Z38``; ICD-9 ``760``–``779`` and ``V30``–``V39``.

    >>> is_perinatal(pd.Series(["P07.3", "Z38.0", "O80", "765.1", "V30", None, "J18"])).tolist()
    [True, True, False, True, True, False, False]
    """
    s = dx.astype("string").str.upper().str.strip().fillna("")
    icd10 = s.str.match(r"^(P[0-8]\d|P9[0-6]|Z38)")
    icd9 = s.str.match(r"^(7[67]\d|V3\d)")
    return (icd10 | icd9).to_numpy(dtype=bool)


def _days(s: pd.Series) -> np.ndarray:
    return (s.to_numpy("datetime64[s]").astype(np.int64) // DAY_S)


def overlapping_stays(adm: pd.DataFrame, *, min_overlap_days: int = 1) -> tuple[pd.DataFrame, int]:
    """Pairs of inpatient claims of one person at one institution sharing ≥ ``min_overlap_days`` days.

    ``adm``: claim_id, patient_id, institution_id, doctor_id, start_time, end_time, diagnosis_code,
    fund_amount (the ``inpatient_admissions`` projection). Each stay is paired with the earlier
    stay of the group that reaches furthest. Returns (pairs in :data:`PAIR_COLUMNS` plus
    ``perinatal``, pairs of segments that only meet on a boundary day).

    >>> t = pd.to_datetime
    >>> adm = pd.DataFrame({"claim_id": ["a", "b", "c"], "patient_id": ["p"] * 3, "institution_id": ["H"] * 3,
    ...     "doctor_id": [None] * 3, "start_time": t(["2024-01-01", "2024-01-03", "2024-01-10"]),
    ...     "end_time": t(["2024-01-08", "2024-01-10", "2024-01-12"]), "diagnosis_code": ["J18"] * 3,
    ...     "fund_amount": [100.0, 90.0, 50.0]})
    >>> pairs, touching = overlapping_stays(adm)
    >>> pairs[["claim_id", "duplicate_of", "overlap_days"]].values.tolist(), touching
    ([['b', 'a', 5]], 1)
    """
    a = adm[adm["patient_id"].notna() & adm["institution_id"].notna() & adm["start_time"].notna()
            & adm["end_time"].notna()].reset_index(drop=True)
    empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in PAIR_COLUMNS + ["perinatal"]})
    if len(a) < 2:
        return empty, 0
    g = _group_codes([a["patient_id"], a["institution_id"]])
    t0 = a["start_time"].to_numpy("datetime64[s]").astype(np.int64)
    d0, d1 = t0 // DAY_S, _days(a["end_time"])
    d1 = np.maximum(d0, d1)
    order = np.lexsort((t0, d1, d0, g))  # the later-settled of two equal stays is the duplicate
    g, d0, d1 = g[order], d0[order], d1[order]
    pos = np.arange(len(order), dtype=np.int64)
    base = int(d1.min())
    enc = (d1 - base).astype(np.int64) * (np.int64(1) << 32) + pos  # cummax keeps the furthest-reaching stay
    run = pd.Series(enc).groupby(g).cummax().to_numpy()
    prev = np.r_[-1, run[:-1]]
    same = np.r_[False, g[1:] == g[:-1]]
    prev_end = (prev >> 32) + base
    prev_pos = prev & ((np.int64(1) << 32) - 1)
    overlap = np.where(same, np.minimum(d1, prev_end) - d0, -1)
    touching = int((same & (overlap == 0)).sum())
    hit = np.flatnonzero(same & (overlap >= max(int(min_overlap_days), 1)))
    if not hit.size:
        return empty, touching
    cur, other = order[hit], order[prev_pos[hit]]
    peri = is_perinatal(a["diagnosis_code"].take(cur)) != is_perinatal(a["diagnosis_code"].take(other))
    out = pd.DataFrame({
        "shape": "overlapping_stay",
        "claim_id": a["claim_id"].to_numpy(object)[cur],
        "duplicate_of": a["claim_id"].to_numpy(object)[other],
        "patient_id": a["patient_id"].to_numpy(object)[cur],
        "provider_type": "institution",
        "provider_id": a["institution_id"].to_numpy(object)[cur],
        "doctor_id": a["doctor_id"].to_numpy(object)[cur] if "doctor_id" in a else None,
        "start_time": a["start_time"].to_numpy()[cur],
        "fund_amount": a["fund_amount"].to_numpy(np.float64)[cur],
        "overlap_days": overlap[hit].astype(np.int64),
        "minutes_apart": np.nan,
        "perinatal": peri,
    })
    return out, touching


def _group_codes(cols: list[pd.Series] | list[np.ndarray]) -> np.ndarray:
    """One integer code per distinct combination of ``cols`` (column by column: no tuple or string
    keys are built, so 10M claims stay cheap)."""
    g = np.zeros(len(cols[0]), dtype=np.int64)
    for col in cols:
        g = _combine(g, col)
    return g


def _combine(g: np.ndarray, col: pd.Series | np.ndarray) -> np.ndarray:
    """Codes of the distinct (``g``, ``col``) pairs (null equals null)."""
    code, uniq = pd.factorize(col, use_na_sentinel=False)
    return pd.factorize(g * np.int64(len(uniq) + 1) + code.astype(np.int64))[0].astype(np.int64)


def _has_twin(cols: list[np.ndarray]) -> np.ndarray:
    """Rows whose values in every one of ``cols`` equal another row's (null equals null): the
    rows of :func:`_group_codes`'s groups of two or more. Column by column, keeping only the rows
    that still have a twin, so the most selective column first leaves little to number.

    >>> _has_twin([np.array([1.0, 1.0, 2.0, 1.0]), np.array([5, 5, 5, 6])]).tolist()
    [True, True, False, False]
    """
    live = np.arange(len(cols[0]))
    g = np.zeros(live.size, dtype=np.int64)
    for col in cols:
        g = _combine(g, col[live])
        keep = np.bincount(g)[g] > 1
        live, g = live[keep], g[keep]
    out = np.zeros(len(cols[0]), dtype=bool)
    out[live] = True
    return out


IDENTICAL_COLUMNS = ["claim_id", "patient_id", "provider_type", "provider_id", "doctor_id", "claim_type", "start_time",
                     "diagnosis_code", "total_amount", "fund_amount"]


@projection("identical_claims")
def identical_claims(store: Store) -> pd.DataFrame:
    """Claims that have an identical twin: same person, provider, claim type, diagnosis, total and
    fund amount (any time apart), by claim id — the candidates of the double-settlement shape."""
    # the keys as codes and numbers; the strings only of the claims that have a twin
    prov, provs = provider_codes(store)
    coded = store.table_codes("claims", ["patient_id", "claim_type", "diagnosis_code"])
    num = store.table("claims", ["start_time", "total_amount", "fund_amount"])
    patient = np.asarray(coded["patient_id"].codes, dtype=np.int32)
    dx = coded["diagnosis_code"]
    blank = np.flatnonzero(pd.Index(dx.categories, dtype=object) == "")
    dx_code = np.asarray(dx.codes, dtype=np.int32)
    if blank.size:  # an empty diagnosis is no diagnosis
        dx_code = np.where(dx_code == blank[0], -1, dx_code)
    rows = np.flatnonzero((prov >= 0) & (patient >= 0) & num["start_time"].notna().to_numpy())
    # the amounts first: they leave the fewest rows with a twin
    twin = rows[_has_twin([num["total_amount"].to_numpy(np.float64)[rows].round(2),
                           num["fund_amount"].to_numpy(np.float64)[rows].round(2), patient[rows], prov[rows],
                           np.asarray(coded["claim_type"].codes)[rows], dx_code[rows]])]
    del patient, dx_code, coded
    out = store.table_rows("claims", ["claim_id", "patient_id", "doctor_id", "claim_type", "diagnosis_code"], twin)
    who = provs.iloc[prov[twin]].reset_index(drop=True)
    out["provider_type"], out["provider_id"] = who["provider_type"], who["provider_id"]
    for col in ("start_time", "total_amount", "fund_amount"):
        out[col] = num[col].to_numpy()[twin]
    return out[IDENTICAL_COLUMNS].sort_values("claim_id").reset_index(drop=True)


@projection("provider_claim_counts")
def provider_claim_counts(store: Store) -> pd.DataFrame:
    """Claims per provider (institution or pharmacy): provider_type, provider_id, claims, by provider."""
    prov, provs = provider_codes(store)
    n = np.bincount(prov[prov >= 0], minlength=len(provs))
    out = provs.assign(claims=n.astype(np.int64))[n > 0]
    return out.sort_values(["provider_type", "provider_id"]).reset_index(drop=True)


def double_settlements(claims: pd.DataFrame, *, window_s: int) -> tuple[pd.DataFrame, int]:
    """Pairs of identical claims (person, provider, type, diagnosis, total and fund) settled within
    ``window_s`` seconds (``claims``: :data:`IDENTICAL_COLUMNS`, e.g. the ``identical_claims``
    projection); returns (pairs in :data:`PAIR_COLUMNS`, identical pairs further apart
    on the same day: separate sessions, not counted).

    >>> t = pd.to_datetime
    >>> c = pd.DataFrame({"claim_id": ["a", "b", "c"], "patient_id": ["p"] * 3, "provider_type": ["institution"] * 3,
    ...     "provider_id": ["H"] * 3, "doctor_id": ["D"] * 3, "claim_type": ["outpatient"] * 3,
    ...     "start_time": t(["2024-01-01 09:00", "2024-01-01 09:04", "2024-01-01 15:00"]),
    ...     "diagnosis_code": ["M54"] * 3, "total_amount": [80.0] * 3, "fund_amount": [60.0] * 3})
    >>> pairs, sessions = double_settlements(c, window_s=600)
    >>> pairs[["claim_id", "duplicate_of", "minutes_apart"]].values.tolist(), sessions
    ([['b', 'a', 4.0]], 1)
    """
    empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in PAIR_COLUMNS})
    c = claims[claims["patient_id"].notna() & claims["start_time"].notna() & claims["provider_id"].notna()]
    if len(c) < 2:
        return empty, 0
    c = c.reset_index(drop=True)
    g = _group_codes([c["patient_id"], c["provider_type"], c["provider_id"], c["claim_type"], c["diagnosis_code"].fillna(""),
                      c["total_amount"].astype(np.float64).round(2), c["fund_amount"].astype(np.float64).round(2)])
    t = c["start_time"].to_numpy("datetime64[s]").astype(np.int64)
    order = np.lexsort((t, g))
    gs, ts = g[order], t[order]
    same = np.r_[False, gs[1:] == gs[:-1]]
    gap = np.r_[0, np.diff(ts)]
    hit = np.flatnonzero(same & (gap <= window_s))
    sessions = int((same & (gap > window_s) & (ts // DAY_S == np.r_[0, ts[:-1]] // DAY_S)).sum())
    if not hit.size:
        return empty, sessions
    cur, other = order[hit], order[hit - 1]
    out = pd.DataFrame({
        "shape": "double_settlement",
        "claim_id": c["claim_id"].to_numpy(object)[cur],
        "duplicate_of": c["claim_id"].to_numpy(object)[other],
        "patient_id": c["patient_id"].to_numpy(object)[cur],
        "provider_type": c["provider_type"].to_numpy(object)[cur],
        "provider_id": c["provider_id"].to_numpy(object)[cur],
        "doctor_id": c["doctor_id"].to_numpy(object)[cur],
        "start_time": c["start_time"].to_numpy()[cur],
        "fund_amount": c["fund_amount"].to_numpy(np.float64)[cur],
        "overlap_days": np.nan,
        "minutes_apart": gap[hit] / 60.0,
    })
    return out, sessions


@register(
    "duplicate_claim",
    [
        Param("min_overlap_days", 1, "int", low=1, high=30,
              doc="whole calendar days two stays of one person at one institution must share"),
        Param("window_minutes", 10, "int", low=0, high=240,
              doc="identical claims of one person at one provider settled this close are one service billed twice"),
        report_p_param("providers"),
    ],
    needs=("time:day",),
    prefers={"time:minute": "times only to the hour: identical claims count within the same hour; dates only: identical "
                            "claims are not compared (two sessions on one day cannot be told from one service billed twice), "
                            "only overlapping stays are"},
)
def duplicate_claims(store: Store, *, min_overlap_days: int = 1, window_minutes: int = 10,
                     report_p: float = 0.05) -> list[Finding]:
    """Providers where one service was settled twice (overlapping stays, identical claims minutes apart), beyond this city's rate.

    Examples
    --------
    >>> from graphkit.store import open_store                                  # doctest: +SKIP
    >>> duplicate_claims(open_store("store"))[0].evidence["null"]["model"]      # doctest: +SKIP
    'poisson'
    """
    precision = claims_time_precision(store)
    adm = store.projection("inpatient_admissions")
    stays, touching = overlapping_stays(adm, min_overlap_days=min_overlap_days)
    peri = stays.pop("perinatal").astype(bool).to_numpy()
    newborn, stays = stays[peri], stays[~peri]
    compared = precision != "day"
    window_s = max(int(window_minutes) * 60, 3600 if precision == "hour" else 0)
    claims = store.projection("identical_claims")
    if compared:
        twice, sessions = double_settlements(claims, window_s=window_s)
        both = pd.concat([stays, newborn])
        seen = {frozenset(p) for p in zip(both["claim_id"].astype(str), both["duplicate_of"].astype(str))}
        dup = [frozenset(p) in seen for p in zip(twice["claim_id"].astype(str), twice["duplicate_of"].astype(str))]
        twice = twice[~np.asarray(dup, dtype=bool)]  # a stay billed twice is counted once
    else:
        twice, sessions = pd.DataFrame({c: pd.Series([], dtype=object) for c in PAIR_COLUMNS}), 0
    # exposure per provider: stays (institutions) and claims (all providers)
    n_stay = adm.dropna(subset=["institution_id"]).groupby(adm["institution_id"].astype(str)).size()
    n_stay.index = "institution:" + n_stay.index
    counts = store.projection("provider_claim_counts")
    n_claim = pd.Series(counts["claims"].to_numpy(np.int64),
                        index=[f"{t}:{i}" for t, i in zip(counts["provider_type"], counts["provider_id"])])
    tested = n_claim.index.union(n_stay.index)
    n_tests = max(int(len(tested)), 1)
    pairs = pd.concat([x for x in (stays, twice) if len(x)], ignore_index=True) if (len(stays) or len(twice)) else None
    if pairs is None:
        return []
    pairs["key"] = pairs["provider_type"].astype(str) + ":" + pairs["provider_id"].astype(str)
    d_stay = pairs[pairs["shape"] == "overlapping_stay"].groupby("key").size()
    d_claim = pairs[pairs["shape"] == "double_settlement"].groupby("key").size()
    prov = pd.DataFrame({"ds": d_stay, "dc": d_claim, "ns": n_stay, "nc": n_claim if compared else 0}).fillna(0.0)
    lam, log10_p, outliers = background_null(prov, n_tests)
    checks_common = [
        benign_check("interim_settlement", "中途结算/转科分段结算", "ruled_out",
                     f"本数据中 {touching} 对住院仅在交界日相接，未计入 / {touching} stay pairs that only meet on a boundary "
                     f"day (interim settlement, transfer) were not counted; the pairs here share ≥ {min_overlap_days} whole day(s)"),
        benign_check("reversal_resettlement", "冲正后重新结算", "not_testable",
                     "数据无冲正/退费标记，需核对结算系统的冲正记录 / the bundle carries no reversal flag: check the "
                     "settlement system's reversal records before treating a pair as paid twice"),
    ]
    seen_times = pd.concat([adm[["claim_id", "start_time"]], claims[["claim_id", "start_time"]]]).drop_duplicates("claim_id")
    times = pd.Series(seen_times["start_time"].to_numpy(), index=seen_times["claim_id"].astype(str).to_numpy())
    findings: list[Finding] = []
    for key, rows in pairs.groupby("key", sort=True):
        ds, dc = int(prov.at[key, "ds"]), int(prov.at[key, "dc"])
        ns, nc = float(prov.at[key, "ns"]), float(prov.at[key, "nc"])
        lp, lm = float(log10_p[key]), float(lam[key])
        if surprise(lp, n_tests) <= 0 and 10 ** lp > report_p:
            continue
        findings.append(_finding(key, rows, times, newborn, sessions, checks_common, log10_p=lp, n_tests=n_tests,
                                 lam=lm, outliers=outliers, ds=ds, dc=dc, ns=ns, nc=nc, precision=precision, compared=compared,
                                 window_s=window_s))
    findings.sort(key=lambda f: (-f.score, f.id))
    return findings


def background_null(prov: pd.DataFrame, n_tests: int, *, max_iter: int = 20) -> tuple[pd.Series, pd.Series, int]:
    """Expected duplicates and log10 p per provider against the background rate.

    ``prov``: per provider ``ds, dc`` (duplicate stays, duplicate claims) and ``ns, nc`` (stays,
    claims). The rate per stay and per claim is that of the *other* providers, leaving out those
    beyond the multiple-testing bar (iterated until the set is stable): a few providers that
    re-bill heavily do not raise the bar for each other, while duplicates spread over the whole
    city (an export artefact) do. Half a duplicate of prior weight keeps a finite rate when the
    background has none. Returns (expected, log10 p, providers left out of the background).

    >>> prov = pd.DataFrame({"ds": [6, 7, 0, 1], "dc": [0] * 4, "ns": [400, 300, 900, 900], "nc": [0] * 4},
    ...                     index=["A", "B", "C", "D"])
    >>> lam, lp, out = background_null(prov, 4)
    >>> out, bool(lp["A"] < -5 and lp["B"] < -5), bool(lp["D"] > -2)
    (2, True, True)
    """
    ds, dc = prov["ds"].to_numpy(float), prov["dc"].to_numpy(float)
    ns, nc = prov["ns"].to_numpy(float), prov["nc"].to_numpy(float)
    bar = np.log10(max(int(n_tests), 1))
    out = np.zeros(len(prov), dtype=bool)
    for _ in range(max_iter):
        keep = ~out
        bds, bns = ds[keep].sum() - np.where(keep, ds, 0), ns[keep].sum() - np.where(keep, ns, 0)
        bdc, bnc = dc[keep].sum() - np.where(keep, dc, 0), nc[keep].sum() - np.where(keep, nc, 0)
        lam = np.where(ns > 0, (bds + 0.5) / (bns + 1.0) * ns, 0.0) + np.where(nc > 0, (bdc + 0.5) / (bnc + 1.0) * nc, 0.0)
        lam = np.maximum(lam, 1e-12)
        lp = np.asarray(poisson_log10_sf(ds + dc, lam), dtype=float)
        new = -lp > bar
        if (new == out).all():
            break
        out = new
    return pd.Series(lam, index=prov.index), pd.Series(lp, index=prov.index), int(out.sum())


def _finding(key: str, rows: pd.DataFrame, times: pd.Series, newborn: pd.DataFrame, sessions: int,
             checks_common: list[dict], *, log10_p: float, n_tests: int, lam: float, outliers: int, ds: int, dc: int, ns: float,
             nc: float, precision: str, compared: bool, window_s: int) -> Finding:
    ptype, pid = key.split(":", 1)
    rows = rows.sort_values(["start_time", "claim_id"])
    nb = int((newborn["provider_id"].astype(str) == pid).sum()) if len(newborn) else 0
    checks = [
        benign_check("newborn_with_mother", "新生儿随母结算", "ruled_out",
                     f"{nb} 对含新生儿诊断的重叠住院未计入 / {nb} overlapping pair(s) with a perinatal diagnosis "
                     "(a newborn settled under the mother) were not counted"),
        *checks_common,
    ]
    if dc or compared:
        checks.append(benign_check("separate_sessions", "同日多次治疗", "ruled_out",
                                   f"相隔超过 {window_s // 60} 分钟的相同结算视为不同次治疗，未计入（全市 {sessions} 对）/ identical "
                                   f"claims more than {window_s // 60} min apart are separate sessions, not counted "
                                   f"({sessions} such pairs in the city)"))
    else:
        checks.append(benign_check("separate_sessions", "同日多次治疗", "not_testable",
                                   "结算时间只有日期，未比较同日相同结算 / times are dates only: identical claims on one day "
                                   "were not compared"))
    people = list(dict.fromkeys(rows["patient_id"].astype(str)))
    docs = list(dict.fromkeys(rows["doctor_id"].dropna().astype(str)))
    entities = [Entity(ptype, pid, "venue"), *(Entity("patient", p, "patient") for p in people[:MAX_PAIRS]),
                *(Entity("doctor", d, "treating") for d in docs[:20])]
    both = pd.concat([rows["claim_id"], rows["duplicate_of"]]).astype(str).unique()
    start, end = span(times.reindex(both).dropna() if len(times) else rows["start_time"])
    fund = float(rows["fund_amount"].astype(np.float64).sum())
    s = float(surprise(log10_p, n_tests))
    parts = []
    if ds:
        parts.append(f"住院时间重叠 {ds} 对 / {ds} overlapping stay(s)")
    if dc:
        parts.append(f"同一服务重复结算 {dc} 对 / {dc} double settlement(s)")
    ev_pairs = [{k: (None if (isinstance(v, float) and np.isnan(v)) else v) for k, v in r.items()}
                for r in rows[PAIR_COLUMNS].head(MAX_PAIRS).to_dict("records")]
    for p in ev_pairs:
        p["start_time"] = str(pd.Timestamp(p["start_time"]))
        p["fund_amount"] = round(float(p["fund_amount"]), 2)
    return Finding.create(
        "duplicate_claim",
        key=("duplicate_claim", ptype, pid),
        score=tiered_score(log10_p, n_tests),
        amount_at_risk=fund,
        start=start,
        end=end,
        entities=entities,
        claims=both,
        summary=(f"{TYPE_ZH.get(ptype, ptype)} {pid}：{'；'.join(p.split(' / ')[0] for p in parts)}，涉及 {len(people)} 人，"
                 f"重复部分基金 {yuan(fund)} / {ptype} {pid}: {'; '.join(p.split(' / ')[1] for p in parts)}, "
                 f"{len(people)} people, duplicated fund {fund:,.2f}"),
        evidence={
            "pairs": ev_pairs,
            "pair_count": int(len(rows)),
            "overlapping_stays": ds,
            "double_settlements": dc,
            "people": len(people),
            "time_precision": precision,
            "window_minutes": window_s // 60 if compared else None,
            "amount_rule": "每对按较晚一笔计 / the later claim of each pair counts",
            "null": {"model": "poisson", "what": "duplicate claims at the background rate: the other providers, "
                                                 "leaving out those beyond the bar (robust, iterated)",
                     "providers_left_out": int(outliers), "stays": int(ns), "claims": int(nc), "expected": round(lam, 6), "observed": ds + dc,
                     "log10_p": round(log10_p, 3), "n_tests": int(n_tests), "surprise": round(s, 3)},
            "benign_checks": checks,
        },
    )
