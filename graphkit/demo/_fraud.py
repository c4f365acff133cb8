"""Planted fraud: the kinds of ``shared/spec/findings.md``, camouflaged, with ground truth.

Every planted claim is a new claim row tagged with its instance; fraudsters are drawn from
people without hospital stays, family sharing or cohort roles, so that the planted pattern
is the only anomaly they carry (their normal claims stay: camouflage). ``duplicate_claim``
(:mod:`graphkit.demo._duplicates`) also tags the normal claims it duplicates.
"""

from __future__ import annotations

import math

import numpy as np

from . import _vocab as V
from ._duplicates import DuplicateClaims
from ._normal import INP, OUT, ROLE_NONE, R_OOA, R_SPECIAL, R_UP, NormalGen
from ._util import DAY, HOUR, MINUTE, draw_bank_accounts, draw_devices, draw_phones
from ._world import CK_BANK, CK_DEVICE, CK_PHONE, HOURS_OUT, HOURS_PHARM, ROLE_BRANCH, World, haversine_km
from .config import FraudShape

KINDS = ("shared_card", "deceased_card_use", "impossible_travel", "collusion_ring", "card_burst",
         "phantom_stay", "split_stay", "referral_loop", "referral_concentration", "identity_ring",
         "duplicate_claim")


class Instance:
    """One planted fraud instance in index space."""

    def __init__(self, index: int, kind: str, variant: str):
        self.index = index
        self.kind = kind
        self.variant = variant
        self.key: dict = {}
        self.entities: list[tuple[str, int, str]] = []
        self.claims: list[np.ndarray] = []
        self.context: list[np.ndarray] = []
        self.referrals: list[np.ndarray] = []
        self.extra: dict = {}

    def ent(self, typ: str, idx, role: str) -> None:
        item = (typ, int(idx), role)
        if item not in self.entities:
            self.entities.append(item)


class Planter(DuplicateClaims):
    """Plant every kind into the claim/referral buffers of a :class:`NormalGen`.

    ``dates_only``: the bundle will be exported with dates only, so duplicate claims are planted
    as overlapping stays only (a double settlement minutes apart cannot be seen there).
    """

    def __init__(self, w: World, ng: NormalGen, fraud_rate: float, shape: FraudShape | None = None,
                 dates_only: bool = False):
        self.w, self.ng = w, ng
        self.dates_only = dates_only
        #: (duplicate rows, original rows, copy terminal and items): the duplicate's card is the original's
        self.twins: list[tuple[np.ndarray, np.ndarray, bool]] = []
        self.S = shape if shape is not None else FraudShape()
        self.rng = w.rngs["fraud"]
        self.C, self.Rf = ng.C, ng.Rf
        self.instances: list[Instance] = []
        N = w.N
        self.n_kind = max(3, round(N / 2500 * fraud_rate))
        self.n_ring = max(3, round(N / 5000 * fraud_rate))
        c = self.C.data()
        has_stay = np.bincount(c["pat"][c["ctype"] == INP], minlength=N) > 0
        is_payer = np.zeros(N, dtype=bool)
        is_payer[ng.payer[ng.payer >= 0]] = True
        self.base_ok = ((w.nh < 0) & (w.pref == 0) & (ng.role == ROLE_NONE) & (ng.payer < 0) & ~is_payer
                        & ~has_stay)
        self.eligible = self.base_ok & (w.death_day < 0) & (w.new_card < 0) & (w.age >= 18) & (w.age <= 85)
        self.used = np.zeros(N, dtype=bool)
        self.pool = self.rng.permutation(np.flatnonzero(self.eligible))  # random order, drawn once
        self.used_ph = np.zeros(w.n_ph, dtype=bool)
        self.used_inst = np.zeros(w.n_inst, dtype=bool)
        self.used_doc = np.zeros(w.n_doc, dtype=bool)
        self.new_contacts: list[tuple[np.ndarray, int, np.ndarray]] = []
        self._existing: set[str] | None = None
        self.last: dict = {}
        self._variant_counts: dict[str, list[int]] = {}

    # ----------------------------------------------------------------------------------------
    def run(self) -> list[Instance]:
        for k in range(self.n_kind):
            self.shared_card(k)
        for _ in range(self.n_kind):
            self.deceased()
        for _ in range(self.n_kind):
            self.impossible_travel()
        n_out = 1 if self.n_ring < 8 else 2
        for k in range(self.n_ring):
            self.collusion_ring(outpatient=k >= self.n_ring - n_out, two_venues=(k % 3 == 1))
        for _ in range(self.n_kind):
            self.card_burst()
        for k in range(self.n_kind):
            self.phantom_stay(other_city=k % 2 == 0)
        for k in range(self.n_kind):
            self.split_stay(linked=k % 3 == 2)
        for k in range(self.n_kind):
            self.referral_loop(cycle=k % 3 == 2)
        for _ in range(self.n_kind):
            self.referral_concentration()
        for k in range(self.n_kind):
            self.identity_ring(("phone", "bank_account", "device")[k % 3])
        for k in range(self.n_kind):  # last, from a stream of its own: the kinds above are unchanged
            self.duplicate_claim(double=k % 3 == 2)
        return self.instances

    # ----------------------------------------------------------------------------------------
    # helpers
    # ----------------------------------------------------------------------------------------
    def new(self, kind: str, variant: str = "") -> Instance:
        inst = Instance(len(self.instances), kind, variant)
        self.instances.append(inst)
        return inst

    def take(self, n: int, extra: np.ndarray | None = None, region: int | None = None,
             avoid_hh: np.ndarray | None = None) -> np.ndarray:
        """Draw ``n`` unused eligible patients (from ``region`` first), one per household."""
        w = self.w
        pool = self.pool[~self.used[self.pool]]
        self.pool = pool
        if extra is not None:
            pool = pool[extra[pool]]
        if region is not None:
            near = w.region[pool] == region
            pool = np.concatenate([pool[near], pool[~near]])
        seen = set(int(h) for h in (avoid_hh if avoid_hh is not None else ()))
        out: list[int] = []
        hh = w.hh
        for p in pool:
            h = int(hh[p])
            if h in seen:
                continue
            seen.add(h)
            out.append(int(p))
            if len(out) == n:
                break
        if len(out) < n:
            raise RuntimeError(f"not enough eligible patients to plant fraud ({len(out)} < {n}); "
                               "use more patients or a lower fraud_rate")
        arr = np.array(out, dtype=np.int64)
        self.used[arr] = True
        return arr

    def rand_t(self, n: int, hours: np.ndarray, lo_day: int = 0, hi_day: int | None = None) -> np.ndarray:
        """Random times in the period; outpatient-style profiles avoid weekends like normal visits."""
        w, rng = self.w, self.rng
        hi = max(lo_day + 1, w.ndays if hi_day is None else hi_day)
        day = w.day0 + rng.integers(lo_day, hi, n)
        if hours is HOURS_OUT:
            wkend = ((day + 3) % 7 >= 5) & (rng.random(n) < 0.65)
            day[wkend] = w.day0 + rng.integers(lo_day, hi, int(wkend.sum()))
        return day * DAY + w.hours(rng, hours, n)

    def add_out(self, I: Instance, pat, inst, t, card, dept=None, diag=None, doc=None, ref=None,
                context=False) -> np.ndarray:
        pat = np.atleast_1d(np.asarray(pat, dtype=np.int64))
        n = pat.size
        f = self.ng.fill_inst(self.rng, pat, np.broadcast_to(inst, (n,)).astype(np.int64), OUT,
                              np.broadcast_to(t, (n,)).astype(np.int64), dept=dept, diag=diag)
        if doc is not None:
            f["doc"] = np.broadcast_to(np.asarray(doc, dtype=np.int64), (n,))
        uids = self.C.add(card=np.broadcast_to(card, (n,)), fraud=I.index,
                          ref=-1 if ref is None else ref, **f)
        (I.context if context else I.claims).append(uids)
        self.last = f
        return uids

    def add_inp(self, I: Instance, pat, inst, t0, los, card, dept=None, diag=None, doc=None, ref=None,
                total=None, context=False) -> np.ndarray:
        pat = np.atleast_1d(np.asarray(pat, dtype=np.int64))
        n = pat.size
        f = self.ng.fill_inst(self.rng, pat, np.broadcast_to(inst, (n,)).astype(np.int64), INP,
                              np.broadcast_to(t0, (n,)).astype(np.int64), dept=dept, diag=diag,
                              los=np.broadcast_to(los, (n,)))
        if doc is not None:
            f["doc"] = np.broadcast_to(np.asarray(doc, dtype=np.int64), (n,))
        if total is not None:
            f["total"] = np.asarray(total, dtype=np.int64)
            f["fund"] = self.ng.fund(self.rng, pat, f["total"])
        uids = self.C.add(card=np.broadcast_to(card, (n,)), fraud=I.index,
                          ref=-1 if ref is None else ref, **f)
        (I.context if context else I.claims).append(uids)
        self.last = f
        return uids

    def add_ph(self, I: Instance, pat, ph, t, card, total=None, diag=None, prof=0, term=-1,
               context=False) -> np.ndarray:
        pat = np.atleast_1d(np.asarray(pat, dtype=np.int64))
        n = pat.size
        ph = np.broadcast_to(np.asarray(ph, dtype=np.int64), (n,))
        f = self.ng.fill_pharm(self.rng, pat, ph, np.broadcast_to(t, (n,)).astype(np.int64), diag=diag,
                               total=total)
        uids = self.C.add(card=np.broadcast_to(card, (n,)), fraud=I.index, prof=prof, term=term, **f)
        (I.context if context else I.claims).append(uids)
        return uids

    def home_visit(self, I: Instance, pat: int, t: int, card: int, pharmacy_share: float = 0.6,
                   keep_time: bool = False) -> np.ndarray:
        """A plausible claim at one of the patient's usual providers (visit hours redrawn)."""
        w, ng, rng = self.w, self.ng, self.rng
        if rng.random() < pharmacy_share:
            return self.add_ph(I, pat, ng.fav_ph[pat], t, card)
        inst = ng.fav_l1[pat] if rng.random() < 0.5 else ng.fav_l2[pat]
        if not keep_time:
            t = (t // DAY) * DAY + int(w.hours(rng, HOURS_OUT, 1)[0])
        return self.add_out(I, pat, inst, t, card)

    def _share(self, kind: str, share: float) -> bool:
        """Whether the next instance of ``kind`` takes a variant planted in ``share`` of them
        (deterministic: the first, and then whenever the running share falls behind)."""
        if share <= 0:
            return False
        done = self._variant_counts.setdefault(kind, [0, 0])
        take = done[0] < share * (done[1] + 1)
        done[0] += take
        done[1] += 1
        return take

    def private_hospitals(self, pref: int = 0) -> np.ndarray:
        w = self.w
        return np.flatnonzero(w.inst_private & w.inst_ip & (w.inst_pref == pref) & np.isin(w.inst_role, (2, 6)))

    # ----------------------------------------------------------------------------------------
    # 1. shared_card
    # ----------------------------------------------------------------------------------------
    def shared_card(self, k: int) -> None:
        w, rng, ng = self.w, self.rng, self.ng
        variant = ("lent", "multi_card", "stolen_lost")[k % 3]
        if variant == "stolen_lost":
            extra = (w.new_card >= 0) & (w.repl_day <= w.day0 + w.ndays - 25)
            ok = self.base_ok & extra & (w.death_day < 0) & (w.age >= 18) & ~self.used
            if not ok.any():
                variant = "lent"
        I = self.new("shared_card", variant)
        if variant == "lent":
            holder = int(self.take(1)[0])
            users = self.take(int(rng.integers(*self.S.lent_users)), avoid_hh=w.hh[[holder]])
            card = holder
            m = int(rng.integers(max(4, users.size), max(self.S.lent_uses_max, users.size + 1)))
            who = rng.permutation(np.concatenate([users, users[rng.integers(0, users.size, m - users.size)]]))
            t = np.sort(self.rand_t(m, HOURS_PHARM))
            for p, tt in zip(who, t):
                self.home_visit(I, int(p), int(tt), card)
            I.key = {"type": "card", "id": ("card", card)}
            I.ent("card", card, "lent_card")
            I.ent("patient", holder, "holder")
            for u in users:
                I.ent("patient", u, "user")
        elif variant == "multi_card":
            user = int(self.take(1)[0])
            holders = self.take(int(rng.integers(*self.S.multi_cards)), avoid_hh=w.hh[[user]])
            I.key = {"type": "patient", "id": ("patient", user)}
            I.ent("patient", user, "user")
            for h in holders:
                for tt in np.sort(self.rand_t(int(rng.integers(1, 4)), HOURS_PHARM)):
                    self.home_visit(I, user, int(tt), int(h))
                I.ent("card", int(h), "card")
                I.ent("patient", int(h), "holder")
        else:
            cand = np.flatnonzero(ok)
            holder = int(rng.choice(cand))
            self.used[holder] = True
            old, new = holder, int(w.new_card[holder])
            lo = int(w.repl_day[holder] - w.day0) + 1
            m = int(rng.integers(*self.S.lost_uses))
            t = np.sort(self.rand_t(m, HOURS_PHARM, lo_day=lo))
            for tt in t:
                if rng.random() < 0.8:
                    ph = w.sample(rng, "ph", w.region[[holder]])[0]
                    self.add_ph(I, holder, ph, int(tt), old)
                else:
                    inst = w.sample(rng, "l1op", w.region[[holder]])[0]
                    self.add_out(I, holder, inst, int(tt), old)
            I.key = {"type": "card", "id": ("card", old)}
            I.ent("card", old, "lost_card")
            I.ent("card", new, "replacement")
            I.ent("patient", holder, "holder")

    # ----------------------------------------------------------------------------------------
    # 2. deceased_card_use
    # ----------------------------------------------------------------------------------------
    def deceased(self) -> None:
        w, rng, ng = self.w, self.rng, self.ng
        cand = np.flatnonzero(self.base_ok & ~self.used & (w.death_day >= 0) &
                              (w.death_day <= w.day0 + w.ndays - 30) & (w.new_card < 0))
        if cand.size:
            p = int(rng.choice(cand))
        else:
            # not enough deaths in a small city: let an elderly eligible person die early
            ok = self.eligible & ~self.used & (w.age >= 60)
            if not ok.any():
                ok = self.eligible & ~self.used
            p = int(rng.choice(np.flatnonzero(ok)))
            w.death_day[p] = w.day0 + int(rng.integers(min(20, w.ndays // 3), max(21, w.ndays - 35)))
            w.alive_end[p] = (w.death_day[p] + 1) * DAY - 1
        self.used[p] = True
        I = self.new("deceased_card_use", "after_death")
        lo = int(w.death_day[p] - w.day0) + 3
        m = int(rng.integers(*self.S.deceased_claims))
        t = np.sort(self.rand_t(m, HOURS_PHARM, lo_day=min(lo, w.ndays - 1)))
        card = int(w.card_at(np.array([p]), np.array([t[0]]))[0])
        chron = w.chronic[p]
        for tt in t:
            if rng.random() < 0.75:
                if chron >= 0:
                    tot = np.array([round(w.chronic_amount[p] * rng.uniform(0.95, 1.05))], dtype=np.int64)
                    self.add_ph(I, p, ng.fav_ph[p], int(tt), card, total=tot,
                                diag=np.array([w.dx[V.CHRONIC[chron][0]]]))
                else:
                    self.add_ph(I, p, ng.fav_ph[p], int(tt), card)
            else:
                self.add_out(I, p, ng.fav_l1[p] if rng.random() < 0.5 else ng.fav_l2[p], int(tt), card)
        I.key = {"type": "patient", "id": ("patient", p)}
        I.ent("patient", p, "deceased")
        I.ent("card", card, "card")
        I.extra["death_date"] = str(np.datetime64(int(w.death_day[p]), "D"))

    # ----------------------------------------------------------------------------------------
    # 3. impossible_travel
    # ----------------------------------------------------------------------------------------
    def impossible_travel(self) -> None:
        w, rng = self.w, self.rng
        if self._share("impossible_travel", self.S.county_travel):
            outer = self._outer_counties()
            if outer.size:
                return self._county_travel(outer)
        holder = int(self.take(1, extra=w.age <= 75)[0])
        card = holder
        I = self.new("impossible_travel", "cloned_card")
        npair = int(rng.integers(*self.S.travel_pairs))
        days = np.sort(rng.choice(np.arange(1, w.ndays - 1), npair, replace=False))
        for d in days:
            t_home = (w.day0 + int(d)) * DAY + int(rng.integers(9 * HOUR, 19 * HOUR))
            dest = int(rng.choice(np.concatenate([w.far_regs, w.nb_regs[:1]])))
            maxgap = 60 if w.reg_pref[dest] == 1 else 90
            gap = int(rng.integers(5, maxgap + 1)) * MINUTE
            t_far = t_home + gap if rng.random() < 0.6 else t_home - gap
            self.home_visit(I, holder, t_home, card, keep_time=True)
            if rng.random() < 0.6:
                ph = w.sample(rng, "ph", np.array([dest]))[0]
                self.add_ph(I, holder, ph, t_far, card)
                I.ent("pharmacy", ph, "remote_provider")
            else:
                inst = w.sample(rng, "hub" if rng.random() < 0.5 else "l2", np.array([dest]))[0]
                self.add_out(I, holder, inst, t_far, card)
                I.ent("institution", inst, "remote_provider")
        I.key = {"type": "card", "id": ("card", card)}
        I.entities.insert(0, ("card", card, "cloned_card"))
        I.entities.insert(1, ("patient", holder, "holder"))

    def _outer_counties(self) -> np.ndarray:
        """Home regions at least 50 km from the prefecture's central districts (variants only)."""
        w = self.w
        home = w.home_regs
        core = home[~w.reg_rural[home]]
        d = haversine_km(w.reg_lat[home][:, None], w.reg_lon[home][:, None], w.reg_lat[core][None, :],
                         w.reg_lon[core][None, :]).min(axis=1)
        return home[d >= 50]

    def _county_travel(self, outer: np.ndarray) -> None:
        """A cloned card read in a central district and in an outer county (≥ 50 km) minutes apart."""
        w, rng = self.w, self.rng
        central = w.home_regs[~w.reg_rural[w.home_regs] & ~np.isin(w.home_regs, outer)]
        holder = int(self.take(1, extra=(w.age <= 75) & np.isin(w.region, central))[0])
        card = holder
        I = self.new("impossible_travel", "district_county")
        npair = int(rng.integers(*self.S.travel_pairs))
        days = np.sort(rng.choice(np.arange(1, w.ndays - 1), npair, replace=False))
        for d in days:
            t_home = (w.day0 + int(d)) * DAY + int(rng.integers(9 * HOUR, 19 * HOUR))
            dest = int(rng.choice(outer))
            gap = int(rng.integers(5, 26)) * MINUTE
            t_far = t_home + gap if rng.random() < 0.5 else t_home - gap
            self.home_visit(I, holder, t_home, card, keep_time=True)
            if rng.random() < 0.6:
                ph = w.sample(rng, "ph", np.array([dest]))[0]
                self.add_ph(I, holder, ph, t_far, card)
                I.ent("pharmacy", ph, "remote_provider")
            else:
                inst = w.sample(rng, "l1op", np.array([dest]))[0]
                self.add_out(I, holder, inst, t_far, card)
                I.ent("institution", inst, "remote_provider")
        I.key = {"type": "card", "id": ("card", card)}
        I.entities.insert(0, ("card", card, "cloned_card"))
        I.entities.insert(1, ("patient", holder, "holder"))

    # ----------------------------------------------------------------------------------------
    # 4. collusion_ring
    # ----------------------------------------------------------------------------------------
    def collusion_ring(self, outpatient: bool, two_venues: bool) -> None:
        w, rng = self.w, self.rng
        if outpatient:
            cand = np.flatnonzero(w.inst_private & (w.inst_pref == 0) & np.isin(w.inst_role, (5, 6, 2))
                                  & ~self.used_inst)
            two_venues = False
        else:
            cand = self.private_hospitals()
            cand = cand[~self.used_inst[cand]] if (~self.used_inst[cand]).any() else cand
        v1 = int(rng.choice(cand))
        venues = [v1]
        if two_venues:
            other = self.private_hospitals()
            other = other[(other != v1)]
            same = other[w.inst_region[other] == w.inst_region[v1]]
            if other.size:
                venues.append(int(rng.choice(same if same.size else other)))
            else:
                two_venues = False
        self.used_inst[venues] = True
        variant = "outpatient" if outpatient else ("inpatient_two_venues" if two_venues else "inpatient")
        I = self.new("collusion_ring", variant)
        docs = []
        for v in venues:
            vd = np.flatnonzero((w.doc_inst == v) & ~self.used_doc[: w.n_doc])
            nd = 1 if (two_venues or rng.random() < 0.5) else 2
            dd = rng.choice(vd, min(nd, vd.size), replace=False)
            self.used_doc[dd] = True
            docs.append(dd)
        size = int(rng.integers(*self.S.ring_size))
        mem = self.take(size, region=int(w.inst_region[v1]))
        attend = rng.uniform(*self.S.ring_attend, size)
        # diagnoses vary from episode to episode (not one diagnosis group as in split stays)
        pairs = list(V.RING_DIAG)
        npair = len(pairs)
        n_ep = int(rng.integers(self.S.ring_episodes_out if outpatient else self.S.ring_episodes_in,
                                self.S.ring_episodes_max))
        day = int(rng.integers(2, max(3, w.ndays // 4)))
        ep = 0
        while ep < n_ep:
            spacing = int(rng.integers(7, 29))
            vi = int(rng.integers(0, len(venues)))
            v = venues[vi]
            if outpatient:
                if day >= w.ndays - 1:
                    break
                att = rng.random(size) < attend
                att[rng.integers(0, size)] = True
                who = mem[att]
                t = (w.day0 + day) * DAY + 8 * HOUR + rng.integers(0, 3 * HOUR, who.size)
                dx = np.array([w.dx[pairs[int(j)][0]] for j in rng.integers(0, npair, who.size)])
                dept = w.doc_dept[docs[vi][0]]
                self.add_out(I, who, v, t, who, dept=int(dept), diag=dx,
                             doc=rng.choice(docs[vi], who.size))
            else:
                los = int(rng.integers(2, max(3, min(8, spacing - 4) + 1)))
                if day + los + 2 >= w.ndays:
                    break
                att = rng.random(size) < attend
                att[rng.integers(0, size)] = True
                who = mem[att]
                adm = w.day0 + day + rng.integers(-1, 2, who.size)
                adm = np.maximum(adm, w.day0)
                t0 = adm * DAY + 8 * HOUR + rng.integers(0, 3 * HOUR, who.size)
                mlos = np.maximum(2, los - rng.integers(0, 2, who.size))
                j = rng.integers(0, npair, who.size)
                dx = np.array([w.dx[pairs[int(x)][0]] for x in j])
                dept = np.array([V.D[pairs[int(x)][1]] for x in j])
                self.add_inp(I, who, v, t0, mlos, who, dept=dept, diag=dx, doc=rng.choice(docs[vi], who.size))
            ep += 1
            day += spacing
        I.key = {"type": "ring", "institutions": [("institution", v) for v in venues],
                 "doctors": [("doctor", int(d)) for dd in docs for d in dd]}
        for p in mem:
            I.ent("patient", p, "member")
        for dd in docs:
            for d in dd:
                I.ent("doctor", d, "organiser")
        for v in venues:
            I.ent("institution", v, "venue")
        I.extra["episodes"] = ep

    # ----------------------------------------------------------------------------------------
    # 5. card_burst
    # ----------------------------------------------------------------------------------------
    def card_burst(self) -> None:
        w, rng, ng = self.w, self.rng, self.ng
        cand = np.flatnonzero((w.ph_pref == 0) & ~w.ph_24h & ~self.used_ph)
        ph = int(rng.choice(cand))
        self.used_ph[ph] = True
        term = int(w.ph_term_start[ph] + rng.integers(0, w.ph_term_count[ph]))
        pool_n = int(rng.integers(20, 51))
        regulars = np.flatnonzero((ng.fav_ph == ph) & self.eligible & ~self.used)
        regulars = rng.permutation(regulars)[:pool_n]
        self.used[regulars] = True
        rest = self.take(pool_n - regulars.size, region=int(w.ph_region[ph])) if regulars.size < pool_n else \
            np.empty(0, dtype=np.int64)
        pool = np.concatenate([regulars, rest])
        I = self.new("card_burst", "night_burst")
        nights = np.sort(rng.choice(np.arange(1, w.ndays - 2), int(rng.integers(*self.S.burst_nights)), replace=False))
        base = float(rng.choice([100, 150, 198, 200, 260, 298, 300, 360, 400]))
        used_cards = set()
        for d in nights:
            S = self.S
            k = int(rng.integers(S.burst_cards[0], min(S.burst_cards[1], pool.size) + 1))
            who = rng.choice(pool, k, replace=False)
            start = (w.day0 + int(d)) * DAY + int(rng.integers(S.burst_start_h[0] * HOUR,
                                                               S.burst_start_h[1] * HOUR + 30 * MINUTE))
            win = int(rng.integers(*S.burst_window_min)) * MINUTE
            t = start + np.sort(rng.integers(0, win, k))
            t = np.minimum(t, w.t_end - 1)
            total = np.round((base + rng.uniform(-S.burst_amount_jitter, S.burst_amount_jitter, k)) * 100).astype(np.int64)
            self.add_ph(I, who, ph, t, who, total=total, diag=np.full(k, -1), prof=1, term=term)
            used_cards.update(int(x) for x in who)
        I.key = {"type": "terminal", "id": ("terminal", term)}
        I.ent("terminal", term, "terminal")
        I.ent("pharmacy", ph, "venue")
        for c in sorted(used_cards):
            I.ent("card", c, "card")
        I.extra["nights"] = int(nights.size)

    # ----------------------------------------------------------------------------------------
    # 6. phantom_stay
    # ----------------------------------------------------------------------------------------
    def phantom_stay(self, other_city: bool) -> None:
        w, rng, ng = self.w, self.rng, self.ng
        p = int(self.take(1, extra=w.age >= 35)[0])
        cand = self.private_hospitals()
        if rng.random() < 0.3 or cand.size == 0:
            cand = np.flatnonzero((w.inst_level == 2) & (w.inst_pref == 0))
        v = int(rng.choice(cand))
        I = self.new("phantom_stay", "other_city" if other_city else "same_city")
        los = int(rng.integers(5, 21))
        d0 = int(rng.integers(1, max(2, w.ndays - los - 2)))
        t0 = (w.day0 + d0) * DAY + int(rng.integers(8 * HOUR, 11 * HOUR))
        dx, dept = V.RING_DIAG[int(rng.integers(0, len(V.RING_DIAG)))]
        stay = self.add_inp(I, p, v, t0, los, p, dept=V.D[dept], diag=w.dx[dx])
        t1 = int(self.last["t1"][0])
        m = int(rng.integers(*self.S.phantom_claims))
        ts = np.sort(rng.integers(t0 + DAY, t1 - 6 * HOUR, m))
        ts = (ts // DAY) * DAY + w.hours(rng, HOURS_PHARM, m)
        ts = np.clip(ts, t0 + 12 * HOUR, t1 - HOUR)
        dest = int(rng.choice(np.concatenate([w.far_regs, w.nb_regs]))) if other_city else int(w.region[p])
        for tt in ts:
            if rng.random() < 0.7:
                ph = w.sample(rng, "ph", np.array([dest]))[0]
                self.add_ph(I, p, ph, int(tt), p)
                I.ent("pharmacy", ph, "elsewhere")
            else:
                inst = w.sample(rng, "l2" if other_city else "l1op", np.array([dest]))[0]
                if inst == v:
                    inst = ng.fav_hub[p]
                self.add_out(I, p, inst, int(tt), p)
                I.ent("institution", inst, "elsewhere")
        I.key = {"type": "patient", "id": ("patient", p)}
        I.entities.insert(0, ("patient", p, "patient"))
        I.entities.insert(1, ("institution", v, "venue"))

    # ----------------------------------------------------------------------------------------
    # 7. split_stay
    # ----------------------------------------------------------------------------------------
    def split_stay(self, linked: bool) -> None:
        w, rng = self.w, self.rng
        p = int(self.take(1, extra=w.age >= 45)[0])
        cand = self.private_hospitals()
        if rng.random() < 0.3 or cand.size == 0:
            cand = np.flatnonzero((w.inst_level == 2) & (w.inst_pref == 0))
        v = int(rng.choice(cand))
        venues = [v]
        campus = np.flatnonzero(w.inst_role == ROLE_BRANCH)
        if campus.size and self._share("split_stay", self.S.branch_split):
            b = int(rng.choice(campus))  # alternate between the two campuses of one brand (…分院)
            venues = [int(w.inst_parent[b]), b]
            linked = False
        if linked:
            other = self.private_hospitals()
            other = other[other != v]
            same = other[w.inst_region[other] == w.inst_region[v]]
            if other.size:
                venues.append(int(rng.choice(same if same.size else other)))
        variant = "linked_institutions" if len(venues) > 1 else "same_institution"
        if len(venues) > 1 and w.inst_parent[venues[1]] == venues[0]:
            variant = "branch_campuses"
        I = self.new("split_stay", variant)
        grp, codes, dept = V.SPLIT_GROUPS[int(rng.integers(0, len(V.SPLIT_GROUPS)))]
        n = int(rng.integers(*self.S.split_parts))
        los = rng.integers(4, 13, n)
        gaps = rng.integers(1, 11, n)
        span = int(los.sum() + gaps[:-1].sum()) + 2
        d = int(rng.integers(1, max(2, w.ndays - span)))
        for i in range(n):
            if d + los[i] >= w.ndays - 1:
                break
            t0 = (w.day0 + d) * DAY + int(rng.integers(8 * HOUR, 12 * HOUR))
            vi = venues[i % len(venues)]
            self.add_inp(I, p, vi, t0, int(los[i]), p, dept=V.D[dept], diag=w.dx[codes[int(rng.integers(0, len(codes)))]])
            d += int(los[i]) + int(gaps[i])
        I.key = {"type": "patient", "id": ("patient", p)}
        I.ent("patient", p, "patient")
        for vv in venues:
            I.ent("institution", vv, "venue")
        I.extra["diagnosis_group"] = grp

    # ----------------------------------------------------------------------------------------
    # 8. referral_loop
    # ----------------------------------------------------------------------------------------
    def referral_loop(self, cycle: bool) -> None:
        w, rng = self.w, self.rng
        cand = self.private_hospitals()
        fresh = cand[~self.used_inst[cand]]
        pool = fresh if fresh.size >= (3 if cycle else 2) else cand
        a = int(rng.choice(pool))
        rest = pool[pool != a]
        near = rest[w.inst_region[rest] == w.inst_region[a]]
        b = int(rng.choice(near if near.size else rest))
        ring = [a, b]
        if cycle:
            rest = rest[rest != b]
            if rest.size:
                ring.append(int(rng.choice(rest)))
        self.used_inst[ring] = True
        I = self.new("referral_loop", "cycle" if len(ring) == 3 else "reciprocal")
        target = int(rng.integers(*self.S.loop_target))
        npat = int(rng.integers(*self.S.loop_patients))
        pats = self.take(npat, region=int(w.inst_region[a]))
        per = np.full(npat, target // npat)
        per[: target % npat] += 1
        # a loop is planted as a loop: every patient goes round it at least once (A→B→A, A→B→C→A),
        # so the closing edge is in the data, not only in the label
        per = np.maximum(per, len(ring))
        docs_used = set()
        for p, hops in zip(pats, per):
            d = int(rng.integers(1, max(2, w.ndays // 3)))
            los = int(rng.integers(3, 9))
            if d + los >= w.ndays - 2:
                continue
            t0 = (w.day0 + d) * DAY + int(rng.integers(8 * HOUR, 12 * HOUR))
            dx, dept = V.RING_DIAG[int(rng.integers(0, len(V.RING_DIAG)))]
            cur = 0
            self.add_inp(I, p, ring[cur], t0, los, p, dept=V.D[dept], diag=w.dx[dx])
            t1, doc = int(self.last["t1"][0]), int(self.last["doc"][0])
            for _ in range(int(hops)):
                nxt = (cur + 1) % len(ring)
                rt = t1 - int(rng.integers(HOUR, 3 * HOUR))
                a0 = t1 + int(rng.integers(2 * HOUR, DAY))
                los = int(rng.integers(3, 9))
                if a0 // DAY + los >= w.day0 + w.ndays - 1:
                    break
                r = self.Rf.add(pat=p, from_inst=ring[cur], from_doc=doc, to_inst=ring[nxt], t=rt,
                                reason=int(rng.choice([R_UP, R_SPECIAL])), fraud=I.index)
                I.referrals.append(r)
                docs_used.add(doc)
                dx, dept = V.RING_DIAG[int(rng.integers(0, len(V.RING_DIAG)))]
                self.add_inp(I, p, ring[nxt], a0, los, p, dept=V.D[dept], diag=w.dx[dx], ref=r)
                t1, doc = int(self.last["t1"][0]), int(self.last["doc"][0])
                cur = nxt
            I.ent("patient", p, "patient")
        I.key = {"type": "institutions", "ids": [("institution", x) for x in sorted(ring)]}
        for x in ring:
            I.ent("institution", x, "venue")
        for d in sorted(docs_used):
            I.ent("doctor", d, "referrer")

    # ----------------------------------------------------------------------------------------
    # 9. referral_concentration
    # ----------------------------------------------------------------------------------------
    def referral_concentration(self) -> None:
        w, rng, ng = self.w, self.rng, self.ng
        r = ng.Rf.data()
        nref = np.bincount(r["from_doc"][r["from_doc"] >= 0], minlength=w.n_doc)
        docs = np.flatnonzero((w.doc_inst >= 0) & ~self.used_doc[: w.n_doc])
        docs = docs[(w.inst_level[w.doc_inst[docs]] <= 2) & (w.inst_pref[w.doc_inst[docs]] == 0)
                    & (nref[docs] <= 3) & (w.doc_dept[docs] >= 0)]
        doc = int(rng.choice(docs))
        self.used_doc[doc] = True
        src = int(w.doc_inst[doc])
        if rng.random() < self.S.ooa_share:
            dest_c = np.flatnonzero((w.inst_role == 8) | ((w.inst_role == 2) & (w.inst_pref == 1)))
        else:
            dest_c = self.private_hospitals()
            dest_c = dest_c[dest_c != src]
        dest = int(rng.choice(dest_c))
        ooa_dest = bool(w.inst_pref[dest] != w.inst_pref[src])
        I = self.new("referral_concentration", "out_of_area" if ooa_dest else "local_private")
        T = int(rng.integers(*self.S.conc_referrals))
        n_norm = int(nref[doc])
        n_dest = min(T, math.ceil(rng.uniform(*self.S.conc_share) * (T + n_norm)))
        to = np.full(T, dest)
        others = w.sample(rng, "hub", np.full(T - n_dest, int(w.inst_region[src])))
        to[n_dest:] = others
        to = rng.permutation(to)
        pats = self.take(T, region=int(w.inst_region[src]))
        t = np.sort(self.rand_t(T, HOURS_OUT, hi_day=max(1, w.ndays - 23)))
        dept = int(w.doc_dept[doc])
        for p, tt, dst in zip(pats, t, to):
            self.add_out(I, p, src, int(tt), p, dept=dept, doc=doc, context=True)
            rt = int(tt) + int(rng.integers(10 * MINUTE, 40 * MINUTE))
            ooa = bool(w.inst_pref[dst] != w.inst_pref[src])
            ref = self.Rf.add(pat=p, from_inst=src, from_doc=doc, to_inst=dst, t=rt, ooa=ooa,
                              reason=R_OOA if ooa else R_SPECIAL, fraud=I.index)
            I.referrals.append(ref)
            dt = (rt // DAY + int(rng.integers(1, 11))) * DAY + int(rng.integers(8 * HOUR, 16 * HOUR))
            steered = dst == dest
            if rng.random() < 0.6:
                self.add_inp(I, p, int(dst), dt, int(rng.integers(3, 11)), p, ref=ref, context=not steered)
            else:
                self.add_out(I, p, int(dst), dt, p, ref=ref, context=not steered)
            I.ent("patient", p, "patient")
        I.key = {"type": "doctor", "id": ("doctor", doc)}
        I.entities.insert(0, ("doctor", doc, "referrer"))
        I.entities.insert(1, ("institution", src, "source"))
        I.entities.insert(2, ("institution", dest, "destination"))
        I.extra.update(referrals_total=T + n_norm, referrals_to_destination=n_dest,
                       share=round(n_dest / (T + n_norm), 3))

    # ----------------------------------------------------------------------------------------
    # 10. identity_ring
    # ----------------------------------------------------------------------------------------
    def identity_ring(self, kind: str) -> None:
        w, rng, ng = self.w, self.rng, self.ng
        size = int(rng.integers(*self.S.identity_size))
        first = self.take(1)
        mem = np.concatenate([first, self.take(size - 1, region=int(w.region[first[0]]), avoid_hh=w.hh[first])])
        ck = {"phone": CK_PHONE, "bank_account": CK_BANK, "device": CK_DEVICE}[kind]
        if self._existing is None:
            self._existing = set()
            for vals in w.contacts[2]:
                self._existing.update(vals.tolist())
        existing = self._existing
        while True:
            if kind == "phone":
                val = str(draw_phones(rng, 1)[0])
            elif kind == "bank_account":
                val = str(draw_bank_accounts(rng, 1, V.BANK_BINS)[0])
            else:
                val = str(draw_devices(rng, 1)[0])
            if val not in existing:
                existing.add(val)
                break
        self.new_contacts.append((mem, ck, np.full(mem.size, val, dtype=object)))
        I = self.new("identity_ring", kind)
        ph = ng.fav_ph[mem[0]]
        for p in mem:
            for tt in np.sort(self.rand_t(int(rng.integers(1, 5)), HOURS_PHARM)):
                self.add_ph(I, p, ph if rng.random() < 0.7 else ng.fav_ph[p], int(tt), p)
        I.key = {"type": kind, "id": val, "patients": [("patient", int(p)) for p in sorted(mem)]}
        for p in mem:
            I.ent("patient", p, "member")
        I.ent("pharmacy", ph, "venue")
