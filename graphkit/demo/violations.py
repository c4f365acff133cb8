"""Realistic claim items and planted rule-pack violations (variant cities only).

With ``CityConfig(rule_items=True)`` the city's 费用明细 follow the rule base's knowledge base
(``graphkit/data/rules/kb/items.toml``) instead of random codes and prices: each claim type
bills what it plausibly would (pharmacy: drugs; outpatient: an exam, a treatment, drugs;
inpatient: bed, nursing and ward-round days, admission assessment, exams, drugs, surgery),
prices at or under the ceiling of the provider's level (about a third exactly at it), quantities
within the per-visit and per-day limits, days supply of 3–7 days for acute drugs and a 长处方
of up to 30 days for registered chronic patients' chronic drugs, never longer than until the
person's next dispensing (plus 3 days). Sex-, age- and indication-limited items go only to
people they are allowed for. Item amounts still sum exactly to each claim's total.

Then violations of every rule category are planted on normal claims, a few claims per
provider × rule × month (one truth instance each, kind ``rule_violation``), among legal
look-alikes the normal lines already hold (prices exactly at the ceiling, blood glucose billed
several times a day within its limit, 长处方 for registered chronic patients, sex- and age-limited
items for the people they fit, a bed for every day of the stay). The non-medical goods of the
planted card-burst episodes (套现 at a pharmacy) are rule violations too (FW-004) and are
recorded as such.

Every draw comes from ``World.vrng`` streams, so the default city is untouched.

Examples
--------
>>> from graphkit.demo.violations import PLANTED
>>> sorted({r[:2] for r in PLANTED})
['BZ', 'CF', 'CH', 'CL', 'DB', 'FW', 'XJ']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from . import _vocab as V
from ._util import DAY, money, timestamps

__all__ = ["RuleItems", "PLANTED"]

#: rules planted (rule id → (category, claim types it is planted on: 0 out, 1 in, 2 pharmacy))
PLANTED: dict[str, tuple[str, tuple[int, ...]]] = {
    "FW-001": ("超支付范围", (0, 2)), "FW-002": ("超支付范围", (0, 2)), "FW-003": ("超支付范围", (0, 2)),
    "FW-004": ("超支付范围", (2,)), "FW-005": ("超支付范围", (0,)),
    "BZ-001": ("超支付标准", (0, 1)),
    "CF-001": ("重复计费", (0,)), "CF-002": ("重复计费", (1,)), "CF-003": ("重复计费", (0,)),
    "CF-004": ("重复计费", (1,)),
    "CH-001": ("串换项目", (0, 2)), "CH-002": ("串换项目", (0, 2)),
    "XJ-001": ("虚记项目", (1,)), "XJ-002": ("虚记项目", (1,)), "XJ-003": ("虚记项目", (1,)),
    "XJ-004": ("虚记项目", (0,)),
    "CL-001": ("超量开药", (2,)), "CL-002": ("超量开药", (0, 2)), "CL-003": ("超量开药", (2,)),
    "CL-004": ("超量开药", (2,)),
    "DB-001": ("低标准入院", (1,)), "DB-002": ("低标准入院", (1,)),
}
_RULES = list(PLANTED)

ACUTE = ("XN02BEA001", "XJ01CAA041", "XJ01DDC036", "XA02BCA011", "XM01AEB011", "XR05DAF021", "ZA01AAL011",
         "XA07BCM011", "XR06AXL021", "ZA09AAL011")
CHRONIC = {"I10": ("XC08CAN021", "XC08CAA031", "XC09CAX011", "XB01ACA011", "XC10AAA011"),
           "E11": ("XA10BAE001", "XA10BBG011", "XA10ABY011"),
           "J44": ("XR03ACS011",),
           "I25": ("XB01ACL021", "XC10AAR011", "ZA12BAF011", "XB01ACA011")}
EXAMS = ("250101001", "250102001", "250305001", "250307001", "310701001", "210102001", "220201001", "250303001")
TREAT = ("120400001", "120300001", "310603001", "430000001", "430000002", "120600001")
#: treatments and the material that goes with them
TREAT_MAT = {"120400001": "C01010001", "120300001": "C01030001"}
#: outpatient lines added while a claim's total exceeds what its lines can hold
EXT_OUT = ("220201001", "210301001", "210500001", "340200001", "250303001", "250307001", "250305001",
           "210102001", "310701001", "430000002")
INP_DRUGS = ("XA02BCA011", "XJ01CAA041", "XJ01DDC036", "XN02BEA001", "ZA09AAL011", "XA07BCM011")
ORAL = ("XA02BCA011", "XN02BEA001", "ZA09AAL011", "XA07BCM011", "XR05DAF021")
OTHER = ("ZZ0000001", "其他医疗服务费", "treatment")  # not in the catalogue: absorbs a rare shortfall
WEIRD_NAMES = ("西洋参含片", "阿胶块", "冬虫夏草胶囊", "蛋白粉")
BIG = 10 ** 6


def _per_supply(most, ds, days):
    """Most units of a line whose supply of ``days`` is cut to ``ds``: proportionally fewer, at least one."""
    return np.maximum(np.ceil(most * ds / days), 1)


@dataclass
class _Lines:
    """Item lines of one chunk, in claim order (index arrays)."""

    c: list = field(default_factory=list)      # claim row in the chunk
    code: list = field(default_factory=list)   # code index
    q: list = field(default_factory=list)      # quantity (initial)
    cap: list = field(default_factory=list)    # most units (quantity scaled up to it)
    qfix: list = field(default_factory=list)   # quantity fixed
    pfix: list = field(default_factory=list)   # price fixed (unit given in price)
    price: list = field(default_factory=list)  # unit price (yuan)
    ds: list = field(default_factory=list)     # days supply (nan: none)
    off: list = field(default_factory=list)    # item day offset from the claim's start day
    name: list = field(default_factory=list)   # billed name override (-1: the code's)
    cat: list = field(default_factory=list)    # billed category override (-1: the code's)
    planted: list = field(default_factory=list)
    additive: list = field(default_factory=list)  # planted on top of a normal line of the same code
    planting: int = 0

    def add(self, c, code, q=1, cap=None, qfix=False, pfix=False, price=np.nan, ds=np.nan, off=0, name=-1, cat=-1):
        n = np.asarray(c).size
        if n == 0:
            return
        b = lambda v, d=np.float64: np.broadcast_to(np.asarray(v, dtype=d), (n,))  # noqa: E731
        self.c.append(np.asarray(c, np.int64))
        self.code.append(b(code, np.int64))
        self.q.append(b(q))
        self.cap.append(b(q if cap is None else cap))
        self.qfix.append(b(qfix, bool))
        self.pfix.append(b(pfix, bool))
        self.price.append(b(price))
        self.ds.append(b(ds))
        self.off.append(b(off, np.int64))
        self.name.append(b(name, np.int64))
        self.cat.append(b(cat, np.int64))
        self.planted.append(b(self.planting, bool))
        self.additive.append(b(self.planting == 2, bool))

    def arrays(self) -> dict[str, np.ndarray]:
        """The lines sorted by claim; a code appears once per claim (planted lines win)."""
        out = {k: np.concatenate(getattr(self, k)) for k in ("c", "code", "q", "cap", "qfix", "pfix", "price", "ds",
                                                               "off", "name", "cat", "planted", "additive")}
        key = out["c"] * 4096 + out["code"]
        pk = key[out["planted"] & ~out["additive"]]
        keep = out["planted"] | ~np.isin(key, pk)
        first = np.zeros(key.size, bool)
        first[np.unique(np.where(out["planted"], -1, key), return_index=True)[1]] = True
        keep &= out["planted"] | first
        o = np.flatnonzero(keep)
        o = o[np.argsort(out["c"][o], kind="stable")]
        return {k: v[o] for k, v in out.items()}


class RuleItems:
    """Claim items consistent with the knowledge base, with planted violations (see module doc).

    ``make_rows(claim_ids, rows)`` writes the lines of the output claims at buffer ``rows``;
    ``instances(cid)`` lists the planted violations for ``truth.json``.
    """

    def __init__(self, w, ng, fin, fraud_rate: float = 1.0):
        from graphkit.rules.library import load_kb

        self.w = w
        kb = load_kb()
        it = kb.items
        self.rng = w.vrng("rule_items")
        codes = list(it.index) + [OTHER[0]]
        self.ix = {c: i for i, c in enumerate(codes)}
        self.codes = pa.array(codes, type=pa.string())
        self.names = pa.array(list(it["name"]) + [OTHER[1]] + list(WEIRD_NAMES), type=pa.string())
        cats = list(V.ITEM_CATEGORIES)
        self.catnames = pa.array(cats, type=pa.string())
        self.cat = np.array([cats.index(c) for c in it["category"]] + [cats.index(OTHER[2])])
        nan = np.array([np.nan])
        self.ceil = np.stack([np.r_[it[f"ceil_{k}"].fillna(it["ceil_all"]).to_numpy(float), nan]
                              for k in ("pharmacy", "l1", "l2", "l3")], axis=1)  # [code, level 0..3]
        vp = {c: p for cat in V.ITEMS.values() for c, _, p in cat}
        # non-catalogue prices: the vocabulary's list price (non-medical goods have no ceiling)
        for i, c in enumerate(codes):
            if np.isnan(self.ceil[i]).all() and c in vp:
                self.ceil[i] = vp[c]
        def col(name, default=np.nan):
            return np.r_[it[name].to_numpy(float), default]
        self.qv, self.qd = col("max_qty_visit"), col("max_qty_day")
        cap = np.fmin(self.qv, self.qd)
        cap = np.where(np.r_[it["once_per"].notna().to_numpy(), False], 1.0, cap)  # once a day / stay
        self.qcap = np.where(np.isnan(cap), BIG, cap)
        self.fraud_rate = fraud_rate
        self._claims(ng, fin)
        self._plant()

    # --------------------------------------------------------------------------------------
    def _claims(self, ng, fin) -> None:
        """Claim context in buffer-row space (all rows; only output rows are used)."""
        w = self.w
        C = ng.C.data()
        self.C, self.fin = C, fin
        n = C["pat"].size
        pat = C["pat"].astype(np.int64)
        self.pat = pat
        self.ctype = C["ctype"].astype(np.int64)
        self.sday = C["t0"] // DAY
        t1 = fin.t1
        self.eday = np.where(t1 >= 0, t1 // DAY, self.sday)
        self.los = np.maximum(self.eday - self.sday, 1)
        inst = C["inst"].astype(np.int64)
        self.level = np.where(inst >= 0, w.inst_level[np.maximum(inst, 0)], 0).astype(np.int64)
        self.prov = np.where(inst >= 0, inst, -1 - C["pharm"].astype(np.int64))
        self.male = w.male[pat].astype(bool)
        self.age = (self.sday - w.birth_day[pat]) / 365.25
        dx = np.array(w.dx_codes + [""], dtype=object)
        diag = dx[np.where(C["diag"] >= 0, C["diag"], len(w.dx_codes))]
        self.diag = diag
        self.chronic_of = np.full(n, -1, np.int64)   # index into CHRONIC keys
        for k, pre in enumerate(CHRONIC):
            m = np.array([d.startswith(pre) for d in diag], bool) if n else np.zeros(0, bool)
            self.chronic_of[m] = k
        self.surg = np.isin(C["dept"], (V.D["外科"], V.D["骨科"]))
        self.bone = np.array([d[:1] in ("S", "T", "M") for d in diag], bool) if n else np.zeros(0, bool)
        self.kept = fin.pos >= 0
        self.normal = (C["fraud"] < 0) & (C["prof"] == 0) & ~C["lk"]
        # the same person's earlier kept claim on the same day (then no once-a-day exam again)
        o = fin.order
        dup = np.zeros(n, bool)
        if o.size > 1:
            s = o[np.lexsort((C["t0"][o], self.sday[o], pat[o]))]
            dup[s[1:]] = (pat[s[1:]] == pat[s[:-1]]) & (self.sday[s[1:]] == self.sday[s[:-1]])
        self.dup_day = dup

    def _next_gap(self, exclude: np.ndarray) -> np.ndarray:
        """Days to the same person's next kept claim of the same kind (chronic-drug claim or
        other claim), ignoring ``exclude`` rows; large where none follows."""
        o = self.fin.order
        o = o[~exclude[o]]
        kind = (self.chronic_of[o] >= 0).astype(np.int64)
        s = o[np.lexsort((self.C["t0"][o], kind, self.pat[o]))]
        gap = np.full(self.pat.size, 400, np.int64)
        gap_any = gap.copy()
        if s.size > 1:
            same = (self.pat[s[1:]] == self.pat[s[:-1]]) & ((self.chronic_of[s[1:]] >= 0) == (self.chronic_of[s[:-1]] >= 0))
            gap[s[:-1][same]] = self.sday[s[1:][same]] - self.sday[s[:-1][same]]
        s = o[np.lexsort((self.C["t0"][o], self.pat[o]))]
        if s.size > 1:
            same = self.pat[s[1:]] == self.pat[s[:-1]]
            gap_any[s[:-1][same]] = self.sday[s[1:][same]] - self.sday[s[:-1][same]]
        return gap, gap_any

    # --------------------------------------------------------------------------------------
    def _plant(self) -> None:
        """Choose provider × month × rule episodes and mark their claims."""
        rng, w = self.rng, self.w
        n = self.pat.size
        self.viol = np.full(n, -1, np.int64)
        self.episodes: list[tuple[str, np.ndarray]] = []
        month = (self.sday.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64))
        ok = self.kept & self.normal
        age, male = self.age, self.male
        per_rule = max(2, int(round(w.N / 1500 * self.fraud_rate))) if self.fraud_rate > 0 else 0  # 0: compliant lines
        # CL-003: a chronic patient's pharmacy claim right after their refill (before it runs out)
        prev_refill = np.zeros(n, bool)
        o = self.fin.order
        s = o[np.lexsort((self.C["t0"][o], self.pat[o]))]
        if s.size > 1:
            a, b = s[:-1], s[1:]
            m = (self.pat[a] == self.pat[b]) & (self.chronic_of[a] >= 0) & (self.ctype[a] == 2) & \
                (self.sday[b] - self.sday[a] >= 4) & (self.sday[b] - self.sday[a] <= 15) & (self.chronic_of[b] < 0)
            prev_refill[b[m]] = True
        big = self.C["total"] >= 8000  # at least 80 yuan
        elig = {
            "FW-001": big, "FW-002": big & ((age >= 25) | (age <= 12)), "FW-003": big & (self.chronic_of < 0),
            "FW-004": big, "FW-005": big, "BZ-001": self.C["total"] >= 15000, "CF-001": big, "CF-002": self.los >= 2,
            "CF-003": big, "CF-004": np.ones(n, bool), "CH-001": big, "CH-002": big, "XJ-001": np.ones(n, bool),
            "XJ-002": np.ones(n, bool), "XJ-003": np.ones(n, bool), "XJ-004": big, "CL-001": big & (self.chronic_of < 0),
            "CL-002": big & (self.chronic_of < 0), "CL-003": prev_refill, "CL-004": big & (self.chronic_of < 0),
            "DB-001": (self.los <= 2) & (self.C["total"] <= 240000) & (self.level >= 2), "DB-002": (self.los <= 5) & (self.C["total"] <= 400000),
        }
        for rid in _RULES:
            _, types = PLANTED[rid]
            base = ok & np.isin(self.ctype, types) & elig[rid] & ~self.dup_day
            if rid in ("BZ-001", "CF-003", "XJ-004", "CF-001"):
                base &= self.ctype != 2
            if rid in ("DB-001", "DB-002", "CF-004", "XJ-001", "XJ-002", "XJ-003", "CF-002"):
                base &= ~self.surg & (self.C["prof"] == 0)
            for _ in range(per_rule):
                cand = np.flatnonzero(base & (self.viol < 0))
                if cand.size == 0:
                    break
                seed = cand[rng.integers(0, cand.size)]
                grp = cand[(self.prov[cand] == self.prov[seed]) & (month[cand] == month[seed])]
                k = int(min(grp.size, rng.integers(2, 6) if rid not in ("CL-003", "DB-001", "DB-002") else rng.integers(1, 3)))
                pick = rng.choice(grp, k, replace=False)
                # one episode per provider × rule × month
                if any(r == rid and self.prov[e[0]] == self.prov[seed] and month[e[0]] == month[seed]
                       for r, e in self.episodes):
                    continue
                self.viol[pick] = _RULES.index(rid)
                self.episodes.append((rid, np.sort(pick)))
        self.gap, self.gap_any = self._next_gap(self.viol == _RULES.index("CL-003"))

    # --------------------------------------------------------------------------------------
    def _pick(self, pool: tuple[str, ...], u: np.ndarray) -> np.ndarray:
        idx = np.array([self.ix[c] for c in pool])
        return idx[np.minimum((u * len(pool)).astype(np.int64), len(pool) - 1)]

    def make_rows(self, claim_ids: pa.Array, rows: np.ndarray) -> pa.Table:
        """The item lines of the output claims at buffer ``rows`` (in that order)."""
        from .city import _table

        rng = self.rng
        n = rows.size
        ct, lv = self.ctype[rows], self.level[rows]
        prof = self.C["prof"][rows]
        chron = self.chronic_of[rows]
        viol = self.viol[rows]
        vr = np.where(viol >= 0, np.array(_RULES + [""], dtype=object)[viol], "")
        age, male = self.age[rows], self.male[rows]
        gap, gap_any = self.gap[rows], self.gap_any[rows]
        dup = self.dup_day[rows]
        los = self.los[rows]
        L = _Lines()
        ar = np.arange(n)
        out, inp, ph = ct == 0, ct == 1, ct == 2
        reg = prof == 0
        zexam = np.array([d.startswith("Z00") for d in self.diag[rows]], bool)

        def ds_of(m, days, chronic=False):
            g = gap[m] if chronic else np.minimum(gap[m], gap_any[m])
            return np.minimum(days, np.maximum(g + 3, 1)).astype(float)

        def acute(m, u):  # a person's second claim of a day draws from other drugs than the first
            return np.where(dup[m], self._pick(ACUTE[7:], u), self._pick(ACUTE[:7], u))

        # ---- drugs (pharmacy and outpatient): chronic for registered chronic claims, else acute
        chronic_ok = (chron >= 0) & ~dup
        keys = list(CHRONIC)
        for j in range(3):
            pj = np.where(ph, 0.85 if j == 0 else (0.45 if j == 1 else 0.2), 0.7 if j == 0 else (0.3 if j == 1 else 0))
            m = (reg & (ph | out) & ~zexam & (rng.random(n) < pj)) | (reg & ph & (j == 0))
            mc = m & chronic_ok
            for k, pre in enumerate(keys):
                sel = np.flatnonzero(mc & (chron == k))
                pool = CHRONIC[pre]
                # the same drugs for a person every month
                code = np.array([self.ix[pool[(int(p) * 7 + j * 3) % len(pool)]] for p in self.pat[rows][sel]], np.int64)
                if j >= len(pool):
                    sel, code = sel[:0], code[:0]
                ds = ds_of(sel, 30, True)
                L.add(sel, code, q=1, cap=_per_supply(np.minimum(self.qcap[code], 6), ds, 30), ds=ds)
            sel = np.flatnonzero(m & ~chronic_ok)
            code = acute(sel, (rng.random(sel.size) + j / 3) % 1.0)
            nominal = rng.choice([3, 5, 7], sel.size)
            ds = ds_of(sel, nominal)
            L.add(sel, code, q=1, cap=_per_supply(np.minimum(self.qcap[code], 3), ds, nominal), ds=ds)
        # ---- outpatient exams and treatments
        m = reg & out & ~self.dup_day[rows]
        sel = np.flatnonzero(m & (rng.random(n) < 0.75) | (m & zexam))
        L.add(sel, self._pick(EXAMS[:4], rng.random(sel.size)))
        sel = np.flatnonzero(m & zexam)
        L.add(sel, self._pick(EXAMS[4:], rng.random(sel.size)))
        sel = np.flatnonzero(reg & out & ~zexam & ~dup & (rng.random(n) < 0.35))  # not twice a day
        tcode = self._pick(TREAT, rng.random(sel.size))
        L.add(sel, tcode, cap=np.where(np.isin(tcode, [self.ix[c] for c in ("120400001", "120300001")]), 3, 1))
        for t, mat in TREAT_MAT.items():
            s2 = sel[tcode == self.ix[t]]
            L.add(s2, self.ix[mat], cap=3)
        # blood glucose several times a day within its limit (look-alike of XJ-004)
        sel = np.flatnonzero(reg & out & (chron == keys.index("E11")) & (rng.random(n) < 0.5) & ~self.dup_day[rows])
        L.add(sel, self.ix["250302001"], q=rng.integers(2, 8, sel.size), qfix=True)
        # special profiles
        sel = np.flatnonzero(prof == 2)
        L.add(sel, self.ix["311000001"], qfix=True)
        L.add(sel, self.ix["XB03XAC011"], qfix=True)
        sel = np.flatnonzero(prof == 5)  # one of two sessions a day: one unit (max_qty_day = 2)
        L.add(sel, self.ix["340200001"], q=1, qfix=True)
        sel = np.flatnonzero(prof == 4)
        L.add(sel, self.ix["340200001"], cap=2)
        L.add(sel, self._pick(("430000001", "430000002"), rng.random(sel.size)))
        sel = np.flatnonzero(prof == 1)  # card-burst goods: non-medical lines with a drug
        fy = np.array([self.ix[c] for c, _, _ in V.ITEMS["non_medical"]])
        L.add(sel, fy[rng.integers(0, fy.size, sel.size)], cap=3)
        L.add(sel, fy[rng.integers(0, fy.size, sel.size)], cap=3)
        ds = ds_of(sel, 7)
        L.add(sel, acute(sel, rng.random(sel.size)), cap=_per_supply(2, ds, 7), ds=ds)
        # ---- limited items billed to the people they are meant for (legal look-alikes of FW-001 /
        # FW-002, and the lines a data-learnt limit learns a code's usual patients from)
        base = reg & (ph | out) & ~dup & ~zexam
        for code, who, rate in (("XG03DAH011", ~male & (age >= 18) & (age <= 45), 0.05),  # progesterone: women
                                ("XG04CAT011", male & (age >= 50), 0.06),                 # tamsulosin: older men
                                ("ZR05XER011", age <= 12, 0.30),                          # a children's syrup
                                ("XJ01MAL021", age >= 18, 0.03)):                         # levofloxacin: adults
            sel = np.flatnonzero(base & who & (rng.random(n) < rate))
            ds = ds_of(sel, 7)
            L.add(sel, self.ix[code], cap=_per_supply(np.minimum(self.qcap[self.ix[code]], 2), ds, 7), ds=ds)
        for code in ("C01020001", "C02010001"):  # gauze and catheters sold at pharmacies (materials)
            sel = np.flatnonzero(reg & ph & ~dup & (rng.random(n) < 0.02))
            L.add(sel, self.ix[code], cap=3)
        # ---- inpatient stays
        m = inp & (prof != 3)
        dbl = rng.random(n) < 0.25
        sel = np.flatnonzero(inp)
        dbl &= vr != "XJ-001"
        L.add(sel, np.where(dbl[sel] & (lv[sel] > 0), self.ix["110900002"], self.ix["110900001"]), q=los[sel], qfix=True)
        L.add(sel, self.ix["120100001"], q=los[sel], qfix=True)
        L.add(sel, self.ix["110200002"], q=los[sel], qfix=True)
        sel = np.flatnonzero(inp & (vr != "DB-001") & (vr != "DB-002"))
        L.add(sel, self.ix["111000003"], qfix=True)
        sel1 = sel[~dup[sel]]  # admitted after a visit the same day: its exams were done there
        L.add(sel1, self.ix["250101001"], off=0)
        L.add(sel1, self._pick(("250305001", "250307001"), rng.random(sel1.size)), off=1)
        L.add(sel1, self.ix["210102001"], off=0)
        L.add(sel, self.ix["120400001"], q=rng.integers(1, 5, sel.size), qfix=True, off=rng.integers(0, 2, sel.size))
        L.add(sel, self.ix["C01010001"], q=1, cap=4, off=0)
        sel2 = sel[self.surg[rows][sel] & m[sel]]
        L.add(sel2, self.ix["330000001"], cap=4, off=1)
        L.add(sel2, self.ix["330100001"], qfix=True, off=1)
        # gauze and a catheter after surgery (no 换药 on a stay: the catalogue's 换药 includes its gauze)
        L.add(sel2[rng.random(sel2.size) < 0.6], self.ix["C01020001"], cap=4, off=1)
        L.add(sel2[rng.random(sel2.size) < 0.5], self.ix["C02010001"], cap=2, off=1)
        sel3 = sel2[self.bone[rows][sel2] & (lv[sel2] >= 2)]
        L.add(sel3, self.ix["C03010001"], cap=3, off=1)
        sel = np.flatnonzero(prof == 3)
        L.add(sel, self._pick(("XL01CDZ011", "XL01XAS011"), rng.random(sel.size)), cap=2, off=0)
        for j in range(3):  # elastic drug lines take what the stay's total leaves
            s = np.flatnonzero(inp & (vr != "DB-001"))
            off = (rng.random(s.size) * (los[s] + 1)).astype(np.int64)
            L.add(s, self._pick(INP_DRUGS, (rng.random(s.size) + j / 3) % 1), cap=BIG, off=off)
        L.planting = 1
        self._violations(L, rows, vr, age, male, los)
        A = L.arrays()
        A = self._extend(A, rows)
        return self._fit(A, rows, claim_ids, _table)

    # --------------------------------------------------------------------------------------
    def _violations(self, L: _Lines, rows, vr, age, male, los) -> None:
        rng = self.rng
        ix = self.ix

        def at(rid):
            return np.flatnonzero(vr == rid)

        g = np.minimum(self.gap[rows], self.gap_any[rows])

        def cap(s, days):  # planted lines also end before the person's next dispensing
            return np.minimum(days, np.maximum(g[s] + 3, 1)).astype(float)

        s = at("FW-001")
        L.add(s, np.where(male[s], ix["XG03DAH011"], ix["XG04CAT011"]), qfix=True, ds=np.where(male[s], np.nan, cap(s, 7)))
        s = at("FW-002")
        L.add(s, np.where(age[s] >= 25, ix["ZR05XER011"], ix["XJ01MAL021"]), qfix=True, ds=cap(s, 5))
        s = at("FW-003")
        L.add(s, self._pick(("XA11DBJ011", "XA10BAE001", "XB01ACL021"), rng.random(s.size)), qfix=True, ds=cap(s, 7))
        s = at("FW-004")
        L.add(s, self._pick(tuple(c for c, _, _ in V.ITEMS["non_medical"]), rng.random(s.size)), qfix=True)
        s = at("FW-005")
        L.add(s, ix["110900001"], qfix=True)
        s = at("CF-001")
        L.add(s, ix["250305001"], qfix=True)
        L.add(s, self._pick(("250305011", "250305012"), rng.random(s.size)), qfix=True)
        s = at("CF-002")
        L.add(s, ix["110900002"], q=los[s], qfix=True)
        L.planting = 2
        s = at("CF-003")
        L.add(s, self._pick(("250101001", "250102001", "220201001"), rng.random(s.size)), q=2, qfix=True)
        s = at("CF-004")
        L.add(s, ix["111000003"], qfix=True)
        L.planting = 1
        s = at("CH-001")
        L.add(s, self._pick(("XN02BEA001", "XA02BCA011", "ZA09AAL011"), rng.random(s.size)), qfix=True, ds=cap(s, 7),
              name=len(self.codes) + rng.integers(0, len(WEIRD_NAMES), s.size))
        s = at("CH-002")
        L.add(s, self._pick(("C01020001", "C02010001"), rng.random(s.size)), qfix=True,
              cat=list(V.ITEM_CATEGORIES).index("drug"))
        L.planting = 2
        s = at("XJ-001")
        L.add(s, ix["110900001"], q=rng.integers(2, 6, s.size), qfix=True)   # on top of the stay's bed days
        s = at("XJ-002")
        L.add(s, ix["120100001"], q=rng.integers(2, 6, s.size), qfix=True)
        L.planting = 1
        s = at("XJ-003")
        L.add(s, self._pick(("250101001", "210102001", "220201001"), rng.random(s.size)), qfix=True,
              off=los[s] + rng.integers(2, 8, s.size))
        s = at("XJ-004")
        L.add(s, ix["120300001"], q=rng.integers(6, 10, s.size), qfix=True)
        s = at("CL-001")
        L.add(s, self._pick(("XJ01CAA041", "XA02BCA011", "XM01AEB011"), rng.random(s.size)), qfix=True,
              ds=rng.choice([20.0, 30.0, 60.0], s.size))
        s = at("CL-002")
        c = self._pick(("XN02BEA001", "XJ01CAA041", "XR05DAF021", "ZA01AAL011"), rng.random(s.size))
        L.add(s, c, q=self.qv[c] + rng.integers(3, 8, s.size), qfix=True, ds=cap(s, 7))
        s = at("CL-003")  # the chronic drug again, 30 days more, days after the refill
        p = self.pat[rows][s]
        code = np.array([self.ix[CHRONIC[list(CHRONIC)[int(self.chronic_of[r])]][(int(q) * 7) % len(CHRONIC[list(CHRONIC)[int(self.chronic_of[r])]])]]
                         for r, q in zip(self._prev_refill(rows[s]), p)], np.int64)
        L.add(s, code, qfix=True, ds=30.0)
        s = at("CL-004")
        L.add(s, self._pick(("XC08CAN021", "XA10BAE001"), rng.random(s.size)), q=rng.integers(4, 7, s.size), qfix=True,
              ds=cap(s, 7))
        s = at("DB-001")
        L.add(s, self._pick(("250101001", "250102001"), rng.random(s.size)), qfix=True)
        L.add(s, self._pick(("210301001", "220201001"), rng.random(s.size)), qfix=True)
        L.add(s, np.where(self.level[rows][s] >= 2, ix["210500001"], ix["220201001"]), cap=2)
        L.add(s, self._pick(("250305001", "250307001", "250303001"), rng.random(s.size)), cap=1, off=1)
        L.add(s, ix["310701001"], cap=3)
        L.add(s, ix["210102001"], cap=2)
        L.add(s, ix["210301001"], cap=2)
        s = at("DB-002")
        for j in range(2):
            L.add(s, self._pick(ORAL, (rng.random(s.size) + j / 2) % 1), cap=BIG, off=j)

    def _prev_refill(self, rows: np.ndarray) -> np.ndarray:
        """For CL-003 claims: the same person's refill claim just before."""
        o = self.fin.order
        s = o[np.lexsort((self.C["t0"][o], self.pat[o]))]
        pos = np.empty(self.pat.size, np.int64)
        pos[s] = np.arange(s.size)
        return s[pos[rows] - 1]

    # --------------------------------------------------------------------------------------
    def _extend(self, A: dict, rows: np.ndarray) -> dict:
        """Add lines (outpatient exams, pharmacy drugs) to claims whose lines cannot hold the total."""
        rng = self.rng
        n = rows.size
        total = self.C["total"][rows] / 100.0
        lv = self.level[rows]
        for r in range(len(EXT_OUT)):
            cap_val = self._capacity(A, rows)
            short = np.flatnonzero(cap_val < total * 1.05)
            if short.size == 0:
                break
            ct = self.ctype[rows][short]
            dup = self.dup_day[rows][short]
            u = np.full(short.size, ((r * 3) % 7 + 0.5) / 7)
            drug = np.where(dup, self._pick(ACUTE[7:], u), self._pick(ACUTE[:7], u))
            code = np.where((ct == 2) | dup, drug, self.ix[EXT_OUT[r]])
            key = A["c"] * 1000 + A["code"]
            have = np.isin(short * 1000 + code, key)
            ok = ~have & np.isfinite(self.ceil[code, lv[short]]) & (ct != 1)
            s = short[ok]
            ext = _Lines()
            c2 = code[ok]
            g = np.minimum(self.gap[rows][s], self.gap_any[rows][s])
            drug = self.cat[c2] == 0
            ds = np.minimum(7.0, np.maximum(g + 3, 1))
            # a drug: up to 3 units for a week's supply; an exam or treatment: once
            ext.add(s, c2, q=1, cap=np.where(drug, _per_supply(np.minimum(self.qcap[c2], 3), ds, 7), 1),
                    ds=np.where(drug, ds, np.nan))
            if not ext.c:
                continue
            B = ext.arrays()
            merged = {k: np.concatenate([A[k], B[k]]) for k in A}
            o = np.argsort(merged["c"], kind="stable")
            A = {k: v[o] for k, v in merged.items()}
        return A

    def _capacity(self, A: dict, rows: np.ndarray) -> np.ndarray:
        p = self._prices(A, rows)
        q = np.where(A["qfix"], A["q"], np.minimum(A["cap"], BIG))
        return np.bincount(A["c"], weights=q * p, minlength=rows.size)

    def _prices(self, A: dict, rows: np.ndarray) -> np.ndarray:
        lv = self.level[rows][A["c"]]
        ceil = self.ceil[A["code"], lv]
        return np.where(np.isfinite(A["price"]), A["price"], np.where(np.isfinite(ceil), ceil, 10.0))

    def _fit(self, A: dict, rows: np.ndarray, claim_ids: pa.Array, table) -> pa.Table:
        """Quantities and prices so the lines sum exactly to each claim's total."""
        rng = self.rng
        n = rows.size
        T = self.C["total"][rows].astype(np.int64)  # cents
        c = A["c"]
        m = c.size
        ceil = self._prices(A, rows)
        vr = self.viol[rows][c]
        bz = vr == _RULES.index("BZ-001")
        # BZ-001: the claim's first catalogue line with a ceiling, priced 20–60 % above it
        first = np.r_[True, c[1:] != c[:-1]] & bz
        over = np.zeros(m, bool)
        over[np.flatnonzero(first)] = True
        at_ceiling = rng.random(m) < 0.35
        price = np.where(over, np.round(ceil * rng.uniform(1.2, 1.6, m), 2), ceil)
        pfix = over | at_ceiling
        q = A["q"].copy()
        # quantities: scale the free ones towards the total, within their caps
        fixed_val = np.bincount(c, weights=np.where(A["qfix"], q * price, 0), minlength=n)
        free_cap = np.bincount(c, weights=np.where(A["qfix"], 0, np.minimum(A["cap"], BIG) * price), minlength=n)
        need = np.maximum(T / 100.0 - fixed_val, 0)
        frac = np.where(free_cap > 0, np.minimum(need / np.maximum(free_cap, 1e-9), 1.0), 0)
        qfree = np.clip(np.ceil(np.minimum(A["cap"], BIG) * frac[c] * 0.999), 1, np.minimum(A["cap"], BIG))
        q = np.where(A["qfix"], q, qfree)
        # prices: the fixed ones stay, the others scale down so the lines meet the total
        for _ in range(2):
            fixed = np.bincount(c, weights=np.where(pfix, q * price, 0), minlength=n)
            flex = np.bincount(c, weights=np.where(pfix, 0, q * price), minlength=n)
            bad = (fixed > T / 100.0) | (flex <= 0)
            pfix &= ~(bad[c] & ~over)
        fixed = np.bincount(c, weights=np.where(pfix, q * price, 0), minlength=n)
        flex = np.bincount(c, weights=np.where(pfix, 0, q * price), minlength=n)
        factor = np.where(flex > 0, (T / 100.0 - fixed) / np.maximum(flex, 1e-9), 1.0)
        factor = np.clip(factor, 0.0, 1.0)
        unit = np.where(pfix, price, np.floor(price * factor[c] * 100) / 100)
        unit = np.maximum(unit, 0.01)
        cents = np.round(q * unit * 100).astype(np.int64)
        rem = T - np.bincount(c, weights=cents, minlength=n).astype(np.int64)
        neg = rem < 0  # fixed lines worth more than the total (tiny claims): shrink every line
        if neg.any():
            tot = np.bincount(c, weights=cents, minlength=n)
            shrink = neg[c]
            cents[shrink] = np.floor(cents[shrink] * (T[c][shrink] / np.maximum(tot[c][shrink], 1))).astype(np.int64)
            unit = np.where(shrink, np.floor(cents / np.maximum(q, 1)) / 100, unit)
            rem = T - np.bincount(c, weights=cents, minlength=n).astype(np.int64)
        # remainder: onto the claim's largest line; a shortfall beyond 1 yuan per unit becomes an
        # uncatalogued "other fees" line (rare)
        big_line = np.full(n, -1, np.int64)
        o = np.lexsort((cents, c))
        last = np.r_[c[o][1:] != c[o][:-1], True]
        big_line[c[o][last]] = o[last]
        small = np.abs(rem) <= np.maximum(q[big_line], 1) * 100
        small &= (cents[big_line] + rem) > 0
        hit = np.flatnonzero(small & (big_line >= 0))
        cents[big_line[hit]] += rem[hit]
        extra = np.flatnonzero(~small | (big_line < 0))
        codes, qty, units = A["code"], q, unit
        names, cats, ds, off = A["name"], A["cat"], A["ds"], A["off"]
        if extra.size:
            codes = np.r_[codes, np.full(extra.size, self.ix[OTHER[0]])]
            qty = np.r_[qty, rem[extra] / 100.0]   # billed per yuan
            units = np.r_[units, np.ones(extra.size)]
            cents = np.r_[cents, rem[extra]]
            c = np.r_[c, extra]
            names, cats = np.r_[names, np.full(extra.size, -1)], np.r_[cats, np.full(extra.size, -1)]
            ds, off = np.r_[ds, np.full(extra.size, np.nan)], np.r_[off, np.zeros(extra.size, np.int64)]
            o = np.argsort(c, kind="stable")
            codes, qty, units, cents, c, names, cats, ds, off = (x[o] for x in (codes, qty, units, cents, c, names, cats,
                                                                                ds, off))
        self.shortfall = getattr(self, "shortfall", 0) + int(extra.size)
        t0 = self.C["t0"][rows][c]
        tend = np.where(self.fin.t1[rows][c] >= 0, self.fin.t1[rows][c], t0)
        when = t0 + off * DAY
        when = np.where((off > 0) & (when > tend) & (self.viol[rows][c] != _RULES.index("XJ-003")), tend, when)
        name = self.names.take(pa.array(np.where(names >= 0, names, codes)))
        cat = self.catnames.take(pa.array(np.where(cats >= 0, cats, self.cat[codes])))
        is_drug = self.cat[codes] == 0
        dsv = np.where(is_drug & np.isfinite(ds), ds, np.nan)
        return table("claim_items", {
            "claim_id": claim_ids.take(pa.array(c)),
            "item_code": self.codes.take(pa.array(codes)),
            "item_name": name,
            "category": cat,
            "quantity": pa.array(qty.astype(float)),
            "unit_price": pa.array(np.round(units, 2)),
            "amount": money(cents),
            "item_time": timestamps(when),
            "days_supply": pa.array(np.where(np.isnan(dsv), 0, dsv).astype(np.int64), mask=np.isnan(dsv)),
            "department": pa.nulls(c.size, pa.string()),
        })

    # --------------------------------------------------------------------------------------
    def instances(self, cid) -> list[dict]:
        """Truth instances (kind ``rule_violation``): one per planted provider × rule × month,
        plus the card-burst episodes' non-medical goods (FW-004) per pharmacy × month.
        ``cid(rows)`` maps buffer rows to claim ids."""
        w = self.w
        out = []
        month = self.sday.astype("datetime64[D]").astype("datetime64[M]")
        C = self.C

        def prov(r):
            p = int(self.prov[r])
            return ("institution", w.inst_id(p)) if p >= 0 else ("pharmacy", w.ph_id(-1 - p))

        def rec(rid, rows, variant):
            t, pid = prov(rows[0])
            ents = [{"type": t, "id": pid, "role": "venue"}]
            ents += [{"type": "patient", "id": w.pat_id(int(p)), "role": "insured"} for p in np.unique(self.pat[rows])]
            return {"kind": "rule_violation", "variant": variant, "key": {"type": t, "id": pid},
                    "entities": ents, "claims": cid(rows),
                    "amount": round(float(C["fund"][rows].sum()) / 100.0, 2),
                    "rule_id": rid, "category": PLANTED.get(rid, ("超支付范围",))[0],
                    "month": str(month[rows[0]]), "_rows": rows}
        for rid, rows in self.episodes:
            rows = rows[self.kept[rows]]
            if rows.size:
                out.append(rec(rid, rows, "planted"))
        b = np.flatnonzero(self.kept & (C["prof"] == 1))
        if b.size:
            key = self.prov[b] * 10_000 + month[b].astype(np.int64)
            for k in np.unique(key):
                out.append(rec("FW-004", np.sort(b[key == k]), "card_burst_goods"))
        return out
