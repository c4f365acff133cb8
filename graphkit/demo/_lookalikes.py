"""Legal look-alikes for variant cities: behaviour that resembles fraud and must not be reported.

Each look-alike is planted into the normal claim buffers after the normal population is
generated and before fraud is planted, draws from a random stream of its own
(:meth:`World.vrng`), and is recorded in ``truth.json`` as a *hard negative* (kind, entities,
claims). People taking part are not drawn as fraudsters, so the planted truth stays clean.
Only variant cities (``CityConfig.lookalikes``) run this; the default city is unchanged.

Group and identity look-alikes live here; care-path ones (campuses, services during a stay,
day trips, internet hospitals, medical alliances) in :mod:`graphkit.demo._lookalikes_care`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from . import _vocab as V
from ._lookalikes_care import CarePaths
from ._normal import OUT, HardNegative, NormalGen
from ._util import DAY, HOUR, MINUTE, draw_devices, draw_phones, id_numbers
from ._world import CK_DEVICE, CK_FAMILY, CK_PHONE, HOURS_OUT, K_VILLAGE, World
from ._world_variants import CARD_E_VOUCHER, ROLE_CARE_ROOM
from .config import LOOKALIKES

ROLE_LOOKALIKE = 5  # NormalGen.role of people in a look-alike group (never drawn as fraudsters)
EMPLOYERS = ("鲁信精密制造有限公司", "泉城职业技术学院", "齐鲁物流园", "华强电子厂", "银座商城", "济钢新材料公司")


class Lookalikes(CarePaths):
    """Plant the look-alikes a :class:`~graphkit.demo.config.CityConfig` asks for."""

    def __init__(self, w: World, ng: NormalGen):
        self.w, self.ng, self.cfg = w, ng, w.cfg
        self.C, self.Rf = ng.C, ng.Rf
        self.members = np.zeros(w.N, dtype=bool)
        self.new_contacts: list[tuple[np.ndarray, int, np.ndarray]] = []
        self._deferred: list[tuple[HardNegative, Callable[[], np.ndarray]]] = []
        self.nb_child = np.empty(0, dtype=np.int64)   # newborns settled on a parent's card
        self.nb_parent = np.empty(0, dtype=np.int64)
        self.nb_until = np.empty(0, dtype=np.int64)   # first second of the child's own card
        self._taken_values: set[str] | None = None

    # ----------------------------------------------------------------------------------------
    def run(self) -> None:
        C = self.C.data()
        self.n_claims = np.bincount(C["pat"], minlength=self.w.N)  # normal claims so far
        self.has_stay = np.bincount(C["pat"][C["ctype"] == 1], minlength=self.w.N) > 0
        for name in LOOKALIKES:
            x = self.cfg.lookalike(name)
            if x > 0:
                getattr(self, name)(self.w.vrng(f"lookalike:{name}"), x)
        for hn, claims in self._deferred:
            hn.claims = np.asarray(claims(), dtype=np.int64)
        self._deferred.clear()
        self.ng.role[self.members & (self.ng.role == 0)] = ROLE_LOOKALIKE

    # ----------------------------------------------------------------------------------------
    # helpers
    # ----------------------------------------------------------------------------------------
    def plain(self) -> np.ndarray:
        """People free for a look-alike: home prefecture, alive, no cohort role, no group yet."""
        w, ng = self.w, self.ng
        return (w.nh < 0) & (w.pref == 0) & (ng.role == 0) & ~self.members & (w.death_day < 0)

    def pick(self, rng, mask: np.ndarray, n: int, region: int | None = None, one_per_hh: bool = True) -> np.ndarray:
        """Up to ``n`` people of ``mask`` (from ``region`` only when given), one per household."""
        cand = np.flatnonzero(mask if region is None else mask & (self.w.region == region))
        cand = rng.permutation(cand)
        if one_per_hh:
            _, first = np.unique(self.w.hh[cand], return_index=True)
            cand = cand[np.sort(first)]
        return np.sort(cand[:n])

    def claims_of(self, people: np.ndarray) -> Callable[[], np.ndarray]:
        """Deferred: every claim of ``people`` once all look-alikes are planted."""
        people = np.asarray(people, dtype=np.int64)
        return lambda: np.flatnonzero(np.isin(self.C.data()["pat"], people))

    def hard(self, kind: str, entities, claims, referrals=None, members=None, **extra) -> HardNegative:
        hn = HardNegative(kind, entities, np.empty(0, dtype=np.int64) if callable(claims) else claims,
                          referrals, **extra)
        if callable(claims):
            self._deferred.append((hn, claims))
        self.ng.hard.append(hn)
        if members is not None:
            self.members[np.asarray(members, dtype=np.int64)] = True
        return hn

    def new_value(self, rng, draw) -> str:
        """A phone / device value nobody holds yet."""
        if self._taken_values is None:
            self._taken_values = set()
            for vals in self.w.contacts[2]:
                self._taken_values.update(str(v) for v in vals.tolist())
        while True:
            v = str(draw(rng, 1)[0])
            if v not in self._taken_values:
                self._taken_values.add(v)
                return v

    def contact(self, people: np.ndarray, kind: int, value: str) -> None:
        people = np.asarray(people, dtype=np.int64)
        self.new_contacts.append((people, kind, np.full(people.size, value, dtype=object)))

    def days(self, rng, n: int, lo: int = 2, hi_margin: int = 3) -> np.ndarray:
        w = self.w
        return w.day0 + rng.integers(lo, max(lo + 1, w.ndays - hi_margin), n)

    def add_visits(self, rng, pat, inst, t, *, dept=None, diag=None, total=None, term=-1, lk=False,
                   ctype=OUT, los=None, ref=-1) -> np.ndarray:
        """Protected institution claims (amount fixed when ``total`` is given, in yuan); the
        rows of people not alive at ``t`` are left out."""
        ng = self.ng
        pat = np.asarray(pat, dtype=np.int64)
        n = pat.size
        ok = ng.alive_ok(pat, np.asarray(t, dtype=np.int64))
        pat = pat[ok]
        sub = lambda x: np.asarray(x)[ok] if np.ndim(x) and np.size(x) == n else x  # noqa: E731
        f = ng.fill_inst(rng, pat, np.broadcast_to(sub(inst), pat.shape).astype(np.int64), ctype,
                         np.broadcast_to(sub(t), pat.shape).astype(np.int64), dept=sub(dept) if dept is not None else None,
                         diag=sub(diag) if diag is not None else None, los=sub(los) if los is not None else None)
        if total is not None:
            f["total"] = np.broadcast_to(np.round(np.asarray(sub(total), dtype=float) * 100), pat.shape).astype(np.int64)
            f["fund"] = ng.fund(rng, pat, f["total"])
        if ctype != OUT:
            f, kept = ng._fit_stays(f, shift_back=False)
            keep_ = np.zeros(n, dtype=bool)
            keep_[np.flatnonzero(ok)[kept]] = True
            ok = keep_
        return self.C.add(prot=True, lk=lk, term=sub(term), ref=sub(ref), **f)

    def add_purchases(self, rng, pat, ph, t, *, total=None, diag=None, term=-1, lk=False) -> np.ndarray:
        ng = self.ng
        pat = np.asarray(pat, dtype=np.int64)
        n = pat.size
        ok = ng.alive_ok(pat, np.asarray(t, dtype=np.int64))
        sub = lambda x: np.asarray(x)[ok] if np.ndim(x) and np.size(x) == n else x  # noqa: E731
        pat = pat[ok]
        tot = None if total is None else np.broadcast_to(np.round(np.asarray(sub(total), dtype=float) * 100),
                                                         pat.shape).astype(np.int64)
        f = ng.fill_pharm(rng, pat, np.broadcast_to(sub(ph), pat.shape).astype(np.int64),
                          np.broadcast_to(sub(t), pat.shape).astype(np.int64),
                          diag=None if diag is None else np.broadcast_to(sub(diag), pat.shape).astype(np.int64),
                          total=tot)
        return self.C.add(prot=True, lk=lk, term=term, **f)

    def chronic_dx(self, pat: np.ndarray) -> np.ndarray:
        w = self.w
        ccode = np.array([w.dx[c[0]] for c in V.CHRONIC])
        return np.where(w.chronic[pat] >= 0, ccode[np.maximum(w.chronic[pat], 0)], w._dx("Z00.0"))

    def morning(self, rng, day: int, n: int, start_h: float = 7.5, span_min: int = 210) -> np.ndarray:
        return day * DAY + int(start_h * HOUR) + np.sort(rng.integers(0, span_min * MINUTE, n))

    # ----------------------------------------------------------------------------------------
    # 养老机构医务室集中结算
    # ----------------------------------------------------------------------------------------
    def care_home_batch(self, rng, x: float) -> None:
        w = self.w
        for k in range(w.n_nh):
            room = int(w.nh_room[k])
            if room < 0 or w.inst_role[room] != ROLE_CARE_ROOM:
                continue
            res = np.flatnonzero(w.nh == k)
            term = int(w.inst_term_start[room])
            packages = np.round(rng.uniform(60, 180, 3), 1)
            pkg = packages[rng.integers(0, 3, res.size)]
            dom = int(rng.integers(20, 28))
            months = np.unique((np.arange(w.day0, w.day0 + w.ndays).astype("datetime64[D]")
                                .astype("datetime64[M]")))
            uids = []
            for m in months:
                day = int((m.astype("datetime64[D]") + np.timedelta64(dom - 1, "D")).astype(np.int64))
                if not w.day0 <= day < w.day0 + w.ndays:
                    continue
                t = day * DAY + 14 * HOUR + np.sort(rng.integers(0, int(rng.integers(20, 61)) * MINUTE, res.size))
                uids.append(self.add_visits(rng, res, room, t, dept=V.D["全科"], diag=self.chronic_dx(res),
                                            total=pkg, term=term))
            # the front desk's phone and tablet are registered for every resident
            desk = str(w.nh_phone[k]) if k < w.nh_phone.size else self.new_value(rng, draw_phones)
            has_desk = w.phone[res] == desk
            self.contact(res[~has_desk], CK_PHONE, desk)
            self.contact(res, CK_DEVICE, self.new_value(rng, draw_devices))
            ents = [("institution", room, "care_home_room"), ("terminal", term, "terminal")]
            ents += [("patient", int(p), "resident") for p in res]
            self.hard("care_home_batch", ents, self.claims_of(res), members=res, address=str(w.nh_address[k]),
                      shared_phone=desk, batch_claims=int(sum(u.size for u in uids)),
                      note="care home settles its residents' monthly medication in one batch at its own terminal")

    # ----------------------------------------------------------------------------------------
    # 集体户 / 集体宿舍
    # ----------------------------------------------------------------------------------------
    def dormitory(self, rng, x: float) -> None:
        w = self.w
        single = self.plain() & (w.hh_size[w.hh] == 1) & (w.age >= 18) & (w.age <= 35)
        n = max(1, round(w.N / 10000 * x))
        urban = w.home_regs[~w.reg_rural[w.home_regs]]
        counts = np.array([(single & (w.region == r)).sum() for r in urban])
        for j in range(n):
            r = int(urban[np.argsort(-counts)[j % urban.size]])
            size = int(rng.integers(25, 61))
            mem = self.pick(rng, single & ~self.members, size, region=r)
            if mem.size < size:  # the rest moved in from other districts
                mem = np.union1d(mem, self.pick(rng, single & ~self.members & (w.region != r), size - mem.size))
            if mem.size < 10:
                continue
            city, dist = w.reg_city[r], w.reg_name[r]
            street = V.STREETS[city][int(rng.integers(0, len(V.STREETS[city])))]
            addr = f"{city}{dist}{street}{int(rng.integers(1, 400))}号{EMPLOYERS[j % len(EMPLOYERS)]}集体宿舍"
            w.contacts[2][0][mem] = addr  # the address rows (one per person, in patient order)
            w.address[mem] = addr
            hr = self.new_value(rng, draw_phones)
            listed = mem[rng.random(mem.size) < 0.3]
            self.contact(listed, CK_PHONE, hr)
            self.hard("collective_household", [("patient", int(p), "resident") for p in mem], self.claims_of(mem),
                      members=mem, address=addr, shared_phone=hr,
                      note="集体户: unrelated young adults registered at one dormitory address")

    # ----------------------------------------------------------------------------------------
    # 村医 / 代办员代激活医保电子凭证
    # ----------------------------------------------------------------------------------------
    def village_agent(self, rng, x: float) -> None:
        w = self.w
        villages = np.flatnonzero((w.inst_kind == K_VILLAGE) & (w.inst_pref == 0))
        if villages.size == 0:
            villages = np.flatnonzero((w.inst_role == 3) & w.reg_rural[w.inst_region] & (w.inst_pref == 0))
        n = max(1, round(w.N / 8000 * x))
        base = self.plain() & ((w.age >= 60) | (w.age < 10))
        for j, v in enumerate(rng.permutation(villages)[:n]):
            mem = self.pick(rng, base & ~self.members, int(rng.integers(20, 61)), region=int(w.inst_region[v]))
            if mem.size < 8:
                continue
            g = w.grp_full[v, V.D["全科"]]
            doc = int(w.grp_start[g])
            device = self.new_value(rng, draw_devices)
            phone = self.new_value(rng, draw_phones)
            self.contact(mem, CK_DEVICE, device)
            self.contact(mem[(w.phone[mem] == "") | (rng.random(mem.size) < 0.5)], CK_PHONE, phone)
            # e-vouchers activated for them on one or two campaign days
            need = mem[w.ev_card[mem] < 0]
            camp = w.day0 - rng.integers(30, 400, 2)
            w.add_cards(need, camp[rng.integers(0, 2, need.size)], 0, CARD_E_VOUCHER)
            ents = [("institution", int(v), "village_clinic"), ("doctor", doc, "agent")]
            ents += [("patient", int(p), "villager") for p in mem]
            self.hard("village_agent_activation", ents, self.claims_of(mem), members=mem, device=device,
                      phone=phone, note="village doctor activated e-vouchers for villagers with his own phone")

    # ----------------------------------------------------------------------------------------
    # 新生儿随母结算
    # ----------------------------------------------------------------------------------------
    def newborn_parent_card(self, rng, x: float) -> None:
        w, ng = self.w, self.ng
        n = max(2, round(w.N / 3000 * x))
        base = (w.age == 0) & (w.nh < 0) & (w.pref == 0) & (w.death_day < 0) & (ng.payer < 0) & (w.new_card < 0)
        cand = rng.permutation(np.flatnonzero(base & ~self.members))
        kids, parents = [], []
        for c in cand:
            h = w.hh[c]
            mem = w.hh_members[w.hh_start[h]: w.hh_start[h] + w.hh_size[h]]
            par = mem[(w.pos[mem] <= 1) & (w.age[mem] >= 18) & (w.age[mem] <= 50) & (w.death_day[mem] < 0)]
            if par.size == 0:
                continue
            fem = par[~w.male[par]]
            kids.append(int(c))
            parents.append(int(fem[0] if fem.size else par[0]))
            if len(kids) == n:
                break
        if not kids:
            return
        kids_a, par_a = np.array(kids), np.array(parents)
        # born 5-150 days before the period; 身份证号 follows the birth date
        birth = w.day0 - rng.integers(5, 150, kids_a.size)
        seq = np.array([int(str(w.id_number[c])[14:17]) for c in kids_a])
        w.birth_day[kids_a] = birth
        w.id_number[kids_a] = id_numbers(w.reg_code[w.region[kids_a]], birth, seq)
        own = np.maximum(birth + rng.integers(45, 120, kids_a.size), w.day0 + rng.integers(15, 45, kids_a.size))
        own = np.minimum(own, w.day0 + w.ndays - 5)
        w.card_issued[kids_a] = own
        ev = w.ev_card[kids_a]
        w.card_issued[ev[ev >= 0]] = own[ev >= 0]  # a parent activates the child's e-voucher once it exists
        # check-ups and minor illness before the own card exists
        k = rng.integers(2, 5, kids_a.size)
        pat = np.repeat(kids_a, k)
        lo, hi = np.repeat(np.maximum(birth + 3, w.day0), k), np.repeat(own - 1, k)
        day = lo + (rng.random(pat.size) * np.maximum(hi - lo, 1)).astype(np.int64)
        t = day * DAY + w.hours(rng, HOURS_OUT, pat.size)
        dx = np.array([w._dx(c) for c in ("Z00.1", "P59.9", "J06.9")])[rng.integers(0, 3, pat.size)]
        inst = np.where(rng.random(pat.size) < 0.5, ng.fav_hub[pat], ng.fav_l1[pat])
        self.add_visits(rng, pat, inst, t, dept=V.D["儿科"], diag=dx)
        self.nb_child, self.nb_parent, self.nb_until = kids_a, par_a, own * DAY
        for c, p, u in zip(kids_a, par_a, own * DAY):
            pc = int(w.card_at(np.array([p]), np.array([u]))[0])
            ents = [("patient", int(c), "newborn"), ("patient", int(p), "holder"), ("card", pc, "card")]
            self.hard("newborn_on_parent_card", ents,
                      (lambda c=c, u=u: np.flatnonzero((self.C.data()["pat"] == c) & (self.C.data()["t0"] < u))),
                      members=np.array([c, p]), own_card_issued=str(np.datetime64(int(u // DAY), "D")),
                      note="newborn settled on a parent's card before its own card was issued")

    # ----------------------------------------------------------------------------------------
    # 家庭共济 across households
    # ----------------------------------------------------------------------------------------
    def family_across_households(self, rng, x: float) -> None:
        w, ng = self.w, self.ng
        n = max(2, round(w.N / 500 * x))
        is_payer = np.zeros(w.N, dtype=bool)
        is_payer[ng.payer[ng.payer >= 0]] = True
        payers = self.pick(rng, self.plain() & w.employee & (w.age >= 30) & (w.age <= 58) & (ng.payer < 0), n)
        elders_ok = self.plain() & (w.age >= 65) & (ng.payer < 0) & ~is_payer & (w.hh_size[w.hh] <= 2)
        fa, fb = [], []
        for p in payers:
            e = self.pick(rng, elders_ok & ~self.members & (w.hh != w.hh[p]) & (self.n_claims >= 3), 1,
                          region=int(w.region[p]))
            if e.size == 0:
                continue
            e = int(e[0])
            ng.payer[e] = p
            ng.share_p[e] = rng.uniform(0.4, 0.8)
            fa += [p, e]
            fb += [e, p]
            self.hard("family_across_households", [("card", int(p), "card"), ("patient", int(p), "holder"),
                                                   ("patient", e, "family_member")],
                      self.claims_of(np.array([e])), members=np.array([p, e]),
                      note="家庭共济 for a parent living in another household (registered as family)")
        if fa:
            self.new_contacts.append((np.array(fa), CK_FAMILY, np.array([w.pat_id(b) for b in fb], dtype=object)))

    # ----------------------------------------------------------------------------------------
    # outbreaks: a flu wave in one district and a school cluster
    # ----------------------------------------------------------------------------------------
    def outbreak(self, rng, x: float) -> None:
        w, ng = self.w, self.ng
        flu = np.array([w._dx(c) for c in ("J11.1", "J10.1", "J06.9")])
        for _ in range(max(1, round(x))):
            r = int(rng.choice(w.home_regs))
            clinics = np.flatnonzero((w.inst_region == r) & (w.inst_level == 1) & w.inst_serves_public
                                     & np.isin(w.inst_kind, (1, 2)))
            if clinics.size == 0:
                clinics = np.flatnonzero((w.inst_region == r) & w.inst_serves_public)
            clinics = rng.permutation(clinics)[:4]
            start = int(self.days(rng, 1, 2, 25)[0])
            length = int(rng.integers(10, 19))
            res = np.flatnonzero((w.region == r) & (w.nh < 0) & (w.death_day < 0))
            p = np.where(w.age < 14, 0.15, np.where(w.age >= 65, 0.10, 0.05)) * min(x, 3.0)
            sick = res[rng.random(res.size) < p[res]]
            day = start + np.round(rng.triangular(0, length * 0.35, length, sick.size)).astype(np.int64)
            inst = clinics[rng.integers(0, clinics.size, sick.size)]
            t = day * DAY + w.hours(rng, HOURS_OUT, sick.size)
            uids = [self.add_visits(rng, sick, inst, t, dept=V.D["全科"], diag=flu[rng.integers(0, 3, sick.size)])]
            buy = sick[rng.random(sick.size) < 0.5]
            tb = (start + rng.integers(0, length, buy.size)) * DAY + 17 * HOUR + rng.integers(0, 3 * HOUR, buy.size)
            uids.append(self.add_purchases(rng, buy, ng.fav_ph[buy], tb, diag=flu[0]))
            # a school cluster: pupils of one school at one clinic within two days
            pupils = self.pick(rng, (w.region == r) & (w.age >= 6) & (w.age <= 14) & (w.nh < 0) & (w.death_day < 0),
                               int(rng.integers(20, 41)))
            c = int(clinics[0])
            tp = (start + rng.integers(0, 2, pupils.size)) * DAY + 15 * HOUR + rng.integers(0, 4 * HOUR, pupils.size)
            uids.append(self.add_visits(rng, pupils, c, tp, dept=V.D["儿科"], diag=flu[0]))
            self.hard("outbreak", [("institution", int(i), "clinic") for i in clinics], np.concatenate(uids),
                      start=str(np.datetime64(start, "D")), days=length,
                      note="influenza wave in one district plus a school cluster")

    # ----------------------------------------------------------------------------------------
    # 集体体检 / 疫苗接种 at a community clinic in one morning
    # ----------------------------------------------------------------------------------------
    def group_exam(self, rng, x: float) -> None:
        w = self.w
        comm = np.flatnonzero((w.inst_role == 3) & (w.inst_pref == 0))
        z00, z23 = w._dx("Z00.0"), w._dx("Z23")
        for _ in range(max(1, round(w.N / 5000 * x))):
            c = int(rng.choice(comm))
            vaccine = rng.random() < 0.4
            ok = self.plain() & ((w.age >= 65) if not vaccine else (w.age >= 60))
            ppl = self.pick(rng, ok, int(rng.integers(40, 121)), region=int(w.inst_region[c]), one_per_hh=False)
            if ppl.size < 15:
                continue
            term = int(w.inst_term_start[c])
            day = int(self.days(rng, 1)[0])
            uids = self.add_visits(rng, ppl, c, self.morning(rng, day, ppl.size), dept=V.D["全科"],
                                   diag=z23 if vaccine else z00, total=210.0 if vaccine else 60.0, term=term)
            ents = [("institution", c, "venue"), ("terminal", term, "terminal")]
            ents += [("patient", int(p), "participant") for p in ppl]
            self.hard("group_exam", ents, uids, campaign="vaccination" if vaccine else "physical_exam",
                      date=str(np.datetime64(day, "D")), note="集体体检/疫苗接种: one morning, one price, one terminal")

    # ----------------------------------------------------------------------------------------
    # 家庭医生签约服务费 at a village clinic
    # ----------------------------------------------------------------------------------------
    def family_doctor_contract(self, rng, x: float) -> None:
        w = self.w
        venues = np.flatnonzero((w.inst_kind == K_VILLAGE) & (w.inst_pref == 0))
        if venues.size == 0:
            venues = np.flatnonzero((w.inst_role == 3) & (w.inst_pref == 0))
        for _ in range(max(1, round(w.N / 6000 * x))):
            v = int(rng.choice(venues))
            ok = self.plain() & ((w.age >= 60) | (w.chronic >= 0))
            ppl = self.pick(rng, ok, int(rng.integers(30, 101)), region=int(w.inst_region[v]), one_per_hh=False)
            if ppl.size < 10:
                continue
            term = int(w.inst_term_start[v])
            day = int(self.days(rng, 1)[0])
            t = self.morning(rng, day, ppl.size, start_h=9.0, span_min=int(rng.integers(120, 241)))
            uids = self.add_visits(rng, ppl, v, t, dept=V.D["全科"], diag=w._dx("Z00.0"), total=12.0, term=term)
            ents = [("institution", v, "venue"), ("terminal", term, "terminal")]
            ents += [("patient", int(p), "villager") for p in ppl]
            self.hard("family_doctor_contract", ents, uids, date=str(np.datetime64(day, "D")),
                      note="yearly family-doctor contract fee settled for many villagers in one day")

    # ----------------------------------------------------------------------------------------
    # 慢病取药日: chronic patients refill at one pharmacy on the same day each month
    # ----------------------------------------------------------------------------------------
    def chronic_refill_day(self, rng, x: float) -> None:
        w = self.w
        cand = np.flatnonzero((w.ph_pref == 0) & ~w.ph_24h & (w.ph_chain >= 0))
        for _ in range(max(1, round(w.N / 8000 * x))):
            ph = int(rng.choice(cand))
            ppl = self.pick(rng, self.plain() & (w.chronic >= 0), int(rng.integers(25, 61)),
                            region=int(w.ph_region[ph]), one_per_hh=False)
            if ppl.size < 10:
                continue
            dom = int(rng.integers(1, 28))
            uids = []
            for m in np.unique(np.arange(w.day0, w.day0 + w.ndays).astype("datetime64[D]").astype("datetime64[M]")):
                day = int((m.astype("datetime64[D]") + np.timedelta64(dom - 1, "D")).astype(np.int64))
                if w.day0 <= day < w.day0 + w.ndays:
                    t = self.morning(rng, day, ppl.size, start_h=8.5, span_min=180)
                    uids.append(self.add_purchases(rng, ppl, ph, t, total=w.chronic_amount[ppl] / 100.0,
                                                   diag=self.chronic_dx(ppl)))
            ents = [("pharmacy", ph, "pharmacy")] + [("patient", int(p), "patient") for p in ppl]
            self.hard("chronic_refill_day", ents, np.concatenate(uids), members=ppl, day_of_month=dom,
                      note="门诊慢特病 patients refill their monthly prescription at one pharmacy on one day")

    # ----------------------------------------------------------------------------------------
    # finalisation hooks (called by city._finalize / city._truth)
    # ----------------------------------------------------------------------------------------
    def assign_cards(self, card: np.ndarray, pat: np.ndarray, t0: np.ndarray, normal: np.ndarray) -> None:
        """Newborns on a parent's card before their own; e-vouchers for part of their holders' claims."""
        w = self.w
        if self.nb_child.size:
            o = np.argsort(self.nb_child)
            kids = self.nb_child[o]
            pos = np.clip(np.searchsorted(kids, pat), 0, kids.size - 1)
            sel = normal & (kids[pos] == pat) & (t0 < self.nb_until[o][pos])
            card[sel] = w.card_at(self.nb_parent[o][pos[sel]], t0[sel])
        ev = w.ev_card[pat]
        own = (card == pat) | (card == w.new_card[pat])
        cand = normal & own & (ev >= 0)
        cand[cand] = t0[cand] >= w.card_issued[ev[cand]] * DAY
        p = np.clip(w.cfg.e_voucher_use * np.where(w.age[pat] < 60, 1.2, 0.6), 0, 1)
        if w.cfg.e_voucher_use == 0 and (ev >= 0).any():
            p = np.full(pat.size, 0.5)  # e-vouchers from village agents only
        switch = cand & (w.vrng("e_voucher_use").random(pat.size) < p)
        card[switch] = ev[switch]

    def derived(self, card: np.ndarray, pat: np.ndarray, t0: np.ndarray, uids: np.ndarray) -> list[HardNegative]:
        """People holding an e-voucher and using their physical card after it was issued."""
        w = self.w
        ev = w.ev_card[pat]
        phys = (card == pat) | (card == w.new_card[pat])
        both = (ev >= 0) & phys
        both[both] = t0[both] >= w.card_issued[ev[both]] * DAY
        people = np.unique(pat[both])
        if people.size == 0:
            return []
        used_ev = np.zeros(w.N, dtype=bool)
        used_ev[pat[card == ev]] = True
        people = people[used_ev[people]]
        people = people[np.argsort(w.new_card[people] < 0, kind="stable")]  # replaced cards first
        sel = np.flatnonzero(np.isin(pat, people) & (phys | (card == ev)))
        srt = sel[np.argsort(pat[sel], kind="stable")]
        ps, starts = np.unique(pat[srt], return_index=True)
        rows = dict(zip(ps.tolist(), np.split(srt, starts[1:])))
        out = []
        for p in people:
            p = int(p)
            ents = [("patient", p, "holder"), ("card", p, "physical_card"), ("card", int(w.ev_card[p]), "e_voucher")]
            if w.new_card[p] >= 0:
                ents.append(("card", int(w.new_card[p]), "replacement"))
            out.append(HardNegative("e_voucher_alongside_card", ents, uids[rows[p]],
                                    note="e-voucher held alongside the physical card (not its replacement)"))
        return out
