"""Care-path look-alikes for variant cities (mixed into :class:`graphkit.demo._lookalikes.Lookalikes`).

Transfers between the campuses of one hospital (一院多区), services bought outside during a stay
(双通道药店购药, 院外检查), high-speed-rail day trips, internet-hospital follow-ups with a local
pharmacy purchase, and medical alliances (医联体/医共体) that concentrate referrals legally.
"""

from __future__ import annotations

import numpy as np

from . import _vocab as V
from ._normal import INP, R_OOA, R_POSTOP, R_REHAB, R_UP
from ._util import DAY, HOUR, MINUTE
from ._world import HOURS_OUT, K_CLINIC, K_COMMUNITY, K_VILLAGE, haversine_km
from ._world_variants import ROLE_BRANCH


class CarePaths:
    """Look-alikes along care paths; needs the helpers of ``Lookalikes``."""

    # ----------------------------------------------------------------------------------------
    # 一院多区: transfers between two campuses of one hospital
    # ----------------------------------------------------------------------------------------
    def branch_campus(self, rng, x: float) -> None:
        w = self.w
        for b in np.flatnonzero(w.inst_role == ROLE_BRANCH):
            a = int(w.inst_parent[b])
            n = max(3, round(w.N / 2000 * x))
            ok = self.plain() & (w.age >= 40) & (w.age <= 85)
            ppl = self.pick(rng, ok & np.isin(w.region, [w.inst_region[a], w.inst_region[b]]), n)
            if ppl.size == 0:
                continue
            first_at = np.where(rng.random(ppl.size) < 0.5, a, b)
            dx = np.array([w.dx["S72.0"], w.dx["I63.9"], w.dx["M17.9"]])[rng.integers(0, 3, ppl.size)]
            dept = np.where(dx == w.dx["I63.9"], V.D["神经内科"], V.D["骨科"])
            los1 = rng.integers(4, 11, ppl.size)
            d0 = self.days(rng, ppl.size, 2, 35)
            t0 = d0 * DAY + 9 * HOUR + rng.integers(0, 3 * HOUR, ppl.size)
            s1 = self.add_visits(rng, ppl, first_at, t0, dept=dept, diag=dx, ctype=INP, los=los1)
            f1 = self.C.data()
            t1 = f1["t1"][s1]
            pat1 = f1["pat"][s1]
            i1 = np.searchsorted(ppl, pat1)
            t2 = t1 + rng.integers(HOUR, 5 * HOUR, s1.size)
            alive = self.ng.alive_ok(pat1, t2)
            s1, t1, pat1, i1, t2 = s1[alive], t1[alive], pat1[alive], i1[alive], t2[alive]
            rt = t1 - rng.integers(HOUR, 2 * HOUR, s1.size)
            to = np.where(first_at[i1] == a, b, a)
            refs = self.Rf.add(pat=pat1, from_inst=first_at[i1], from_doc=f1["doc"][s1], to_inst=to, t=rt,
                               reason=np.where(rng.random(s1.size) < 0.5, R_REHAB, R_POSTOP))
            rdx = np.where(dx[i1] == w.dx["I63.9"], w.dx["I69.3"], dx[i1])
            s2 = self.add_visits(rng, pat1, to, t2, dept=V.D["康复科"], diag=rdx, ctype=INP,
                                 los=rng.integers(7, 15, s1.size), ref=refs)
            ents = [("institution", a, "campus"), ("institution", int(b), "campus")]
            ents += [("patient", int(p), "patient") for p in ppl]
            self.hard("branch_campus_transfer", ents, np.concatenate([s1, s2]), refs, members=ppl,
                      note="一院多区: surgery or acute care at one campus, rehabilitation at the other")

    # ----------------------------------------------------------------------------------------
    # 双通道药店购药 / 院外检查 during a stay
    # ----------------------------------------------------------------------------------------
    def stay_outside_service(self, rng, x: float) -> None:
        w, ng = self.w, self.ng
        f, uids = ng.inp, ng.inp_uids
        C = self.C.data()
        los = (f["t1"] - f["t0"]) // DAY
        ok = (los >= 4) & (w.inst_level[f["inst"]] >= 2) & (w.inst_pref[f["inst"]] == 0) & (w.nh[f["pat"]] < 0)
        ok &= ng.role[f["pat"]] == 0
        sel = rng.permutation(np.flatnonzero(ok))[: max(2, round(w.N / 1000 * x))]
        _, first = np.unique(f["pat"][sel], return_index=True)
        sel = sel[first]
        C["prot"][uids[sel]] = True  # the stay itself must stay
        pat, inst = f["pat"][sel], f["inst"][sel]
        t = f["t0"][sel] + DAY + (rng.random(sel.size) * (f["t1"][sel] - f["t0"][sel] - 2 * DAY)).astype(np.int64)
        t = (t // DAY) * DAY + 10 * HOUR + rng.integers(0, 6 * HOUR, sel.size)
        drug = rng.random(sel.size) < 0.6
        chains = np.flatnonzero((w.ph_chain >= 0) & (w.ph_pref == 0))
        near = w.hosp_pharm[inst]
        ph = np.where(near >= 0, near, chains[rng.integers(0, chains.size, sel.size)])
        outs = []
        for i in np.flatnonzero(drug):
            u = self.add_purchases(rng, pat[[i]], ph[[i]], t[[i]], total=rng.uniform(1500, 20000, 1),
                                   diag=f["diag"][sel][[i]], lk=True)
            outs.append(("dual_channel", i, u, ("pharmacy", int(ph[i]), "dual_channel_pharmacy")))
        hubs = np.flatnonzero((w.inst_level == 3) & (w.inst_pref == 0) & w.inst_serves_public)
        for i in np.flatnonzero(~drug):
            other = hubs[hubs != inst[i]]
            h = int(rng.choice(other)) if other.size else int(inst[i])
            u = self.add_visits(rng, pat[[i]], h, t[[i]], dept=V.D["内科"], diag=f["diag"][sel][[i]],
                                total=rng.uniform(600, 3000, 1), lk=True)
            outs.append(("outside_exam", i, u, ("institution", h, "exam_provider")))
        for variant, i, u, ent in outs:
            if u.size == 0:
                continue
            self.hard("stay_outside_service", [("patient", int(pat[i]), "patient"),
                                               ("institution", int(inst[i]), "venue"), ent],
                      np.array([uids[sel[i]], u[0]]), members=pat[[i]], variant=variant,
                      note="双通道药店购药 or 院外检查 during an inpatient stay, prescribed by the ward")

    # ----------------------------------------------------------------------------------------
    # 高铁当日往返: two cities 300-400 km apart on one day
    # ----------------------------------------------------------------------------------------
    def rail_day_trip(self, rng, x: float) -> None:
        w, ng = self.w, self.ng
        # people never in hospital: a claim elsewhere during one's own stay would be a real phantom-stay signal
        ppl = self.pick(rng, self.plain() & ~self.has_stay & (w.age >= 25) & (w.age <= 65), max(2, round(w.N / 1000 * x)))
        dests = np.concatenate([w.nb_regs, w.far_regs[:1]])  # 青岛 (~300 km) and 北京 (~360 km)
        day = self.days(rng, ppl.size)
        dest = dests[rng.integers(0, dests.size, ppl.size)]
        morning = day * DAY + 7 * HOUR + rng.integers(0, 2 * HOUR, ppl.size)
        gap = rng.integers(int(2.5 * HOUR), 5 * HOUR, ppl.size)
        home_first = rng.random(ppl.size) < 0.5
        t_home = np.where(home_first, morning, morning + gap)
        t_far = np.where(home_first, morning + gap, morning)
        u_home = self.add_purchases(rng, ppl, ng.fav_ph[ppl], t_home, lk=True)
        far_ph = w.sample(rng, "ph", dest)
        u_far = self.add_purchases(rng, ppl, far_ph, t_far, lk=True)
        for i, p in enumerate(ppl):
            if i < u_home.size and i < u_far.size:
                km = float(haversine_km(w.reg_lat[w.region[p]], w.reg_lon[w.region[p]], w.reg_lat[dest[i]],
                                        w.reg_lon[dest[i]]))
                self.hard("rail_day_trip", [("patient", int(p), "traveller"), ("pharmacy", int(far_ph[i]), "remote")],
                          np.array([u_home[i], u_far[i]]), members=np.array([p]), km=round(km),
                          hours_apart=round(float(gap[i]) / HOUR, 2),
                          note="高铁当日往返: hours apart, well within a high-speed train's reach")

    # ----------------------------------------------------------------------------------------
    # 互联网医院复诊 + local pharmacy purchase
    # ----------------------------------------------------------------------------------------
    def internet_hospital(self, rng, x: float) -> None:
        w, ng = self.w, self.ng
        hubs = np.flatnonzero(w.inst_online_term >= 0)
        if hubs.size == 0:
            return
        ok = self.plain() & ~self.has_stay & (w.chronic >= 0)
        n = max(2, round(w.N / 1500 * x))
        # prefer people far from the hubs (outer counties) so that minutes apart means many km apart
        home_hubs = hubs[w.inst_pref[hubs] == 0]
        far = haversine_km(w.reg_lat[w.region][:, None], w.reg_lon[w.region][:, None],
                           w.inst_lat[home_hubs][None, :], w.inst_lon[home_hubs][None, :]).min(axis=1)
        ppl = self.pick(rng, ok & (far >= np.quantile(far[ok], 0.7) if ok.any() else ok), n)
        ccode = np.array([w.dx[c[0]] for c in V.CHRONIC])
        cdept = np.array([V.D[c[1]] for c in V.CHRONIC])
        for p in ppl:
            k = int(rng.integers(2, 5))
            hub = int(rng.choice(hubs)) if rng.random() < 0.25 else int(rng.choice(home_hubs))
            days = np.sort(self.days(rng, k))
            t_on = days * DAY + 19 * HOUR + rng.integers(0, 3 * HOUR, k)
            t_ph = t_on + rng.integers(5 * MINUTE, 40 * MINUTE, k)
            pk = np.full(k, p)
            u_on = self.add_visits(rng, pk, hub, t_on, dept=cdept[w.chronic[p]], diag=ccode[w.chronic[p]],
                                   term=int(w.inst_online_term[hub]), lk=True)
            u_ph = self.add_purchases(rng, pk, ng.fav_ph[p], t_ph, total=w.chronic_amount[p] / 100.0,
                                      diag=ccode[w.chronic[p]], lk=True)
            m = min(u_on.size, u_ph.size)
            if m == 0:
                continue
            self.hard("internet_hospital_visit", [("patient", int(p), "patient"), ("institution", hub, "online_hospital"),
                                                  ("pharmacy", int(ng.fav_ph[p]), "local_pharmacy")],
                      np.concatenate([u_on[:m], u_ph[:m]]), members=np.array([p]),
                      note="互联网医院复诊 at a hospital, prescription filled at the local pharmacy minutes later")

    # ----------------------------------------------------------------------------------------
    # 医联体/医共体: member clinics refer to the lead hospital; a county to one out-of-area partner
    # ----------------------------------------------------------------------------------------
    def medical_alliance(self, rng, x: float) -> None:
        w, ng = self.w, self.ng
        f = ng.out
        prim = np.isin(w.inst_kind, (K_COMMUNITY, K_VILLAGE, K_CLINIC)) & (w.inst_pref == 0) & w.inst_serves_public
        leads = np.flatnonzero((w.inst_level >= 2) & ~w.inst_private & (w.inst_pref == 0) & w.inst_serves_public)
        for _ in range(max(1, round(x))):
            lead = int(rng.choice(leads))
            members = np.flatnonzero(prim & (w.inst_region == w.inst_region[lead]))
            if members.size == 0:
                continue
            src = np.flatnonzero(np.isin(f["inst"], members) & (rng.random(f["inst"].size) < 0.05 * min(x, 2.0)))
            if src.size == 0:
                continue
            refs, dst = self._refer(rng, src, np.full(src.size, lead), reason=R_UP)
            ents = [("institution", lead, "lead")] + [("institution", int(m), "member") for m in members]
            self.hard("medical_alliance", ents, np.concatenate([ng.out_uids[src], dst]), refs, variant="lead_hospital",
                      note="医联体: member clinics refer nearly all patients up to the lead hospital")
        # a county hospital sends its cancer patients to one out-of-area partner (转外就医备案)
        far_hubs = np.flatnonzero((w.inst_role == 7))
        county = np.flatnonzero((w.inst_level == 2) & ~w.inst_private & (w.inst_pref == 0)
                                & w.reg_rural[w.inst_region])
        if far_hubs.size and county.size:
            c, partner = int(rng.choice(county)), int(rng.choice(far_hubs))
            src = np.flatnonzero(f["inst"] == c)
            src = rng.permutation(src)[: max(6, round(12 * x))]
            refs, dst = self._refer(rng, src, np.full(src.size, partner), reason=R_OOA, ooa=True, dept=V.D["肿瘤科"])
            self.hard("medical_alliance", [("institution", c, "county_hospital"), ("institution", partner, "partner")],
                      np.concatenate([ng.out_uids[src], dst]), refs, variant="out_of_area_partner",
                      note="转外就医: a county hospital's cancer referrals all go to one partner hospital elsewhere")

    def _refer(self, rng, src: np.ndarray, to: np.ndarray, *, reason: int, ooa: bool = False, dept=None):
        """Referrals from outpatient visits ``src`` (indices into ``ng.out``) and the visits that follow."""
        ng, w = self.ng, self.w
        f = ng.out
        pat = f["pat"][src]
        rt = f["t0"][src] + rng.integers(10 * MINUTE, 40 * MINUTE, src.size)
        refs = self.Rf.add(pat=pat, from_inst=f["inst"][src], from_doc=f["doc"][src], to_inst=to, t=rt,
                           ooa=ooa or (w.inst_pref[to] != w.inst_pref[f["inst"][src]]),
                           reason=np.full(src.size, reason))
        dt = (rt // DAY + rng.integers(1, 15, src.size)) * DAY + w.hours(rng, HOURS_OUT, src.size)
        keep = ng.alive_ok(pat, dt)
        d = self.add_visits(rng, pat[keep], to[keep], dt[keep], dept=dept if dept is not None else f["dept"][src][keep],
                            diag=f["diag"][src][keep], ref=refs[keep])
        return refs, d

    # ----------------------------------------------------------------------------------------
    # 新生儿随母结算: a newborn's stay settled under the mother's id during her delivery stay
    # ----------------------------------------------------------------------------------------
    def _with_dept(self, dept: int, ok: np.ndarray) -> np.ndarray:
        """Providers of ``ok`` with doctors of their own in ``dept`` (no fallback department)."""
        w = self.w
        return np.flatnonzero(ok & (w.grp_dept[w.grp_full[:, dept]] == dept))

    def newborn_with_mother(self, rng, x: float) -> None:
        w, ng = self.w, self.ng
        ob = V.D["妇产科"]
        hosp = self._with_dept(ob, w.inst_ip & (w.inst_level >= 2) & (w.inst_pref == 0) & w.inst_serves_public)
        if hosp.size == 0:
            return
        ok = self.plain() & ~self.has_stay & ~w.male & (w.age >= 20) & (w.age <= 40) & (ng.payer < 0) & (w.ev_card < 0)
        mothers = self.pick(rng, ok, max(2, round(w.N / 1500 * x)))
        for p in mothers:
            near = hosp[w.inst_region[hosp] == w.region[p]]
            h = int(rng.choice(near if near.size else hosp))
            los = int(rng.integers(3, 6))
            t0 = int(self.days(rng, 1, 2, 12)[0]) * DAY + int(rng.integers(2 * HOUR, 20 * HOUR))
            dx = w.dx["O80"] if rng.random() < 0.65 else w.dx["O82"]
            stay = self.add_visits(rng, [p], h, [t0], dept=ob, diag=[dx], ctype=INP, los=[los], lk=True)
            if stay.size == 0:
                continue
            # the baby, born hours after admission, treated in the ward for 2+ days on the mother's id and card
            code = V.PERINATAL_CODES[int(rng.integers(0, len(V.PERINATAL_CODES)))]
            t_nb = t0 + int(rng.integers(2 * HOUR, 12 * HOUR))
            baby = self.add_visits(rng, [p], h, [t_nb], dept=V.D["儿科"], diag=[w._dx(code)], ctype=INP,
                                   los=[int(rng.integers(2, los + 1))], lk=True)
            if baby.size == 0:
                continue
            self.hard("newborn_with_mother", [("institution", h, "venue"), ("patient", int(p), "mother")],
                      np.array([stay[0], baby[0]]), members=np.array([p]), newborn_diagnosis=code,
                      note="新生儿随母结算: the newborn's stay settled under the mother's id and card during "
                           "her delivery stay (overlapping stays, legal)")

    # ----------------------------------------------------------------------------------------
    # 一日两次治疗: rehabilitation sessions twice a day, same diagnosis and price
    # ----------------------------------------------------------------------------------------
    def twice_daily_sessions(self, rng, x: float) -> None:
        w = self.w
        reh = V.D["康复科"]
        base = (w.inst_pref == 0) & w.inst_serves_public
        clinics = self._with_dept(reh, base & (w.inst_level <= 2))
        clinics = clinics if clinics.size else self._with_dept(reh, base)
        if clinics.size == 0:
            return
        codes = np.array([w.dx[c] for c in ("I69.3", "M54.5", "M17.9", "G81.9")])
        last = w.day0 + w.ndays - 2
        for c in rng.choice(clinics, min(clinics.size, max(1, round(x))), replace=False):
            c = int(c)
            ok = self.plain() & ~self.has_stay & (w.age >= 30) & (w.age <= 85)
            k = int(rng.integers(15, 31))
            ppl = self.pick(rng, ok, k, region=int(w.inst_region[c]))
            if ppl.size < k:
                ppl = np.union1d(ppl, self.pick(rng, ok & ~np.isin(np.arange(w.N), ppl), k - ppl.size))
            pats, days, dx, amount = [], [], [], []
            for p in ppl:  # a course of 6-15 weekday visits within five weeks
                start = int(self.days(rng, 1, 2, 40)[0])
                span = np.arange(start, min(start + 35, last))
                span = span[(span + 3) % 7 < 5]
                d = np.sort(rng.choice(span, min(span.size, int(rng.integers(6, 16))), replace=False))
                pats.append(np.full(d.size, p))
                days.append(d)
                dx.append(np.full(d.size, codes[int(rng.integers(0, codes.size))]))
                amount.append(np.full(d.size, float(rng.choice([36.0, 45.0, 54.0, 60.0, 72.0]))))
            pat, day, dxs, amt = (np.concatenate(a) for a in (pats, days, dx, amount))
            t_am = day * DAY + 8 * HOUR + rng.integers(0, 150 * MINUTE, pat.size)
            t_pm = t_am + rng.integers(3 * HOUR, 6 * HOUR + 1, pat.size)
            am = self.add_visits(rng, pat, c, t_am, dept=reh, diag=dxs, total=amt)
            pm = self.add_visits(rng, pat, c, t_pm, dept=reh, diag=dxs, total=amt)
            if am.size != pm.size or am.size == 0:
                continue
            C = self.C.data()
            C["fund"][pm], C["doc"][pm] = C["fund"][am], C["doc"][am]  # the same bill, the same therapist
            C["prof"][am], C["prof"][pm] = 5, 5  # one unit of 康复训练 per session (at most two a day)
            ents = [("institution", c, "venue")] + [("patient", int(p), "patient") for p in ppl]
            self.hard("twice_daily_sessions", ents, np.concatenate([am, pm]), members=ppl,
                      note="一日两次治疗: rehabilitation twice a day, hours apart, same diagnosis and price")
