"""The normal (legitimate) population's claims and referrals, vectorised.

Also plants the *hard negatives*: legal family card sharing, dialysis cohorts, nursing homes,
rehabilitation groups, chemotherapy cycles, travellers, readmissions, referral round trips.
"""

from __future__ import annotations

import numpy as np

from . import _vocab as V
from ._buffers import CLAIM_COLS, REF_COLS, Buffer
from ._util import DAY, HOUR, MINUTE
from ._world import (
    DEPT_IN_P,
    DEPT_OUT_P,
    DEPT_PRICE,
    HOURS_IN,
    HOURS_OUT,
    HOURS_PHARM,
    HOURS_PHARM24,
    World,
)

ROLE_NONE, ROLE_DIALYSIS, ROLE_CHEMO, ROLE_REHAB, ROLE_TRAVELLER = range(5)
OUT, INP, PHARM = 0, 1, 2
# referral reasons (index into V.REFERRAL_REASONS)
R_UP, R_SPECIAL, R_EXAM, R_POSTOP, R_REHAB, R_OOA, R_WISH = range(7)


class HardNegative:
    """A legitimate structure recorded in truth.json (entities as (type, index, role))."""

    def __init__(self, kind: str, entities: list[tuple[str, int, str]], claims: np.ndarray,
                 referrals: np.ndarray | None = None, **extra):
        self.kind = kind
        self.entities = entities
        self.claims = np.asarray(claims, dtype=np.int64)
        self.referrals = np.asarray(referrals if referrals is not None else [], dtype=np.int64)
        self.extra = extra


class NormalGen:
    """Generate the legitimate claims of a :class:`World` into claim/referral buffers."""

    def __init__(self, w: World):
        self.w = w
        self.C = Buffer(CLAIM_COLS)
        self.Rf = Buffer(REF_COLS)
        self.hard: list[HardNegative] = []
        self.windows: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # trips
        N = w.N
        self.span_days = (w.alive_end - w.t_start) // DAY + 1
        self.years = (w.alive_end - w.t_start + 1) / (365.25 * DAY)
        self.role = np.zeros(N, dtype=np.int8)

    # ----------------------------------------------------------------------------------------
    def run(self) -> None:
        self._roles()
        self._favourites()
        self._random_visits()
        self._chronic()
        self._terminal_stays()
        self._cohorts()
        self._travellers()
        self._referrals()

    # ----------------------------------------------------------------------------------------
    # Helpers
    # ----------------------------------------------------------------------------------------
    def draw_dept(self, rng, pat: np.ndarray, ctype: np.ndarray) -> np.ndarray:
        w = self.w
        out = np.empty(pat.size, dtype=np.int64)
        prof = w.profile[pat]
        for p in range(4):
            for ct, table in ((OUT, DEPT_OUT_P), (INP, DEPT_IN_P)):
                sel = np.flatnonzero((prof == p) & (ctype == ct))
                if sel.size:
                    out[sel] = rng.choice(len(V.DEPTS), sel.size, p=table[p])
        return out

    def draw_diag(self, rng, dept: np.ndarray, ctype: np.ndarray) -> np.ndarray:
        w = self.w
        out = np.empty(dept.size, dtype=np.int64)
        for d in np.unique(dept):
            name = V.DEPTS[int(d)]
            for ct, table in ((OUT, V.DIAG_OUT), (INP, V.DIAG_IN)):
                sel = np.flatnonzero((dept == d) & (ctype == ct))
                if sel.size:
                    codes, wts = table[name]
                    p = np.asarray(wts, dtype=float)
                    idx = np.array([w.dx[c] for c in codes])
                    out[sel] = idx[rng.choice(len(codes), sel.size, p=p / p.sum())]
        return out

    def draw_los(self, rng, pat: np.ndarray) -> np.ndarray:
        los = np.exp(rng.normal(np.log(6.0), 0.5, pat.size)) * np.where(self.w.age[pat] >= 65, 1.3, 1.0)
        return np.clip(np.round(los), 2, 20).astype(np.int64)

    def fund(self, rng, pat: np.ndarray, total: np.ndarray) -> np.ndarray:
        share = np.clip(self.w.fund_share[pat] + rng.normal(0, 0.015, pat.size), 0.3, 0.97)
        return np.minimum(np.round(total * share).astype(np.int64), total)

    def fill_inst(self, rng, pat, inst, ctype, t0, dept=None, diag=None, los=None, doc=None) -> dict:
        """Doctor, department, diagnosis, discharge time and amounts for institution claims."""
        w = self.w
        n = pat.size
        pat = np.asarray(pat, dtype=np.int64)
        inst = np.asarray(inst, dtype=np.int64)
        ctype = np.broadcast_to(np.asarray(ctype, dtype=np.int64), (n,)).copy()
        t0 = np.asarray(t0, dtype=np.int64)
        dept = np.full(n, -1, dtype=np.int64) if dept is None else np.broadcast_to(np.asarray(dept, dtype=np.int64), (n,)).copy()
        need = dept < 0
        if need.any():
            dept[need] = self.draw_dept(rng, pat[need], ctype[need])
        d_doc, dept = w.pick_doctor(rng, inst, dept)
        dept = dept.astype(np.int64)
        if doc is None:
            doc = d_doc
        diag = np.full(n, -1, dtype=np.int64) if diag is None else np.broadcast_to(np.asarray(diag, dtype=np.int64), (n,)).copy()
        need = diag < 0
        if need.any():
            diag[need] = self.draw_diag(rng, dept[need], ctype[need])
            chron = w.chronic[pat]
            cdept = np.array([V.D[c[1]] for c in V.CHRONIC])
            ccode = np.array([w.dx[c[0]] for c in V.CHRONIC])
            use = need & (ctype == OUT) & (chron >= 0) & (rng.random(n) < 0.45)
            use &= (dept == cdept[np.maximum(chron, 0)]) | (dept == V.D["全科"]) | (dept == V.D["内科"])
            diag[use] = ccode[chron[use]]
        ip = ctype == INP
        t1 = np.full(n, -1, dtype=np.int64)
        if los is None:
            los = self.draw_los(rng, pat)
        else:
            los = np.broadcast_to(np.asarray(los, dtype=np.int64), (n,))
        t1[ip] = (t0[ip] // DAY + los[ip]) * DAY + rng.integers(8 * HOUR + 30 * MINUTE, 11 * HOUR + 30 * MINUTE, int(ip.sum()))
        lvl = w.inst_level[inst]
        med = np.array([0, 75.0, 170.0, 260.0])[lvl] * DEPT_PRICE[dept]
        out_amt = np.clip(med * np.exp(rng.normal(0, 0.6, n)), 15, 4000)
        per_day = np.array([0, 420.0, 800.0, 1350.0])[lvl]
        in_amt = per_day * los * np.exp(rng.normal(0, 0.3, n))
        surg = np.isin(dept, (V.D["外科"], V.D["骨科"])) & (rng.random(n) < 0.5)
        in_amt = in_amt + np.where(surg, rng.uniform(4000, 25000, n), 0)
        in_amt = np.where(dept == V.D["肿瘤科"], in_amt * 1.6, in_amt)
        in_amt = np.where(diag == w.dx["O80"], rng.uniform(3500, 9000, n), in_amt)
        in_amt = np.where(diag == w.dx["O82"], rng.uniform(6000, 12000, n), in_amt)
        in_amt = np.clip(in_amt, 2000, 120000)
        total = np.round(np.where(ip, in_amt, out_amt) * 100).astype(np.int64)
        return dict(pat=pat, inst=inst, ctype=ctype, t0=t0, t1=t1, doc=doc, dept=dept, diag=diag,
                    total=total, fund=self.fund(rng, pat, total))

    def fill_pharm(self, rng, pat, pharm, t0, diag=None, total=None, doc=None) -> dict:
        w = self.w
        n = pat.size
        if total is None:
            total = np.round(np.clip(np.exp(rng.normal(np.log(80), 0.75, n)), 5, 1500) * 100).astype(np.int64)
        if diag is None:
            codes, wts = V.PHARM_DIAG
            p = np.asarray(wts, dtype=float)
            idx = np.array([w.dx[c] for c in codes])
            diag = np.where(rng.random(n) < 0.45, idx[rng.choice(len(codes), n, p=p / p.sum())], -1)
        if doc is None:
            k = (rng.random(n) * w.ph_doc_count[pharm]).astype(np.int64)
            doc = np.where(rng.random(n) < 0.8, w.ph_doc_start[pharm] + k, -1)
        return dict(pat=pat, pharm=pharm, ctype=PHARM, t0=t0, diag=diag, total=total, doc=doc,
                    fund=self.fund(rng, pat, total))

    def days_for(self, rng, pat: np.ndarray, weekday_bias: float = 0.0) -> np.ndarray:
        """Uniform days within each patient's alive window; weekends partly moved."""
        w = self.w
        span = self.span_days[pat]
        day = w.day0 + (rng.random(pat.size) * span).astype(np.int64)
        if weekday_bias > 0:
            wkend = ((day + 3) % 7 >= 5) & (rng.random(pat.size) < weekday_bias)
            day[wkend] = w.day0 + (rng.random(int(wkend.sum())) * span[wkend]).astype(np.int64)
        return day

    def alive_ok(self, pat: np.ndarray, t: np.ndarray) -> np.ndarray:
        w = self.w
        return (t >= w.t_start) & (t <= w.alive_end[pat]) & (t < w.t_end)

    # ----------------------------------------------------------------------------------------
    def _roles(self) -> None:
        w, rng, N = self.w, self.w.rngs["roles"], self.w.N
        plain = (w.nh < 0) & (w.death_day < 0) & (w.pref == 0)
        # dialysis cohorts (10-20 patients at one hospital, 3x/week)
        self.dialysis = []
        for v in w.dialysis_venues:
            cand = np.flatnonzero(plain & (self.role == 0) & (w.age >= 40) & (w.age <= 85))
            near = cand[w.region[cand] == w.inst_region[v]]
            size = min(int(rng.integers(10, 21)), cand.size)
            pick = near if near.size >= size else cand
            mem = np.sort(rng.choice(pick, size, replace=False))
            self.role[mem] = ROLE_DIALYSIS
            self.dialysis.append((int(v), mem))
        # chemotherapy patients
        n_chemo = max(3, round(N * 0.003))
        cand = np.flatnonzero(plain & (self.role == 0) & (w.age >= 40) & (w.age <= 80))
        self.chemo = np.sort(rng.choice(cand, min(n_chemo, cand.size), replace=False))
        self.role[self.chemo] = ROLE_CHEMO
        # rehabilitation groups at community centres with a rehab department
        comm = np.flatnonzero((w.inst_role == 3) & (w.inst_pref == 0))
        has_rehab = w.grp_dept[w.grp_full[comm, V.D["康复科"]]] == V.D["康复科"]
        venues = comm[has_rehab] if has_rehab.any() else comm
        self.rehab = []
        for _ in range(max(1, round(N / 10000))):
            v = int(rng.choice(venues))
            cand = np.flatnonzero(plain & (self.role == 0) & (w.age >= 45) & (w.age <= 85))
            near = cand[w.region[cand] == w.inst_region[v]]
            size = min(int(rng.integers(5, 13)), cand.size)
            pick = near if near.size >= size else cand
            mem = np.sort(rng.choice(pick, size, replace=False))
            self.role[mem] = ROLE_REHAB
            self.rehab.append((v, mem))
        # travellers
        cand = np.flatnonzero(plain & (self.role == 0) & (w.age >= 20) & (w.age <= 75))
        self.travellers = np.sort(rng.choice(cand, max(2, round(0.02 * N)), replace=False))
        self.role[self.travellers] = ROLE_TRAVELLER
        # family payers (家庭共济): children and elders of registered families use a working
        # member's card (personal account) for part of their claims
        traveller = self.role == ROLE_TRAVELLER
        cand_payer = w.employee & (w.age >= 22) & (w.age <= 64) & (w.death_day < 0) & ~traveller
        key = np.where(cand_payer, w.hh * 8 + w.pos, np.iinfo(np.int64).max)
        order = np.argsort(key, kind="stable")
        order = order[cand_payer[order]]
        hh_payer = np.full(w.n_hh, -1, dtype=np.int64)
        hh_payer[w.hh[order[::-1]]] = order[::-1]
        payer = hh_payer[w.hh]
        benef = w.family_registered & ((w.age < 18) | (w.age >= 65)) & (payer >= 0) & (payer != np.arange(N))
        benef &= ~traveller
        benef &= rng.random(N) < 0.75
        self.payer = np.where(benef, payer, -1)
        self.share_p = np.where(benef, rng.uniform(0.4, 0.9, N), 0.0)

    def _favourites(self) -> None:
        w, rng = self.w, self.w.rngs["roles"]
        reg = w.region
        self.fav_hub = w.sample(rng, "hub", reg)
        self.fav_l2 = w.sample(rng, "l2", reg)
        self.fav_l1 = w.sample(rng, "l1op", reg)
        self.fav_l1ip = w.sample(rng, "l1ip", reg)
        self.fav_ph = w.sample(rng, "ph", reg)

    # ----------------------------------------------------------------------------------------
    def _random_visits(self) -> None:
        w, rng, N = self.w, self.w.rngs["events"], self.w.N
        band = np.digitize(w.age, [7, 18, 45, 65, 80])
        frail = rng.gamma(2.0, 0.5, N) * np.where(w.chronic >= 0, 1.25, 1.0)
        busy = np.isin(self.role, (ROLE_DIALYSIS, ROLE_CHEMO, ROLE_REHAB))
        # --- outpatient
        rate = np.array([6.0, 3.0, 3.0, 4.4, 6.2, 7.0])[band] * frail
        n = rng.poisson(rate * self.years)
        pat = np.repeat(np.arange(N), n)
        day = self.days_for(rng, pat, weekday_bias=0.65)
        t0 = day * DAY + w.hours(rng, HOURS_OUT, pat.size)
        inst = self._choose_out_inst(rng, pat)
        # family members visiting together (companion claims)
        m = pat.size
        sel = np.flatnonzero((w.hh_size[w.hh[pat]] >= 2) & (rng.random(m) < 0.04))
        sp = pat[sel]
        s = w.hh_size[w.hh[sp]]
        off = 1 + (rng.random(sel.size) * (s - 1)).astype(np.int64)
        comp = w.hh_members[w.hh_start[w.hh[sp]] + (w.pos[sp] + off) % s]
        ct0 = t0[sel] + rng.integers(0, 20 * MINUTE, sel.size)
        ok = self.alive_ok(comp, ct0) & ~busy[comp]
        pat = np.concatenate([pat, comp[ok]])
        t0 = np.concatenate([t0, ct0[ok]])
        inst = np.concatenate([inst, inst[sel][ok]])
        f = self.fill_inst(rng, pat, inst, OUT, t0)
        uids = self.C.add(**f)
        self.out_uids = uids
        self.out = f
        co = np.flatnonzero(ok)[:500]
        self.hard.append(HardNegative("family_co_visit", [], np.stack([uids[sel[co]], uids[m + np.arange(co.size)]], 1).ravel(),
                                      note="household members treated together (pairs of claims; first 500 pairs)",
                                      pairs_total=int(ok.sum())))
        # hospital visit then the pharmacy next door 10-30 minutes later
        hp = w.hosp_pharm[f["inst"]]
        sel = np.flatnonzero((hp >= 0) & (rng.random(f["pat"].size) < 0.08))
        pt = f["t0"][sel] + rng.integers(10 * MINUTE, 30 * MINUTE + 1, sel.size)
        ok = self.alive_ok(f["pat"][sel], pt)
        sel, pt = sel[ok], pt[ok]
        tot = np.round(np.clip(np.exp(rng.normal(np.log(120), 0.6, sel.size)), 10, 1500) * 100).astype(np.int64)
        p_uids = self.C.add(**self.fill_pharm(rng, f["pat"][sel], hp[sel], pt, diag=f["diag"][sel], total=tot,
                                              doc=f["doc"][sel]))
        k = min(500, sel.size)
        self.hard.append(HardNegative("hospital_then_pharmacy", [], np.stack([uids[sel[:k]], p_uids[:k]], 1).ravel(),
                                      note="visit, then the pharmacy next door 10-30 minutes later (first 500 pairs)",
                                      pairs_total=int(sel.size)))
        # --- pharmacy purchases
        rate = np.array([1.2, 1.2, 3.0, 4.0, 4.4, 4.4])[band] * frail
        n = rng.poisson(rate * self.years)
        pat = np.repeat(np.arange(N), n)
        day = self.days_for(rng, pat)
        use_fav = rng.random(pat.size) < 0.6
        ph = np.where(use_fav, self.fav_ph[pat], w.sample(rng, "ph", w.region[pat]))
        hrs = np.where(w.ph_24h[ph], w.hours(rng, HOURS_PHARM24, pat.size), w.hours(rng, HOURS_PHARM, pat.size))
        t0 = day * DAY + hrs
        self.C.add(**self.fill_pharm(rng, pat, ph, t0))
        # --- inpatient stays
        rate = np.array([0.06, 0.03, 0.05, 0.09, 0.20, 0.32])[band] * frail
        rate = rate + np.where((~w.male) & (w.age >= 20) & (w.age <= 40), 0.06, 0.0)
        rate = np.where(busy, 0.0, rate)
        n = rng.poisson(rate * self.years)
        pat = np.repeat(np.arange(N), n)
        day = self.days_for(rng, pat, weekday_bias=0.5)
        t0 = day * DAY + w.hours(rng, HOURS_IN, pat.size)
        inst = self._choose_in_inst(rng, pat)
        f, _ = self._fit_stays(self.fill_inst(rng, pat, inst, INP, t0))
        uids = self.C.add(**f)
        self.inp_uids, self.inp = uids, f
        # readmissions (some within 10 days, most later): legitimate
        sel = np.flatnonzero(rng.random(uids.size) < 0.04)
        rp = f["pat"][sel]
        gap = rng.integers(2, 31, sel.size)
        rt0 = (f["t1"][sel] // DAY + gap) * DAY + w.hours(rng, HOURS_IN, sel.size)
        same = rng.random(sel.size) < 0.7
        rinst = np.where(same, f["inst"][sel], self.fav_hub[rp])
        rdiag = np.where(rng.random(sel.size) < 0.6, f["diag"][sel], -1)
        ok = self.alive_ok(rp, rt0)
        g, keep = self._fit_stays(self.fill_inst(rng, rp[ok], rinst[ok], INP, rt0[ok], dept=f["dept"][sel][ok],
                                                 diag=rdiag[ok]))
        r_uids = self.C.add(**g)
        first, rgap = uids[sel[ok]][keep], gap[ok][keep]
        for k in np.flatnonzero(rgap <= 10):
            self.hard.append(HardNegative("readmission", [("patient", int(g["pat"][k]), "patient")],
                                          np.array([first[k], r_uids[k]]), note="single legitimate readmission"))

    def _choose_out_inst(self, rng, pat: np.ndarray) -> np.ndarray:
        w = self.w
        u = rng.random(pat.size)
        p_hub = np.where(w.age[pat] < 14, 0.55, 0.50)
        cat = np.where(u < p_hub, 0, np.where(u < p_hub + 0.22, 1, 2))
        fav = rng.random(pat.size) < 0.6
        out = np.empty(pat.size, dtype=np.int64)
        for c, name, favs in ((0, "hub", self.fav_hub), (1, "l2", self.fav_l2), (2, "l1op", self.fav_l1)):
            sel = np.flatnonzero(cat == c)
            rnd = w.sample(rng, name, w.region[pat[sel]])
            out[sel] = np.where(fav[sel], favs[pat[sel]], rnd)
        return out

    def _choose_in_inst(self, rng, pat: np.ndarray) -> np.ndarray:
        w = self.w
        u = rng.random(pat.size)
        cat = np.where(u < 0.55, 0, np.where(u < 0.88, 1, 2))
        fav = rng.random(pat.size) < 0.6
        out = np.empty(pat.size, dtype=np.int64)
        for c, name, favs in ((0, "hub", self.fav_hub), (1, "l2", self.fav_l2), (2, "l1ip", self.fav_l1ip)):
            sel = np.flatnonzero(cat == c)
            rnd = w.sample(rng, name, w.region[pat[sel]])
            out[sel] = np.where(fav[sel], favs[pat[sel]], rnd)
        return out

    def _fit_stays(self, f: dict, shift_back: bool = True) -> tuple[dict, np.ndarray]:
        """Keep stays inside the period and end them at the latest on the death date.

        Stays ending after the period are moved back (``shift_back``) or dropped (stays that
        follow a referral must not move before it).
        """
        w = self.w
        t0, t1 = f["t0"].copy(), f["t1"].copy()
        over = t1 >= w.t_end
        shift = np.where(over & shift_back, ((t1 - w.t_end) // DAY + 1) * DAY, 0)
        t0 -= shift
        t1 -= shift
        t0 = np.maximum(t0, w.t_start)
        ae = w.alive_end[f["pat"]]
        t1 = np.where(t1 > ae, ae, t1)
        bad = t1 <= t0
        t1 = np.where(bad, np.minimum(t0 + 2 * HOUR, ae), t1)
        keep = (t1 > t0) & (t0 <= ae) & (t1 < w.t_end)
        f = {k: (v[keep] if isinstance(v, np.ndarray) and v.ndim == 1 and v.size == keep.size else v)
             for k, v in f.items()}
        f["t0"], f["t1"] = t0[keep], t1[keep]
        return f, keep

    # ----------------------------------------------------------------------------------------
    def _chronic(self) -> None:
        w, rng = self.w, self.w.rngs["chronic"]
        cp = np.flatnonzero(w.chronic >= 0)
        # monthly refills at the usual pharmacy, similar amounts
        first = rng.integers(0, 30, cp.size)
        cnt = np.maximum((self.span_days[cp] - first) // 30 + 1, 0)
        cnt = np.where(first < self.span_days[cp], cnt, 0)
        pat = np.repeat(cp, cnt)
        k = np.arange(pat.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        day = w.day0 + np.repeat(first, cnt) + 30 * k + rng.integers(-3, 4, pat.size)
        day = np.clip(day, w.day0, w.day0 + self.span_days[pat] - 1)
        alt = w.hosp_pharm[self.fav_l2[pat]]
        ph = np.where((rng.random(pat.size) < 0.15) & (alt >= 0), alt, self.fav_ph[pat])
        hrs = np.where(w.ph_24h[ph], w.hours(rng, HOURS_PHARM24, pat.size), w.hours(rng, HOURS_PHARM, pat.size))
        t0 = day * DAY + hrs
        total = np.round(w.chronic_amount[pat] * rng.uniform(0.95, 1.05, pat.size)).astype(np.int64)
        ccode = np.array([w.dx[c[0]] for c in V.CHRONIC])
        self.C.add(**self.fill_pharm(rng, pat, ph, t0, diag=ccode[w.chronic[pat]], total=total))
        # follow-up visits every ~3 months
        first = rng.integers(0, 90, cp.size)
        cnt = np.where(first < self.span_days[cp], (self.span_days[cp] - first) // 90 + 1, 0)
        pat = np.repeat(cp, cnt)
        k = np.arange(pat.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        day = w.day0 + np.repeat(first, cnt) + 90 * k + rng.integers(-10, 11, pat.size)
        day = np.clip(day, w.day0, w.day0 + self.span_days[pat] - 1)
        t0 = day * DAY + w.hours(rng, HOURS_OUT, pat.size)
        u = rng.random(pat.size)
        inst = np.where(u < 0.5, self.fav_l2[pat], np.where(u < 0.8, self.fav_hub[pat], self.fav_l1[pat]))
        cdept = np.array([V.D[c[1]] for c in V.CHRONIC])
        self.C.add(**self.fill_inst(rng, pat, inst, OUT, t0, dept=cdept[w.chronic[pat]],
                                    diag=ccode[w.chronic[pat]]))

    def _terminal_stays(self) -> None:
        """Half of the deceased die in hospital: the stay ends on the death date."""
        w, rng = self.w, self.w.rngs["events"]
        dead = np.flatnonzero((w.death_day >= 0) & (rng.random(w.N) < 0.5))
        los = rng.integers(3, 16, dead.size)
        t1 = w.death_day[dead] * DAY + rng.integers(HOUR, 23 * HOUR, dead.size)
        t0 = (w.death_day[dead] - los) * DAY + w.hours(rng, HOURS_IN, dead.size)
        ok = t0 >= w.t_start
        dead, los, t0, t1 = dead[ok], los[ok], t0[ok], t1[ok]
        inst = np.where(rng.random(dead.size) < 0.6, self.fav_hub[dead], self.fav_l2[dead])
        f = self.fill_inst(rng, dead, inst, INP, t0, los=los)
        f["t1"] = t1
        self.C.add(prot=True, **f)

    # ----------------------------------------------------------------------------------------
    def _cohorts(self) -> None:
        w, rng = self.w, self.w.rngs["cohorts"]
        all_days = np.arange(w.day0, w.day0 + w.ndays)
        wd = (all_days + 3) % 7
        # --- dialysis: Mon/Wed/Fri or Tue/Thu/Sat, morning or afternoon shift
        n18 = w.dx["N18.5"]
        for v, mem in self.dialysis:
            pats, ts = [], []
            for p in mem:
                pattern = (0, 2, 4) if rng.random() < 0.5 else (1, 3, 5)
                shift = 7 * HOUR + 30 * MINUTE if rng.random() < 0.6 else 12 * HOUR + 30 * MINUTE
                join = w.day0 + (0 if rng.random() < 0.7 else int(rng.integers(0, min(120, w.ndays))))
                days = all_days[np.isin(wd, pattern) & (all_days >= join)]
                days = days[rng.random(days.size) < 0.95]
                t = days * DAY + shift + rng.integers(0, 40 * MINUTE, days.size)
                pats.append(np.full(days.size, p))
                ts.append(t)
            pat, t0 = np.concatenate(pats), np.concatenate(ts)
            ok = self.alive_ok(pat, t0)
            pat, t0 = pat[ok], t0[ok]
            # each patient keeps one nephrologist
            f = self.fill_inst(rng, pat, np.full(pat.size, v), OUT, t0, dept=V.D["肾内科"], diag=n18)
            g = w.grp_full[v, V.D["肾内科"]]
            own_doc = w.grp_start[g] + (rng.random(w.N) * w.grp_count[g]).astype(np.int64)
            f["doc"] = own_doc[pat]
            f["total"] = np.round(rng.uniform(380, 520, pat.size) * 100).astype(np.int64)
            f["fund"] = self.fund(rng, pat, f["total"])
            uids = self.C.add(prot=True, prof=2, **f)
            ents = [("institution", v, "venue")] + [("patient", int(p), "member") for p in mem]
            self.hard.append(HardNegative("dialysis_cohort", ents, uids, note="N18.5 haemodialysis 3x/week"))
        # --- nursing homes: weekly group visit to the community centre
        for k in range(w.n_nh):
            r = int(w.nh_reg[k])
            comm = np.flatnonzero((w.inst_role == 3) & (w.inst_region == r))
            v = int(comm[0]) if comm.size else int(self.fav_l1[np.flatnonzero(w.nh == k)[0]])
            mem = np.flatnonzero(w.nh == k)
            weekday = int(rng.integers(0, 5))
            days = all_days[wd == weekday]
            att = rng.random((mem.size, days.size)) < rng.uniform(0.7, 0.9, mem.size)[:, None]
            pat = np.broadcast_to(mem[:, None], att.shape)[att]
            day = np.broadcast_to(days[None, :], att.shape)[att]
            t0 = day * DAY + 9 * HOUR + rng.integers(0, 120 * MINUTE, pat.size)
            ok = self.alive_ok(pat, t0)
            pat, t0 = pat[ok], t0[ok]
            ccode = np.array([w.dx[c[0]] for c in V.CHRONIC])
            diag = np.where(w.chronic[pat] >= 0, ccode[np.maximum(w.chronic[pat], 0)], w.dx["Z00.0"])
            f = self.fill_inst(rng, pat, np.full(pat.size, v), OUT, t0, dept=V.D["全科"], diag=diag)
            f["total"] = np.round(rng.uniform(60, 200, pat.size) * 100).astype(np.int64)
            f["fund"] = self.fund(rng, pat, f["total"])
            uids = self.C.add(prot=True, **f)
            ents = [("institution", v, "clinic")] + [("patient", int(p), "resident") for p in mem]
            self.hard.append(HardNegative("nursing_home", ents, uids, address=str(w.nh_address[k]),
                                          shared_phone=str(w.nh_phone[k]),
                                          note="unrelated residents share one address (and the home's phone)"))
        # --- rehabilitation groups after a hub stay and a down-referral
        for v, mem in self.rehab:
            s0 = w.day0 + int(rng.integers(30, max(31, w.ndays - 80)))
            hub = int(w.inst_near_hub[v])
            n = mem.size
            los = rng.integers(5, 13, n)
            dis_day = s0 - rng.integers(3, 11, n)
            t0 = (dis_day - los) * DAY + w.hours(rng, HOURS_IN, n)
            dcode = rng.choice([w.dx["S72.0"], w.dx["I63.9"], w.dx["M17.9"]], n)
            dept = np.where(dcode == w.dx["I63.9"], V.D["神经内科"], V.D["骨科"])
            f = self.fill_inst(rng, mem, np.full(n, hub), INP, t0, dept=dept, diag=dcode, los=los)
            f["t0"] = np.maximum(f["t0"], w.t_start)
            stay_uids = self.C.add(prot=True, **f)
            rt = f["t1"] - rng.integers(HOUR, 3 * HOUR, n)
            ref_uids = self.Rf.add(pat=mem, from_inst=hub, from_doc=f["doc"], to_inst=v, t=rt,
                                   reason=R_POSTOP)
            weeks = int(rng.integers(6, 11))
            sdays = np.array([s0 + 7 * k + d for k in range(weeks) for d in (0, 3)])
            sdays = sdays[sdays < w.day0 + w.ndays]
            att = rng.random((n, sdays.size)) < 0.85
            att[:, 0] = True
            pat = np.broadcast_to(mem[:, None], att.shape)[att]
            day = np.broadcast_to(sdays[None, :], att.shape)[att]
            first = np.zeros(att.shape, dtype=bool)
            first[:, 0] = True
            first = first[att]
            diag = np.broadcast_to(dcode[:, None], att.shape)[att]
            t = day * DAY + 14 * HOUR + rng.integers(0, 90 * MINUTE, pat.size)
            g = self.fill_inst(rng, pat, np.full(pat.size, v), OUT, t, dept=V.D["康复科"], diag=diag)
            g["total"] = np.round(rng.uniform(150, 300, pat.size) * 100).astype(np.int64)
            g["fund"] = self.fund(rng, pat, g["total"])
            ref = np.full(pat.size, -1, dtype=np.int64)
            ref[first] = ref_uids[np.searchsorted(mem, pat[first])]
            ok = self.alive_ok(pat, t)
            g = {k: (x[ok] if isinstance(x, np.ndarray) and x.size == ok.size else x) for k, x in g.items()}
            s_uids = self.C.add(prot=True, prof=4, ref=ref[ok], **g)
            ents = [("institution", v, "venue"), ("institution", hub, "referrer")] + \
                   [("patient", int(p), "member") for p in mem]
            self.hard.append(HardNegative("rehab_group", ents, np.concatenate([stay_uids, s_uids]), ref_uids,
                                          note="post-operative rehabilitation group after down-referral"))
        # --- chemotherapy cycles every ~21 days
        for p in self.chemo:
            hub = int(self.fav_hub[p])
            code = w.dx[V.CANCER_CODES[int(rng.integers(0, len(V.CANCER_CODES)))]]
            ncyc = int(rng.integers(4, 9))
            d = w.day0 + int(rng.integers(0, 60)) + np.cumsum(np.r_[0, rng.integers(19, 24, ncyc - 1)])
            d = d[d < w.day0 + w.ndays - 5]
            t0 = d * DAY + 8 * HOUR + rng.integers(0, 3 * HOUR, d.size)
            los = rng.integers(2, 5, d.size)
            pat = np.full(d.size, p)
            f = self.fill_inst(rng, pat, np.full(d.size, hub), INP, t0, dept=V.D["肿瘤科"], diag=code, los=los)
            f["total"] = np.round(rng.uniform(8000, 25000, d.size) * 100).astype(np.int64)
            f["fund"] = self.fund(rng, pat, f["total"])
            uids = self.C.add(prot=True, prof=3, **f)
            self.hard.append(HardNegative("chemo_cycle", [("patient", int(p), "patient"), ("institution", hub, "venue")],
                                          uids, note="chemotherapy readmissions every ~21 days"))

    # ----------------------------------------------------------------------------------------
    def _travellers(self) -> None:
        """A few people travel to other cities and are treated there, days apart from home."""
        w, rng = self.w, self.w.rngs["cohorts"]
        tr = self.travellers
        ntrip = rng.integers(1, 3, tr.size)
        seg = w.ndays // ntrip
        ok = seg >= 40
        tr, ntrip, seg = tr[ok], ntrip[ok], seg[ok]
        # trips of one traveller never overlap: one per segment of the period
        tp = np.repeat(tr, ntrip)
        tseg = np.repeat(seg, ntrip)
        ti = np.arange(tp.size) - np.repeat(np.cumsum(ntrip) - ntrip, ntrip)
        sday = w.day0 + ti * tseg + (rng.random(tp.size) * (tseg - 25)).astype(np.int64) + 5
        dur = rng.integers(3, 15, tp.size)
        dest = np.where(rng.random(tp.size) < 0.6, rng.choice(w.far_regs, tp.size), rng.choice(w.nb_regs, tp.size))
        k = rng.integers(1, 4, tp.size)
        cp = np.repeat(tp, k)
        cdest = np.repeat(dest, k)
        day = np.repeat(sday, k) + (rng.random(cp.size) * np.repeat(dur, k)).astype(np.int64)
        is_ph = rng.random(cp.size) < 0.7
        uids = np.empty(cp.size, dtype=np.int64)
        sel = np.flatnonzero(is_ph)
        t = day[sel] * DAY + w.hours(rng, HOURS_PHARM, sel.size)
        uids[sel] = self.C.add(prot=True, **self.fill_pharm(rng, cp[sel], w.sample(rng, "ph", cdest[sel]), t))
        sel = np.flatnonzero(~is_ph)
        inst = np.where(rng.random(sel.size) < 0.6, w.sample(rng, "hub", cdest[sel]), w.sample(rng, "l2", cdest[sel]))
        t = day[sel] * DAY + w.hours(rng, HOURS_OUT, sel.size)
        uids[sel] = self.C.add(prot=True, **self.fill_inst(rng, cp[sel], inst, OUT, t))
        order = np.argsort(cp, kind="stable")
        pats, starts = np.unique(cp[order], return_index=True)
        for p, part in zip(pats, np.split(uids[order], starts[1:])):
            self.hard.append(HardNegative("legit_traveller", [("patient", int(p), "traveller")], part,
                                          note="claims in another city days apart from home claims"))
        self.windows.append((tp.astype(np.int64), (sday - 1) * DAY, (sday + dur + 1) * DAY,
                             w.reg_pref[dest].astype(np.int64)))

    # ----------------------------------------------------------------------------------------
    def _referrals(self) -> None:
        w, rng = self.w, self.w.rngs["referrals"]
        f, uids = self.out, self.out_uids
        lvl = w.inst_level[f["inst"]]
        src_ok = (w.inst_pref[f["inst"]] <= 1) & (lvl <= 2)
        p = np.where(lvl == 1, 0.015, 0.025)
        sel = np.flatnonzero(src_ok & (rng.random(lvl.size) < p))
        pat, src = f["pat"][sel], f["inst"][sel]
        rt = f["t0"][sel] + rng.integers(10 * MINUTE, 40 * MINUTE, sel.size)
        near = w.inst_near_hub[src]
        rnd = w.sample(rng, "hub", w.inst_region[src])
        u = rng.random(sel.size)
        to = np.where(u < 0.45, near, rnd)
        # a few go to a private specialist hospital of the same prefecture
        priv = self._private_of(rng, src)
        to = np.where((u > 0.95) & (priv >= 0) & (priv != src), priv, to)
        reason = rng.choice([R_UP, R_SPECIAL, R_EXAM], sel.size, p=[0.6, 0.25, 0.15])
        ooa = w.inst_pref[to] != w.inst_pref[src]
        ref = self.Rf.add(pat=pat, from_inst=src, from_doc=f["doc"][sel], to_inst=to, t=rt, ooa=ooa, reason=reason)
        # destination visit or admission 1-14 days later
        ip = rng.random(sel.size) < 0.3
        dday = rt // DAY + rng.integers(1, 15, sel.size)
        dt = dday * DAY + np.where(ip, w.hours(rng, HOURS_IN, sel.size), w.hours(rng, HOURS_OUT, sel.size))
        ok = self.alive_ok(pat, dt)
        diag = np.where(rng.random(sel.size) < 0.7, f["diag"][sel], -1)
        for flag in (False, True):
            m = np.flatnonzero(ok & (ip == flag))
            g = self.fill_inst(rng, pat[m], to[m], INP if flag else OUT, dt[m], dept=f["dept"][sel][m], diag=diag[m])
            if flag:
                g, keep = self._fit_stays(g, shift_back=False)
                m = m[keep]
            d_uids = self.C.add(ref=ref[m], **g)
            if flag:
                # 30% of admissions referred up from a community centre go back down to it
                back = (w.inst_role[src[m]] == 3) & (rng.random(m.size) < 0.3)
                self._down(rng, g["pat"][back], to[m][back], g["doc"][back], g["t1"][back], src[m][back],
                           d_uids[back], ref[m][back])
        # hub stays: down-referral to a community centre, or out-of-area referral
        g, g_uids = self.inp, self.inp_uids
        hub = w.inst_level[g["inst"]] == 3
        home = w.inst_pref[g["inst"]] == 0
        down = hub & home & np.isin(g["dept"], (V.D["骨科"], V.D["神经内科"], V.D["外科"])) & (rng.random(hub.size) < 0.08)
        comm = self._community_of(rng, g["pat"][down])
        # some rehabilitation goes to private hospitals with a rehab department
        priv = self._private_of(rng, g["inst"][down])
        comm = np.where((rng.random(comm.size) < 0.15) & (priv >= 0), priv, comm)
        self._down(rng, g["pat"][down], g["inst"][down], g["doc"][down], g["t1"][down], comm, None, None)
        far_hubs = np.flatnonzero(w.inst_role == 7)
        ooa = hub & home & np.isin(g["dept"], (V.D["肿瘤科"], V.D["神经内科"], V.D["心内科"])) & (rng.random(hub.size) < 0.06)
        sel = np.flatnonzero(ooa)
        if sel.size and far_hubs.size:
            pat = g["pat"][sel]
            dest = far_hubs[rng.integers(0, far_hubs.size, sel.size)]
            rt = g["t1"][sel] - rng.integers(HOUR, 4 * HOUR, sel.size)
            ref = self.Rf.add(pat=pat, from_inst=g["inst"][sel], from_doc=g["doc"][sel], to_inst=dest, t=rt,
                              ooa=True, reason=R_OOA)
            dt = (g["t1"][sel] // DAY + rng.integers(3, 21, sel.size)) * DAY + w.hours(rng, HOURS_IN, sel.size)
            ok = self.alive_ok(pat, dt)
            h = self.fill_inst(rng, pat[ok], dest[ok], INP, dt[ok], dept=g["dept"][sel][ok], diag=g["diag"][sel][ok],
                               los=rng.integers(5, 16, int(ok.sum())))
            h, keep = self._fit_stays(h, shift_back=False)
            self.C.add(ref=ref[ok][keep], **h)

    def _private_of(self, rng, src: np.ndarray) -> np.ndarray:
        """A random private hospital (with beds) in the prefecture of each source institution."""
        w = self.w
        out = np.full(src.size, -1, dtype=np.int64)
        for pref in np.unique(w.inst_pref[src]):
            sel = np.flatnonzero(w.inst_pref[src] == pref)
            cand = np.flatnonzero(w.inst_private & w.inst_ip & (w.inst_pref == pref) & np.isin(w.inst_role, (2, 6)))
            if cand.size:
                out[sel] = cand[rng.integers(0, cand.size, sel.size)]
        return out

    def _community_of(self, rng, pat: np.ndarray) -> np.ndarray:
        w = self.w
        out = np.empty(pat.size, dtype=np.int64)
        for r in np.unique(w.region[pat]):
            sel = np.flatnonzero(w.region[pat] == r)
            comm = np.flatnonzero((w.inst_role == 3) & (w.inst_region == r))
            if comm.size == 0:
                comm = np.flatnonzero((w.inst_role == 3) & (w.inst_pref == w.reg_pref[r]))
            out[sel] = comm[rng.integers(0, comm.size, sel.size)]
        return out

    def _down(self, rng, pat, hub, doc, t1, comm, stay_uids, up_refs) -> None:
        """Down-referral at discharge to a community centre, then 2-6 weekly rehab visits."""
        w = self.w
        if pat.size == 0:
            return
        rt = t1 - rng.integers(HOUR, 3 * HOUR, pat.size)
        ref = self.Rf.add(pat=pat, from_inst=hub, from_doc=doc, to_inst=comm, t=rt,
                          reason=rng.choice([R_POSTOP, R_REHAB], pat.size))
        k = rng.integers(2, 7, pat.size)
        rp = np.repeat(pat, k)
        j = np.arange(rp.size) - np.repeat(np.cumsum(k) - k, k)
        day = np.repeat(t1 // DAY, k) + 3 + 7 * j + rng.integers(0, 3, rp.size)
        t = day * DAY + w.hours(rng, HOURS_OUT, rp.size)
        ok = self.alive_ok(rp, t)
        rref = np.where(j == 0, np.repeat(ref, k), -1)
        g = self.fill_inst(rng, rp[ok], np.repeat(comm, k)[ok], OUT, t[ok], dept=V.D["康复科"])
        uids = self.C.add(ref=rref[ok], prof=4, **g)
        if stay_uids is not None:
            # legitimate A -> B -> A round trip for one patient
            for i in range(pat.size):
                mine = uids[rp[ok] == pat[i]]
                self.hard.append(HardNegative(
                    "referral_roundtrip",
                    [("patient", int(pat[i]), "patient"), ("institution", int(comm[i]), "community"),
                     ("institution", int(hub[i]), "hub")],
                    np.concatenate([[stay_uids[i]], mine]), np.array([up_refs[i], ref[i]]),
                    note="up-referral, hub stay, down-referral back for rehabilitation"))
