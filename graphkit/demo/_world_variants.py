"""Variant-only parts of the demo city's world: extra providers (分院, care-home medical rooms),
e-vouchers, and the random streams they draw from. Mixed into :class:`~graphkit.demo._world.World`.
"""

from __future__ import annotations

import zlib

import numpy as np

from . import _vocab as V
from ._util import id_width

#: provider roles added by variant cities only: a care home's medical room, a second campus
ROLE_CARE_ROOM, ROLE_BRANCH = 9, 10
CARD_PHYSICAL, CARD_E_VOUCHER = 0, 1
CARD_KIND_NAMES = ("physical", "e_voucher")


class WorldVariants:
    """Methods of :class:`World` used only by variant cities (``World.cfg`` not default)."""

    def vrng(self, name: str) -> np.random.Generator:
        """A random stream for variant-only behaviour (independent of the original streams)."""
        if name not in self._vrngs:
            key = [self.seed, 0x5EED_7A21, zlib.crc32(name.encode("utf-8"))]
            self._vrngs[name] = np.random.default_rng(np.random.SeedSequence(key))
        return self._vrngs[name]

    def _variant_providers(self, role: np.ndarray, region: np.ndarray):
        """Append second campuses (分院) of hospitals and care homes' medical rooms (variants only)."""
        rng = self.vrng("providers")
        cfg = self.cfg
        home = self.home_regs
        hw = self.reg_w[home] / self.reg_w[home].sum()
        add_role, add_region, add_parent = [], [], []
        k = int(cfg.branch_campuses)
        if k > 0:
            pref = self.reg_pref[region]
            pub = rng.permutation(np.flatnonzero(np.isin(role, (0, 1)) & (pref == V.PREF_HOME)))
            priv = rng.permutation(np.flatnonzero((role == 2) & (pref == V.PREF_HOME)))
            n_priv = min(priv.size, (k + 1) // 2)
            parents = np.concatenate([priv[:n_priv], pub[: k - n_priv]])
            for p in parents:
                others = home[home != region[p]]
                add_role.append(ROLE_BRANCH)
                add_region.append(int(rng.choice(others, p=self.reg_w[others] / self.reg_w[others].sum())))
                add_parent.append(int(p))
        if cfg.lookalike("care_home_batch") > 0:
            n_rooms = max(1, round(self.N / cfg.patients_per_nursing_home))
            for r in rng.choice(home, n_rooms, p=hw):
                add_role.append(ROLE_CARE_ROOM)
                add_region.append(int(r))
                add_parent.append(-1)
        parent = np.concatenate([np.full(role.size, -1), np.array(add_parent, dtype=np.int64)]).astype(np.int64)
        return (np.concatenate([role, np.array(add_role, dtype=role.dtype)]),
                np.concatenate([region, np.array(add_region, dtype=region.dtype)]), parent)

    def _e_vouchers(self, cancelled: np.ndarray) -> None:
        """医保电子凭证 held alongside the physical card (issued since Nov 2019, years before the period)."""
        rng = self.vrng("e_vouchers")
        N = self.N
        p = np.where(self.age < 16, 0.8, np.where(self.age < 60, 1.0, np.where(self.age < 75, 0.6, 0.3)))
        have = rng.random(N) < np.clip(self.cfg.e_voucher_share * p, 0, 1)
        launch = int(np.datetime64("2019-11-24", "D").astype(np.int64))
        lo = np.maximum(np.maximum(launch, self.birth_day + 1), self.day0 - 5 * 365)
        hi = np.maximum(lo + 1, self.day0 - 20)
        have &= lo < self.day0 - 20
        people = np.flatnonzero(have)
        self.add_cards(people, (lo + rng.random(N) * (hi - lo)).astype(np.int64)[people],
                       np.where(cancelled[people], 2, 0), CARD_E_VOUCHER)

    def add_cards(self, people: np.ndarray, issued: np.ndarray, status, kind: int) -> np.ndarray:
        """Append cards (e-vouchers) for ``people``; returns the new card indices."""
        people = np.asarray(people, dtype=np.int64)
        idx = self.card_pat.size + np.arange(people.size)
        self.card_pat = np.concatenate([self.card_pat, people])
        self.card_issued = np.concatenate([self.card_issued, np.asarray(issued, dtype=np.int64)])
        self.card_status = np.concatenate([self.card_status, np.broadcast_to(np.asarray(status, dtype=np.int8),
                                                                           (people.size,))])
        self.card_kind = np.concatenate([self.card_kind, np.full(people.size, kind, dtype=np.int8)])
        if kind == CARD_E_VOUCHER:
            self.ev_card[people] = idx
        self.n_card = self.card_pat.size
        self.card_width = id_width(9, self.n_card)
        return idx
