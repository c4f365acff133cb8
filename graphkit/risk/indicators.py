"""Peer-relative monitoring indicators (智能监控指标) per institution, pharmacy and doctor.

Each indicator is an aggregate over claims, vectorised with ``np.bincount``: either a *rate*
(events ``k`` out of ``n``: admission rate, weekend share, readmissions …) or a *mean* of a
per-claim or per-patient value (``sum``, ``sumsq`` over ``n``: cost per visit, visits per
person …). All are defined so that **higher is riskier**; :mod:`graphkit.risk.peers` compares
them within peer groups and keeps only the excess.

Which indicators run depends on the data (see :func:`provider_indicators`' ``notes``): night
share needs times to the hour or finer; item shares need ``claim_items``; out-of-area share
needs regions on both sides; implausible diagnoses need sex or birth dates.

Examples
--------
>>> sorted(INDICATORS)[:4]
['admission_rate', 'cost_inpatient', 'cost_outpatient', 'cost_pharmacy']
>>> INDICATORS["visits_per_person"].zh
'人次人头比'
>>> implausible_dx(pd.Series(["O80", "N40.0", "I10", "650", "P07.3"]), pd.Series(["M", "F", "M", "F", "F"]),
...                pd.Series([30.0, 60.0, 50.0, 70.0, 40.0])).tolist()
[True, True, False, True, True]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..profile import finer_or_equal
from ..allocator import release_memory
from .activity import Activity, _arrow, _ClaimRows, home_rows, table_batches
from .casemix import claim_groups, group_expectation, standardised_rate_events

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["Indicator", "INDICATORS", "provider_indicators", "implausible_dx", "DX_RULES", "format_indicator",
           "ELDERLY_AT", "birth_days", "last_birth_days", "death_days", "after_death", "claim_ages", "weekend_mask", "night_mask"]


@dataclass(frozen=True)
class Indicator:
    """One indicator: names, how it aggregates, which entity types it applies to, display."""

    zh: str
    en: str
    kind: str  # "rate" | "mean"
    applies: tuple[str, ...]
    scale: str = "linear"  # "log": the mean is of ln(1 + x); shown as exp(mean) - 1
    unit: str = ""


_ALL = ("institution", "pharmacy", "doctor")
_MED = ("institution", "doctor")

INDICATORS: dict[str, Indicator] = {
    "cost_outpatient": Indicator("门诊次均费用", "outpatient cost per visit", "mean", _MED, "log", "元"),
    "cost_inpatient": Indicator("住院次均费用", "inpatient cost per stay", "mean", _MED, "log", "元"),
    "cost_pharmacy": Indicator("药店次均费用", "pharmacy cost per purchase", "mean", ("pharmacy", "doctor"), "log", "元"),
    "visits_per_person": Indicator("人次人头比", "visits per person", "mean", _ALL, "linear", "次/人"),
    "fund_per_patient": Indicator("人均基金支付", "fund per patient", "mean", _ALL, "log", "元"),
    "admission_rate": Indicator("住院率", "admission rate", "rate", _MED),
    "length_of_stay": Indicator("平均住院日", "length of stay", "mean", _MED, "linear", "天"),
    "readmit_15d": Indicator("15日再入院率", "15-day readmission rate", "rate", _MED),
    "readmit_30d": Indicator("30日再入院率", "30-day readmission rate", "rate", _MED),
    "weekend_share": Indicator("周末结算占比", "weekend share", "rate", _ALL),
    "night_share": Indicator("夜间结算占比", "night share (22:00-06:00)", "rate", _ALL),
    "out_of_area_share": Indicator("外地参保人占比", "out-of-area patient share", "rate", _ALL),
    "top_doctor_share": Indicator("单一医师接诊集中度", "share of claims of one doctor", "rate", ("institution",)),
    "implausible_dx_share": Indicator("诊断与性别年龄不符占比", "diagnosis implausible for sex/age", "rate", _ALL),
    "elderly_share": Indicator("65岁以上就诊占比", "share of claims by patients 65+", "rate", _ALL),
    "post_death_share": Indicator("死亡后结算占比", "settlements after death", "rate", _ALL),
    "drug_share": Indicator("药品费用占比", "drug share of items", "mean", _ALL),
    "material_share": Indicator("耗材费用占比", "material share of items", "mean", _ALL),
    "exam_share": Indicator("检查费用占比", "exam share of items", "mean", _MED),
    "non_medical_share": Indicator("非医疗用品占比", "non-medical share of items", "mean", _ALL),
}

#: (code prefix range, allowed sex or None, min age, max age, description). ICD-10 ranges are
#: letter+2 digits; ICD-9 ranges (codes of digits only) are 3-digit numbers. Sources: the
#: ICD-10 chapter structure and the sex/age edits of the CMS Medicare Code Editor (maternity,
#: newborn, sex conflict), simplified to ranges that are implausible, not merely unusual.
DX_RULES: tuple[tuple[str, str, str | None, float, float, str], ...] = (
    ("O00", "O9A", "F", 12, 55, "pregnancy/childbirth (ICD-10 O): female 12-55"),
    ("Z33", "Z37", "F", 12, 55, "pregnancy supervision/delivery (Z33-Z37): female 12-55"),
    ("N40", "N53", "M", 0, 200, "male genital organs (N40-N53): male"),
    ("C60", "C63", "M", 0, 200, "male genital cancers (C60-C63): male"),
    ("N70", "N98", "F", 0, 200, "female pelvic/genital organs (N70-N98): female"),
    ("C51", "C58", "F", 0, 200, "female genital cancers (C51-C58): female"),
    ("P00", "P96", None, 0, 2, "perinatal conditions (P00-P96): under 2"),
    ("G30", "G30", None, 40, 200, "Alzheimer's disease (G30): 40 or older"),
    ("630", "679", "F", 12, 55, "ICD-9 pregnancy/childbirth (630-679): female 12-55"),
    ("600", "608", "M", 0, 200, "ICD-9 male genital organs (600-608): male"),
    ("614", "629", "F", 0, 200, "ICD-9 female genital organs (614-629): female"),
    ("760", "779", None, 0, 2, "ICD-9 perinatal conditions (760-779): under 2"),
)


def format_indicator(v: float, name: str, *, unit: bool = False) -> str:
    """An indicator's value as people read it: log-scale costs back in yuan, rates and shares in %.

    >>> format_indicator(0.169, "weekend_share"), format_indicator(np.log1p(250.0), "cost_outpatient")
    ('16.9%', '250')
    """
    ind = INDICATORS[name]
    if ind.scale == "log":
        return f"{np.expm1(v):,.0f}" + (ind.unit if unit else "")
    if ind.kind == "rate" or name.endswith("_share"):
        return f"{100 * v:.1f}%"
    return f"{v:.2f}" + (ind.unit if unit else "")


def implausible_dx(codes: pd.Series, sex: pd.Series, age: pd.Series, age_lo: pd.Series | None = None) -> pd.Series:
    """True where a diagnosis code is implausible for the patient's sex or age (:data:`DX_RULES`).

    Unknown sex or age never makes a code implausible. ``age_lo``: the youngest the person can be
    where birth dates are known to the month only (``age`` then the oldest): too young is judged on
    ``age``, too old on ``age_lo``.
    """
    c = codes.astype("string").str.upper().str.replace(".", "", regex=False).str.strip()
    head = c.str[:3]
    digits = c.str.fullmatch(r"\d{3,5}").fillna(False)
    out = np.zeros(len(c), bool)
    sx = pd.Series(sex.astype("string").to_numpy(object))
    ag = pd.to_numeric(age, errors="coerce").to_numpy(float)
    young = ag if age_lo is None else pd.to_numeric(age_lo, errors="coerce").to_numpy(float)
    hd = head.to_numpy(object)
    dg = digits.to_numpy(bool)
    for lo, hi, want_sex, amin, amax, _ in DX_RULES:
        numeric = lo.isdigit()
        inr = pd.Series(hd).between(lo, hi).fillna(False).to_numpy(bool, copy=True)
        inr &= dg if numeric else ~dg
        bad = np.zeros(len(c), bool)
        if want_sex is not None:
            bad |= (sx.isin(["M", "F"]) & (sx != want_sex)).to_numpy(bool)
        bad |= (~np.isnan(ag)) & ((ag < amin) | (young > amax))
        out |= inr & bad
    return pd.Series(out, index=codes.index)


def _two(act: Activity, w: np.ndarray, mask: np.ndarray | None = None, *, square: bool = False) -> np.ndarray:
    """Per entity: Σ w (Σ w² with ``square``) over claims at the entity as provider plus as doctor;
    a 0-d ``w`` counts claims."""
    m = np.ones(act.n_claims, bool) if mask is None else mask
    out = np.zeros(act.n_entities)
    for who in (act.prov, act.doc):
        sel = m & (who >= 0)
        wt = None
        if w.ndim:
            wt = w[sel]
            if square:
                wt *= wt
        out += np.bincount(who[sel], weights=wt, minlength=act.n_entities)
        del sel, wt
    return out


def _count(act: Activity, mask: np.ndarray) -> np.ndarray:
    return _two(act, np.array(1.0), mask)  # 0-d weight: unweighted counts (exact), no per-claim array


class _Builder:
    def __init__(self, act: Activity) -> None:
        self.act = act
        self.types = act.entities["entity_type"].to_numpy()
        self.frames: list[pd.DataFrame] = []
        self._has: list[tuple[np.ndarray, np.ndarray]] | None = None

    def add(self, name: str, n: np.ndarray, s: np.ndarray, ss: np.ndarray | None = None) -> None:
        ind = INDICATORS[name]
        keep = (n > 0) & np.isin(self.types, ind.applies)
        rows = np.flatnonzero(keep)
        if rows.size == 0:
            return
        nn, sv = n[rows], s[rows]
        self.frames.append(pd.DataFrame({
            "indicator": name, "row": rows, "n": nn, "sum": sv,
            "sumsq": (ss[rows] if ss is not None else np.full(rows.size, np.nan)), "value": sv / nn,
        }))

    def add_mean(self, name: str, v: np.ndarray, mask: np.ndarray) -> None:
        m = mask & ~np.isnan(v)  # only values under m are summed: no masked copy of v needed
        self.add(name, *self._sums(m, v))

    def add_rate(self, name: str, event: np.ndarray, mask: np.ndarray) -> None:
        self.add(name, *self._sums(mask, event=event)[:2])

    def _sums(self, m: np.ndarray, v: np.ndarray | None = None, *, event: np.ndarray | None = None,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per entity, over the claims under ``m`` as provider plus as doctor: the count and Σ v, Σ v²
        (or, with ``event``, the count of events): :func:`_two`'s sums, each claim mask built once."""
        ne = self.act.n_entities
        n, s, ss = np.zeros(ne), np.zeros(ne), np.zeros(ne)
        if self._has is None:  # which claims have a provider, a doctor (built once)
            self._has = [(who, who >= 0) for who in (self.act.prov, self.act.doc)]
        for who, has in self._has:
            sel = m & has
            ws = who[sel]
            n += np.bincount(ws, minlength=ne)
            if event is not None:
                s += np.bincount(ws[event[sel]], minlength=ne)
            elif v is not None:
                wt = v[sel]
                s += np.bincount(ws, weights=wt, minlength=ne)
                wt *= wt
                ss += np.bincount(ws, weights=wt, minlength=ne)
                del wt
            del sel, ws
        return n, s, ss


#: claims per slice of :func:`_pair_means` (bounds its sort's memory to ~50 bytes × this)
PAIR_CHUNK = 1 << 21


def _entity_slices(who: np.ndarray, n_entities: int, per: int) -> list[tuple[int, int]]:
    """Ranges of entity rows ``[lo, hi)`` holding about ``per`` claims each (an entity is never split)."""
    cnt = np.bincount(who[who >= 0], minlength=n_entities) if n_entities else np.zeros(0, np.int64)
    cum = np.cumsum(cnt)
    cuts = np.searchsorted(cum, np.arange(per, int(cum[-1]) if len(cum) else 0, per), side="left") + 1
    edges = np.unique(np.r_[0, np.minimum(cuts, n_entities), n_entities])
    return [(int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:])]


def _unique_first(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(key, return_index=True, return_inverse=True)`` of non-negative int64 keys, by
    one sort of ``key · n + position`` (no ties, so the fast unstable sort finds first occurrences).

    >>> [a.tolist() for a in _unique_first(np.array([5, 3, 5, 0]))]
    [[0, 3, 5], [3, 1, 0], [2, 1, 2, 0]]
    """
    n = key.size
    if n == 0 or key.min() < 0 or int(key.max()) >= (1 << 62) // n:
        return np.unique(key, return_index=True, return_inverse=True)
    comp = key * n + np.arange(n)
    comp.sort()
    perm, ks = comp % n, comp // n
    del comp
    start = np.empty(n, bool)
    start[0] = True
    np.not_equal(ks[1:], ks[:-1], out=start[1:])
    inv = np.empty(n, np.intp)
    inv[perm] = np.cumsum(start) - 1
    return ks[start], perm[start], inv


def _pair_means(act: Activity, b: _Builder, grp: np.ndarray) -> None:
    """visits per person and fund per patient: means over (entity, patient) pairs, case-mix
    adjusted (:mod:`graphkit.risk.casemix`) by the diagnosis group × claim type of the pair's first
    claim: visits ``v · E / E_g`` (mean visits per pair), log fund ``f − m_g + m`` (medians). Pairs
    are found per slice of entity rows (an entity's pairs all in one slice, in the same order), so
    the sort never holds all claims; per pair only five small numbers are kept."""
    npat = max(len(act.patients), 1)
    ne = act.n_entities
    ents, vis, fnd, pg, pt = [], [], [], [], []
    for who in (act.prov, act.doc):
        for lo, hi in _entity_slices(who, ne, PAIR_CHUNK):
            sel = np.flatnonzero((who >= lo) & (who < hi))
            key = (who[sel].astype(np.int64) - lo) * npat + act.pat[sel]
            uk, first, inv = _unique_first(key)
            del key
            vis.append(np.bincount(inv, minlength=uk.size).astype(np.float32))
            fnd.append(np.log1p(np.bincount(inv, weights=act.fund[sel], minlength=uk.size)).astype(np.float32))
            del inv
            ents.append((uk // npat + lo).astype(np.int32))
            pg.append(grp[sel[first]])
            pt.append(act.ctype[sel[first]])
            del sel, first, uk
    if not ents:
        return
    ent = np.concatenate(ents)
    v = np.concatenate(vis).astype(float)
    f = np.concatenate(fnd).astype(float)
    g, t = np.concatenate(pg), np.concatenate(pt)
    del ents, vis, fnd, pg, pt
    ev = group_expectation(v, g, t, how="mean")
    et = group_expectation(v, np.zeros(v.size, np.int64), t, how="mean")
    v *= et / ev
    ef = group_expectation(f, g, t)
    f += group_expectation(f, np.zeros(f.size, np.int64), t) - ef
    del g, t, ev, et, ef
    cnt = np.bincount(ent, minlength=ne).astype(float)
    b.add("visits_per_person", cnt, np.bincount(ent, weights=v, minlength=ne), np.bincount(ent, weights=v * v, minlength=ne))
    b.add("fund_per_patient", cnt, np.bincount(ent, weights=f, minlength=ne), np.bincount(ent, weights=f * f, minlength=ne))


def _readmissions(act: Activity, b: _Builder, grp: np.ndarray) -> None:
    inp = np.flatnonzero((act.ctype == 1) & (act.prov >= 0) & (act.day >= 0))
    if inp.size == 0:
        return
    order = inp[np.lexsort((act.day[inp], act.pat[inp], act.prov[inp]))]
    end = act.day[order] + np.nan_to_num(act.los[order], nan=0.0)
    same = np.zeros(order.size, bool)
    same[1:] = (act.prov[order][1:] == act.prov[order][:-1]) & (act.pat[order][1:] == act.pat[order][:-1])
    gap = np.full(order.size, np.inf)
    gap[1:] = act.day[order][1:] - end[:-1]
    gap = np.where(same, gap, np.inf)
    mask = np.zeros(act.n_claims, bool)
    mask[inp] = True
    for name, days in (("readmit_15d", 15), ("readmit_30d", 30)):
        ev = np.zeros(act.n_claims, bool)
        ev[order] = (gap >= 0) & (gap <= days)
        # indirectly standardised by the stay's diagnosis group (planned chemotherapy cycles are
        # readmissions everywhere they are given)
        b.add(name, _count(act, mask), standardised_rate_events(ev, grp, mask, [act.prov, act.doc], act.n_entities))


#: age from which a claim counts towards the elderly share (65岁以上就诊占比)
ELDERLY_AT = 65


def _days(patients: pd.DataFrame, column: str) -> np.ndarray:
    """``patients[column]`` per row as days since 1970 (NaN when unknown or unreadable)."""
    when = pd.to_datetime(patients.get(column), errors="coerce")
    days = when.to_numpy("datetime64[D]").astype("int64").astype(float)
    days[when.isna().to_numpy()] = np.nan
    return days


def birth_days(patients: pd.DataFrame) -> np.ndarray:
    """Birth date per patient row as days since 1970 (NaN when unknown or unreadable).

    >>> birth_days(pd.DataFrame({"birth_date": ["1970-01-11", None]})).tolist()
    [10.0, nan]
    """
    return _days(patients, "birth_date")


def last_birth_days(bday: np.ndarray) -> np.ndarray:
    """The latest birth day each of ``bday`` (:func:`birth_days`) allows
    (:func:`graphkit.profile.latest_births`: the month's last day where every birth date is the 1st
    of its month, as a pseudonymised store keeps them); ``bday`` itself where they are exact.

    >>> last_birth_days(np.array([31.0, np.nan])).tolist()   # 1970-02-01
    [58.0, nan]
    """
    from graphkit.profile import latest_births

    known = ~np.isnan(bday)
    d = np.where(known, bday, 0).astype("int64").astype("datetime64[D]")
    d[~known] = np.datetime64("NaT")
    last = latest_births(d)
    return bday if last is d else np.where(known, last.astype("int64"), np.nan)


def death_days(patients: pd.DataFrame) -> np.ndarray:
    """Death date per patient row as days since 1970 (NaN when unknown, alive or unreadable).

    >>> death_days(pd.DataFrame({"death_date": ["1970-01-03", None]})).tolist()
    [2.0, nan]
    """
    return _days(patients, "death_date")


def after_death(day: np.ndarray, pat: np.ndarray, dday: np.ndarray) -> np.ndarray:
    """Per claim (``day`` days since 1970, ``pat`` patient row): settled after that patient's death
    (``dday`` from :func:`death_days`; never without a death date).

    >>> after_death(np.array([5, 5, 9]), np.array([0, 1, 1]), np.array([np.nan, 6.0])).tolist()
    [False, False, True]
    """
    dd = dday[pat]  # only the claims' patients: called once per provider, not per patient table
    return day > np.where(np.isnan(dd), np.inf, dd)


def claim_ages(act: Activity, rows: slice | np.ndarray, bday: np.ndarray) -> np.ndarray:
    """Age in years at the claims ``rows`` (NaN without a date or a birth date); ``bday`` from
    :func:`birth_days` of ``act.patients``."""
    d = act.day[rows]
    a = (d - bday[act.pat[rows]]) / 365.25
    a[d < 0] = np.nan
    return a


def weekend_mask(day: np.ndarray) -> np.ndarray:
    """Per claim day (days since 1970): settled on a Saturday or Sunday.

    >>> weekend_mask(np.array([0, 2, 3])).tolist()  # 1970-01-01 was a Thursday
    [False, True, True]
    """
    return (np.asarray(day).astype(np.int64) + 3) % 7 >= 5


def night_mask(sec: np.ndarray) -> np.ndarray:
    """Per claim time of day (seconds): settled 22:00–06:00.

    >>> night_mask(np.array([3600, 12 * 3600, 23 * 3600])).tolist()
    [True, False, True]
    """
    sec = np.asarray(sec)
    return (sec < 6 * 3600) | (sec >= 22 * 3600)


def _patient_side(act: Activity, b: _Builder, notes: list[str]) -> None:
    pats = act.patients
    sex = pats["sex"].astype("string") if "sex" in pats else pd.Series(pd.NA, index=pats.index, dtype="string")
    bday = birth_days(pats)
    bday_last = last_birth_days(bday)

    def age_of(rows: slice | np.ndarray) -> np.ndarray:
        return claim_ages(act, rows, bday)

    # per-claim events as booleans, computed a slice of claims at a time (no per-claim floats held)
    n = act.n_claims
    has_age = np.zeros(n, bool)
    elderly = np.zeros(n, bool)
    for i in range(0, n, PAIR_CHUNK):
        sl = slice(i, min(i + PAIR_CHUNK, n))
        a = age_of(sl)
        has_age[sl] = ~np.isnan(a)
        elderly[sl] = a >= ELDERLY_AT
        del a
    if has_age.any():
        b.add_rate("elderly_share", elderly, has_age)
    else:
        notes.append("no birth dates: elderly share and age edits not computed / 无出生日期")
    del elderly
    dday = death_days(pats)
    if (~np.isnan(dday)).any():
        after = after_death(act.day, act.pat, dday)
        b.add_rate("post_death_share", after, act.day >= 0)
        del after
    else:
        notes.append("no death dates: post-death settlements not computed / 无死亡日期")
    if len(act.dx_codes) and (has_age.any() or sex.notna().any()):
        # rule check only for claims whose code falls in a rule's range (checked once per code)
        dxok = act.dx >= 0
        bad_rows = np.zeros(act.n_claims, bool)
        relevant = np.append(_rule_relevant(act.dx_codes), False)[act.dx]  # dx -1 -> False
        sub = np.flatnonzero(relevant)
        del relevant
        if sub.size:
            codes = pd.Series(act.dx_codes.to_numpy(object)[act.dx[sub]])
            sx = pd.Series(sex.to_numpy(object)[act.pat[sub]])
            young = None if bday_last is bday else pd.Series(claim_ages(act, sub, bday_last))
            bad_rows[sub] = implausible_dx(codes, sx, pd.Series(age_of(sub)), young).to_numpy()
        b.add_rate("implausible_dx_share", bad_rows, dxok)
        del bad_rows, dxok
    reg_p = pats["region"].astype("string") if "region" in pats else None
    ent_region = act.entities["region"]
    if reg_p is not None and reg_p.notna().any() and ent_region.notna().any():
        codes, uniq = pd.factorize(pd.concat([reg_p.astype(object), ent_region.astype(object)], ignore_index=True))
        codes = codes.astype(np.int32)
        pcode, ecode = codes[: len(reg_p)], np.append(codes[len(reg_p):], np.int32(-1))  # prov -1 -> -1
        pc = pcode[act.pat]
        ec = ecode[act.prov]
        known = (pc >= 0) & (ec >= 0)
        b.add_rate("out_of_area_share", pc != ec, known)
    else:
        notes.append("regions unknown on patients or providers: out-of-area share not computed / 参保地或机构地区缺失")


def _rule_relevant(codes: pd.Index) -> np.ndarray:
    """Which distinct diagnosis codes fall in any rule range (checked once per code)."""
    if len(codes) == 0:
        return np.zeros(0, bool)
    c = pd.Series(codes.to_numpy(object)).astype("string").str.upper().str.replace(".", "", regex=False).str.strip()
    head = c.str[:3]
    digits = c.str.fullmatch(r"\d{3,5}").fillna(False).to_numpy(bool)
    out = np.zeros(len(c), bool)
    for lo, hi, *_ in DX_RULES:
        inr = head.between(lo, hi).fillna(False).to_numpy(bool)
        out |= inr & (digits if lo.isdigit() else ~digits)
    return out


_ITEM_SHARES = (("drug_share", "drug"), ("material_share", "material"), ("exam_share", "exam"),
                ("non_medical_share", "non_medical"))


def _items(store: Store, act: Activity, b: _Builder, notes: list[str]) -> None:
    if not store.has_table("claim_items"):
        notes.append("no claim_items: drug/material/exam/non-medical shares not computed / 无费用明细")
        return
    # items streamed in stored order; each item's claim row by an Arrow hash lookup among the
    # claims whose ids can hold it (:class:`_ClaimRows`). Per claim: Σ amount, and Σ amount of
    # each category, accumulated item by item in stored order (np.add.at: the same sums,
    # bit for bit, as one np.bincount over all items)
    n_items, batches = table_batches(store, "claim_items", ["claim_id", "category", "amount"])
    if n_items == 0:
        notes.append("claim_items empty: item shares not computed / 费用明细为空")
        return
    rows_of = _ClaimRows(store)
    tot = np.zeros(act.n_claims)
    parts = {c: np.zeros(act.n_claims) for _, c in _ITEM_SHARES}
    for f in batches:
        row = rows_of(f["claim_id"])
        ok = row >= 0
        amt = f["amount"].to_numpy("float64", na_value=0.0)
        np.add.at(tot, row[ok], amt[ok])
        cat = _arrow(f["category"])
        for c, part in parts.items():
            m = ok & np.asarray(_eq(cat, c), bool)
            if m.any():
                np.add.at(part, row[m], amt[m])
        del f, row, ok, amt, cat
    del rows_of
    release_memory()
    base = tot > 0
    for name, c in _ITEM_SHARES:
        share = parts.pop(c)  # the share in place of the part: part / tot where tot > 0, else NaN
        np.divide(share, tot, out=share, where=base)
        share[~base] = np.nan
        b.add_mean(name, share, base)
        del share


def _eq(arr: Any, value: str) -> np.ndarray:
    """``arr == value`` as booleans (null is False)."""
    import pyarrow.compute as pc

    return pc.fill_null(pc.equal(arr, value), False).to_numpy(zero_copy_only=False)


def _roster_sizes(ent: pd.DataFrame) -> np.ndarray:
    """Per entity row, the doctors whose ``doctors.institution_id`` is that institution (0 otherwise).

    >>> e = pd.DataFrame({"entity_type": ["institution", "institution", "doctor", "doctor"],
    ...                   "entity_id": ["H1", "H2", "D1", "D2"], "home": [None, None, "H1", "H1"]})
    >>> _roster_sizes(e).tolist()
    [2, 0, 0, 0]
    """
    at = home_rows(ent)
    return np.bincount(at[at >= 0], minlength=len(ent))


def provider_indicators(store: Store, act: Activity) -> tuple[pd.DataFrame, list[str]]:
    """Raw indicators per entity, long format, and notes on what could not be computed.

    Columns: ``indicator``, ``row`` (entity row of ``act.entities``), ``n`` (claims, patients
    or stays behind the value), ``sum`` (events for rates, Σ values for means), ``sumsq``
    (Σ values² for means), ``value`` (``sum / n``; for ``log`` indicators the mean of
    ln(1 + x)).
    """
    notes: list[str] = []
    b = _Builder(act)
    # per-claim temporaries are dropped as soon as used: the claim-item shares below need room
    # case-mix adjusted (graphkit.risk.casemix): each claim against its diagnosis group's median
    grp = claim_groups(act.dx, act.dx_codes)
    # prices differ by provider level (医疗服务价格 by hospital grade): costs are standardised within
    # the level of the claim's provider (pharmacies: one stratum), as the peers are
    lv_code = pd.factorize(pd.Series(act.entities["level"].astype(object).to_numpy()).astype(str))[0]
    stratum = np.append(lv_code, -1)[act.prov].astype(np.int64)
    for name, t in (("cost_outpatient", 0), ("cost_inpatient", 1), ("cost_pharmacy", 2)):
        m = act.ctype == t
        if not m.any():
            continue
        lt = np.full(act.n_claims, np.nan)
        x = np.log1p(np.maximum(act.total[m], 0.0))
        st = stratum[m]
        lt[m] = x - group_expectation(x, grp[m], st) + group_expectation(x, np.zeros(x.size, np.int64), st)
        b.add_mean(name, lt, m)
        del lt, x, st
    _pair_means(act, b, grp)
    adm = (act.ctype == 0) | (act.ctype == 1)
    b.add("admission_rate", _count(act, adm),
          standardised_rate_events(act.ctype == 1, grp, adm, [act.prov, act.doc], act.n_entities))
    del adm
    los = np.full(act.n_claims, np.nan)
    m = (act.ctype == 1) & ~np.isnan(act.los)
    if m.any():
        x = act.los[m].astype(float)
        los[m] = x - group_expectation(x, grp[m], np.zeros(x.size, np.int64)) + float(np.median(x))
    b.add_mean("length_of_stay", los, act.ctype == 1)
    del los, m
    _readmissions(act, b, grp)
    del grp
    ok = act.day >= 0
    b.add_rate("weekend_share", weekend_mask(act.day), ok)
    if finer_or_equal(act.time_precision, "hour"):
        b.add_rate("night_share", night_mask(act.sec), ok)
    else:
        notes.append(f"times are known to the {act.time_precision or 'unknown'} only: night share not computed, "
                     "weekend share kept / 时间仅精确到日：不计夜间占比，保留周末占比")
    del ok
    if (act.doc >= 0).any():
        both = (act.doc >= 0) & (act.prov >= 0)
        ninst = act.n_entities
        key = act.prov[both].astype(np.int64) * ninst + act.doc[both]
        uk, cnt = np.unique(key, return_counts=True)
        del key
        top = np.zeros(ninst)
        np.maximum.at(top, uk // ninst, cnt)
        nd = np.bincount(act.prov[both], minlength=ninst).astype(float)
        # a one-doctor practice (a private clinic, a village doctor) is all that doctor's by nature:
        # the concentration is measured where two or more doctors work (roster or claims)
        nd[np.maximum(np.bincount(uk // ninst, minlength=ninst), _roster_sizes(act.entities)) < 2] = 0.0
        b.add("top_doctor_share", nd, top)
        del both, uk, cnt
    _patient_side(act, b, notes)
    _items(store, act, b, notes)
    cols = ["indicator", "row", "n", "sum", "sumsq", "value"]
    out = pd.concat(b.frames, ignore_index=True) if b.frames else pd.DataFrame(columns=cols)
    return out[cols], notes
