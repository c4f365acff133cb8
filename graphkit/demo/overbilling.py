"""Provider-level over-billing (过度诊疗 / 虚增服务 / 诱导住院 / 挂床 / 串换) and its legitimate look-alikes.

The fraud of most labelled provider-fraud data (e.g. the public "Healthcare Provider Fraud
Detection" claims) is not a pattern among a few claims but a provider that bills too much:
more visits per person than its patients need, patients who never came, inflated amounts,
admissions of people who would be outpatients, stays longer than the illness, repeated
readmissions. :class:`OverBilling` plants it into a demo city: a share of institutions (and a
few pharmacies) over-bill in a *mix of modes drawn per provider*, each at its own intensity
(some subtle), on top of their normal claims.

Legitimate look-alikes are planted first (hard negatives, truth ``hard_negatives``): providers
large or costly because of their *case mix* — a dialysis centre (visits per person ~70 in half
a year), an oncology centre (chemotherapy cycles: costly stays, planned readmissions), a
rehabilitation hospital (stays of weeks, coded Z50.1 rehabilitation care as WHO ICD-10
prescribes), a specialty-drug (DTP / 双通道) pharmacy (costly purchases for cancer), and a busy
24-hour pharmacy (many customers). They are never chosen as over-billers.

Everything draws from random streams of its own (:meth:`World.vrng`); the default city never
runs it (``CityConfig.overbilling == 0``). Over-billing rows are normal rows (not planted
instances): the generator's clean-up keeps the data consistent (no claim after death, no
overlapping stays) and may drop a few of them; ``truth.json`` ``provider_fraud`` lists what
survived.

Examples
--------
>>> MODES["phantom_patients"][0]
'虚构就诊/冒名就诊'
>>> sorted(m for m, (_, kinds) in MODES.items() if "pharmacy" in kinds)
['extra_visits', 'inflated_cost', 'phantom_patients']
"""

from __future__ import annotations

import numpy as np

from . import _vocab as V
from ._normal import INP, OUT, PHARM, HardNegative, NormalGen
from ._util import DAY, HOUR, MINUTE
from ._world import HOURS_OUT, HOURS_PHARM, K_HOSPITAL, World

__all__ = ["MODES", "CASEMIX_LOOKALIKES", "OverBilling"]

#: over-billing modes: name -> (中文, provider types it applies to)
MODES: dict[str, tuple[str, tuple[str, ...]]] = {
    "extra_visits": ("过度诊疗/分解就诊", ("institution", "pharmacy")),
    "phantom_patients": ("虚构就诊/冒名就诊", ("institution", "pharmacy")),
    "inflated_cost": ("虚增服务/串换项目", ("institution", "pharmacy")),
    "unneeded_admissions": ("诱导住院/低标准入院", ("institution",)),
    "extended_stays": ("挂床/延长住院", ("institution",)),
    "readmissions": ("分解住院/反复入院", ("institution",)),
}

#: hard-negative kinds planted with over-billing (legitimately large or costly by case mix)
CASEMIX_LOOKALIKES: dict[str, str] = {
    "dialysis_centre": "血液透析中心: N18.5 patients three times a week (visits per person, volume)",
    "oncology_centre": "肿瘤专科医院: chemotherapy cycles every ~3 weeks (cost per stay, readmissions)",
    "rehabilitation_hospital": "康复医院: rehabilitation stays of weeks, coded Z50.1 (length of stay, fund)",
    "specialty_drug_pharmacy": "双通道/DTP药房: monthly targeted cancer drugs (cost per purchase)",
    "busy_24h_pharmacy": "24小时旺铺药店: many customers of its district (volume)",
}


def _scale_amounts(C: dict, rows: np.ndarray, f: np.ndarray) -> None:
    """Bill claims ``rows`` ``f`` times their amount (fen, rounded); the fund never above the total."""
    C["total"][rows] = np.round(C["total"][rows] * f).astype(np.int64)
    C["fund"][rows] = np.minimum(np.round(C["fund"][rows] * f).astype(np.int64), C["total"][rows])


class OverBilling:
    """Plant case-mix look-alikes, then over-billing providers, into a city's normal claims.

    ``share``: share of the home prefecture's public-serving institutions that over-bill (half
    that share of its pharmacies; at least 3 and 2). Call :meth:`run` after fraud is planted;
    :meth:`truth` after the claims are finalised.
    """

    def __init__(self, w: World, ng: NormalGen, share: float, used: np.ndarray | None = None,
                 volume_bias: float = 0.0):
        self.w, self.ng, self.C = w, ng, ng.C
        self.share = float(share)
        self.volume_bias = float(volume_bias)
        self.busy = np.zeros(w.N, dtype=bool) if used is None else np.asarray(used, bool).copy()
        self.records: list[dict] = []          # one per over-billing provider
        self.lookalike_venues: list[tuple[str, int]] = []

    # ----------------------------------------------------------------------------------------
    def run(self) -> None:
        self._lookalikes(self.w.vrng("overbilling:lookalikes"))
        self._overbill(self.w.vrng("overbilling:providers"))

    # ----------------------------------------------------------------------------------------
    def _people(self, rng, n: int, region: int | None, age: tuple[int, int] = (18, 90),
                exclude: np.ndarray | None = None) -> np.ndarray:
        w, ng = self.w, self.ng
        ok = (w.nh < 0) & (w.pref == 0) & (ng.role == 0) & (w.death_day < 0) & ~self.busy
        if exclude is not None:
            ok[np.asarray(exclude, np.int64)] = False
        ok &= (w.age >= age[0]) & (w.age <= age[1])
        cand = np.flatnonzero(ok & (w.region == region)) if region is not None else np.empty(0, np.int64)
        if cand.size < n:
            cand = np.concatenate([cand, rng.permutation(np.flatnonzero(ok & (w.region != region)))])
        else:
            cand = rng.permutation(cand)
        pick = np.sort(cand[:n])
        self.busy[pick] = True
        return pick

    def _home(self, mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask & (self.w.inst_pref == 0) & self.w.inst_serves_public)

    def _add_inst(self, rng, pat, inst, ctype, t0, *, dept=None, diag=None, los=None, total=None,
                  prot=False, prof=0) -> np.ndarray:
        ng = self.ng
        pat = np.asarray(pat, np.int64)
        t0 = np.asarray(t0, np.int64)
        ok = ng.alive_ok(pat, t0)
        if not ok.any():
            return np.empty(0, np.int64)

        def sub(x):
            return np.asarray(x)[ok] if np.ndim(x) and np.size(x) == ok.size else x

        f = ng.fill_inst(rng, pat[ok], np.broadcast_to(sub(inst), (int(ok.sum()),)).astype(np.int64), ctype,
                         t0[ok], dept=sub(dept), diag=sub(diag), los=sub(los))
        if total is not None:
            f["total"] = np.round(np.broadcast_to(sub(total), f["pat"].shape) * 100).astype(np.int64)
            f["fund"] = ng.fund(rng, f["pat"], f["total"])
        if ctype == INP:
            f, _ = ng._fit_stays(f, shift_back=False)
        return self.C.add(prot=prot, prof=prof, **f)

    def _add_pharm(self, rng, pat, ph, t0, *, diag=None, total=None, prot=False) -> np.ndarray:
        ng = self.ng
        pat = np.asarray(pat, np.int64)
        t0 = np.asarray(t0, np.int64)
        ok = ng.alive_ok(pat, t0)
        if not ok.any():
            return np.empty(0, np.int64)
        sub = lambda x: np.asarray(x)[ok] if np.ndim(x) and np.size(x) == ok.size else x  # noqa: E731
        tot = None if total is None else np.round(np.broadcast_to(sub(total), (int(ok.sum()),)) * 100).astype(np.int64)
        f = ng.fill_pharm(rng, pat[ok], np.broadcast_to(sub(ph), (int(ok.sum()),)).astype(np.int64), t0[ok],
                          diag=sub(diag), total=tot)
        return self.C.add(prot=prot, **f)

    def _days(self, rng, pat: np.ndarray) -> np.ndarray:
        return self.ng.days_for(rng, np.asarray(pat, np.int64), weekday_bias=0.6)

    # ----------------------------------------------------------------------------------------
    # legitimate look-alikes (case mix)
    # ----------------------------------------------------------------------------------------
    def _venue(self, rng, cand: np.ndarray, taken: set[int]) -> int | None:
        cand = np.array([c for c in cand.tolist() if c not in taken], dtype=np.int64)
        if cand.size == 0:
            return None
        v = int(rng.choice(cand))
        taken.add(v)
        return v

    def _lookalikes(self, rng) -> None:
        w, ng = self.w, self.ng
        taken: set[int] = set(int(x) for x in np.atleast_1d(w.dialysis_venues))
        hosp = w.inst_kind == K_HOSPITAL
        priv_l1 = self._home(hosp & (w.inst_level == 1) & w.inst_private)
        priv_l2 = self._home(hosp & (w.inst_level == 2) & w.inst_private)
        any_h = self._home(hosp & (w.inst_level <= 2))
        days = np.arange(w.day0, w.day0 + w.ndays)
        wd = (days + 3) % 7
        # dialysis centre: 30-60 patients, 3 sessions a week
        v = self._venue(rng, priv_l1 if priv_l1.size else any_h, taken)
        if v is not None:
            mem = self._people(rng, int(rng.integers(30, 61)), int(w.inst_region[v]), (35, 85))
            pats, ts = [], []
            for p in mem:
                pattern = (0, 2, 4) if rng.random() < 0.5 else (1, 3, 5)
                dd = days[np.isin(wd, pattern) & (rng.random(days.size) < 0.95)]
                pats.append(np.full(dd.size, p))
                ts.append(dd * DAY + 7 * HOUR + rng.integers(0, 6 * HOUR, dd.size))
            uids = self._add_inst(rng, np.concatenate(pats), v, OUT, np.concatenate(ts), dept=V.D["肾内科"],
                                  diag=w.dx["N18.5"], total=rng.uniform(380, 520, sum(map(len, pats))),
                                  prot=True, prof=2)
            self._hard("dialysis_centre", v, mem, uids)
        # oncology centre: 25-50 patients, chemotherapy cycles every 19-23 days, 2-4 day stays
        v = self._venue(rng, priv_l2 if priv_l2.size else any_h, taken)
        if v is not None:
            mem = self._people(rng, int(rng.integers(25, 51)), int(w.inst_region[v]), (35, 85))
            code = np.array([w.dx[c] for c in V.CANCER_CODES])[rng.integers(0, len(V.CANCER_CODES), mem.size)]
            ncyc = rng.integers(4, 9, mem.size)
            pat = np.repeat(mem, ncyc)
            k = np.arange(pat.size) - np.repeat(np.cumsum(ncyc) - ncyc, ncyc)
            first = np.repeat(rng.integers(0, 60, mem.size), ncyc)
            d = w.day0 + first + k * 21 + rng.integers(-2, 3, pat.size)
            ok = d < w.day0 + w.ndays - 5
            pat, d, dx = pat[ok], d[ok], np.repeat(code, ncyc)[ok]
            uids = self._add_inst(rng, pat, v, INP, d * DAY + 8 * HOUR + rng.integers(0, 3 * HOUR, pat.size),
                                  dept=V.D["肿瘤科"], diag=dx, los=rng.integers(2, 5, pat.size),
                                  total=rng.uniform(8000, 25000, pat.size), prot=True, prof=3)
            self._hard("oncology_centre", v, mem, uids)
        # rehabilitation hospital: 25-50 stays of 20-60 days, Z50.1 rehabilitation care
        v = self._venue(rng, priv_l1 if priv_l1.size else any_h, taken)
        if v is not None:
            mem = self._people(rng, int(rng.integers(25, 51)), int(w.inst_region[v]), (45, 90))
            los = rng.integers(20, 61, mem.size)
            start = w.day0 + (rng.random(mem.size) * np.maximum(w.ndays - los - 2, 1)).astype(np.int64)
            z50 = w._dx("Z50.1")
            uids = self._add_inst(rng, mem, v, INP, start * DAY + 9 * HOUR + rng.integers(0, 4 * HOUR, mem.size),
                                  dept=V.D["康复科"], diag=z50, los=los, total=los * rng.uniform(300, 500, mem.size),
                                  prot=True, prof=4)
            self._hard("rehabilitation_hospital", v, mem, uids)
        # specialty-drug (DTP) pharmacy: 20-40 cancer patients buying targeted drugs monthly
        ph_ok = (w.ph_pref == 0) & ~w.ph_24h
        if ph_ok.any():
            p = int(rng.choice(np.flatnonzero(ph_ok)))
            self.dtp = p
            mem = self._people(rng, int(rng.integers(20, 41)), int(w.ph_region[p]), (35, 85))
            n = np.full(mem.size, max(2, w.ndays // 30))
            pat = np.repeat(mem, n)
            k = np.arange(pat.size) - np.repeat(np.cumsum(n) - n, n)
            d = w.day0 + np.repeat(rng.integers(0, 25, mem.size), n) + 30 * k + rng.integers(-2, 3, pat.size)
            ok = d < w.day0 + w.ndays
            code = np.array([w.dx[c] for c in V.CANCER_CODES])[rng.integers(0, len(V.CANCER_CODES), mem.size)]
            uids = self._add_pharm(rng, pat[ok], p, d[ok] * DAY + w.hours(rng, HOURS_PHARM, int(ok.sum())),
                                   diag=np.repeat(code, n)[ok], total=rng.uniform(3000, 12000, int(ok.sum())), prot=True)
            self._hard("specialty_drug_pharmacy", ("pharmacy", p), mem, uids)
        # busy 24-hour pharmacy: a third of its district's purchases at other pharmacies move there
        cand = np.flatnonzero(w.ph_24h & (w.ph_pref == 0))
        if cand.size:
            p = int(rng.choice(cand))
            C = self.C.data()
            m = np.flatnonzero((C["ctype"] == PHARM) & (C["fraud"] < 0) & ~C["prot"] & (C["pharm"] != p)
                               & (w.ph_region[np.maximum(C["pharm"], 0)] == w.ph_region[p]))
            mv = m[rng.random(m.size) < 0.35]
            C["pharm"][mv] = p
            C["doc"][mv] = -1
            self._hard("busy_24h_pharmacy", ("pharmacy", p), np.empty(0, np.int64), mv, moved_claims=int(mv.size))

    def _hard(self, kind: str, venue, members: np.ndarray, uids: np.ndarray, **extra) -> None:
        typ, idx = venue if isinstance(venue, tuple) else ("institution", venue)
        self.lookalike_venues.append((typ, int(idx)))
        ents = [(typ, int(idx), "venue")] + [("patient", int(p), "member") for p in members[:50]]
        self.ng.hard.append(HardNegative(kind, ents, np.asarray(uids, np.int64), note=CASEMIX_LOOKALIKES[kind],
                                         patients=int(members.size), **extra))

    # ----------------------------------------------------------------------------------------
    # over-billing providers
    # ----------------------------------------------------------------------------------------
    def _overbill(self, rng) -> None:
        w = self.w
        skip_i = {i for t, i in self.lookalike_venues if t == "institution"}
        skip_p = {i for t, i in self.lookalike_venues if t == "pharmacy"}
        C = self.C.data()
        vol_i = np.bincount(C["inst"][C["inst"] >= 0], minlength=w.n_inst)
        vol_p = np.bincount(C["pharm"][C["pharm"] >= 0], minlength=w.n_ph)
        inst = np.array([i for i in self._home(vol_i >= 30).tolist() if i not in skip_i], dtype=np.int64)
        ph = np.array([i for i in np.flatnonzero((w.ph_pref == 0) & (vol_p >= 30)).tolist() if i not in skip_p],
                      dtype=np.int64)
        n_i = min(inst.size, max(3, round(self.share * inst.size)))
        n_p = min(ph.size, max(2, round(self.share / 2 * ph.size)))
        wi = np.where(w.inst_private[inst], 2.0, 1.0)  # private providers over-bill more often
        if self.volume_bias:  # busy providers over-bill more often (volume ** bias)
            wi = wi * vol_i[inst].astype(float) ** self.volume_bias
        chosen = [("institution", int(i)) for i in rng.choice(inst, n_i, replace=False, p=wi / wi.sum())]
        if self.volume_bias:
            wp = vol_p[ph].astype(float) ** self.volume_bias
            chosen += [("pharmacy", int(i)) for i in rng.choice(ph, n_p, replace=False, p=wp / wp.sum())]
        else:
            chosen += [("pharmacy", int(i)) for i in rng.choice(ph, n_p, replace=False)]
        for typ, idx in chosen:
            modes = [m for m, (_, kinds) in MODES.items() if typ in kinds]
            if typ == "institution" and not w.inst_ip[idx]:
                modes = [m for m in modes if m in ("extra_visits", "phantom_patients", "inflated_cost")]
            k = min(len(modes), 1 + int(rng.binomial(2, 0.4)))
            pick = [modes[j] for j in sorted(rng.choice(len(modes), k, replace=False))]
            x = float(rng.uniform(0.15, 1.0))  # intensity; below ~0.35 it is subtle
            rec = {"type": typ, "idx": idx, "intensity": round(x, 3), "modes": {}}
            for m in pick:
                uids = getattr(self, m)(rng, typ, idx, x)
                rec["modes"][m] = np.asarray(uids, np.int64)
            self.records.append(rec)

    def _rows(self, typ: str, idx: int, ctype: int | None = None, modifiable: bool = False) -> np.ndarray:
        C = self.C.data()
        m = (C["inst"] == idx) if typ == "institution" else (C["pharm"] == idx)
        m &= C["fraud"] < 0
        if ctype is not None:
            m &= C["ctype"] == ctype
        if modifiable:
            m &= ~C["prot"] & ~C["lk"]
        return np.flatnonzero(m)

    def extra_visits(self, rng, typ: str, idx: int, x: float) -> np.ndarray:
        """Extra visits for a share of the provider's own patients, with their own diagnoses."""
        C = self.C.data()
        rows = self._rows(typ, idx, OUT if typ == "institution" else PHARM)
        if rows.size == 0:
            return np.empty(0, np.int64)
        rows = rows[rng.permutation(rows.size)]
        pats, first = np.unique(C["pat"][rows], return_index=True)
        cnt = np.bincount(np.searchsorted(pats, C["pat"][rows]), minlength=pats.size)
        sel = rng.random(pats.size) < 0.25 + 0.5 * x
        rep, pats, cnt = rows[first][sel], pats[sel], cnt[sel]
        k = 1 + rng.poisson(cnt * (0.5 + 2.0 * x))
        r = np.repeat(rep, k)
        pat = C["pat"][r].astype(np.int64)
        day = self._days(rng, pat)
        if typ == "institution":
            return self._add_inst(rng, pat, idx, OUT, day * DAY + self.w.hours(rng, HOURS_OUT, pat.size),
                                  dept=C["dept"][r], diag=C["diag"][r])
        return self._add_pharm(rng, pat, idx, day * DAY + self.w.hours(rng, HOURS_PHARM, pat.size), diag=C["diag"][r])

    def phantom_patients(self, rng, typ: str, idx: int, x: float) -> np.ndarray:
        """Recruited or bought identities settled without a visit: 2-8 claims each."""
        w, C = self.w, self.C.data()
        rows = self._rows(typ, idx)
        own = np.unique(C["pat"][rows])
        region = int(w.inst_region[idx] if typ == "institution" else w.ph_region[idx])
        mem = self._people(rng, max(5, round(own.size * (0.1 + 0.5 * x))), region, (20, 90), exclude=own)
        k = rng.integers(2, 9, mem.size)
        pat = np.repeat(mem, k)
        day = self._days(rng, pat)
        if typ == "institution":
            codes, wts = V.DIAG_OUT["全科"]
            p = np.asarray(wts, float)
            dx = np.array([w.dx[c] for c in codes])[rng.choice(len(codes), pat.size, p=p / p.sum())]
            return self._add_inst(rng, pat, idx, OUT, day * DAY + w.hours(rng, HOURS_OUT, pat.size),
                                  dept=V.D["全科"], diag=dx)
        return self._add_pharm(rng, pat, idx, day * DAY + w.hours(rng, HOURS_PHARM, pat.size))

    def inflated_cost(self, rng, typ: str, idx: int, x: float) -> np.ndarray:
        """A share of the provider's claims billed 15 %-(40 + 120·x) % higher (same service)."""
        C = self.C.data()
        rows = self._rows(typ, idx, modifiable=True)
        rows = rows[rng.random(rows.size) < 0.3 + 0.6 * x]
        f = np.exp(rng.uniform(np.log(1.15), np.log(1.4 + 1.2 * x), rows.size))
        _scale_amounts(C, rows, f)
        return rows

    def unneeded_admissions(self, rng, typ: str, idx: int, x: float) -> np.ndarray:
        """Outpatients admitted for 2-5 days with their outpatient diagnosis (低标准入院)."""
        C = self.C.data()
        rows = self._rows(typ, idx, OUT)
        rows = rows[rng.random(rows.size) < 0.04 + 0.16 * x]
        pat = C["pat"][rows].astype(np.int64)
        t0 = (C["t0"][rows] // DAY) * DAY + 14 * HOUR + rng.integers(0, 3 * HOUR, rows.size)
        return self._add_inst(rng, pat, idx, INP, t0, dept=C["dept"][rows], diag=C["diag"][rows],
                              los=rng.integers(2, 6, rows.size))

    def extended_stays(self, rng, typ: str, idx: int, x: float) -> np.ndarray:
        """Stays kept open 30 %-(60 + 100·x) % longer, billed per extra day (挂床)."""
        C = self.C.data()
        rows = self._rows(typ, idx, INP, modifiable=True)
        rows = rows[(C["t1"][rows] > C["t0"][rows]) & (rng.random(rows.size) < 0.4 + 0.5 * x)]
        los = np.maximum((C["t1"][rows] - C["t0"][rows]) / DAY, 1.0)
        extra = np.ceil(los * rng.uniform(0.3, 0.6 + x, rows.size)).astype(np.int64)
        t1 = C["t1"][rows] + extra * DAY
        ok = t1 < np.minimum(self.w.alive_end[C["pat"][rows]], self.w.t_end)
        rows, extra, los = rows[ok], extra[ok], los[ok]
        f = 1.0 + 0.8 * extra / los
        C["t1"][rows] += extra * DAY
        _scale_amounts(C, rows, f)
        return rows

    def readmissions(self, rng, typ: str, idx: int, x: float) -> np.ndarray:
        """The same patient readmitted 2-12 days after discharge, same diagnosis (分解住院)."""
        C = self.C.data()
        rows = self._rows(typ, idx, INP)
        rows = rows[(C["t1"][rows] > 0) & (rng.random(rows.size) < 0.1 + 0.3 * x)]
        pat = C["pat"][rows].astype(np.int64)
        t0 = (C["t1"][rows] // DAY + rng.integers(2, 13, rows.size)) * DAY + 9 * HOUR + rng.integers(0, 4 * HOUR, rows.size)
        return self._add_inst(rng, pat, idx, INP, t0, dept=C["dept"][rows], diag=C["diag"][rows],
                              los=rng.integers(3, 9, rows.size))

    # ----------------------------------------------------------------------------------------
    def truth(self, pos: np.ndarray, claim_width: int, eid) -> list[dict]:
        """``truth.json`` ``provider_fraud``: one record per over-billing provider (claims kept)."""
        C = self.C.data()
        out = []
        for r in self.records:
            typ, idx = r["type"], r["idx"]
            col = C["inst"] if typ == "institution" else C["pharm"]
            modes = {}
            for m, uids in r["modes"].items():
                keep = uids[(pos[uids] >= 0) & (col[uids] == idx)] if uids.size else uids
                p = np.sort(pos[keep])
                modes[m] = {"zh": MODES[m][0], "claims": [f"C{x + 1:0{claim_width}d}" for x in p],
                            "patients": int(np.unique(C["pat"][keep]).size),
                            "fund": round(float(C["fund"][keep].sum()) / 100.0, 2)}
            out.append({"kind": "provider_overbilling", "entity": {"type": typ, "id": eid(typ, idx)},
                        "intensity": r["intensity"], "subtle": r["intensity"] < 0.35, "modes": modes})
        return out
