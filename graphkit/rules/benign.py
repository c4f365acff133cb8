"""Legal look-alikes of rule hits, tested from the data and recorded in ``evidence["benign_checks"]``.

Rules count and pair item lines per person and window; some legal ways of care add up the
same way. Each check below looks at the hit lines of the rules whose shape it can explain and
asks the data — never a label — whether the legal explanation holds for each line:

``newborn_on_parent_card`` (新生儿随父母结算) — rules over one person's window (pairs, counts,
    quantities, age/sex limits, repeats, split claims): the line's claim, or a stay of the
    same person at the same provider overlapping it, carries a newborn's diagnosis (ICD-10
    P00–P96 / Z38, ICD-9 760–779 / V30–V39) while the person is not an infant (aged ≥ 1): two
    people's lines (the mother's and the baby's) under one id. A child past the newborn period
    has its own card; a paediatric item alone on an adult's claim explains nothing.
``institution_batch`` (养老机构/集体户批量结算) — count and split rules (a month's quantity, two
    claims a day, a code twice a day): the person lives at a collective address (more people
    on one address than :func:`~graphkit.detectors._people.household_max`, the data's Tukey
    fence of people per address) and, on the line's day, more residents of that address than a
    household holds settled at this provider: a care home's or dormitory's batch.
``treatment_sessions`` (一日两次治疗疗程) — the same count and split rules: the line's claim is a
    treatment session (it bills a catalogue ``treatment`` item), one of two or more the person
    had at this provider that day with one diagnosis at least :data:`SESSION_GAP_HOURS` apart,
    on at least :data:`COURSE_DAYS` such days: a planned course billed per session.
``chronic_refill_day`` (慢病按月取药) — the month's quantity (``peer_quantity``): the person
    carries a chronic diagnosis (门诊慢特病, :data:`~graphkit.monitoring.constants.CHRONIC_PREFIXES`)
    and buys this code at this provider within a day of the same day of the month in at least
    :data:`SCHEDULE_MONTHS` months: the regular refill, not the excess.

For the month's quantity the three last checks also need the line itself to be an ordinary
dispense: its quantity at most the city's upper quartile of lines of that code (the month's
excess then comes from how often the person is seen, which the check explains, not from a
large dispense, which it does not).

Each explained line is attributed to the first check (in the order above) that explains it.
A check explaining a share ``e`` of the finding's 违规金额 is ``explains`` (``e = 1``) or
``partial`` with factor ``1 − e·(1 − weight)``; the finding's score is multiplied by the
product of the factors (:func:`~graphkit.detectors._common.benign_factor`), so a fully explained
finding keeps ``weight`` (0.2) of its score: demoted below the unexplained ones, still listed.

Examples
--------
>>> share_factor(1.0, 0.2), share_factor(0.5, 0.2), share_factor(0.0, 0.2)
(0.2, 0.6, 1.0)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..detectors._common import benign_check, benign_factor
from ..findings import Finding
from ..monitoring.constants import CHRONIC_PREFIXES
from .shapes import codes_of

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

    from .engine import RuleRun
    from .frame import ItemFrame

__all__ = ["weigh_benign", "line_checks", "share_factor", "BENIGN_WEIGHT", "CHECKS", "SESSION_GAP_HOURS",
           "COURSE_DAYS", "SCHEDULE_MONTHS"]

#: score factor of a finding its checks fully explain (the house's institution/campaign weight)
BENIGN_WEIGHT = 0.2
#: two claims of one day are separate sessions when at least this far apart (a treatment session
#: lasts under an hour; the second is booked for the other half of the day) — a definition
SESSION_GAP_HOURS = 2.0
#: days with two or more sessions that make a course (one such day is a coincidence) — a definition
COURSE_DAYS = 3
#: months on one day of the month (±1) that make a refill schedule (the burst detector's monthly
#: schedule asks for four episodes; a person's own refill needs only to recur) — a definition
SCHEDULE_MONTHS = 3

#: shapes that count, pair or limit lines within one person's window (two people's lines under
#: one id can trip them); price, scope and coding rules are not explained by who the lines are for
_PERSON_SHAPES = frozenset({"pair", "count_window", "quantity_limit", "stay_quantity", "patient_limit", "data_repeat",
                            "split_claims", "claim_count", "peer_quantity", "supply_overlap"})
#: shapes that add up a person's visits (a month's quantity, several claims or lines a day)
_VISIT_SHAPES = frozenset({"peer_quantity", "data_repeat", "split_claims", "claim_count"})

#: check → (Chinese name, shapes it can explain)
CHECKS: dict[str, tuple[str, frozenset[str]]] = {
    "newborn_on_parent_card": ("新生儿随父母结算", _PERSON_SHAPES),
    "institution_batch": ("养老机构/集体户批量结算", _VISIT_SHAPES),
    "treatment_sessions": ("一日两次治疗疗程", _VISIT_SHAPES),
    "chronic_refill_day": ("慢病按月取药", frozenset({"peer_quantity"})),
}
_DAY = 86_400


def share_factor(share: float, weight: float) -> float:
    """Score factor of a check explaining ``share`` of a finding's 违规金额: ``1 − share·(1 − weight)``."""
    return round(1.0 - float(share) * (1.0 - float(weight)), 4)


def _perinatal(dx: pd.Series) -> np.ndarray:
    from ..detectors.duplicates import is_perinatal

    return is_perinatal(dx)


@dataclasses.dataclass
class _Claims:
    """One row per claim of the item frame (``idx``: the claim of each frame row; ``has``: whether
    the claim has lines)."""

    idx: np.ndarray
    has: np.ndarray
    pat: np.ndarray
    prov: np.ndarray
    sday: np.ndarray
    eday: np.ndarray
    secs: np.ndarray
    dx: np.ndarray
    dx_cats: pd.Index
    pat_cats: pd.Index


def _claims(frame: ItemFrame) -> _Claims:
    """Per claim row (``ci``), its person, provider, days, time of day and diagnosis (a claim
    without lines: person, provider and diagnosis -1)."""
    cl = frame.claims
    has = frame.has_lines()

    def at(codes: np.ndarray) -> np.ndarray:  # per claim, int32: 11.7M claims × 6 arrays
        return np.where(has, np.asarray(codes), -1).astype(np.int32)

    pt = codes_of(cl["provider_type"])
    pid = codes_of(cl["provider_id"])
    prov = at(pt.astype(np.int64) * (int(pid.max(initial=0)) + 2) + pid + 1)
    del pt, pid
    start = cl["start"].to_numpy("datetime64[s]").astype("int64")
    sday = cl["sday"].to_numpy().astype(np.int32)
    dxs = cl["diagnosis_code"]
    return _Claims(idx=frame.ci, has=has, pat=at(codes_of(cl["patient_id"])), prov=prov, sday=sday,
                   eday=np.maximum(cl["eday"].to_numpy(), sday).astype(np.int32),
                   secs=np.mod(start, _DAY).astype(np.int32), dx=at(codes_of(dxs)),
                   dx_cats=dxs.cat.categories if isinstance(dxs.dtype, pd.CategoricalDtype) else pd.Index([]),
                   pat_cats=cl["patient_id"].cat.categories)


def _key(*cols: np.ndarray) -> np.ndarray:
    out = np.zeros(len(cols[0]), dtype=np.int64)
    for c in cols:
        c = np.asarray(c, dtype=np.int64)
        out = pd.factorize(out * (int(c.max(initial=0)) + 2) + c + 1)[0].astype(np.int64)
    return out


def _newborn(frame: ItemFrame, c: _Claims, rows: np.ndarray, hc: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Lines on a newborn's claim, or overlapping one of the same person at the same provider,
    of a person aged 1 or more. Returns (explained, testable, note)."""
    age = frame.claims["age"].to_numpy("float64")[hc]
    peri_cat = _perinatal(pd.Series(c.dx_cats.astype(str))) if len(c.dx_cats) else np.zeros(0, bool)
    peri = np.where(c.dx >= 0, np.append(peri_cat, False)[c.dx], False)
    testable = ~np.isnan(age) & (c.dx[hc] >= 0)
    hit = peri[hc].copy()
    p = np.flatnonzero(peri)
    if p.size and rows.size:
        a = pd.DataFrame({"i": np.arange(rows.size), "pat": c.pat[hc], "prov": c.prov[hc], "s": c.sday[hc],
                          "e": c.eday[hc], "ci": hc})
        b = pd.DataFrame({"pat": c.pat[p], "prov": c.prov[p], "ps": c.sday[p], "pe": c.eday[p], "pci": p})
        m = a.merge(b, on=["pat", "prov"])
        m = m[(m["ci"] != m["pci"]) & (m["s"] <= m["pe"]) & (m["ps"] <= m["e"])]
        hit[m["i"].to_numpy()] = True
    ok = testable & hit & (age >= 1)
    return ok, testable, "a newborn's diagnosis (P00–P96/Z38) on the line's claim or an overlapping stay, person aged ≥ 1"


def _batch(frame: ItemFrame, c: _Claims, hc: np.ndarray, store: Store | None) -> tuple:
    """Lines of residents of a collective address on a day more residents than a household
    settled at this provider. Returns (explained, testable, note, residents that day per line)."""
    n = hc.size
    if store is None:
        return np.zeros(n, bool), False, "no store given: contacts not read"
    if not store.has_table("contacts"):
        return np.zeros(n, bool), False, "no contacts in the data"
    from ..detectors._people import address_groups

    ref = pd.Timestamp(frame.claims["start"].to_numpy()[c.has].max()) if len(frame) else None
    groups, address_of, hh_max = address_groups(store, ref)
    if groups.empty:
        return np.zeros(n, bool), False, "no addresses in the data"
    coll = groups.index[groups["collective"].to_numpy()]
    addr = pd.Series(c.pat_cats.astype(object)).map(address_of)
    acode = pd.Index(coll).get_indexer(addr.to_numpy(object))  # -1: no collective address
    ca = np.where(c.pat >= 0, np.append(acode, -1)[c.pat], -1)
    on = np.flatnonzero(ca >= 0)
    n_co = np.zeros(c.pat.size, np.int64)
    if on.size:
        d = pd.DataFrame({"prov": c.prov[on], "day": c.sday[on], "a": ca[on], "pat": c.pat[on]})
        n_co[on] = d.groupby(["prov", "day", "a"])["pat"].transform("nunique").to_numpy()
    hit = n_co[hc] > hh_max
    return hit, True, (f"more residents of one collective address than a household holds (> {hh_max}, the data's fence) "
                       f"settled here that day"), n_co[hc]


def _sessions(frame: ItemFrame, c: _Claims, hc: np.ndarray, kb: Any) -> tuple[np.ndarray, bool, str]:
    """Lines on treatment-session claims of a course (two or more sessions a day, hours apart,
    one diagnosis, on at least COURSE_DAYS days). Returns (explained, testable, note)."""
    n = hc.size
    if not (c.secs != 0).any():
        return np.zeros(n, bool), False, "claim times carry no time of day"
    df = frame.lines
    code = df["item_code"]
    cat_kb = kb.items["category"].reindex(code.cat.categories.astype(str)).to_numpy(object)
    treat = np.append(cat_kb == "treatment", False)[code.array.codes]  # -1 (null): the appended False
    if "category" in df.columns:
        cat = df["category"]
        if isinstance(cat.dtype, pd.CategoricalDtype):  # compared once per category, not per line
            treat |= np.append(cat.cat.categories.astype(str) == "treatment", False)[cat.array.codes]
        else:
            treat |= (cat.astype(object) == "treatment").to_numpy(bool)
    sess = np.bincount(c.idx, weights=treat, minlength=c.pat.size) > 0
    s = np.flatnonzero(sess & (c.dx >= 0))
    ok = np.zeros(c.pat.size, bool)
    if s.size:
        d = pd.DataFrame({"k": _key(c.pat[s], c.prov[s], c.dx[s]), "day": c.sday[s], "t": c.secs[s], "i": s})
        g = d.groupby(["k", "day"])["t"]
        two = ((g.transform("size") >= 2) & (g.transform("max") - g.transform("min") >= SESSION_GAP_HOURS * 3600)).to_numpy()
        d = d[two]
        days = d.groupby("k")["day"].transform("nunique").to_numpy()
        ok[d["i"].to_numpy()[days >= COURSE_DAYS]] = True
    return ok[hc], True, (f"treatment sessions ≥ {SESSION_GAP_HOURS:g} h apart, one diagnosis, "
                          f"two or more a day on ≥ {COURSE_DAYS} days")


def _refill(frame: ItemFrame, c: _Claims, rows: np.ndarray, hc: np.ndarray) -> tuple[np.ndarray, bool, str]:
    """Lines of a chronic patient's monthly refill of the code at this provider (within a day
    of one day of the month in at least SCHEDULE_MONTHS months). Returns (explained, testable, note)."""
    n = rows.size
    mc = codes_of(frame.claims["month"])[c.has]
    months_in_data = int(np.count_nonzero(np.bincount(mc[mc >= 0])))  # the months the lines fall in
    del mc
    if months_in_data < SCHEDULE_MONTHS:
        return np.zeros(n, bool), False, f"the data covers fewer than {SCHEDULE_MONTHS} months"
    chron_cat = pd.Series(c.dx_cats.astype(str)).str.upper().str.startswith(CHRONIC_PREFIXES).to_numpy(bool) \
        if len(c.dx_cats) else np.zeros(0, bool)
    chron_claim = np.where(c.dx >= 0, np.append(chron_cat, False)[c.dx], False)
    chronic = np.zeros(len(c.pat_cats) + 1, bool)
    chronic[c.pat[chron_claim]] = True
    def mon_dom(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # calendar month and day of the month of lines r
        d = c.sday[c.idx[r]].astype("datetime64[D]")
        m = d.astype("datetime64[M]")
        return m, (d - m.astype("datetime64[D]")).astype(np.int64) + 1

    code = np.asarray(frame.lines["item_code"].array.codes)
    hk = pd.DataFrame({"pat": c.pat[hc], "prov": c.prov[hc], "code": code[rows], "i": np.arange(n),
                       "dom": mon_dom(rows)[1]})
    need = hk[["pat", "prov", "code"]].drop_duplicates()
    # the hit people's lines only (their claims first: a claim-sized mask, not a line-sized gather)
    theirs = np.isin(c.pat, need["pat"].to_numpy())
    mine = np.flatnonzero(theirs[c.idx])
    del theirs
    ci = c.idx[mine]
    mon, dom = mon_dom(mine)
    al = pd.DataFrame({"pat": c.pat[ci], "prov": c.prov[ci], "code": code[mine], "m": mon.astype(np.int64),
                       "d": dom}).merge(need, on=["pat", "prov", "code"])
    m = hk.merge(al, on=["pat", "prov", "code"])
    near = np.abs(((m["d"].to_numpy() - m["dom"].to_numpy() + 15) % 31) - 15) <= 1
    months = m[near].groupby("i")["m"].nunique().reindex(range(n), fill_value=0).to_numpy()
    hit = (months >= SCHEDULE_MONTHS) & chronic[np.maximum(c.pat[hc], 0)] & (c.pat[hc] >= 0)
    return hit, True, (f"a chronic patient's refill of this code here within a day of one day of the month "
                       f"in ≥ {SCHEDULE_MONTHS} months")


def _ordinary_dispense(frame: ItemFrame, rows: np.ndarray) -> np.ndarray:
    """The lines ``rows`` whose quantity is at most the city's upper quartile of lines of that
    code (computed over those codes' lines only)."""
    if "quantity" not in frame.columns or not rows.size:
        return np.ones(rows.size, bool)
    code = np.asarray(frame.lines["item_code"].array.codes)
    q = np.asarray(frame.column("quantity"), dtype="float64")
    on = np.flatnonzero(np.isin(code, np.unique(code[rows])) & (q > 0))
    q3 = pd.Series(q[on]).groupby(code[on]).quantile(0.75)
    lim = q3.reindex(code[rows]).to_numpy("float64")
    return ~(q[rows] > lim)


def line_checks(run: RuleRun, store: Store | None = None) -> dict[str, Any]:
    """Per hit line of ``run``: which check explains it (``why``: a check name or ``""``), and
    per check whether the data could test it (``testable``: a bool, or a per-line array) and
    how (``note``)."""
    frame = run.frame
    rows = run.hits["row"].to_numpy()
    shapes = {r.id: r.shape for r in run.pack.rules}
    shape = run.hits["rule_id"].map(shapes).to_numpy(object)
    c = _claims(frame)
    hc = c.idx[rows]
    qty_rule = shape == "peer_quantity"
    ordinary = np.ones(rows.size, bool)  # only the month's quantity asks for an ordinary dispense
    ordinary[qty_rule] = _ordinary_dispense(frame, rows[qty_rule])
    # each check runs on the lines of the shapes it can explain only (most hit lines are of others)
    on = {name: np.flatnonzero(np.isin(shape, list(shapes))) for name, (_, shapes) in CHECKS.items()}
    run_check = {
        "newborn_on_parent_card": lambda ix: _newborn(frame, c, rows[ix], hc[ix]),
        "institution_batch": lambda ix: _batch(frame, c, hc[ix], store),
        "treatment_sessions": lambda ix: _sessions(frame, c, hc[ix], run.pack.kb),
        "chronic_refill_day": lambda ix: _refill(frame, c, rows[ix], hc[ix]),
    }
    # a check with no line to look at is not run (no finding of its shapes asks for it)
    res = {name: fn(on[name]) if on[name].size else (np.zeros(0, bool), False, "no line of its shapes")
           for name, fn in run_check.items()}
    why = np.full(rows.size, "", dtype=object)
    testable: dict[str, Any] = {}
    for name, (hit_on, t, _, *_rest) in res.items():
        hit = np.zeros(rows.size, bool)
        hit[on[name]] = hit_on
        if isinstance(t, np.ndarray):  # per line: scattered back (lines of other shapes: not tested)
            testable[name] = np.zeros(rows.size, bool)
            testable[name][on[name]] = t
        else:
            testable[name] = t
        if name != "newborn_on_parent_card":
            hit = hit & (ordinary | ~qty_rule)
        why[(why == "") & hit] = name
    residents = None
    if len(res["institution_batch"]) > 3:
        residents = np.zeros(rows.size, np.int64)
        residents[on["institution_batch"]] = res["institution_batch"][3]
    return {"why": why, "shape": shape, "ordinary": ordinary, "residents": residents,
            "testable": testable, "note": {k: v[2] for k, v in res.items()}}


def weigh_benign(run: RuleRun, findings: list[Finding], *, store: Store | None = None,
                 weight: float = BENIGN_WEIGHT) -> list[Finding]:
    """``findings`` (of :func:`~graphkit.rules.engine.rule_findings`) with ``benign_checks`` and
    ``benign_factor`` in their evidence and the score multiplied by that factor. ``store``:
    where the contacts are read (the institution check is ``not_testable`` without it)."""
    if not findings or run.frame is None or not len(run.hits):
        return findings
    lc = line_checks(run, store)
    why = lc["why"]
    rows = run.hits["row"].to_numpy()
    ded = run.hits["deduct"].to_numpy("float64")
    at = run.frame.take(["provider_type", "provider_id", "month"], rows)
    key = pd.DataFrame({"r": run.hits["rule_id"].astype(str).to_numpy(),
                        **{k: at[c].astype(str).to_numpy() for k, c in
                           (("t", "provider_type"), ("p", "provider_id"), ("m", "month"))}})
    del at
    groups = key.groupby(["r", "t", "p", "m"], sort=False).indices
    out = []
    for f in findings:
        ev = f.evidence
        venue = next((e for e in f.entities if e.role == "venue"), None)
        ix = groups.get((ev["rule_id"], venue.type if venue else "", venue.id if venue else "", ev["month"]))
        shape = ev.get("shape")
        names = [n for n, (_, shapes) in CHECKS.items() if shape in shapes]
        if ix is None or not names:
            out.append(f)
            continue
        d = ded[ix]
        total = float(d.sum())
        w = d if total > 0 else np.ones(ix.size)
        checks = []
        for n in names:
            zh = CHECKS[n][0]
            t = lc["testable"][n]
            tested = bool(np.asarray(t)[ix].any()) if isinstance(t, np.ndarray) else bool(t)
            on = why[ix] == n
            k = int(on.sum())
            share = float(w[on].sum() / w.sum()) if w.sum() > 0 else 0.0
            if k:
                detail = f"{k} of {ix.size} lines ({share:.0%} of 违规金额): {lc['note'][n]}"
                if n == "institution_batch" and lc["residents"] is not None:
                    detail += f" (up to {int(lc['residents'][ix][on].max())} residents)"
                outcome = "explains" if k == ix.size else "partial"
                checks.append(benign_check(n, zh, outcome, detail, share_factor(share, weight) if k < ix.size else weight))
            elif not tested:
                checks.append(benign_check(n, zh, "not_testable", lc["note"][n]))
            else:
                checks.append(benign_check(n, zh, "ruled_out", f"no line of {ix.size}: {lc['note'][n]}"))
        factor = benign_factor(checks)
        evidence = {**ev, "benign_checks": checks, "benign_factor": round(factor, 4)}
        out.append(dataclasses.replace(f, score=round(f.score * factor, 6), evidence=evidence))
    return out
