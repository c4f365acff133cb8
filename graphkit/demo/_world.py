"""The demo city's static world: geography, providers, doctors, terminals, people, cards.

All arrays are in *index space* (patient 0..N-1, institution 0..I-1, ...); string ids are
made only when tables are written.
"""

from __future__ import annotations

import numpy as np

from . import _vocab as V
from ._world_variants import CARD_PHYSICAL, ROLE_BRANCH, ROLE_CARE_ROOM, WorldVariants
from .config import CityConfig
from ._util import (
    DAY,
    draw_bank_accounts,
    draw_devices,
    draw_phones,
    id_numbers,
    id_width,
    unique_draw,
)

KIND_NAMES = ("hospital", "clinic", "community", "village")
K_HOSPITAL, K_CLINIC, K_COMMUNITY, K_VILLAGE = range(4)
CONTACT_KINDS = ("phone", "address", "bank_account", "device", "family")
CK_PHONE, CK_ADDRESS, CK_BANK, CK_DEVICE, CK_FAMILY = range(5)
KM_PER_DEG_LAT = 111.0


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def _weights(values: dict[str, float], keys: tuple[str, ...]) -> np.ndarray:
    w = np.array([values.get(k, 0.0) for k in keys], dtype=float)
    return w / w.sum()


# Department mix of visits by patient profile (0 child <14, 1 woman 18-45, 2 adult, 3 elder 65+)
DEPT_OUT_P = [
    _weights({"儿科": 75, "外科": 4, "耳鼻喉科": 8, "皮肤科": 6, "眼科": 4, "急诊科": 3}, V.DEPTS),
    _weights({"妇产科": 22, "内科": 16, "外科": 5, "骨科": 5, "呼吸内科": 6, "神经内科": 4, "眼科": 4,
              "耳鼻喉科": 5, "皮肤科": 6, "急诊科": 5, "中医科": 7, "全科": 8, "心内科": 3, "肿瘤科": 1,
              "肾内科": 1, "康复科": 2}, V.DEPTS),
    _weights({"内科": 22, "心内科": 8, "呼吸内科": 8, "外科": 7, "骨科": 9, "神经内科": 6, "眼科": 5,
              "耳鼻喉科": 5, "皮肤科": 5, "急诊科": 6, "中医科": 6, "全科": 8, "康复科": 3, "肾内科": 2,
              "肿瘤科": 2}, V.DEPTS),
    _weights({"内科": 20, "心内科": 16, "呼吸内科": 10, "神经内科": 10, "骨科": 9, "眼科": 6, "外科": 4,
              "中医科": 7, "全科": 10, "康复科": 4, "肾内科": 2, "肿瘤科": 2, "急诊科": 4}, V.DEPTS),
]
DEPT_IN_P = [
    _weights({"儿科": 80, "外科": 10, "骨科": 6, "耳鼻喉科": 4}, V.DEPTS),
    _weights({"妇产科": 55, "内科": 12, "外科": 14, "骨科": 8, "呼吸内科": 5, "神经内科": 3, "肿瘤科": 3},
             V.DEPTS),
    _weights({"内科": 18, "外科": 20, "骨科": 15, "心内科": 12, "神经内科": 10, "呼吸内科": 10, "肿瘤科": 6,
              "肾内科": 3, "康复科": 3, "眼科": 3}, V.DEPTS),
    _weights({"心内科": 20, "神经内科": 20, "呼吸内科": 19, "内科": 14, "骨科": 10, "外科": 7, "肿瘤科": 5,
              "肾内科": 2, "康复科": 3}, V.DEPTS),
]
#: Outpatient price factor by department.
DEPT_PRICE = np.array([1.0, 1.1, 0.8, 1.1, 1.5, 3.0, 0.9, 1.1, 0.7, 1.2, 1.1, 1.2, 0.9, 0.9, 0.8, 1.4, 0.9])

HOURS_OUT = np.array([0, 0, 0, 0, 0, 0, 0.2, 0.6, 9, 12, 11, 9, 4, 4, 8, 8, 6, 4, 2.5, 2, 1.5, 0.6, 0.3, 0.1])
HOURS_PHARM = np.array([0, 0, 0, 0, 0, 0, 0, 0.5, 3, 5, 6, 7, 8, 7, 5, 5, 5, 6, 8, 8, 6, 3, 0.5, 0])
HOURS_PHARM24 = HOURS_PHARM + np.array([0.5] * 7 + [0] * 15 + [0.5] * 2)
HOURS_IN = np.array([0.6, 0.5, 0.5, 0.5, 0.5, 0.5, 0.6, 2, 10, 12, 12, 8, 3, 5, 8, 8, 6, 3, 1.5, 1, 1, 0.8, 0.7, 0.6])
for _h in (HOURS_OUT, HOURS_PHARM, HOURS_PHARM24, HOURS_IN):
    _h /= _h.sum()


class World(WorldVariants):
    """Static part of the city. Build with ``World(patients, seed, start, months, cfg)``.

    ``cfg`` (:class:`~graphkit.demo.config.CityConfig`) changes the structure; the default
    configuration draws exactly the random numbers of the original city. Variant-only
    behaviour draws from :meth:`vrng` streams of its own.
    """

    def __init__(self, patients: int, seed: int, start: str, months: int, cfg: CityConfig | None = None):
        self.N = int(patients)
        self.seed = int(seed)
        self.cfg = cfg if cfg is not None else CityConfig()
        self._vrngs: dict[str, np.random.Generator] = {}
        ss = np.random.SeedSequence(self.seed)
        names = ("geo", "providers", "people", "contacts", "cards", "roles", "events", "chronic",
                 "cohorts", "referrals", "fraud", "finalize", "items")
        self.rngs = {n: np.random.default_rng(c) for n, c in zip(names, ss.spawn(len(names)))}
        d0 = np.datetime64(start, "D")
        d1 = (np.datetime64(start, "M") + np.timedelta64(months, "M")).astype("datetime64[D]")
        d1 = d1 + (d0 - np.datetime64(start, "M").astype("datetime64[D]"))
        self.start_str = str(d0)
        self.end_str = str(d1 - np.timedelta64(1, "D"))  # last day, inclusive
        self.day0 = int(d0.astype(np.int64))
        self.ndays = int((d1 - d0).astype(np.int64))
        if self.ndays < 28:
            raise ValueError(f"the period must span at least 28 days; got {self.ndays}")
        self.t_start = self.day0 * DAY
        self.t_end = (self.day0 + self.ndays) * DAY
        self.base = self.t_start - 400 * DAY  # time origin for 32-bit offsets
        self.dx_codes: list[str] = []
        self.dx: dict[str, int] = {}
        for table in (V.DIAG_OUT, V.DIAG_IN):
            for codes, _ in table.values():
                for c in codes:
                    self._dx(c)
        for c in V.PHARM_DIAG[0] + tuple(c for c, _, _ in V.CHRONIC) + V.CANCER_CODES:
            self._dx(c)
        for _, codes, _ in V.SPLIT_GROUPS:
            for c in codes:
                self._dx(c)
        for c, _ in V.RING_DIAG:
            self._dx(c)
        self._dx("Z00.0")
        self._pools: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
        self._build_geography()
        self._build_providers()
        self._build_people()
        self._build_cards()

    # ----------------------------------------------------------------------------------------
    def _dx(self, code: str) -> int:
        if code not in self.dx:
            self.dx[code] = len(self.dx_codes)
            self.dx_codes.append(code)
        return self.dx[code]

    def hours(self, rng: np.random.Generator, profile: np.ndarray, n: int) -> np.ndarray:
        """Seconds since midnight drawn from an hour-of-day profile."""
        return rng.choice(24, n, p=profile).astype(np.int64) * 3600 + rng.integers(0, 3600, n)

    # ----------------------------------------------------------------------------------------
    def _build_geography(self) -> None:
        R = V.REGIONS + (V.OUTER_REGIONS if self.cfg.outer_counties else ())
        self.reg_code = np.array([r[0] for r in R])
        self.reg_name = [r[1] for r in R]
        self.reg_city = [r[2] for r in R]
        self.reg_pref = np.array([r[3] for r in R])
        self.reg_lat = np.array([r[4] for r in R])
        self.reg_lon = np.array([r[5] for r in R])
        self.reg_rural = np.array([r[6] for r in R])
        self.reg_w = np.array([r[7] for r in R])
        if self.cfg.rural_weight != 1.0:
            self.reg_w = np.where(self.reg_rural & (self.reg_pref == V.PREF_HOME), self.reg_w * self.cfg.rural_weight,
                                  self.reg_w)
        self.home_regs = np.flatnonzero(self.reg_pref == V.PREF_HOME)
        self.nb_regs = np.flatnonzero(self.reg_pref == V.PREF_NEIGHBOUR)
        self.far_regs = np.flatnonzero(self.reg_pref >= 2)

    def _scatter(self, rng, regions: np.ndarray, sigma_km: float, max_km: float):
        n = regions.size
        d = np.clip(np.abs(rng.normal(0, sigma_km, n)), 0, max_km)
        ang = rng.uniform(0, 2 * np.pi, n)
        lat = self.reg_lat[regions] + d * np.sin(ang) / KM_PER_DEG_LAT
        lon = self.reg_lon[regions] + d * np.cos(ang) / (KM_PER_DEG_LAT * np.cos(np.radians(self.reg_lat[regions])))
        return np.round(lat, 6), np.round(lon, 6)

    # ----------------------------------------------------------------------------------------
    def _build_providers(self) -> None:
        rng = self.rngs["providers"]
        N = self.N
        home, nb, far = self.home_regs, self.nb_regs, self.far_regs
        hw = self.reg_w[home] / self.reg_w[home].sum()
        nbw = self.reg_w[nb] / self.reg_w[nb].sum()
        urban_home = home[~self.reg_rural[home]]
        uw = self.reg_w[urban_home] / self.reg_w[urban_home].sum()
        # role codes: 0 hub (L3 public), 1 L2 public, 2 L2 private, 3 community, 4 village,
        # 5 private clinic, 6 private L1 hospital, 7 far hub, 8 far private L2
        rows: list[tuple[int, int]] = []  # (role, region)
        cfg = self.cfg
        n_hub = max(3, round(N / cfg.patients_per_hub))
        rows += [(0, r) for r in rng.choice(urban_home, n_hub, p=uw)]
        n_l2 = max(6, round(N / cfg.patients_per_l2))
        n_l2_priv = max(3, round(cfg.private_l2_share * n_l2))
        rows += [(1, r) for r in rng.choice(home, n_l2 - n_l2_priv, p=hw)]
        # private L2 hospitals: at least two in one district so that "linked" pairs exist
        priv_regs = rng.choice(home, n_l2_priv, p=hw)
        priv_regs[1] = priv_regs[0]
        rows += [(2, r) for r in priv_regs]
        n_l1 = max(16, round(N / cfg.patients_per_l1))
        l1_regs = rng.choice(home, n_l1, p=hw)
        u = rng.random(n_l1)
        vs = cfg.village_share
        t1, t2, t3 = (0.40, 0.65, 0.88) if vs == 0.40 else (vs, vs + (1 - vs) * 0.25 / 0.6, vs + (1 - vs) * 0.48 / 0.6)
        for r, x in zip(l1_regs, u):
            if self.reg_rural[r]:
                role = 4 if x < t1 else 3 if x < t2 else 5 if x < t3 else 6
            else:
                role = 3 if x < 0.42 else 5 if x < 0.82 else 6
            rows.append((role, r))
        # make sure every home district has a community centre
        for r in home:
            if not any(role == 3 and rr == r for role, rr in rows):
                rows.append((3, r))
        # neighbouring prefecture
        n_nb = max(1, round(N * 0.03))
        rows += [(0, nb[0])]
        rows += [(1, r) for r in rng.choice(nb, 1, p=nbw)] + [(2, r) for r in rng.choice(nb, 2, p=nbw)]
        for r in rng.choice(nb, max(3, round(n_nb / 250)), p=nbw):
            rows.append((3 if rng.random() < 0.5 else 5, r))
        # far cities: one big public hospital and one private hospital each (+ more at scale)
        extra = round(N / 200_000)
        for r in far:
            rows += [(7, r)] * (1 + extra) + [(8, r)] * (1 + extra)
        role = np.array([x[0] for x in rows])
        region = np.array([x[1] for x in rows])
        perm = rng.permutation(role.size)
        role, region = role[perm], region[perm]
        parent = np.full(role.size, -1)
        if cfg.branch_campuses > 0 or cfg.lookalike("care_home_batch") > 0:
            role, region, parent = self._variant_providers(role, region)
        n = role.size
        prole = np.where(parent >= 0, role[np.maximum(parent, 0)], role)  # a campus has its parent's role
        level = np.select([np.isin(prole, (0, 7)), np.isin(prole, (1, 2, 8))], [3, 2], 1)
        private = np.isin(prole, (2, 5, 6, 8)) | (role == ROLE_CARE_ROOM)
        kind = np.select([role == 3, role == 4, (role == 5) | (role == ROLE_CARE_ROOM)],
                         [K_COMMUNITY, K_VILLAGE, K_CLINIC], K_HOSPITAL)
        self.inst_parent = parent
        size = np.select([level == 3, level == 2], [rng.uniform(0.7, 1.3, n), rng.uniform(0.5, 1.5, n)],
                         rng.uniform(0.4, 1.6, n))
        sig = np.select([level == 3, level == 2], [4.0, 3.0], 3.5)
        d = np.clip(np.abs(rng.normal(0, sig)), 0, 6.0)
        ang = rng.uniform(0, 2 * np.pi, n)
        lat = np.round(self.reg_lat[region] + d * np.sin(ang) / KM_PER_DEG_LAT, 6)
        lon = np.round(self.reg_lon[region] + d * np.cos(ang) / (KM_PER_DEG_LAT * np.cos(np.radians(self.reg_lat[region]))), 6)
        self.inst_role, self.inst_region, self.inst_level = role, region, level
        self.inst_private, self.inst_kind, self.inst_size = private, kind, size
        self.inst_lat, self.inst_lon = lat, lon
        self.inst_pref = self.reg_pref[region]
        self.n_inst = n
        self.inst_ip = (level >= 2) | np.isin(kind, (K_COMMUNITY, K_HOSPITAL))
        self.inst_serves_public = role != ROLE_CARE_ROOM
        self.inst_name = self._inst_names(rng)
        self.inst_width = id_width(4, n)
        self._build_doctors(rng)
        self._build_pharmacies(rng)
        self._build_terminals(rng)
        # nearest hub (same prefecture) for each institution: used by up-referrals
        hubs = np.flatnonzero(level == 3)
        dist = haversine_km(lat[:, None], lon[:, None], lat[hubs][None, :], lon[hubs][None, :])
        dist[self.inst_pref[:, None] != self.inst_pref[hubs][None, :]] = np.inf
        self.inst_near_hub = hubs[np.argmin(dist, axis=1)]

    def _inst_names(self, rng) -> list[str]:
        names: list[str] = []
        seen: dict[str, int] = {}
        hub_no: dict[int, int] = {}
        for i in range(self.inst_role.size):
            r = int(self.inst_region[i])
            role = int(self.inst_role[i])
            city, dist = self.reg_city[r], self.reg_name[r]
            streets = V.STREETS[city]
            if role == ROLE_BRANCH:
                sides = ("东院", "西院", "南院", "北院", "新院区")
                names.append(f"{names[int(self.inst_parent[i])]}（{sides[i % len(sides)]}）")
                continue
            if role == ROLE_CARE_ROOM:
                names.append(f"{dist}{V.PRIVATE_BRANDS[i % len(V.PRIVATE_BRANDS)]}养老院医务室")
                continue
            if role in (0, 7):
                pref = int(self.reg_pref[r])
                k = hub_no.get(pref, 0)
                hub_no[pref] = k + 1
                base = V.HUB_NAMES[k % len(V.HUB_NAMES)]
                nm = f"{city}{base}" if k < len(V.HUB_NAMES) else f"{city}{dist}{base}"
            elif role == 1:
                nm = f"{city}{dist}" + ("人民医院", "中医医院", "第二人民医院", "妇幼保健院")[int(rng.integers(0, 4))]
            elif role in (2, 8):
                nm = f"{city[:-1]}{V.PRIVATE_BRANDS[int(rng.integers(0, len(V.PRIVATE_BRANDS)))]}医院"
            elif role == 3:
                nm = f"{dist}{streets[int(rng.integers(0, len(streets)))]}街道社区卫生服务中心"
            elif role == 4:
                nm = f"{dist}{V.VILLAGES[int(rng.integers(0, len(V.VILLAGES)))]}村卫生室"
            elif role == 5:
                if rng.random() < 0.5:
                    nm = f"{dist}{V.SURNAMES[int(rng.integers(0, 30))]}氏诊所"
                else:
                    nm = f"{dist}{V.PRIVATE_BRANDS[int(rng.integers(0, len(V.PRIVATE_BRANDS)))]}门诊部"
            else:
                nm = f"{dist}{V.PRIVATE_BRANDS[int(rng.integers(0, len(V.PRIVATE_BRANDS)))]}医院"
            c = seen.get(nm, 0)
            seen[nm] = c + 1
            names.append(nm if c == 0 else f"{nm}（{c + 1}部）")
        return names

    # ----------------------------------------------------------------------------------------
    def _build_doctors(self, rng) -> None:
        """Doctors per institution and department; groups (inst, dept) index contiguous doctors."""
        D = V.D
        allh = [D[x] for x in V.DEPTS if x != "全科"]
        l2pub = [D[x] for x in ("内科", "外科", "儿科", "妇产科", "骨科", "康复科", "急诊科", "中医科", "心内科",
                                "呼吸内科", "神经内科", "眼科", "全科")]
        l2priv = [D[x] for x in ("内科", "外科", "骨科", "康复科", "妇产科", "中医科", "神经内科", "呼吸内科")]
        far_priv = [D[x] for x in ("内科", "外科", "骨科", "肿瘤科", "康复科", "神经内科")]
        grp_inst, grp_dept, grp_cnt = [], [], []
        # a few L2 hospitals run dialysis (肾内科) and a few communities run rehab (康复科)
        dial_cand = np.flatnonzero((self.inst_level == 2) & (self.inst_pref == 0))
        self.dialysis_venues = rng.choice(dial_cand, min(dial_cand.size, max(1, round(self.N / 10000))),
                                          replace=False)
        for i in range(self.n_inst):
            role, lvl = int(self.inst_role[i]), int(self.inst_level[i])
            if role == ROLE_BRANCH:
                role = int(self.inst_role[self.inst_parent[i]])
            if role == ROLE_CARE_ROOM:
                depts, counts = [D["全科"]], [1]
            elif role in (0, 7):
                depts = allh
                hi = 4.5 if role == 0 else 2.0
                counts = [int(max(1, round(rng.uniform(1.0, hi) * self.inst_size[i]))) for _ in depts]
            elif role == 1:
                depts = l2pub + ([D["肾内科"]] if rng.random() < 0.5 else [])
                counts = [int(rng.integers(1, 5)) for _ in depts]
            elif role == 2:
                depts = l2priv
                counts = [int(rng.integers(1, 4)) for _ in depts]
            elif role == 8:
                depts = far_priv
                counts = [int(rng.integers(1, 4)) for _ in depts]
            elif role == 3:
                depts = [D["全科"]] + ([D["康复科"]] if rng.random() < 0.6 else []) + \
                        ([D["中医科"]] if rng.random() < 0.5 else [])
                counts = [int(rng.integers(1, 4))] + [1] * (len(depts) - 1)
            elif role == 4:
                depts, counts = [D["全科"]], [1]
            elif role == 5:
                depts, counts = [D["全科"] if rng.random() < 0.7 else D["内科"]], [int(rng.integers(1, 3))]
            else:  # private L1 hospital
                depts = [D["内科"], D["外科"], D["康复科"], D["全科"]]
                counts = [int(rng.integers(1, 3)) for _ in depts]
            if i in self.dialysis_venues and D["肾内科"] not in depts:
                depts = depts + [D["肾内科"]]
                counts = counts + [2]
            for d, c in zip(depts, counts):
                grp_inst.append(i)
                grp_dept.append(d)
                grp_cnt.append(c)
        self.grp_inst = np.array(grp_inst)
        self.grp_dept = np.array(grp_dept, dtype=np.int16)
        self.grp_count = np.array(grp_cnt)
        self.grp_start = np.concatenate([[0], np.cumsum(self.grp_count)[:-1]])
        nd = int(self.grp_count.sum())
        self.doc_inst = np.repeat(self.grp_inst, self.grp_count)
        self.doc_dept = np.repeat(self.grp_dept, self.grp_count).astype(np.int16)
        lvl = self.inst_level[self.doc_inst]
        role = self.inst_role[self.doc_inst]
        t = np.where(lvl == 3, rng.choice(4, nd, p=[0.15, 0.25, 0.35, 0.25]),
                     np.where(lvl == 2, rng.choice(4, nd, p=[0.05, 0.2, 0.45, 0.3]),
                              rng.choice(4, nd, p=[0.0, 0.05, 0.5, 0.45])))
        t = np.where(role == 4, 4, t)
        self.doc_title = t
        # group lookup with fallbacks: (inst, dept) -> group
        nD = len(V.DEPTS)
        full = np.full((self.n_inst, nD), -1, dtype=np.int64)
        full[self.grp_inst, self.grp_dept] = np.arange(self.grp_inst.size)
        first = np.full(self.n_inst, -1, dtype=np.int64)
        first[self.grp_inst[::-1]] = np.arange(self.grp_inst.size)[::-1]
        for fb in (V.D["全科"], V.D["内科"]):
            fbcol = full[:, fb]
            miss = full < 0
            full = np.where(miss & (fbcol[:, None] >= 0), fbcol[:, None], full)
        full = np.where(full < 0, first[:, None], full)
        self.grp_full = full
        self.n_doc_inst = nd

    def pick_doctor(self, rng, inst: np.ndarray, dept: np.ndarray):
        """Doctor and actual department (after fallback) for visits at ``inst`` in ``dept``."""
        g = self.grp_full[inst, dept]
        doc = self.grp_start[g] + (rng.random(g.size) * self.grp_count[g]).astype(np.int64)
        return doc, self.grp_dept[g]

    # ----------------------------------------------------------------------------------------
    def _build_pharmacies(self, rng) -> None:
        N = self.N
        home, nb, far = self.home_regs, self.nb_regs, self.far_regs
        hw = self.reg_w[home] / self.reg_w[home].sum()
        nbw = self.reg_w[nb] / self.reg_w[nb].sum()
        n_home = max(12, round(N / 250))
        reg = list(rng.choice(home, n_home, p=hw))
        reg += list(rng.choice(nb, max(3, round(N * 0.03 / 250)), p=nbw))
        for r in far:
            reg += [r] * (2 + round(N / 200_000))
        reg_arr = np.array(reg)
        m = reg_arr.size
        chain = np.where(rng.random(m) < self.cfg.chain_share, rng.choice(len(V.CHAINS), m, p=[0.3, 0.22, 0.18, 0.12, 0.1, 0.08]), -1)
        lat, lon = self._scatter(rng, reg_arr, 3.0, 6.0)
        # next-door pharmacies of L2/L3 hospitals (chain branches ~150 m away)
        hosp = np.flatnonzero((self.inst_level >= 2) & (self.inst_pref <= 1))
        off = rng.uniform(0.08, 0.25, hosp.size) / KM_PER_DEG_LAT
        nd_lat = np.round(self.inst_lat[hosp] + off, 6)
        nd_lon = np.round(self.inst_lon[hosp] + off * 0.8, 6)
        nd_chain = rng.choice(len(V.CHAINS), hosp.size, p=[0.3, 0.22, 0.18, 0.12, 0.1, 0.08])
        region = np.concatenate([reg_arr, self.inst_region[hosp]])
        chain = np.concatenate([chain, nd_chain])
        lat = np.concatenate([lat, nd_lat])
        lon = np.concatenate([lon, nd_lon])
        next_to = np.concatenate([np.full(m, -1), hosp])
        perm = rng.permutation(region.size)
        self.ph_region, self.ph_chain = region[perm], chain[perm]
        self.ph_lat, self.ph_lon, ph_next = lat[perm], lon[perm], next_to[perm]
        self.ph_pref = self.reg_pref[self.ph_region]
        n = region.size
        self.n_ph = n
        self.ph_size = np.where(self.ph_chain >= 0, rng.uniform(0.8, 2.0, n), rng.uniform(0.3, 1.0, n))
        self.ph_size[ph_next >= 0] *= 1.5
        self.hosp_pharm = np.full(self.n_inst, -1, dtype=np.int64)
        self.hosp_pharm[ph_next[ph_next >= 0]] = np.flatnonzero(ph_next >= 0)
        # a few 24-hour chain branches in the home prefecture (normal night sales)
        cand = np.flatnonzero((self.ph_chain >= 0) & (self.ph_pref == 0))
        self.ph_24h = np.zeros(n, dtype=bool)
        self.ph_24h[rng.choice(cand, max(1, round(cand.size / 25)), replace=False)] = True
        self.ph_size[self.ph_24h] *= 1.5
        names, seen = [], {}
        for i in range(n):
            r = int(self.ph_region[i])
            streets = V.STREETS[self.reg_city[r]]
            st = streets[int(rng.integers(0, len(streets)))]
            if self.ph_chain[i] >= 0:
                nm = f"{V.CHAINS[self.ph_chain[i]]}（{self.reg_name[r]}{st}店）"
            else:
                nm = f"{self.reg_name[r]}{st}{V.PHARMACY_SUFFIX[int(rng.integers(0, len(V.PHARMACY_SUFFIX)))]}"
            c = seen.get(nm, 0)
            seen[nm] = c + 1
            names.append(nm if c == 0 else f"{nm[:-2]}{c + 1}店）" if nm.endswith("店）") else f"{nm}{c + 1}号店")
        self.ph_name = names
        self.ph_width = id_width(4, n)
        # pharmacists: 1-3 per pharmacy, registered without institution
        cnt = rng.integers(1, 4, n)
        self.ph_doc_count = cnt
        self.ph_doc_start = self.n_doc_inst + np.concatenate([[0], np.cumsum(cnt)[:-1]])
        npc = int(cnt.sum())
        self.n_doc = self.n_doc_inst + npc
        self.doc_inst = np.concatenate([self.doc_inst, np.full(npc, -1)])
        self.doc_dept = np.concatenate([self.doc_dept, np.full(npc, -1, dtype=np.int16)])
        self.doc_title = np.concatenate([self.doc_title, rng.choice([5, 6], npc, p=[0.7, 0.3])])
        self.doc_name = self._names(rng, self.n_doc, rng.random(self.n_doc) < 0.5)
        self.doc_width = id_width(5, self.n_doc)

    def _build_terminals(self, rng) -> None:
        lvl, kind = self.inst_level, self.inst_kind
        ci = np.where(lvl == 3, 4, np.where(lvl == 2, rng.integers(2, 5, self.n_inst),
                                            np.where(kind == K_VILLAGE, 1, rng.integers(1, 3, self.n_inst))))
        cp = np.where(self.ph_24h | (self.ph_size > 1.8), 3, rng.integers(1, 4, self.n_ph))
        self.inst_term_count, self.ph_term_count = ci, cp
        self.inst_term_start = np.concatenate([[0], np.cumsum(ci)[:-1]])
        self.ph_term_start = int(ci.sum()) + np.concatenate([[0], np.cumsum(cp)[:-1]])
        ids = []
        for i in range(self.n_inst):
            pid = self.inst_id(i)
            ids += [f"T{pid}-{k + 1:02d}" for k in range(ci[i])]
        for i in range(self.n_ph):
            pid = self.ph_id(i)
            ids += [f"T{pid}-{k + 1:02d}" for k in range(cp[i])]
        self.inst_online_term = np.full(self.n_inst, -1, dtype=np.int64)
        if self.cfg.lookalike("internet_hospital") > 0:  # 互联网医院: one online channel per hub
            for i in np.flatnonzero(lvl == 3):
                self.inst_online_term[i] = len(ids)
                ids.append(f"T{self.inst_id(i)}-NET")
        self.term_ids = ids
        self.term_inst = np.concatenate([np.repeat(np.arange(self.n_inst), ci), np.full(int(cp.sum()), -1)])
        self.term_ph = np.concatenate([np.full(int(ci.sum()), -1), np.repeat(np.arange(self.n_ph), cp)])
        online = np.flatnonzero(self.inst_online_term >= 0)
        if online.size:
            self.term_inst = np.concatenate([self.term_inst, online])
            self.term_ph = np.concatenate([self.term_ph, np.full(online.size, -1)])

    # ----------------------------------------------------------------------------------------
    def inst_id(self, i: int) -> str:
        return f"H{int(i) + 1:0{self.inst_width}d}"

    def ph_id(self, i: int) -> str:
        return f"Y{int(i) + 1:0{self.ph_width}d}"

    def doc_id(self, i: int) -> str:
        return f"D{int(i) + 1:0{self.doc_width}d}"

    def pat_id(self, i: int) -> str:
        return f"PT{int(i) + 1:0{self.pat_width}d}"

    def card_id(self, i: int) -> str:
        return f"K{int(i) + 1:0{self.card_width}d}"

    # ----------------------------------------------------------------------------------------
    def _names(self, rng, n: int, male: np.ndarray, surname: np.ndarray | None = None) -> np.ndarray:
        sw = 1.0 / (np.arange(len(V.SURNAMES)) + 8.0)
        if surname is None:
            surname = rng.choice(len(V.SURNAMES), n, p=sw / sw.sum())
        sur = np.array(V.SURNAMES)[surname]
        gm, gf = np.array(V.GIVEN_M), np.array(V.GIVEN_F)
        g1 = np.where(male, gm[rng.integers(0, gm.size, n)], gf[rng.integers(0, gf.size, n)])
        g2 = np.where(male, gm[rng.integers(0, gm.size, n)], gf[rng.integers(0, gf.size, n)])
        two = rng.random(n) < 0.65
        return np.char.add(np.char.add(sur, g1), np.where(two, g2, ""))

    def _build_people(self) -> None:
        rng = self.rngs["people"]
        N = self.N
        # nursing homes: 15-40 unrelated residents sharing one address
        n_nh = max(1, round(N / self.cfg.patients_per_nursing_home))
        nh_sizes = rng.integers(15, 41, n_nh)
        cap = max(15, int(self.cfg.nursing_home_cap * N))
        while nh_sizes.sum() > cap and nh_sizes.size > 1:
            nh_sizes = nh_sizes[:-1]
        nh_sizes = np.minimum(nh_sizes, max(1, N // 10))
        R = int(nh_sizes.sum())
        M = N - R
        # households over the other M people
        hs = rng.choice([1, 2, 3, 4, 5], int(M / 2.4) + 20, p=[0.24, 0.32, 0.24, 0.13, 0.07])
        cs = np.cumsum(hs)
        k = int(np.searchsorted(cs, M))
        hs = hs[: k + 1].copy()
        hs[-1] -= int(cs[k] - M)
        hs = hs[hs > 0]
        H = hs.size
        hh = np.repeat(np.arange(H), hs)
        pos = np.arange(M) - np.repeat(np.cumsum(hs) - hs, hs)
        head_age = np.clip(np.round(rng.triangular(22, 45, 88, H)), 22, 90).astype(int)
        ha = head_age[hh]
        elder_flag = (pos >= 2) & (rng.random(M) < 0.25) & (ha < 65)
        child_age = ha - rng.integers(22, 39, M)
        child_age = np.where(child_age >= 0, child_age, rng.integers(0, 3, M))
        age = np.where(pos == 0, ha,
                       np.where(pos == 1, np.clip(ha + np.round(rng.normal(0, 3, M)), 20, 95),
                                np.where(elder_flag, np.clip(ha + rng.integers(22, 33, M), 0, 95),
                                         child_age))).astype(int)
        head_male = rng.random(H) < 0.55
        male = np.where(pos == 0, head_male[hh], np.where(pos == 1, ~head_male[hh], rng.random(M) < 0.51))
        male = np.where(elder_flag, rng.random(M) < 0.45, male)
        # household region: 97% home prefecture, 3% neighbouring prefecture
        in_nb = rng.random(H) < 0.03
        hreg = np.where(in_nb, rng.choice(self.nb_regs, H, p=self.reg_w[self.nb_regs] / self.reg_w[self.nb_regs].sum()),
                        rng.choice(self.home_regs, H, p=self.reg_w[self.home_regs] / self.reg_w[self.home_regs].sum()))
        # nursing-home residents: one household each, one shared address per home
        nh_of = np.repeat(np.arange(n_nh), nh_sizes)
        nh_reg = rng.choice(self.home_regs, n_nh, p=self.reg_w[self.home_regs] / self.reg_w[self.home_regs].sum())
        self.nh_room = np.full(n_nh, -1, dtype=np.int64)
        rooms = np.flatnonzero(self.inst_role == ROLE_CARE_ROOM)
        if rooms.size:  # homes with a medical room of their own live in the room's district
            k = min(rooms.size, n_nh)
            self.nh_room[:k] = rooms[:k]
            nh_reg[:k] = self.inst_region[rooms[:k]]
        all_hh = np.concatenate([hh, H + np.arange(R)])
        all_pos = np.concatenate([pos, np.zeros(R, dtype=int)])
        all_age = np.concatenate([age, rng.integers(70, 96, R)])
        all_male = np.concatenate([male, rng.random(R) < 0.4])
        all_reg_hh = np.concatenate([hreg[hh], nh_reg[nh_of]])
        all_nh = np.concatenate([np.full(M, -1), nh_of])
        all_elder = np.concatenate([elder_flag, np.zeros(R, dtype=bool)])
        n_hh = H + R
        # household-level attributes
        sw = 1.0 / (np.arange(len(V.SURNAMES)) + 8.0)
        hh_surname = rng.choice(len(V.SURNAMES), n_hh, p=sw / sw.sum())
        hh_low = rng.random(n_hh) < 0.05
        # shuffle patients so that ids reveal nothing
        perm = rng.permutation(N)
        self.hh = all_hh[perm]
        self.pos = all_pos[perm]
        self.age = all_age[perm]
        self.male = all_male[perm]
        self.region = all_reg_hh[perm]
        self.nh = all_nh[perm]
        elder = all_elder[perm]
        self.n_hh = n_hh
        self.hh_region = np.concatenate([hreg, nh_reg[nh_of]])
        self.pref = self.reg_pref[self.region]
        self.pat_width = id_width(8, N)
        self.nh_reg = nh_reg
        self.n_nh = n_nh
        # members by household
        order = np.lexsort((self.pos, self.hh))
        self.hh_members = order
        self.hh_size = np.bincount(self.hh, minlength=n_hh)
        self.hh_start = np.concatenate([[0], np.cumsum(self.hh_size)[:-1]])
        self.hh_head = order[self.hh_start]
        # names: household surname for head and children; spouses and elders their own
        own = (self.pos == 1) | elder
        surname = np.where(own, rng.choice(len(V.SURNAMES), N, p=sw / sw.sum()), hh_surname[self.hh])
        self.name = self._names(rng, N, self.male, surname)
        # birth dates and 身份证号
        self.birth_day = (self.day0 - np.round(self.age * 365.25).astype(np.int64)
                          - rng.integers(0, 365, N)).astype(np.int64)
        sexbit = self.male.astype(np.int64)
        o = np.lexsort((sexbit, self.birth_day, self.region))
        ko = np.stack([self.region[o], self.birth_day[o], sexbit[o]])
        newrun = np.ones(N, dtype=bool)
        newrun[1:] = np.any(ko[:, 1:] != ko[:, :-1], axis=0)
        runstart = np.maximum.accumulate(np.where(newrun, np.arange(N), 0))
        rank = np.empty(N, dtype=np.int64)
        rank[o] = np.arange(N) - runstart
        v = np.minimum(rank * 7 + rng.integers(0, 7, N), 498) + 1
        self.id_number = id_numbers(self.reg_code[self.region], self.birth_day, 2 * v + sexbit)
        # insurance, low income
        adult = (self.age >= 18) & (self.age < 60)
        emp = np.where(adult, rng.random(N) < 0.62, np.where(self.age >= 60, rng.random(N) < 0.45, False))
        self.low_income = hh_low[self.hh]
        emp &= ~(self.low_income & (rng.random(N) < 0.9))
        self.employee = emp
        # deaths (~0.8% per year, strongly age dependent)
        haz = 0.0008 * np.exp((self.age - 50) / 11.0)
        haz = haz * (0.008 * self.ndays / 365.0) / haz.mean()
        dead = rng.random(N) < np.clip(haz, 0, 0.5)
        self.death_day = np.where(dead, self.day0 + rng.integers(0, self.ndays, N), -1).astype(np.int64)
        self.alive_end = np.where(dead, (self.death_day + 1) * DAY - 1, self.t_end - 1).astype(np.int64)
        # chronic conditions (~15%)
        pc = np.select([self.age < 30, self.age < 45, self.age < 60, self.age < 75], [0.01, 0.05, 0.17, 0.33], 0.45)
        chronic = rng.random(N) < pc
        cw = np.array([c[2] for c in V.CHRONIC])
        self.chronic = np.where(chronic, rng.choice(len(V.CHRONIC), N, p=cw / cw.sum()), -1)
        self.chronic_amount = np.round(np.exp(rng.normal(np.log(160), 0.45, N)) * 100).astype(np.int64)
        # fund share
        share = np.where(self.employee, rng.uniform(0.70, 0.85, N), rng.uniform(0.50, 0.65, N))
        share = np.where(self.low_income, np.minimum(share + rng.uniform(0.08, 0.15, N), 0.95), share)
        self.fund_share = share
        # visit profile: 0 child <14, 1 woman 18-45, 2 adult, 3 elder 65+
        self.profile = np.select([self.age < 14, (~self.male) & (self.age >= 18) & (self.age <= 45),
                                  self.age < 65], [0, 1, 2], 3)
        self._build_contacts()

    # ----------------------------------------------------------------------------------------
    def _addresses(self, rng, city: np.ndarray, dist: np.ndarray, rural: np.ndarray) -> np.ndarray:
        n = city.size
        street = np.empty(n, dtype=object)
        for c in sorted(set(city.tolist())):
            sel = city == c
            st = np.array(V.STREETS[c])
            street[sel] = st[rng.integers(0, st.size, int(sel.sum()))]
        street = street.astype(str)
        cat = np.char.add
        num = rng.integers(1, 400, n).astype(str)
        bldg = rng.integers(1, 40, n).astype(str)
        unit = rng.integers(1, 7, n).astype(str)
        room = (rng.integers(1, 25, n) * 100 + rng.integers(1, 5, n)).astype(str)
        urban = cat(cat(cat(cat(cat(cat(cat(cat(cat(cat(city, dist), street), num), "号"), bldg), "号楼"), unit), "单元"), room), "室")
        vil = cat(np.array(V.VILLAGE_PREFIX)[rng.integers(0, len(V.VILLAGE_PREFIX), n)],
                  np.array(V.VILLAGES)[rng.integers(0, len(V.VILLAGES), n)])
        grp = rng.integers(1, 13, n).astype(str)
        rur = cat(cat(cat(cat(cat(cat(cat(city, dist), vil), "村"), grp), "组"), num), "号")
        return np.where(rural, rur, urban)

    def _build_contacts(self) -> None:
        rng = self.rngs["contacts"]
        N = self.N
        hh_reg = self.hh_region
        n_hh = self.n_hh
        # addresses per household (distinct households never share an address)
        city = np.array(self.reg_city)[hh_reg]
        dist = np.array(self.reg_name)[hh_reg]
        rural = self.reg_rural[hh_reg] & (rng.random(n_hh) < 0.6)
        addr = self._addresses(rng, city, dist, rural)
        for _ in range(20):
            _, first = np.unique(addr, return_index=True)
            if first.size == n_hh:
                break
            dup = np.ones(n_hh, dtype=bool)
            dup[first] = False
            addr[dup] = self._addresses(rng, city[dup], dist[dup], rural[dup])
        # nursing homes
        nh_addr = []
        for k in range(self.n_nh):
            r = int(self.nh_reg[k])
            st = V.STREETS[self.reg_city[r]][int(rng.integers(0, len(V.STREETS[self.reg_city[r]])))]
            nh_addr.append(f"{self.reg_city[r]}{self.reg_name[r]}{st}{int(rng.integers(1, 300))}号"
                           f"{V.PRIVATE_BRANDS[k % len(V.PRIVATE_BRANDS)]}养老院")
        nh_addr = np.array(nh_addr) if nh_addr else np.array([], dtype="U1")
        is_nh = self.nh >= 0
        p_addr = addr[self.hh].astype(object)
        if is_nh.any():
            p_addr[is_nh] = nh_addr[self.nh[is_nh]]
        self.address = p_addr
        self.nh_address = nh_addr
        pats = [np.arange(N)]
        kinds = [np.full(N, CK_ADDRESS)]
        vals = [p_addr]
        head = self.hh_head[self.hh]
        # phones
        n_phone_draw = N + self.n_nh
        phones = unique_draw(rng, n_phone_draw, draw_phones)
        own_phone = np.where(is_nh, rng.random(N) < 0.4,
                             np.where(self.age >= 14, rng.random(N) < 0.93, False))
        own_phone &= ~((self.age >= 75) & (rng.random(N) < 0.3))
        phone = np.where(own_phone, phones[:N], "")
        head_phone = phone[head]
        use_head = (~own_phone) & (~is_nh) & (head != np.arange(N)) & (head_phone != "")
        phone = np.where(use_head, head_phone, phone)
        if self.n_nh:
            nh_phone = phones[N:]
            phone = np.where(is_nh & ~own_phone, nh_phone[np.maximum(self.nh, 0)], phone)
            self.nh_phone = nh_phone
        else:
            self.nh_phone = np.array([], dtype="U11")
        self.phone = phone
        has = phone != ""
        pats.append(np.flatnonzero(has))
        kinds.append(np.full(int(has.sum()), CK_PHONE))
        vals.append(phone[has].astype(object))
        # bank accounts
        banks = unique_draw(rng, N, lambda r, k: draw_bank_accounts(r, k, V.BANK_BINS))
        own_bank = (self.age >= 18) & np.where(self.employee, rng.random(N) < 0.9, rng.random(N) < 0.55) & ~is_nh
        bank = np.where(own_bank, banks, "")
        head_bank = bank[head]
        share_b = (~own_bank) & (~is_nh) & (head != np.arange(N)) & (head_bank != "") & \
                  (((self.age < 18) & (rng.random(N) < 0.3)) | ((self.age >= 70) & (rng.random(N) < 0.4)))
        bank = np.where(share_b, head_bank, bank)
        has = bank != ""
        pats.append(np.flatnonzero(has))
        kinds.append(np.full(int(has.sum()), CK_BANK))
        vals.append(bank[has].astype(object))
        # devices (e-voucher phones): elderly and children often use a relative's device
        devs = unique_draw(rng, N, draw_devices)
        own_dev = np.where((self.age >= 18) & (self.age < 70), rng.random(N) < 0.6,
                           np.where(self.age >= 70, rng.random(N) < 0.25, False)) & ~is_nh
        dev = np.where(own_dev, devs, "")
        head_dev = dev[head]
        share_d = (~own_dev) & (~is_nh) & (head != np.arange(N)) & (head_dev != "") & \
                  (((self.age < 14) & (rng.random(N) < 0.3)) | ((self.age >= 70) & (rng.random(N) < 0.35)))
        dev = np.where(share_d, head_dev, dev)
        has = dev != ""
        pats.append(np.flatnonzero(has))
        kinds.append(np.full(int(has.sum()), CK_DEVICE))
        vals.append(dev[has].astype(object))
        # registered families (家庭共济): ~60% of multi-person households, one row per direction
        reg_hh = (self.hh_size >= 2) & (rng.random(n_hh) < 0.6)
        self.hh_family = reg_hh
        fa, fb = [], []
        for s in range(2, 6):
            hsel = np.flatnonzero(reg_hh & (self.hh_size == s))
            if hsel.size == 0:
                continue
            mem = self.hh_members[self.hh_start[hsel][:, None] + np.arange(s)[None, :]]
            for i in range(s):
                for j in range(s):
                    if i != j:
                        fa.append(mem[:, i])
                        fb.append(mem[:, j])
        if fa:
            fa_arr, fb_arr = np.concatenate(fa), np.concatenate(fb)
            pats.append(fa_arr)
            kinds.append(np.full(fa_arr.size, CK_FAMILY))
            vals.append(np.array([self.pat_id(x) for x in fb_arr], dtype=object))
        self.contacts = [pats, kinds, vals]
        self.family_registered = reg_hh[self.hh]

    # ----------------------------------------------------------------------------------------
    def _build_cards(self) -> None:
        rng = self.rngs["cards"]
        N = self.N
        issued = rng.integers(self.day0 - 12 * 365, self.day0 - 30, N)
        issued = np.maximum(issued, self.birth_day + 1)
        lost = rng.random(N) < 0.03
        # lost-and-replaced cards must be alive at the replacement date
        repl = self.day0 + rng.integers(20, max(21, self.ndays - 20), N)
        lost &= (self.death_day < 0) | (repl < self.death_day - 5)
        lost_p = np.flatnonzero(lost)
        self.card_pat = np.concatenate([np.arange(N), lost_p])
        self.card_issued = np.concatenate([issued, repl[lost_p]]).astype(np.int64)
        status = np.zeros(self.card_pat.size, dtype=np.int8)  # 0 active, 1 lost, 2 cancelled
        status[lost_p] = 1
        self.new_card = np.full(N, -1, dtype=np.int64)
        self.new_card[lost_p] = N + np.arange(lost_p.size)
        self.repl_day = np.where(lost, repl, -1).astype(np.int64)
        # some deceased persons' current cards were cancelled after death
        cur = np.where(self.new_card >= 0, self.new_card, np.arange(N))
        canc = (self.death_day >= 0) & (rng.random(N) < 0.35)
        status[cur[canc]] = 2
        self.card_status = status
        self.card_kind = np.full(self.card_pat.size, CARD_PHYSICAL, dtype=np.int8)
        self.ev_card = np.full(N, -1, dtype=np.int64)
        if self.cfg.e_voucher_share > 0:
            self._e_vouchers(canc)
        self.n_card = self.card_pat.size
        self.card_width = id_width(9, self.n_card)

    def card_at(self, pat: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The card a patient holds at time ``t`` (old card before a replacement, new after)."""
        pat = np.asarray(pat)
        nc = self.new_card[pat]
        use_new = (nc >= 0) & (np.asarray(t) >= self.repl_day[pat] * DAY)
        return np.where(use_new, nc, pat)

    # ----------------------------------------------------------------------------------------
    def pool(self, cat: str, r: int) -> tuple[np.ndarray, np.ndarray]:
        """Candidate providers of a category for people living in region ``r`` and their weights.

        Categories: ``hub`` (level 3), ``l2``, ``l1op`` (level 1 for visits), ``l1ip`` (level 1
        with beds), ``ph`` (pharmacies). Only providers of the same prefecture; weights decay
        with distance.
        """
        key = (cat, int(r))
        if key in self._pools:
            return self._pools[key]
        pref = self.reg_pref[r]
        if cat == "ph":
            cand = np.flatnonzero(self.ph_pref == pref)
            lat, lon, size, scale = self.ph_lat[cand], self.ph_lon[cand], self.ph_size[cand], 2.5
        else:
            same = (self.inst_pref == pref) & self.inst_serves_public
            if cat == "hub":
                m, scale = (self.inst_level == 3) & ~self.inst_private, 15.0
            elif cat == "l2":
                m, scale = self.inst_level == 2, 8.0
            elif cat == "l1op":
                m, scale = (self.inst_level == 1) & ((self.inst_kind != K_VILLAGE) | (self.inst_region == r)), 2.5
            elif cat == "l1ip":
                m, scale = (self.inst_level == 1) & self.inst_ip, 4.0
            else:
                raise KeyError(cat)
            cand = np.flatnonzero(m & same)
            if cand.size == 0:  # fall back to any level-2 hospital of the prefecture
                cand = np.flatnonzero(same & (self.inst_level == 2))
            lat, lon, size = self.inst_lat[cand], self.inst_lon[cand], self.inst_size[cand]
        d = haversine_km(self.reg_lat[r], self.reg_lon[r], lat, lon)
        w = size * np.exp(-d / scale) + 1e-9
        self._pools[key] = (cand, w / w.sum())
        return self._pools[key]

    def sample(self, rng, cat: str, regions: np.ndarray) -> np.ndarray:
        out = np.empty(regions.size, dtype=np.int64)
        for r in np.unique(regions):
            sel = np.flatnonzero(regions == r)
            cand, p = self.pool(cat, int(r))
            out[sel] = cand[rng.choice(cand.size, sel.size, p=p)]
        return out
