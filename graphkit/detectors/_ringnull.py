"""The null a ``collusion_ring`` is scored against, and its benign checks.

Null: members present independently
    Under the null each member ``i`` visits a venue on ``n_i`` days (their own count there,
    joint or not), placed independently: in a window ``t`` of ``2w+1`` days (admissions) or on
    an open day (ambulatory care) member ``i`` is present with ``π_it = min(1, n_i · share_t)``.
    For admissions ``share_t`` is not uniform: it follows the admissions of the venue's region
    on those days (the venue itself left out; empirical-Bayes blended with the city), so an
    influenza wave that fills every ward in the same weeks raises the chance of meeting
    (*outbreak-adjusted*). The number of members present is a Poisson-binomial; the expected
    chance of an event of at least ``k`` members in window ``t`` is ``P(PB_t ≥ k)``; the ring's
    events with at least ``k`` members are tested in the windows they happened (any of the
    windows could have held them), and the best ``k`` is kept (Bonferroni over the ``k``
    tried). ``log10 p`` is that tail; the ring's
    surprise is :func:`~._common.surprise` over the candidate groups tested. Each event is judged in its own window: an event in a wave
    window is less surprising, one in a quiet window more (see :func:`ring_null`).

Benign checks
    ``household_or_care_home`` (registered families and shared addresses: the members are few
    independent units), ``scheduled_therapy`` (dialysis, rehabilitation, chemotherapy codes, a
    regular ambulatory schedule, a cohort referred into the venue), ``outbreak`` (the share of the
    surprise the regional admission wave takes away), ``hub`` (a venue in the city's top decile
    by admitted people, the ring's claims spread over many doctors), ``health_check_campaign``
    (group physical examinations and vaccination: Z00–Z13, Z23–Z27), ``pharmacy_queue`` (joint
    pharmacy purchases are ``card_burst``'s business) and ``dates_only`` (arrival within hours
    cannot be told from dates).

>>> pb_tail_sum(np.array([[0.5, 0.5]])).round(3).tolist()
[1.0, 0.75, 0.25]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import poisson

from ._common import benign_check

__all__ = ["pb_tail_sum", "AdmissionProfile", "RingNull", "ring_null", "ring_checks"]

LN10 = np.log(10.0)
#: group physical examinations and screening (Z00–Z13), vaccination (Z23–Z27)
CAMPAIGN_DIAGNOSES = tuple(f"Z{i:02d}" for i in range(0, 14)) + tuple(f"Z{i:02d}" for i in range(23, 28))


def pb_tail_sum(pi: np.ndarray) -> np.ndarray:
    """``Σ_t P(X_t ≥ k)`` for ``k = 0..m``, ``X_t`` Poisson-binomial with success probabilities
    ``pi[t, :]`` (one row per window, one column per member)."""
    pi = np.clip(np.atleast_2d(np.asarray(pi, dtype=float)), 0.0, 1.0)
    T, m = pi.shape
    dist = np.zeros((T, m + 1))
    dist[:, 0] = 1.0
    for j in range(m):
        p = pi[:, j:j + 1]
        dist[:, 1:] = dist[:, 1:] * (1 - p) + dist[:, :-1] * p
        dist[:, 0] *= 1 - p[:, 0]
    tail = np.cumsum(dist[:, ::-1], axis=1)[:, ::-1]
    return tail.sum(axis=0)


class AdmissionProfile:
    """Daily admissions per region and per institution (from ``inpatient_admissions``), for the
    outbreak-adjusted window shares of a venue."""

    def __init__(self, adm: pd.DataFrame, inst: pd.DataFrame, day0: int, days: int) -> None:
        self.day0, self.days = int(day0), max(int(days), 1)
        region = pd.Series(inst["region"].astype("string").fillna("?").to_numpy(object),
                           index=inst["institution_id"].astype(str).to_numpy(object))
        iid = adm["institution_id"].astype(str).to_numpy(object)
        day = adm["start_time"].to_numpy("datetime64[s]").astype("datetime64[D]").astype(np.int64) - self.day0
        ok = (day >= 0) & (day < self.days)
        iid, day = iid[ok], day[ok]
        reg = region.reindex(iid).fillna("?").to_numpy(object)
        self.city = np.bincount(day, minlength=self.days).astype(float)
        self._reg = {r: np.bincount(day[reg == r], minlength=self.days).astype(float) for r in pd.unique(reg)}
        self._inst_days = pd.DataFrame({"i": iid, "d": day})
        self._own: dict[str, np.ndarray] | None = None  # institution -> its admission days (built on first use)
        self._shares: dict[tuple[str, int], tuple[np.ndarray, float]] = {}
        self.region_of = region.to_dict()

    def window_shares(self, venue: str, window: int) -> tuple[np.ndarray, float]:
        """Per window of ``2·window + 1`` days: the share of the venue region's admissions (the venue
        left out, blended with the city at a prior of 10 admissions per window); and the ratio of
        ``Σ share²`` to the uniform ``1/T`` (how much the calendar concentrates meetings)."""
        memo = self._shares.get((venue, window))
        if memo is not None:
            return memo
        if self._own is None:
            d = self._inst_days["d"].to_numpy(np.int64)
            self._own = {str(k): d[ix] for k, ix in self._inst_days.groupby("i", sort=False).indices.items()}
        L = 2 * window + 1
        own = np.bincount(self._own.get(venue, np.empty(0, np.int64)), minlength=self.days).astype(float)
        reg = self._reg.get(self.region_of.get(venue, "?"), np.zeros(self.days)) - own
        city = self.city - own
        T = int(np.ceil(self.days / L))
        pad = T * L - self.days

        def win(x: np.ndarray) -> np.ndarray:
            return np.r_[np.maximum(x, 0.0), np.zeros(pad)].reshape(T, L).sum(axis=1)

        rw, cw = win(reg), win(city)
        c_share = (cw + 1.0) / (cw.sum() + T)
        a = 10.0 * T
        share = (rw + a * c_share) / (rw.sum() + a)
        out = (share, float(T * np.sum(share ** 2)))
        self._shares[(venue, window)] = out
        return out


def ring_null(events: pd.DataFrame, member_claims: pd.DataFrame, members: list[str], activity: pd.DataFrame,
              profile: AdmissionProfile | None, window: int, period_days: float) -> dict[str, Any]:
    """The ring's event null (module docstring). ``events``: its event rows (``event``, ``venue``,
    ``mode``, ``day``, ``patient_id``); ``member_claims``: every claim of its members (``venue``,
    ``mode``, ``patient_id``, ``day``).

    For a threshold ``k`` the events with at least ``k`` members are ``E_k``; the chance of such an
    event in the very windows they happened is ``Π_e P(PB_{t_e} ≥ k)``, and any ``|E_k|`` of the
    ``T`` windows could have held them: ``log10 p_k = Σ_e log10 P(PB_{t_e} ≥ k) + log10 C(T, |E_k|)``
    (the Poisson tail when the calendar is flat). The best ``k`` is kept, Bonferroni over the ``k``
    tried. Many rings: :class:`RingNull` computes what they share once.
    """
    return RingNull(events.assign(group=0), member_claims.assign(group=0), activity, profile, window,
                    period_days).null(0, members)


class RingNull:
    """:func:`ring_null` for many candidate rings at once: ``events`` and ``member_claims`` hold the
    rows of every ring with its ``group``; :meth:`null` gives one ring's null from per-event and
    per-(ring, venue, member) counts computed once, and each venue's calendar once."""

    def __init__(self, events: pd.DataFrame, member_claims: pd.DataFrame, activity: pd.DataFrame,
                 profile: AdmissionProfile | None, window: int, period_days: float) -> None:
        self.profile, self.window, self.period_days = profile, int(window), float(period_days)
        per = events.groupby("event").agg(group=("group", "first"), venue=("venue", "first"), mode=("mode", "first"),
                                          day=("day", "min"), k=("patient_id", "nunique"))
        self._venue = per["venue"].to_numpy(object)
        self._mode = per["mode"].to_numpy(object)
        self._day = per["day"].to_numpy(np.int64)
        self._k = per["k"].to_numpy(np.int64)
        self._events_of = pd.Series(np.arange(len(per))).groupby(per["group"].to_numpy()).indices
        act = activity[activity["mode"] == "ambulatory"]
        from ._ringpairs import _schedule

        self._open_days = dict(zip(act["provider_type"].astype(str) + ":" + act["provider_id"].astype(str),
                                   _schedule(act)))
        # distinct days of each member at each (ring, venue, mode) where the ring has events
        keys = ["group", "venue", "mode"]
        mc = member_claims.merge(per[keys].drop_duplicates(), on=keys)
        n = mc.groupby([*keys, "patient_id"])["day"].nunique()
        self._n: dict[tuple, dict[str, int]] = {}
        for (g, v, md, pid), c in zip(n.index, n.to_numpy()):
            self._n.setdefault((g, v, md), {})[pid] = int(c)

    def null(self, group: Any, members: list[str]) -> dict[str, Any]:
        """The null of the ring ``group`` with these (sorted) members."""
        from scipy.special import gammaln

        idx = self._events_of.get(group, np.empty(0, np.int64))
        m = len(members)
        profile, window, period_days = self.profile, self.window, self.period_days
        days = self._day[idx]
        day0 = profile.day0 if profile is not None else int(days.min()) if len(idx) else 0
        tails_u = np.zeros((len(idx), m + 1))
        tails_a = np.zeros((len(idx), m + 1))
        T_total = 0
        calendar = []
        at: dict[tuple[str, str], list[int]] = {}
        for i, (v, md) in enumerate(zip(self._venue[idx], self._mode[idx])):
            at.setdefault((v, md), []).append(i)
        for venue, mode in sorted(at):
            rows = at[(venue, mode)]
            nd = self._n.get((group, venue, mode), {})
            n = np.array([nd.get(x, 0) for x in members], dtype=float)
            n = n[n > 0]
            if mode == "inpatient":
                L = 2 * window + 1
                T = max(int(np.ceil(period_days / L)), 1)
                uni = _tails(np.minimum(n / T, 1.0), m)
                tails_u[rows] = uni
                if profile is not None and venue.startswith("institution:"):
                    share, conc = profile.window_shares(venue.split(":", 1)[1], window)
                    calendar.append(conc)
                    t_e = np.clip((days[rows] - day0) // L, 0, len(share) - 1)
                    for r, t in zip(rows, t_e):
                        tails_a[r] = _tails(np.minimum(n * share[t], 1.0), m)
                else:
                    tails_a[rows] = uni
            else:
                T = int(max(self._open_days.get(venue, 1), 1))
                uni = _tails(np.minimum(n / T, 1.0), m)
                tails_u[rows] = uni
                tails_a[rows] = uni
            T_total += T
        sizes = self._k[idx]
        ks = np.arange(2, max(int(sizes.max()) if len(sizes) else 2, 2) + 1)

        def best(tails: np.ndarray) -> tuple[float, int, int]:
            out = []
            for k in ks:
                sel = sizes >= k
                E = int(sel.sum())
                if E == 0:
                    out.append(0.0)
                    continue
                lp = float(np.sum(np.log10(np.maximum(tails[sel, k], 1e-300))))
                lc = float((gammaln(T_total + 1) - gammaln(E + 1) - gammaln(max(T_total - E, 0) + 1)) / LN10)
                out.append(min(lp + lc, 0.0))
            j = int(np.argmin(out))
            return float(min(out[j] + np.log10(len(ks)), 0.0)), int(ks[j]), int((sizes >= ks[j]).sum())

        lp_u, _, _ = best(tails_u)
        lp_a, k_a, o_a = best(tails_a)
        return {"log10_p_uniform": lp_u, "log10_p": lp_a, "k": k_a, "observed": o_a, "windows": int(T_total),
                "calendar_concentration": float(np.mean(calendar)) if calendar else 1.0}


def _tails(pi: np.ndarray, m: int) -> np.ndarray:
    """``P(PB ≥ k)`` for ``k = 0..m`` of one window."""
    return _pad(pb_tail_sum(pi[None, :]) if len(pi) else np.r_[1.0], m)


def log10_poisson_tail(obs: np.ndarray, exp: np.ndarray) -> np.ndarray:
    """``log10 P(X ≥ obs)``, ``X ~ Poisson(exp)``, finite where scipy underflows (the first term
    of the tail, ``obs·ln exp − exp − ln obs!``, bounds it from below).

    >>> float(log10_poisson_tail(np.array([400.0]), np.array([1e-6]))[0]) < -3000
    True
    """
    from scipy.special import gammaln

    obs, exp = np.asarray(obs, dtype=float), np.maximum(np.asarray(exp, dtype=float), 1e-300)
    lp = poisson.logsf(obs - 1, exp)
    first = obs * np.log(exp) - exp - gammaln(obs + 1)
    lp = np.where(np.isfinite(lp), lp, first)
    return np.where(obs <= 0, 0.0, lp) / LN10


def _pad(x: np.ndarray, m: int) -> np.ndarray:
    out = np.zeros(m + 1)
    out[: min(len(x), m + 1)] = x[: m + 1]
    return out


def ring_checks(r: Any, rows: pd.DataFrame, per_event: pd.DataFrame, *, related_share: float, therapy_share: float,
                therapy_detail: str, null: dict[str, Any], surprise_u: float, surprise_a: float, hub: bool,
                dates_only: bool, w: float, campaign_share: float | None = None) -> list[dict]:
    """The benign checks of one ring (module docstring). ``campaign_share``: the share of the ring's
    claims with an examination or vaccination code, when the caller has it (else from ``rows``)."""
    checks = []
    if related_share >= 0.9:
        checks.append(benign_check("household_or_care_home", "家庭/养老机构等同住人员", "explains",
                                   f"the members are one household or care home (related share {related_share:.2f})",
                                   1 - related_share * (1 - w)))
    elif related_share > 0:
        checks.append(benign_check("household_or_care_home", "家庭/养老机构等同住人员", "partial",
                                   f"related share {related_share:.2f} (registered family, shared address)",
                                   1 - related_share * (1 - w)))
    else:
        checks.append(benign_check("household_or_care_home", "家庭/养老机构等同住人员", "ruled_out",
                                   "no registered family or shared address among the members"))
    if therapy_share >= 0.9:
        checks.append(benign_check("scheduled_therapy", "透析/化疗/康复等计划治疗", "explains", therapy_detail,
                                   1 - therapy_share * (1 - w)))
    elif therapy_share > 0:
        checks.append(benign_check("scheduled_therapy", "透析/化疗/康复等计划治疗", "partial", therapy_detail,
                                   1 - therapy_share * (1 - w)))
    else:
        checks.append(benign_check("scheduled_therapy", "透析/化疗/康复等计划治疗", "ruled_out", therapy_detail))
    ratio = surprise_a / surprise_u if surprise_u > 0 else 1.0
    if r.inpatient_share == 0:
        checks.append(benign_check("outbreak", "流行病高峰（全区同时繁忙）", "not_testable",
                                   "ambulatory events: the regional daily volume is not measured"))
    elif ratio < 0.9:
        checks.append(benign_check("outbreak", "流行病高峰（全区同时繁忙）", "partial",
                                   f"the region's admissions peak on the ring's days: surprise {surprise_u:.1f} → "
                                   f"{surprise_a:.1f} decades against the regional calendar (already in the null)", 1.0))
    else:
        checks.append(benign_check("outbreak", "流行病高峰（全区同时繁忙）", "ruled_out",
                                   f"the region's calendar explains little (surprise {surprise_u:.1f} → {surprise_a:.1f})"))
    org = float(r.org_conc)
    if hub and org < 0.5:
        checks.append(benign_check("hub", "大型医院偶遇", "partial",
                                   f"a hub venue and the claims spread over many doctors (main doctors hold {org:.0%})",
                                   max(org, w)))
    else:
        checks.append(benign_check("hub", "大型医院偶遇", "ruled_out",
                                   f"{'a hub venue, but ' if hub else ''}main doctors hold {org:.0%} of the claims"))
    if campaign_share is None:
        diag = rows["diagnosis_code"].fillna("").astype(str).str.upper().str.strip()
        camp = float(diag.str.startswith(CAMPAIGN_DIAGNOSES).mean()) if len(diag) else 0.0
    else:
        camp = float(campaign_share)
    if camp > 0:
        checks.append(benign_check("health_check_campaign", "集体体检/疫苗接种", "explains" if camp >= 0.9 else "partial",
                                   f"{camp:.0%} of the claims are examinations, screening or vaccination", 1 - camp * (1 - w)))
    else:
        checks.append(benign_check("health_check_campaign", "集体体检/疫苗接种", "ruled_out", "no examination or vaccination codes"))
    ph = float(r.pharmacy_share)
    if ph > 0:
        checks.append(benign_check("pharmacy_queue", "药店排队购药", "partial",
                                   f"{ph:.0%} of the joint events are pharmacy purchases (card_burst's domain)", 1 - ph * (1 - w)))
    else:
        checks.append(benign_check("pharmacy_queue", "药店排队购药", "ruled_out", "no joint pharmacy purchases"))
    if dates_only and r.inpatient_share < 1:
        checks.append(benign_check("dates_only", "仅有日期（无时刻）", "not_testable",
                                   "arrival within hours cannot be told from dates: same-day visits only"))
    return checks
