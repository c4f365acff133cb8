"""A benign look-alike of ``impossible_travel`` tested on the data: a remote consultation
whose prescription is filled near home (互联网医院复诊 + 就近药店取药 / 处方外配).

A patient at home has an online follow-up visit with a hospital (the claim carries the
hospital's place, often hundreds of km away) and fills the prescription at the local
pharmacy minutes later. Two claims, two places, one person who never moved. What any bureau's
data shows about such a pair, and not about a cloned card read by a stranger far away:

* **one flow**: an institution visit, then a pharmacy purchase (a consultation precedes the
  fill it causes);
* **one condition**: the pharmacy claim carries the visit's diagnosis (the prescription's);
  a clone's far claim is a stranger's, whose diagnosis matches the holder's only by chance;
* **at home**: the pharmacy is on the patient's home side (their registered region, or
  nearer to it than the institution).

Null, calibrated on the bundle at hand (no constant fitted to any city):

* under a clone the two claims are independent: the chance that the far claim carries the
  same diagnosis is ``f(c)``, the share of this data's institution claims with that code when
  the pharmacy is known to be the home side (the holder's), else the larger of the
  institution and pharmacy shares (from a uniform sample of consecutive-settlement pairs,
  which over-represents frequent patients' codes: conservative; floor one in the sample), and a consultation precedes the fill with probability 1/2 (when
  the data's precision fixes the order at all);
* under a remote consultation the diagnosis matches at ``r``, the rate at which this data's
  *ordinary* (physically possible) institution → pharmacy pairs of one card within the same
  window share their diagnosis (Laplace-smoothed);
* per pair ``log10 LR = log10(r / (f(c) · p_order))``, summed over the pairs that qualify.

Outcome: ``explains`` when every pair qualifies, every pharmacy is at home and the summed
evidence reaches 2 decades (Jeffreys' "decisive"), with the factor ``1 / (1 + LR)``: the chance
that the pair is a clone rather than a consultation at even prior odds between the two (both
explain the distance; the data's LR decides between them, so a decisive match leaves little); ``partial`` (×(1 − q/2), ``q`` the
share of pairs qualifying) from 1 decade; else ``ruled_out``. ``not_testable`` without
diagnoses on claims or with too few ordinary consultation → fill pairs to calibrate ``r``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._common import benign_check

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["FlowContext", "flow_context", "flow_check", "dx_key"]

FLOW = "remote_consult_fill"
FLOW_ZH = "互联网医院复诊/远程问诊后就近药店取药"
_ICD = re.compile(r"^[A-Z][0-9]{2}")


def dx_key(code: Any) -> str | None:
    """A diagnosis code at the granularity two sources agree on: the ICD-10 category (three
    characters) when the code is ICD-like, else the whole code; blanks are None.

    >>> dx_key("E11.900x001"), dx_key(" e11.9 "), dx_key("I10"), dx_key("慢阻肺"), dx_key(None), dx_key("")
    ('E11', 'E11', 'I10', '慢阻肺', None, None)
    """
    if code is None or (isinstance(code, float) and math.isnan(code)) or code is pd.NA:
        return None
    s = re.sub(r"[\s.]", "", str(code)).upper()
    if not s:
        return None
    return s[:3] if _ICD.match(s) else s


@dataclass
class FlowContext:
    """What :func:`flow_check` needs: the calibrated rates and per-claim facts."""

    rate: float = 0.0                      # r: same-diagnosis share of ordinary consult → fill pairs
    n_ref: int = 0                         # ordinary pairs behind r
    freq: dict = field(default_factory=dict)   # dx key → f(c): the larger of the two provider types' shares
    freq_inst: dict = field(default_factory=dict)  # dx key → share among institution claims
    floor: float = 1.0                     # f of a code never seen in the sample
    dx: dict = field(default_factory=dict)     # claim_id → dx key (claims of the impossible pairs)
    home: dict = field(default_factory=dict)   # (patient, pharmacy key, institution key) → bool | None
    reason: str | None = None              # why not testable


def _keys(s: pd.Series) -> pd.Series:
    return pd.Series([dx_key(x) for x in s.to_numpy(object)], index=s.index, dtype=object)


def flow_context(store: Store, pairs: pd.DataFrame, bad: np.ndarray, v: pd.DataFrame, *,
                 sample: int = 40_000, coordinate_km: float = 0.5) -> FlowContext:
    """Calibrate the consult → fill check on this data (see the module docstring).

    ``pairs``: every judged consecutive-settlement pair; ``bad``: which are impossible;
    ``v``: the impossible pairs (with ``patient_b``/``patient_a``, ``provider_a``/``_b``).
    """
    is_ip = lambda d: d["provider_a"].str.startswith("institution:") & d["provider_b"].str.startswith("pharmacy:")  # noqa: E731
    is_pi = lambda d: d["provider_a"].str.startswith("pharmacy:") & d["provider_b"].str.startswith("institution:")  # noqa: E731
    cand = v[is_ip(v) | is_pi(v)]
    if cand.empty:
        return FlowContext(reason="no pair of an institution visit and a pharmacy purchase")
    window = max(1.0, float(cand["gap_hours"].max()))
    # uniform sample of all judged pairs: chance frequencies of each code, by provider type
    rng = np.random.default_rng(0)
    card = (pairs["by"] == "card_id").to_numpy()
    idx = np.flatnonzero(card)
    pick = np.sort(rng.choice(idx, min(sample, idx.size), replace=False)) if idx.size else idx
    smp = pairs.iloc[pick]
    ref = pairs[card & ~bad & is_ip(pairs).to_numpy() & (pairs["gap_hours"] <= window).to_numpy()]
    if len(ref) > sample:
        ref = ref.iloc[np.sort(rng.choice(len(ref), sample, replace=False))]
    ids = pd.unique(pd.concat([smp["claim_a"], smp["claim_b"], ref["claim_a"], ref["claim_b"],
                               cand["claim_a"], cand["claim_b"]], ignore_index=True).astype(str))
    try:  # (diagnosis_code is a bundle column, so a store has it, possibly all null)
        got = store.claims_by_id(ids, ["diagnosis_code"])
    except (KeyError, ValueError):
        got = pd.DataFrame()
    if "diagnosis_code" not in got.columns or not got["diagnosis_code"].notna().any():
        return FlowContext(reason="claims carry no diagnosis codes")
    dx = pd.Series(_keys(got["diagnosis_code"]).to_numpy(object), index=got["claim_id"].astype(str).to_numpy())
    dx = dx[~dx.index.duplicated()]
    # chance frequencies f(c): the larger of the institution-claim and pharmacy-claim shares
    side = pd.concat([smp[["claim_a", "provider_a"]].set_axis(["c", "p"], axis=1),
                      smp[["claim_b", "provider_b"]].set_axis(["c", "p"], axis=1)]).drop_duplicates("c")
    side["dx"] = side["c"].astype(str).map(dx)
    side["t"] = side["p"].str.split(":", n=1).str[0]
    freq: dict[str, float] = {}
    freq_inst: dict[str, float] = {}
    floor = 1.0
    for t, g in side.groupby("t"):
        n = len(g)
        if n == 0:
            continue
        floor = min(floor, 1.0 / n)
        for code, k in g["dx"].dropna().value_counts().items():
            freq[code] = max(freq.get(code, 0.0), k / n)
            if t == "institution":
                freq_inst[code] = k / n
    # r: ordinary institution → pharmacy pairs of one card within the window
    da, db = ref["claim_a"].astype(str).map(dx), ref["claim_b"].astype(str).map(dx)
    have_a, have_b = da.notna(), db.notna()
    if int(have_b.sum()) < 20 or int(have_a.sum()) < 20:
        return FlowContext(reason=f"too few ordinary visit → pharmacy pairs with diagnoses to calibrate "
                                  f"({int((have_a & have_b).sum())})", dx=dx.to_dict())
    n_ref = int(have_a.sum())
    m = int((da[have_a] == db[have_a]).sum())
    rate = (m + 1) / (n_ref + 2)
    return FlowContext(rate=rate, n_ref=n_ref, freq=freq, freq_inst=freq_inst, floor=floor, dx=dx.to_dict(),
                       home=_home_sides(store, cand, coordinate_km))


def _home_sides(store: Store, cand: pd.DataFrame, coordinate_km: float) -> dict:
    """(patient, pharmacy, institution) → whether the pharmacy is on the patient's home side:
    in the patient's registered region, or nearer to that region's centroid than the
    institution; None when the patient's region is unknown or cannot be placed."""
    from ..places import _provider_frame, haversine_km, normalise_codes, provider_places, region_places

    ph_first = cand["provider_a"].str.startswith("pharmacy:")
    t = pd.DataFrame({"patient": np.where(ph_first, cand["patient_a"], cand["patient_b"]),
                      "ph": np.where(ph_first, cand["provider_a"], cand["provider_b"]),
                      "inst": np.where(ph_first, cand["provider_b"], cand["provider_a"])}).drop_duplicates()
    if not store.has_table("patients") or "region" not in store.columns("patients"):
        return {k: None for k in t.itertuples(index=False, name=None)}
    pats = store.table("patients", ["patient_id", "region"])
    reg = pd.Series(normalise_codes(pats["region"]).to_numpy(object), index=pats["patient_id"].astype(str).to_numpy())
    places = provider_places(store, coordinate_km=coordinate_km)
    places["key"] = places["provider_type"] + ":" + places["provider_id"].astype(str)
    places = places.set_index("key")
    prov = _provider_frame(store)
    regions = store.table("regions") if store.has_table("regions") else None
    t["region"] = t["patient"].astype(str).map(reg)
    rp = region_places(regions, prov[["region", "lat", "lon"]], codes=t["region"].dropna().astype("string")).set_index("region")
    out: dict = {}
    for (p, ph, inst, r) in t[["patient", "ph", "inst", "region"]].itertuples(index=False, name=None):
        if r is None or (isinstance(r, float) and math.isnan(r)) or pd.isna(r):
            out[(p, ph, inst)] = None
            continue
        if ph in places.index and normalise_codes(pd.Series([places.at[ph, "region"]])).iloc[0] == r:
            out[(p, ph, inst)] = True
            continue
        if r not in rp.index or pd.isna(rp.at[r, "lat"]) or ph not in places.index or inst not in places.index:
            out[(p, ph, inst)] = None
            continue
        la, lo = float(rp.at[r, "lat"]), float(rp.at[r, "lon"])
        d_ph = float(haversine_km(la, lo, places.at[ph, "lat"], places.at[ph, "lon"]))
        d_in = float(haversine_km(la, lo, places.at[inst, "lat"], places.at[inst, "lon"]))
        out[(p, ph, inst)] = bool(d_ph < d_in) if not (math.isnan(d_ph) or math.isnan(d_in)) else None
    return out


def flow_check(rows: pd.DataFrame, ctx: FlowContext | None, tolerance_min: float) -> dict:
    """The ``remote_consult_fill`` benign check of one finding's impossible pairs."""
    if ctx is None or ctx.reason:
        return benign_check(FLOW, FLOW_ZH, "not_testable", (ctx.reason if ctx else "not computed"))
    llr, qual, home_unknown, notes = 0.0, 0, 0, []
    for r in rows.itertuples(index=False):
        ip = r.provider_a.startswith("institution:") and r.provider_b.startswith("pharmacy:")
        pi = r.provider_a.startswith("pharmacy:") and r.provider_b.startswith("institution:")
        if not (ip or pi):
            continue
        gap_s = float(r.gap_hours) * 3600.0
        certain = gap_s >= float(r.unc_a)  # the written times fix the order
        if pi and certain and gap_s > tolerance_min * 60.0:
            continue  # the purchase came first: not a fill of this consultation
        inst_c, ph_c = (r.claim_a, r.claim_b) if ip else (r.claim_b, r.claim_a)
        ci, cp = ctx.dx.get(str(inst_c)), ctx.dx.get(str(ph_c))
        if ci is None or ci != cp:
            continue
        patient = r.patient_b if ip else r.patient_a
        home = ctx.home.get((patient, r.provider_b if ip else r.provider_a, r.provider_a if ip else r.provider_b))
        if home is False:
            continue
        home_unknown += home is None
        p_order = 0.5 if (ip and certain) else 1.0
        # the pharmacy at home is the holder's: the candidate stranger's claim is the visit
        f = max((ctx.freq_inst if home else ctx.freq).get(ci, 0.0), ctx.floor)
        llr += math.log10(ctx.rate / (f * p_order))
        qual += 1
        notes.append(ci)
    n = len(rows)
    q = qual / max(n, 1)
    base = (f"{qual} of {n} pair(s) are a visit then a purchase of the same diagnosis ({', '.join(sorted(set(notes))) or '—'}) "
            f"with the pharmacy at the patient's home side; log10 LR {llr:.2f} (same-diagnosis rate of this data's "
            f"ordinary visit → pharmacy pairs {ctx.rate:.2f} over {ctx.n_ref}, against each code's chance share)")
    if qual == n and llr >= 2.0 and home_unknown == 0:
        return benign_check(FLOW, FLOW_ZH, "explains", base + ": a remote consultation filled near home",
                            round(1.0 / (1.0 + 10.0 ** llr), 6))
    if qual and llr >= 1.0:
        return benign_check(FLOW, FLOW_ZH, "partial", base, round(1.0 - 0.5 * q, 4))
    return benign_check(FLOW, FLOW_ZH, "ruled_out", base)
