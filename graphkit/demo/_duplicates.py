"""Planted duplicate claims (重复结算/重复收费), mixed into :class:`graphkit.demo._fraud.Planter`.

Two shapes, one instance per venue:

* ``overlapping_stay`` (住院时间重叠): 4-10 real inpatient stays (fewer in a tiny city) of a hospital are billed a second
  time, same patient, diagnosis, doctor and department, starting 0-2 days later and overlapping the
  original by at least two calendar days, amounts within ±15 % (a re-billed stay);
* ``double_settlement`` (重复结算): 5-12 outpatient or pharmacy claims of one provider are settled
  a second time 1-8 minutes later, identical in everything but the claim id (and the time).

The originals stay in the data and are tagged with the instance, like the duplicates: the claims
of an instance are the duplicates *and* the claims they duplicate, so a finding that lists both
sides of every pair matches. Draws come from a stream of their own (``World.vrng``), so the other
kinds' instances do not change. Card, terminal (double settlement) and item lines (double
settlement) of a duplicate are copied from its original at the end (``Planter.twins``).

Examples
--------
>>> import json, pathlib, tempfile
>>> from graphkit.demo import generate_city
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> generate_city(out, patients=1500, seed=2, months=6)["instances"]["duplicate_claim"]
3
>>> i = next(i for i in json.loads((out / "truth.json").read_text("utf-8"))["instances"]
...          if i["kind"] == "duplicate_claim")
>>> i["key"]["type"], i["entities"][0]["role"], len(i["claims"]) == 2 * i["pairs"]
('institution', 'venue', True)
"""

from __future__ import annotations

import numpy as np

from ._normal import INP, OUT, PHARM, ROLE_NONE
from ._util import DAY, HOUR, MINUTE


class DuplicateClaims:
    """The ``duplicate_claim`` kind; needs the state and helpers of ``Planter``."""

    def duplicate_claim(self, double: bool) -> None:
        """Plant one instance: a double settlement when ``double`` (and visible), else overlapping stays."""
        rng = self.w.vrng("fraud:duplicate_claim")
        ok_rows, n_stays = self._dup_rows()
        if double and not self.dates_only:
            if self._double_settlement(rng, ok_rows & (n_stays[self.C.data()["pat"]] == 0)):
                return
        self._overlapping_stays(rng, ok_rows & (n_stays[self.C.data()["pat"]] == 1))

    # ----------------------------------------------------------------------------------------
    def _dup_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Normal rows free to be duplicated, and each person's number of stays."""
        w, ng = self.w, self.ng
        C = self.C.data()
        pat = C["pat"].astype(np.int64)
        n_stays = np.bincount(pat[C["ctype"] == INP], minlength=w.N)
        is_payer = np.zeros(w.N, dtype=bool)
        is_payer[ng.payer[ng.payer >= 0]] = True
        # people whose every claim is their own card's, outside any cohort, look-alike or planted role
        people = ((w.nh < 0) & (w.pref == 0) & (ng.role == ROLE_NONE) & (ng.payer < 0) & ~is_payer
                  & (w.death_day < 0) & (w.ev_card < 0) & ~self.used)
        in_hard = np.zeros(pat.size, dtype=bool)
        for h in ng.hard:
            if h.claims.size:
                in_hard[h.claims[h.claims < pat.size]] = True
        ok = (people[pat] & (C["fraud"] < 0) & ~C["prot"] & ~C["lk"] & (C["prof"] == 0) & ~in_hard
              & (C["t0"] >= w.t_start) & (C["t0"] < w.t_end - DAY))
        return ok, n_stays

    def _dup_venue(self, rng, typ: str, rows: np.ndarray, col: str, need: int, n: int) -> int:
        """A provider with at least ``need`` candidate rows of distinct people; fresh and private first."""
        w = self.w
        C = self.C.data()
        prov = C[col][rows].astype(np.int64)
        pairs = np.unique(prov * w.N + C["pat"][rows])
        cnt = np.bincount(pairs // w.N, minlength=n)
        cand = np.flatnonzero(cnt >= need)
        if cand.size == 0:
            return -1
        fraud = C["fraud"] >= 0
        busy = np.zeros(n, dtype=bool)
        busy[np.unique(C[col][fraud & (C[col] >= 0)])] = True
        busy |= self.used_inst[:n] if typ == "institution" else self.used_ph[:n]
        fresh = cand[~busy[cand]]
        cand = fresh if fresh.size else cand
        wt = np.where(w.inst_private[cand], 2.0, 1.0) if typ == "institution" else np.ones(cand.size)
        return int(rng.choice(cand, p=wt / wt.sum()))

    def _pick_rows(self, rng, rows: np.ndarray, k: int) -> np.ndarray:
        """``k`` rows of distinct people (random order, then time order)."""
        C = self.C.data()
        rows = rng.permutation(rows)
        _, first = np.unique(C["pat"][rows], return_index=True)
        rows = rows[np.sort(first)][:k]
        return rows[np.argsort(C["t0"][rows], kind="stable")]

    def _dup_instance(self, variant: str, typ: str, venue: int, orig: np.ndarray, dup: np.ndarray,
                      copy_all: bool) -> None:
        C = self.C.data()
        I = self.new("duplicate_claim", variant)
        C["fraud"][orig] = I.index  # the originals belong to the instance too (never dropped)
        pats = C["pat"][orig].astype(np.int64)
        self.used[pats] = True
        self.twins.append((dup, orig, copy_all))
        I.claims.extend([orig, dup])
        I.key = {"type": typ, "id": (typ, venue)}
        I.ent(typ, venue, "venue")
        for p in pats:
            I.ent("patient", p, "patient")
        I.extra.update(pairs=int(dup.size), duplicated_amount=round(float(C["fund"][dup].sum()) / 100.0, 2))
        if typ == "institution":
            self.used_inst[venue] = True
        else:
            self.used_ph[venue] = True

    # ----------------------------------------------------------------------------------------
    def _overlapping_stays(self, rng, ok: np.ndarray) -> None:
        w = self.w
        C = self.C.data()
        sd, ed = C["t0"] // DAY, C["t1"] // DAY
        rows = np.flatnonzero(ok & (C["ctype"] == INP) & (C["inst"] >= 0) & (ed - sd >= 2)
                              & (C["t1"] < w.t_end - 4 * DAY))
        k = int(rng.integers(4, 11))
        for need in (4, 2, 1):  # a small, short city may lack a hospital with four candidate stays
            v = self._dup_venue(rng, "institution", rows, "inst", need, w.n_inst)
            if v >= 0:
                break
        if v < 0:
            raise RuntimeError("no hospital with enough stays to plant duplicate_claim; use more patients")
        orig = self._pick_rows(rng, rows[C["inst"][rows] == v], k)
        n = orig.size
        los = ed[orig] - sd[orig]
        shift = rng.integers(0, np.minimum(los - 2, 2) + 1)         # overlap stays >= 2 calendar days
        d0, d1 = sd[orig] + shift, ed[orig] + rng.integers(0, 3, n)
        t0 = d0 * DAY + rng.integers(8 * HOUR, 12 * HOUR, n)
        t1 = d1 * DAY + rng.integers(8 * HOUR + 30 * MINUTE, 11 * HOUR + 30 * MINUTE, n)
        f = rng.uniform(0.85, 1.15, n)
        total = np.round(C["total"][orig] * f).astype(np.int64)
        fund = np.minimum(np.round(C["fund"][orig] * f).astype(np.int64), total)
        dup = self.C.add(pat=C["pat"][orig], ctype=INP, inst=C["inst"][orig], doc=C["doc"][orig],
                         dept=C["dept"][orig], t0=t0, t1=t1, diag=C["diag"][orig], total=total, fund=fund,
                         fraud=len(self.instances))
        self._dup_instance("overlapping_stay", "institution", v, orig, dup, copy_all=False)

    def _double_settlement(self, rng, ok: np.ndarray) -> bool:
        w = self.w
        C = self.C.data()
        k = int(rng.integers(5, 13))
        base = ok & (C["diag"] >= 0) & (C["ref"] < 0) & (C["t0"] < w.t_end - HOUR)
        order = ("pharmacy", "institution") if rng.random() < 0.5 else ("institution", "pharmacy")
        for typ in order:
            col, ct, n = ("pharm", PHARM, w.n_ph) if typ == "pharmacy" else ("inst", OUT, w.n_inst)
            rows = np.flatnonzero(base & (C["ctype"] == ct) & (C[col] >= 0))
            v = self._dup_venue(rng, typ, rows, col, k, n)
            if v < 0:
                continue
            orig = self._pick_rows(rng, rows[C[col][rows] == v], k)
            copy = {c: C[c][orig] for c in self.C.cols if c not in ("t0", "fraud", "prot", "lk")}
            dup = self.C.add(t0=C["t0"][orig] + rng.integers(MINUTE, 8 * MINUTE + 1, orig.size),
                             fraud=len(self.instances), **copy)
            self._dup_instance("double_settlement", typ, v, orig, dup, copy_all=True)
            return True
        return False
