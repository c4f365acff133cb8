"""Yearly fund budgets (``budgets`` table) for the demo city, with a few providers over pace.

Budgets are derived from the finished claims, so the claims and every other table are
untouched (byte-identical for a seed) and the random stream used here is a separate child
of the seed (``SeedSequence(seed, spawn_key=(BUDGET_SPAWN_KEY,))``).

Budget pace (序时进度), exactly as :func:`graphkit.monitoring.budget_pace` computes it: a
claim's fund is spent in the month it is *settled* (the discharge month for inpatient stays,
the start month otherwise); the reporting window runs from the month of the first to the
month of the last claim start; in year Y the cumulative spend from the window's first month
in Y to month m is compared with ``amount × n / 12`` where n counts the window's months of Y
up to m. Deviation = cumulative / expected − 1.

* Normal providers: budget = highest annualised run-rate over the year's months × U(1.06, 1.30),
  rounded up to 100 yuan, so they are never above pace (deviation ≤ about −5.7 %).
* ``near_pace`` (hard negatives): peak deviation drawn in [+1 %, +4 %]: close, never flagged.
* ``over_pace`` (planted): deviation at the year's last window month drawn in [+6 %, +9 %]
  (level ``warn``: 约谈提醒/暂缓支付) or [+11 %, +18 %] (level ``refuse``: 拒付/限期整改).

The planted year is the one with the most window months (the later one on a tie).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ._util import DAY

BUDGET_SPAWN_KEY = 1001
#: planted over-pace providers: (provider type, level, deviation range at the last month)
PLANTS: tuple[tuple[str, str, tuple[float, float]], ...] = (
    ("institution", "refuse", (0.11, 0.18)),
    ("institution", "refuse", (0.11, 0.18)),
    ("institution", "warn", (0.06, 0.09)),
    ("institution", "warn", (0.06, 0.09)),
    ("pharmacy", "warn", (0.06, 0.09)),
)
NEAR: tuple[str, ...] = ("institution", "pharmacy")
MIN_BUDGET_CENTS = 1_000_000  # 10,000 yuan for a provider without spend


def _month_index(secs: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of epoch seconds."""
    return (np.asarray(secs, dtype=np.int64) // DAY).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def make_budgets(seed: int, n_inst: int, n_ph: int, inst: np.ndarray, pharm: np.ndarray, ctype: np.ndarray,
                 t0: np.ndarray, t1: np.ndarray, fund: np.ndarray, inst_ids: list[str] | pa.Array,
                 ph_ids: list[str] | pa.Array) -> tuple[dict[str, pa.Array], dict]:
    """Budget columns and the ``monitoring`` part of ``truth.json``.

    ``inst``/``pharm`` are provider indices per output claim (-1 = none), ``ctype`` 1 for
    inpatient, ``t0``/``t1`` start/end epoch seconds (t1 < 0 = none), ``fund`` in cents.
    """
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(BUDGET_SPAWN_KEY,)))
    inst_ids = [str(x) for x in (inst_ids.to_pylist() if isinstance(inst_ids, pa.Array) else inst_ids)]
    ph_ids = [str(x) for x in (ph_ids.to_pylist() if isinstance(ph_ids, pa.Array) else ph_ids)]
    n_prov = n_inst + n_ph
    prov = np.where(inst >= 0, inst, n_inst + np.maximum(pharm, 0)).astype(np.int64)
    settle = np.where((ctype == 1) & (t1 >= 0), t1, t0)
    sm = _month_index(settle)
    first, last = (int(x) for x in _month_index(np.array([t0.min(), t0.max()])))
    years = list(range(1970 + first // 12, 1970 + last // 12 + 1))
    # spend per provider per window month (cents), settled inside the window only
    inside = (sm >= first) & (sm <= last)
    nm = last - first + 1
    spend = np.zeros((n_prov, nm), dtype=np.int64)
    np.add.at(spend, (prov[inside], sm[inside] - first), fund[inside].astype(np.int64))
    claims_n = np.bincount(prov, minlength=n_prov)
    plant_year = max(years, key=lambda y: (min(last, (y - 1970) * 12 + 11) - max(first, (y - 1970) * 12) + 1, y))
    ptype = np.array(["institution"] * n_inst + ["pharmacy"] * n_ph, dtype=object)
    pid = np.array(inst_ids + ph_ids, dtype=object)
    out_type, out_id, out_year, out_amount = [], [], [], []
    over, near = [], []
    for year in years:
        a = max(first, (year - 1970) * 12) - first
        b = min(last, (year - 1970) * 12 + 11) - first
        cum = np.cumsum(spend[:, a:b + 1], axis=1)                       # cents
        n = np.arange(1, b - a + 2, dtype=np.int64)
        run = cum * 12 / n                                                # annualised run-rate
        peak = run.max(axis=1)
        budget = np.maximum(np.ceil(peak * rng.uniform(1.06, 1.30, n_prov) / 10_000) * 10_000, MIN_BUDGET_CENTS)
        if year == plant_year:
            busy = (spend[:, a:b + 1] > 0).all(axis=1) & (claims_n >= 60)
            for typ in ("institution", "pharmacy"):  # plant among the larger half of each type
                sel = busy & (ptype == typ)
                if sel.any():
                    busy &= ~sel | (cum[:, -1] >= np.median(cum[sel, -1]))
            taken: set[int] = set()

            def draw(typ: str) -> int | None:
                """A busy provider of this type not drawn yet (None when there is none)."""
                pool = np.array([p for p in np.flatnonzero(busy & (ptype == typ)) if p not in taken], dtype=np.int64)
                if pool.size == 0:
                    return None
                p = int(rng.choice(pool))
                taken.add(p)
                return p

            for typ, level, (lo, hi) in PLANTS:
                if (p := draw(typ)) is None:
                    continue
                d = rng.uniform(lo, hi)
                budget[p] = max(np.round(run[p, -1] / (1 + d) / 100) * 100, 100)
                dev = float(cum[p, -1] * 12 / n[-1] / budget[p] - 1)
                over.append({"provider_type": typ, "provider_id": str(pid[p]), "year": year,
                             "month": _ym(first + b), "budget": round(float(budget[p]) / 100, 2),
                             "spend": round(float(cum[p, -1]) / 100, 2), "deviation": round(dev, 6),
                             "level": level})
            for typ in NEAR:
                if (p := draw(typ)) is None:
                    continue
                d = rng.uniform(0.01, 0.04)
                budget[p] = np.ceil(peak[p] / (1 + d) / 100) * 100
                devs = cum[p] * 12 / n / budget[p] - 1
                near.append({"provider_type": typ, "provider_id": str(pid[p]), "year": year,
                             "budget": round(float(budget[p]) / 100, 2), "peak_deviation": round(float(devs.max()), 6),
                             "level": "ok"})
        out_type.append(ptype)
        out_id.append(pid)
        out_year.append(np.full(n_prov, year, dtype=np.int64))
        out_amount.append(budget.astype(np.int64))
    cols = {
        "provider_type": pa.array(np.concatenate(out_type), type=pa.string()),
        "provider_id": pa.array(np.concatenate(out_id), type=pa.string()),
        "year": pa.array(np.concatenate(out_year), type=pa.int64()),
        "amount": pa.array(np.concatenate(out_amount) / 100.0, type=pa.float64()),
    }
    truth = {
        "budget_pace": {"warn_above": 0.05, "refuse_above": 0.10, "year": plant_year,
                        "window": {"first": _ym(first), "last": _ym(last)}},
        "over_pace": over,
        "near_pace": near,
        "notes": "over_pace: planted providers above budget pace at the year's last window month (level at that "
                 "month); near_pace: within +1..+4 % at their peak, never flagged; every other provider stays "
                 "at least 5 % below pace in every month",
    }
    return cols, truth


def _ym(month_index: int) -> str:
    return f"{1970 + month_index // 12:04d}-{month_index % 12 + 1:02d}"
