"""A realistic synthetic "demo city" claims bundle with planted fraud and a ground-truth file.

The city is a home prefecture (济南市, districts 3701xx) with a neighbouring prefecture
(青岛市, 3702xx, ~300 km away) and three far cities (Beijing 110105, Shanghai 310101,
Guangzhou 440106) where a few providers serve out-of-area care and travellers. The normal
population is generated with vectorised numpy code (millions of claims are fine); the
fraud kinds of ``shared/spec/findings.md`` are then planted as new claim rows, camouflaged
inside otherwise normal behaviour, and recorded in ``truth.json`` together with the hard
negatives (legal patterns that look like fraud). ``duplicate_claim`` also tags the normal
claims it bills a second time (:mod:`graphkit.demo._duplicates`).

Examples
--------
>>> import tempfile, json, pathlib
>>> from graphkit.demo import generate_city
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> summary = generate_city(out, patients=1500, seed=1, months=6)
>>> sorted(summary["instances"]) == sorted(json.loads((out / "truth.json").read_text())["kinds"])
True
>>> summary["rows"]["patients"]
1500
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from graphkit.schema import TABLES

from . import _vocab as V
from ._budgets import make_budgets
from ._buffers import CTYPE_NAMES
from ._fraud import KINDS, Instance, Planter
from ._lookalikes import Lookalikes
from ._normal import HardNegative, NormalGen
from ._util import (
    DAY,
    HOUR,
    TableWriter,
    covering,
    dates,
    format_ids,
    id_width,
    money,
    take_nullable,
    timestamps,
    write_table,
)
from ._world import haversine_km, CONTACT_KINDS, KIND_NAMES, World
from ._world_variants import CARD_KIND_NAMES
from .config import CityConfig, variant as named_variant

__all__ = ["generate_city", "FORMATS", "TRUTH_SCHEMA"]

FORMATS = ("parquet", "csv", "csv.gz")
#: the generator's lower limits (it refuses smaller cities and shorter periods); the CLI checks them up front
MIN_PATIENTS = 1000
MIN_MONTHS = 2
TRUTH_SCHEMA = "graphkit.truth/v1"
EXTRA_COLUMNS = {"institutions": ("lat", "lon"), "pharmacies": ("lat", "lon")}
HARD_NEGATIVE_CAP = 300  # entries listed per hard-negative kind (counts are complete)
CHUNK = 1_000_000        # claims per written chunk
FAR_BUFFER = 36 * HOUR   # normal claims this close to a claim in another prefecture are dropped
_SHIFT = np.int64(1) << np.int64(32)


def generate_city(out_dir: str | Path, *, patients: int = 20_000, seed: int = 0,
                  start: str = "2024-01-01", months: int = 12, fmt: str = "parquet",
                  fraud_rate: float = 1.0, variant: str | None = None, config: CityConfig | None = None,
                  quirks: Sequence[str] | None = None) -> dict:
    """Write a claims bundle (one file per table) plus ``truth.json`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write to (created if missing; existing table files are overwritten).
    patients : int, default 20_000
        Number of insured persons. About 10-14 claims per patient-year are generated.
    seed : int, default 0
        Random seed. The same seed (and other arguments) gives byte-identical tables.
    start : str, default "2024-01-01"
        First day of the period (ISO date).
    months : int, default 12
        Length of the period in months.
    fmt : {"parquet", "csv", "csv.gz"}
        Output format: ``<table>.parquet``, ``<table>.csv`` (UTF-8) or ``<table>.csv.gz``.
    fraud_rate : float, default 1.0
        Scales the number of planted instances per kind:
        ``max(3, round(patients / 2500 * fraud_rate))`` (collusion rings: ``patients / 5000``).
    variant : str, optional
        A named city family of :data:`graphkit.demo.config.VARIANTS` (structure, look-alikes and
        export quirks; its ``fraud_rate`` multiplies this one). ``None``: the original city.
    config : CityConfig, optional
        The structure explicitly (instead of a named variant's).
    quirks : sequence of str, optional
        Export quirks applied to the written bundle (default: the named variant's); see
        :mod:`graphkit.demo.quirks`.

    Returns
    -------
    dict
        ``rows`` (row count per table), ``instances`` (planted instances per kind),
        ``hard_negatives`` (count per kind), ``period``, ``seconds`` (generation time) and
        ``files``.

    Notes
    -----
    Every planted claim is a new claim row; claim ids are assigned in ``start_time`` order
    over all rows, so ids do not reveal which rows were planted. ``truth.json`` lists, per
    instance, the suspect ``claims`` and their ``amount`` (sum of ``fund_amount``), the
    ``entities`` with roles, and the ``key`` a detector is expected to report
    (``card``, ``patient``, ``terminal``, ``doctor``, ``institutions`` (sorted ids), ``ring``,
    the shared identifier's kind and clear value for identity rings, or the ``institution`` /
    ``pharmacy`` of a ``duplicate_claim``, whose claims are both sides of every duplicate pair).

    The optional ``budgets`` table (yearly fund budget per institution and pharmacy, for
    budget-pace monitoring) is derived from the finished claims with a random stream of its
    own, so it leaves every other table unchanged; a few providers are planted over budget
    pace and listed in ``truth.json`` under ``monitoring`` (see :mod:`graphkit.demo._budgets`).

    Guarantees of the normal data (so that planted signal is the only one of its kind):
    no claim after a death date (a final stay may end on it); no claim of a person while that
    person is in hospital; no two stays of one person overlap (only planted duplicates and the
    ``newborn_with_mother`` look-alike do); a card used by someone else
    than its holder is always a registered family (``contacts`` kind ``family`` in both
    directions); no normal claim within 36 h of the same person's or card's claim in another
    prefecture; lost cards are only used before the replacement card's ``issued_date``;
    ``non_medical`` items are very rare; night sales happen only at 24-hour pharmacies and
    never as bursts. Hard negatives (legal look-alikes) are listed in ``truth.json``.
    Parquet stores datetimes as ``timestamp[ms]`` (Parquet has no second unit); the values
    are whole seconds.

    Examples
    --------
    >>> import tempfile
    >>> s = generate_city(tempfile.mkdtemp(), patients=1500, seed=3, months=6, fmt="csv")
    >>> s["rows"]["claims"] > 5000
    True
    """
    t_begin = time.perf_counter()
    if fmt not in FORMATS:
        raise ValueError(f"The 'fmt' parameter of generate_city must be one of {FORMATS}. Got {fmt!r} instead.")
    if not isinstance(patients, (int, np.integer)) or patients < MIN_PATIENTS:
        raise ValueError(f"The 'patients' parameter of generate_city must be an int >= {MIN_PATIENTS}. Got {patients!r} instead.")
    if not isinstance(months, (int, np.integer)) or months < MIN_MONTHS:
        raise ValueError(f"The 'months' parameter of generate_city must be an int >= {MIN_MONTHS}. Got {months!r} instead.")
    if not (fraud_rate >= 0):
        raise ValueError(f"The 'fraud_rate' parameter of generate_city must be >= 0. Got {fraud_rate!r} instead.")
    vname = None
    if variant is not None:
        v = named_variant(variant)
        vname, fraud_rate = v.name, fraud_rate * v.fraud_rate
        config = v.config if config is None else config
        quirks = v.quirks if quirks is None else quirks
    cfg = config if config is not None else CityConfig()
    quirks = tuple(quirks or ())
    from ..outputs import claim_output_dir

    out = claim_output_dir(out_dir, "bundle")  # a bundle folder of ours, or empty: never a store or a dossier
    out.mkdir(parents=True, exist_ok=True)
    w = World(int(patients), int(seed), start, int(months), cfg)
    ng = NormalGen(w)
    ng.run()
    look = None if cfg.is_default() else Lookalikes(w, ng)
    if look is not None:
        look.run()
    planter = Planter(w, ng, float(fraud_rate), cfg.fraud,
                      dates_only=any(q.partition(":")[0] in ("dates_only", "date_strings") for q in quirks))
    instances = planter.run()
    ob = None
    if cfg.overbilling > 0:  # provider-level over-billing and case-mix look-alikes (variants only)
        from .overbilling import OverBilling

        ob = OverBilling(w, ng, cfg.overbilling, used=planter.used | (look.members if look is not None else False),
                         volume_bias=cfg.overbilling_volume_bias)
        ob.run()
    fin = _finalize(w, ng, planter, look)
    ritems = None
    if cfg.rule_items:  # variants: items per the rule base's catalogue, with planted rule violations
        from .violations import RuleItems

        ritems = RuleItems(w, ng, fin, float(fraud_rate) * cfg.rule_violations)
    rows = _write_tables(out, fmt, w, ng, planter, fin, look, ritems)
    truth = _truth(w, ng, instances, fin, float(fraud_rate), look, ritems)
    rows["budgets"], truth["monitoring"] = _write_budgets(out, fmt, w, ng, fin)
    if ob is not None:
        eid = {"institution": w.inst_id, "pharmacy": w.ph_id}
        truth["provider_fraud"] = ob.truth(fin.pos, id_width(9, fin.order.size), lambda t, i: eid[t](i))
        truth["notes"]["provider_fraud"] = ("providers that over-bill (graphkit.demo.overbilling): positives of the "
                                            "provider ranking; claims = the rows each mode added or changed")
    if look is not None or quirks or vname:
        truth["variant"] = {"name": vname or cfg.name, "config": cfg.describe(), "quirks": list(quirks)}
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    if quirks:
        from .quirks import apply_quirks

        rows = apply_quirks(out, quirks)["rows"]
        truth = json.loads((out / "truth.json").read_text("utf-8"))
    else:
        from .seal import seal_bundle

        seal_bundle(out)  # the public demo key serves these very bytes only (graphkit.pseudo.demo_key_allowed)
    counts: dict[str, int] = {k: 0 for k in KINDS}
    for inst in instances:
        counts[inst.kind] += 1
    return {
        "out_dir": str(out),
        **({"variant": truth["variant"]["name"], "quirks": list(quirks)} if "variant" in truth else {}),
        "format": fmt,
        "seed": int(seed),
        "patients": int(patients),
        "period": truth["period"],
        "rows": rows,
        "instances": counts,
        "hard_negatives": truth["hard_negative_counts"],
        "files": sorted(p.name for p in out.iterdir() if p.is_file()),
        "seconds": round(time.perf_counter() - t_begin, 3),
    }


# ----------------------------------------------------------------------------------------------
# Finalisation: consistency clean-up, cards, terminals, ordering
# ----------------------------------------------------------------------------------------------
class _Final:
    """Claims and referrals after clean-up, in output order (index arrays into the buffers)."""

    order: np.ndarray        # buffer rows of the output claims, in claim-id order
    pos: np.ndarray          # buffer row -> output position (-1 = dropped)
    card: np.ndarray         # card per buffer row
    t1: np.ndarray
    term: np.ndarray
    ref: np.ndarray          # referral uid per buffer row (-1 none)
    rorder: np.ndarray       # referral buffer rows in output order
    rpos: np.ndarray         # referral uid -> output position (-1 = dropped)
    removed: dict


def _finalize(w: World, ng: NormalGen, pl: Planter, look: Lookalikes | None = None) -> _Final:
    rng = w.rngs["finalize"]
    C = ng.C.data()
    n = C["pat"].size
    pat = C["pat"].astype(np.int64)
    t0 = C["t0"]
    t1 = C["t1"].copy()
    ip = C["ctype"] == 1
    normal = C["fraud"] < 0
    removable = normal & ~C["prot"]
    keep = np.ones(n, dtype=bool)
    removed: dict[str, int] = {}
    # 0. nothing after death or outside the period in normal data; stays end on the death date
    ae = w.alive_end[pat]
    bad = normal & ((t0 > ae) | (t0 >= w.t_end) | (t0 < w.t_start))
    keep &= ~bad
    removed["after_death_or_outside_period"] = int(bad.sum())
    t1 = np.where(normal & ip & (t1 > ae), ae, t1)
    t1 = np.where(ip & (t1 <= t0), t0 + HOUR, t1)
    # 1. cards of normal rows: family sharing (家庭共济) uses the payer's card
    card = C["card"].astype(np.int64).copy()
    need = np.flatnonzero(card < 0)
    payer = ng.payer[pat[need]]
    use = (payer >= 0) & (rng.random(need.size) < ng.share_p[pat[need]])
    holder = np.where(use, payer, pat[need])
    card[need] = w.card_at(holder, t0[need])
    lk = C["lk"]
    if look is not None:
        look.assign_cards(card, pat, t0, normal)
    for dup, orig, _ in pl.twins:  # a duplicate claim is settled on its original's card
        card[dup] = card[orig]
    # 2. overlapping stays of one patient: drop the normal one
    cnt = 0
    for _ in range(20):
        S = np.flatnonzero(keep & ip)
        o = S[np.lexsort((t0[S], pat[S]))]
        k = pat[o] * _SHIFT
        ks = k + (t0[o] - w.base)
        ke = k + (t1[o] - w.base)
        runmax = np.maximum.accumulate(ke)
        arg = np.maximum.accumulate(np.where(ke == runmax, np.arange(ke.size), 0))
        prev_max = np.concatenate([[-1], runmax[:-1]])
        prev_arg = np.concatenate([[0], arg[:-1]])
        ov = np.flatnonzero(ks < prev_max)
        if ov.size == 0:
            break
        i, j = o[ov], o[prev_arg[ov]]
        di = removable[i]
        dj = ~di & removable[j]
        di |= ~di & ~dj & normal[i] & ~(lk[i] & lk[j])  # two protected normal stays: keep the earlier one
        #                                                 (unless both overlap by design: a look-alike)
        drop = np.unique(np.concatenate([i[di], j[dj]]))
        if drop.size == 0:
            break
        keep[drop] = False
        cnt += drop.size
    removed["overlapping_stays"] = cnt
    # 3. no normal claim of a person while that person is in hospital
    S = np.flatnonzero(keep & ip)
    Q = np.flatnonzero(keep & ~ip & ~lk)
    cov = covering(pat[S], t0[S], t1[S], pat[Q], t0[Q], w.base)
    hit = cov >= 0
    q, s = Q[hit], S[cov[hit]]
    rq = removable[q]
    rs = ~rq & removable[s]
    rq |= ~rq & ~rs & normal[q]  # e.g. a nursing-home visit during the resident's final stay
    keep[q[rq]] = False
    keep[s[rs]] = False
    removed["inside_stays"] = int(rq.sum() + rs.sum())
    # 4. no normal home claim within 36 h of a claim in another prefecture (same person or card);
    #    when both rows matter (protected or planted), drop the normal one
    prov_pref = np.where(C["inst"] >= 0, w.inst_pref[np.maximum(C["inst"], 0)], w.ph_pref[np.maximum(C["pharm"], 0)])
    tmax = np.maximum(t0, t1)
    tp, tw0, tw1, tpref = ng.windows[0] if ng.windows else (np.empty(0, np.int64),) * 4
    cnt = 0
    for key_arr, use_trips in ((pat, True), (card, False)):
        F = np.flatnonzero(keep & (prov_pref != w.pref[pat]))
        ik, i0, i1 = key_arr[F], t0[F] - FAR_BUFFER, tmax[F] + FAR_BUFFER
        ipf, src = prov_pref[F], F
        if use_trips:
            ik = np.concatenate([ik, tp])
            i0 = np.concatenate([i0, tw0])
            i1 = np.concatenate([i1, tw1])
            ipf = np.concatenate([ipf, tpref])
            src = np.concatenate([src, np.full(tp.size, -1)])
        Q = np.flatnonzero(keep & ~lk)
        cov = covering(ik, i0, i1, key_arr[Q], t0[Q], w.base)
        hit = np.flatnonzero(cov >= 0)
        hit = hit[prov_pref[Q[hit]] != ipf[cov[hit]]]
        q, sr = Q[hit], src[cov[hit]]
        has_s = sr >= 0
        s_ = np.maximum(sr, 0)
        drop_q = removable[q]
        drop_s = ~drop_q & has_s & removable[s_]
        drop_q |= ~drop_q & ~drop_s & normal[q]
        drop_s |= ~drop_q & ~drop_s & has_s & normal[s_]
        drop = np.unique(np.concatenate([q[drop_q], s_[drop_s]]))
        keep[drop] = False
        cnt += drop.size
    removed["near_far_claims"] = cnt
    # 4b. no physically impossible hop between two normal claims in one prefecture: consecutive
    #     claims of one person or card at different providers need at least distance / 60 km/h
    #     door to door (outer counties lie 35–95 km from the centre); drop the normal, unprotected one
    plat = np.where(C["inst"] >= 0, w.inst_lat[np.maximum(C["inst"], 0)], w.ph_lat[np.maximum(C["pharm"], 0)])
    plon = np.where(C["inst"] >= 0, w.inst_lon[np.maximum(C["inst"], 0)], w.ph_lon[np.maximum(C["pharm"], 0)])
    pid = np.where(C["inst"] >= 0, C["inst"].astype(np.int64), -1 - C["pharm"].astype(np.int64))
    cnt = 0
    for key_arr in (pat, card):
        for _ in range(5):
            K = np.flatnonzero(keep)
            o = K[np.lexsort((t0[K], key_arr[K]))]
            a, b = o[:-1], o[1:]
            sel = (key_arr[a] == key_arr[b]) & (pid[a] != pid[b]) & (prov_pref[a] == prov_pref[b])
            a, b = a[sel], b[sel]
            d = haversine_km(plat[a], plon[a], plat[b], plon[b])
            bad = d * HOUR / 60.0 > (t0[b] - t0[a])
            a, b = a[bad], b[bad]
            db = removable[b] & ~lk[b]
            da = ~db & removable[a] & ~lk[a]
            drop = np.unique(np.concatenate([b[db], a[da]]))
            if drop.size == 0:
                break
            keep[drop] = False
            cnt += drop.size
    removed["impossible_local_hops"] = cnt
    # 5. referrals: none after death / outside the period in normal data
    R = ng.Rf.data()
    rpat = R["pat"].astype(np.int64)
    rkeep = (R["fraud"] >= 0) | ((R["t"] <= w.alive_end[rpat]) & (R["t"] >= w.t_start) & (R["t"] < w.t_end))
    ref = C["ref"].copy()
    has = ref >= 0
    ref[has & ~rkeep[np.maximum(ref, 0)]] = -1
    # 6. terminals
    term = C["term"].astype(np.int64).copy()
    need = term < 0
    u = rng.random(n)
    inst, ph = np.maximum(C["inst"], 0), np.maximum(C["pharm"], 0)
    ti = w.inst_term_start[inst] + (u * w.inst_term_count[inst]).astype(np.int64)
    tph = w.ph_term_start[ph] + (u * w.ph_term_count[ph]).astype(np.int64)
    term = np.where(need, np.where(C["inst"] >= 0, ti, tph), term)
    for dup, orig, same in pl.twins:  # a double settlement goes through the same terminal
        if same:
            term[dup] = term[orig]
    # 7. output order: by start time (ties broken at random)
    K = np.flatnonzero(keep)
    order = K[np.lexsort((rng.random(K.size), t0[K]))]
    pos = np.full(n, -1, dtype=np.int64)
    pos[order] = np.arange(order.size)
    RK = np.flatnonzero(rkeep)
    rorder = RK[np.lexsort((rng.random(RK.size), R["t"][RK]))]
    rpos = np.full(rkeep.size, -1, dtype=np.int64)
    rpos[rorder] = np.arange(rorder.size)
    for inst_ in pl.instances:
        for arr in inst_.claims + inst_.context:
            if (pos[arr] < 0).any():
                raise AssertionError(f"planted claim of {inst_.kind} was dropped")
    f = _Final()
    f.order, f.pos, f.card, f.t1, f.term, f.ref = order, pos, card, t1, term, ref
    f.rorder, f.rpos, f.removed = rorder, rpos, removed
    return f


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------
def _table(name: str, cols: dict[str, pa.Array]) -> pa.Table:
    names = TABLES[name].column_names + EXTRA_COLUMNS.get(name, ())
    missing = set(names) ^ set(cols)
    if missing:
        raise AssertionError(f"{name}: column mismatch {sorted(missing)}")
    return pa.table({c: cols[c] for c in names})


def _str(values) -> pa.Array:
    return pa.array(list(values) if not isinstance(values, np.ndarray) else values.astype(object), type=pa.string())


def _write_tables(out: Path, fmt: str, w: World, ng: NormalGen, pl: Planter, fin: _Final,
                  look: Lookalikes | None = None, ritems=None) -> dict[str, int]:
    for old in out.iterdir():
        for t in TABLES:
            if old.name in (f"{t}.parquet", f"{t}.csv", f"{t}.csv.gz"):
                old.unlink()
    rows: dict[str, int] = {}
    inst_ids = format_ids("H", np.arange(w.n_inst) + 1, w.inst_width)
    ph_ids = format_ids("Y", np.arange(w.n_ph) + 1, w.ph_width)
    doc_ids = format_ids("D", np.arange(w.n_doc) + 1, w.doc_width)
    pat_ids = format_ids("PT", np.arange(w.N) + 1, w.pat_width)
    card_ids = format_ids("K", np.arange(w.n_card) + 1, w.card_width)
    reg_codes = pa.array(w.reg_code.astype(object), type=pa.string())
    depts = pa.array(list(V.DEPTS), type=pa.string())
    # institutions
    rows["institutions"] = write_table(out, "institutions", fmt, _table("institutions", {
        "institution_id": inst_ids,
        "name": _str(w.inst_name),
        "level": pa.array(w.inst_level.astype(np.int64)),
        "ownership": _str(np.where(w.inst_private, "private", "public")),
        "kind": _str(np.array(KIND_NAMES)[w.inst_kind]),
        "region": reg_codes.take(pa.array(w.inst_region)),
        "lat": pa.array(w.inst_lat.astype(float)),
        "lon": pa.array(w.inst_lon.astype(float)),
    }))
    rows["pharmacies"] = write_table(out, "pharmacies", fmt, _table("pharmacies", {
        "pharmacy_id": ph_ids,
        "name": _str(w.ph_name),
        "chain": take_nullable(pa.array(list(V.CHAINS), type=pa.string()), w.ph_chain),
        "region": reg_codes.take(pa.array(w.ph_region)),
        "lat": pa.array(w.ph_lat.astype(float)),
        "lon": pa.array(w.ph_lon.astype(float)),
    }))
    rows["doctors"] = write_table(out, "doctors", fmt, _table("doctors", {
        "doctor_id": doc_ids,
        "name": _str(w.doc_name),
        "institution_id": take_nullable(inst_ids, w.doc_inst),
        "department": take_nullable(depts, w.doc_dept),
        "title": pa.array(list(V.TITLES), type=pa.string()).take(pa.array(w.doc_title)),
    }))
    dd = w.death_day
    rows["patients"] = write_table(out, "patients", fmt, _table("patients", {
        "patient_id": pat_ids,
        "name": _str(w.name),
        "id_number": _str(w.id_number),
        "birth_date": dates(w.birth_day),
        "sex": _str(np.where(w.male, "M", "F")),
        "region": reg_codes.take(pa.array(w.region)),
        "insurance_type": _str(np.where(w.employee, "employee", "resident")),
        "death_date": dates(np.where(dd >= 0, dd, 0), null=dd < 0),
        "low_income": pa.array(w.low_income.astype(bool)),
    }))
    cards = {
        "card_id": card_ids,
        "patient_id": pat_ids.take(pa.array(w.card_pat)),
        "issued_date": dates(w.card_issued),
        "status": pa.array(["active", "lost", "cancelled"], type=pa.string()).take(pa.array(w.card_status)),
    }
    # cards.kind (bundle v1.1): physical card (社保卡) or 医保电子凭证; the default city's are all physical
    cards["kind"] = pa.array(list(CARD_KIND_NAMES), type=pa.string()).take(pa.array(w.card_kind.astype(np.int64)))
    rows["cards"] = write_table(out, "cards", fmt, _table("cards", cards))
    # regions (行政区划): the city's codes with their centroids
    rows["regions"] = write_table(out, "regions", fmt, _table("regions", {
        "region_code": reg_codes,
        "name": _str(np.array(w.reg_name, dtype=object)),
        "parent_code": _str(np.array([c[:4] + "00" for c in w.reg_code.tolist()], dtype=object)),
        "lat": pa.array(w.reg_lat.astype(float)),
        "lon": pa.array(w.reg_lon.astype(float)),
    }))
    # referrals
    R = ng.Rf.data()
    ro = fin.rorder
    ref_ids = format_ids("RF", np.arange(ro.size) + 1, id_width(7, ro.size))
    rows["referrals"] = write_table(out, "referrals", fmt, _table("referrals", {
        "referral_id": ref_ids,
        "patient_id": pat_ids.take(pa.array(R["pat"][ro])),
        "from_institution_id": inst_ids.take(pa.array(R["from_inst"][ro])),
        "from_doctor_id": take_nullable(doc_ids, R["from_doc"][ro]),
        "to_institution_id": inst_ids.take(pa.array(R["to_inst"][ro])),
        "referred_at": timestamps(R["t"][ro]),
        "out_of_area": pa.array(R["ooa"][ro].astype(bool)),
        "reason": pa.array(list(V.REFERRAL_REASONS), type=pa.string()).take(pa.array(R["reason"][ro].astype(np.int64))),
    }))
    # contacts
    pats, kinds, vals = (list(x) for x in w.contacts)
    for mem, ck, vv in pl.new_contacts + (look.new_contacts if look is not None else []):
        pats.append(mem)
        kinds.append(np.full(mem.size, ck))
        vals.append(vv)
    cp, ck, cv = np.concatenate(pats), np.concatenate(kinds), np.concatenate(vals)
    o = np.lexsort((ck, cp))
    if look is not None:  # one row per (patient, kind, value)
        o = np.lexsort((cv.astype(str), ck, cp))
        dup = np.zeros(o.size, dtype=bool)
        dup[1:] = (cp[o][1:] == cp[o][:-1]) & (ck[o][1:] == ck[o][:-1]) & (cv[o][1:] == cv[o][:-1])
        o = o[~dup]
    rows["contacts"] = write_table(out, "contacts", fmt, _table("contacts", {
        "patient_id": pat_ids.take(pa.array(cp[o])),
        "kind": pa.array(list(CONTACT_KINDS), type=pa.string()).take(pa.array(ck[o])),
        "value": pa.array(cv[o], type=pa.string()),
    }))
    # claims and claim items, in chunks
    C = ng.C.data()
    order = fin.order
    cw = id_width(9, order.size)
    ctypes = pa.array(list(CTYPE_NAMES), type=pa.string())
    dx = pa.array(w.dx_codes, type=pa.string())
    terms = pa.array(w.term_ids, type=pa.string())
    cwr = TableWriter(out, "claims", fmt)
    iwr = TableWriter(out, "claim_items", fmt)
    items = _ItemMaker(w)
    twins = _TwinItems(C["t0"], pl.twins)
    for a in range(0, max(order.size, 1), CHUNK):
        sl = order[a:a + CHUNK]
        if sl.size == 0:
            break
        claim_ids = format_ids("C", np.arange(a, a + sl.size) + 1, cw)
        t1 = fin.t1[sl]
        total, fund = C["total"][sl], C["fund"][sl]
        ref = fin.ref[sl]
        rpos = np.where(ref >= 0, fin.rpos[np.maximum(ref, 0)], -1)
        cwr.write(_table("claims", {
            "claim_id": claim_ids,
            "card_id": card_ids.take(pa.array(fin.card[sl])),
            "patient_id": pat_ids.take(pa.array(C["pat"][sl])),
            "claim_type": ctypes.take(pa.array(C["ctype"][sl].astype(np.int64))),
            "institution_id": take_nullable(inst_ids, C["inst"][sl]),
            "pharmacy_id": take_nullable(ph_ids, C["pharm"][sl]),
            "doctor_id": take_nullable(doc_ids, C["doc"][sl]),
            "department": take_nullable(depts, C["dept"][sl]),
            "start_time": timestamps(C["t0"][sl]),
            "end_time": timestamps(np.where(t1 >= 0, t1, 0), null=t1 < 0),
            "diagnosis_code": take_nullable(dx, C["diag"][sl]),
            "total_amount": money(total),
            "fund_amount": money(fund),
            "self_amount": money(total - fund),
            "referral_id": take_nullable(ref_ids, rpos),
            "terminal_id": take_nullable(terms, fin.term[sl]),
        }))
        los = np.where(t1 >= 0, np.maximum((t1 - C["t0"][sl]) // DAY, 1), 1)
        iwr.write(twins.apply(claim_ids, sl,
                              items.make(claim_ids, C["ctype"][sl], total, C["prof"][sl], los, C["t0"][sl])
                              if ritems is None else ritems.make_rows(claim_ids, sl)))
    cwr.close()
    iwr.close()
    rows["claims"], rows["claim_items"] = cwr.rows, iwr.rows
    return {t: rows[t] for t in TABLES if t in rows}


def _write_budgets(out: Path, fmt: str, w: World, ng: NormalGen, fin: _Final) -> tuple[int, dict]:
    """Write ``budgets`` (derived from the output claims) and return its rows and truth."""
    C = ng.C.data()
    o = fin.order
    cols, truth = make_budgets(
        w.seed, w.n_inst, w.n_ph, C["inst"][o].astype(np.int64), C["pharm"][o].astype(np.int64),
        C["ctype"][o].astype(np.int64), C["t0"][o].astype(np.int64), fin.t1[o].astype(np.int64),
        C["fund"][o].astype(np.int64),
        format_ids("H", np.arange(w.n_inst) + 1, w.inst_width), format_ids("Y", np.arange(w.n_ph) + 1, w.ph_width))
    return write_table(out, "budgets", fmt, _table("budgets", cols)), truth


class _TwinItems:
    """Item lines of a double settlement: the duplicate repeats its original's lines (its own
    claim id and start time). Originals come first in claim order, so their lines are at hand."""

    def __init__(self, t0: np.ndarray, twins: list[tuple[np.ndarray, np.ndarray, bool]]):
        n = t0.size
        self.t0 = t0
        self.copy_of = np.full(n, -1, dtype=np.int64)
        for dup, orig, same in twins:
            if same:
                self.copy_of[dup] = orig
        self.is_orig = np.zeros(n, dtype=bool)
        self.is_orig[self.copy_of[self.copy_of >= 0]] = True
        self.lines: dict[int, pa.Table] = {}

    def apply(self, claim_ids: pa.Array, rows: np.ndarray, table: pa.Table) -> pa.Table:
        """``table`` (the lines of the output claims at buffer ``rows``) with duplicates' lines copied."""
        dup = self.copy_of[rows] >= 0
        if not (dup.any() or self.is_orig[rows].any()):
            return table
        import pyarrow.compute as pc

        at = pc.index_in(table.column("claim_id"), value_set=claim_ids).to_numpy(zero_copy_only=False)
        for j in np.flatnonzero(self.is_orig[rows]):
            self.lines[int(rows[j])] = table.filter(pa.array(at == j))
        if not dup.any():
            return table
        parts, pos = [table.filter(pa.array(~dup[at]))], [at[~dup[at]]]
        for j in np.flatnonzero(dup):
            src = self.lines.pop(int(self.copy_of[rows[j]]))
            src = src.set_column(src.schema.get_field_index("claim_id"), "claim_id",
                                 pa.array([claim_ids[j].as_py()] * src.num_rows, type=pa.string()))
            shift = pa.scalar(int(self.t0[rows[j]] - self.t0[self.copy_of[rows[j]]]), pa.duration("s"))
            it = src.column("item_time")
            src = src.set_column(src.schema.get_field_index("item_time"), "item_time",
                                 pc.add(it, shift).cast(it.type))  # charged when the duplicate starts
            parts.append(src)
            pos.append(np.full(src.num_rows, j))
        out = pa.concat_tables(parts)
        return out.take(pa.array(np.argsort(np.concatenate(pos), kind="stable")))


class _ItemMaker:
    """Claim items (费用明细) whose amounts sum exactly to each claim's total."""

    def __init__(self, w: World):
        self.rng = w.rngs["items"]
        codes, names, prices, cats = [], [], [], []
        self.cat_start, self.cat_count = [], []
        for ci, cat in enumerate(V.ITEM_CATEGORIES):
            self.cat_start.append(len(codes))
            self.cat_count.append(len(V.ITEMS[cat]))
            for code, name, price in V.ITEMS[cat]:
                codes.append(code)
                names.append(name)
                prices.append(price)
                cats.append(ci)
        self.cat_start = np.array(self.cat_start)
        self.cat_count = np.array(self.cat_count)
        self.codes = pa.array(codes, type=pa.string())
        self.names = pa.array(names, type=pa.string())
        self.cats = pa.array(list(V.ITEM_CATEGORIES), type=pa.string())
        self.price = np.array(prices)
        self.item_cat = np.array(cats)
        self.special = {c: codes.index(c) for c in ("311000001", "340200001", "XL01CDZ011", "XL01XAS011",
                                                   "XB03XAC011")}

    def make(self, claim_ids: pa.Array, ctype, total, prof, los, t0) -> pa.Table:
        rng = self.rng
        n = ctype.size
        k = np.where(ctype == 2, 1 + rng.binomial(3, 0.35, n),
                     np.where(ctype == 0, 1 + rng.binomial(4, 0.35, n), 3 + rng.binomial(3, 0.5, n)))
        k = np.where(prof == 1, 2 + rng.integers(0, 2, n), k)
        rep = np.repeat(np.arange(n), k)
        start = np.cumsum(k) - k
        j = np.arange(rep.size) - start[rep]
        ct, pf = ctype[rep], prof[rep]
        m = rep.size
        cat = np.empty(m, dtype=np.int64)
        for c, p in ((0, [0.55, 0.25, 0.15, 0.05, 0, 0]), (1, [0.45, 0.2, 0.2, 0.15, 0, 0]),
                     (2, [0.94, 0, 0, 0.06, 0, 0])):
            sel = np.flatnonzero(ct == c)
            cat[sel] = rng.choice(6, sel.size, p=p)
        cat[(ct == 1) & (j == 0)] = 4  # bed
        cat[(ct == 2) & (pf == 0) & (rng.random(m) < 0.0003)] = 5  # a rare daily-goods item
        burst = pf == 1
        cat[burst] = np.where(j[burst] % 2 == 0, 5, 0)
        item = self.cat_start[cat] + (rng.random(m) * self.cat_count[cat]).astype(np.int64)
        sp = self.special
        item[(pf == 2) & (j == 0)] = sp["311000001"]
        item[(pf == 2) & (j == 1)] = sp["XB03XAC011"]
        item[(pf == 3) & (j == 1)] = np.where(rng.random(int(((pf == 3) & (j == 1)).sum())) < 0.5,
                                              sp["XL01CDZ011"], sp["XL01XAS011"])
        item[((pf == 4) | (pf == 5)) & (j == 0)] = sp["340200001"]
        cat = self.item_cat[item]
        wgt = rng.exponential(1.0, m) + 0.3
        wgt = np.where(burst & (cat == 5), wgt * 4, wgt)
        wsum = np.add.reduceat(wgt, start)
        cents = np.floor(wgt / wsum[rep] * total[rep]).astype(np.int64)
        rem = total - np.add.reduceat(cents, start)
        cents[start + k - 1] += rem
        yuan = cents / 100.0
        qty = np.clip(np.round(yuan / self.price[item]), 1, 99)
        qty = np.where(cat == 4, np.minimum(los[rep], 99), qty)
        unit = np.round(yuan / qty, 2)
        return _table("claim_items", {
            "claim_id": claim_ids.take(pa.array(rep)),
            "item_code": self.codes.take(pa.array(item)),
            "item_name": self.names.take(pa.array(item)),
            "category": self.cats.take(pa.array(cat)),
            "quantity": pa.array(qty.astype(float)),
            "unit_price": pa.array(unit),
            "amount": money(cents),
            # charged when the claim starts; days of supply and billing department not modelled
            "item_time": timestamps(np.asarray(t0)[rep]),
            "days_supply": pa.nulls(m, pa.int64()),
            "department": pa.nulls(m, pa.string()),
        })


# ----------------------------------------------------------------------------------------------
# Ground truth
# ----------------------------------------------------------------------------------------------
def _truth(w: World, ng: NormalGen, instances: list[Instance], fin: _Final, fraud_rate: float,
           look: Lookalikes | None = None, ritems=None) -> dict:
    C = ng.C.data()
    R = ng.Rf.data()
    cw = id_width(9, fin.order.size)
    rw = id_width(7, fin.rorder.size)

    def cid(uids) -> list[str]:
        p = np.sort(fin.pos[np.asarray(uids, dtype=np.int64)])
        return [f"C{x + 1:0{cw}d}" for x in p if x >= 0]

    def rid(uids) -> list[str]:
        p = np.sort(fin.rpos[np.asarray(uids, dtype=np.int64)])
        return [f"RF{x + 1:0{rw}d}" for x in p if x >= 0]

    def eid(typ: str, i: int) -> str:
        return {"patient": w.pat_id, "card": w.card_id, "doctor": w.doc_id, "institution": w.inst_id,
                "pharmacy": w.ph_id, "terminal": lambda x: w.term_ids[int(x)]}[typ](i)

    def resolve(x):
        if isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) and not isinstance(x[1], str):
            return eid(x[0], x[1])
        if isinstance(x, dict):
            return {k: resolve(v) for k, v in x.items()}
        if isinstance(x, list):
            return [resolve(v) for v in x]
        return x

    def ents(lst) -> list[dict]:
        return [{"type": t, "id": eid(t, i), "role": r} for t, i, r in lst]

    def period(uids) -> dict:
        uids = np.asarray(uids, dtype=np.int64)
        a = int(C["t0"][uids].min())
        b = int(np.maximum(C["t0"][uids], fin.t1[uids]).max())
        return {"start": str(np.datetime64(a, "s")).replace("T", " "), "end": str(np.datetime64(b, "s")).replace("T", " ")}

    out_inst = []
    seq: dict[str, int] = {}
    for I in instances:
        seq[I.kind] = seq.get(I.kind, 0) + 1
        claims = np.concatenate(I.claims) if I.claims else np.empty(0, dtype=np.int64)
        ctx = np.concatenate(I.context) if I.context else np.empty(0, dtype=np.int64)
        refs = np.concatenate([np.atleast_1d(r) for r in I.referrals]) if I.referrals else np.empty(0, dtype=np.int64)
        amount = round(float(C["fund"][claims].sum()) / 100.0, 2)
        rec = {
            "id": f"T-{I.kind}-{seq[I.kind]:03d}",
            "kind": I.kind,
            "variant": I.variant,
            "key": resolve(I.key),
            "entities": ents(I.entities),
            "claims": cid(claims),
            "amount": amount,
            "period": period(np.concatenate([claims, ctx])),
        }
        if ctx.size:
            rec["context_claims"] = cid(ctx)
        if refs.size:
            rec["referrals"] = rid(refs)
        rec.update(I.extra)
        out_inst.append(rec)
    kinds_count = {k: sum(1 for i in instances if i.kind == k) for k in KINDS}
    if ritems is not None:
        for n, rec in enumerate(ritems.instances(cid), 1):
            rows = rec.pop("_rows")
            out_inst.append({"id": f"T-rule_violation-{n:03d}", **rec, "period": period(rows)})
        kinds_count["rule_violation"] = sum(1 for i in out_inst if i["kind"] == "rule_violation")
    # hard negatives
    hard: list[HardNegative] = list(ng.hard)
    hard += _derived_hard_negatives(w, ng, fin)
    if look is not None:
        o = fin.order
        hard += look.derived(fin.card[o], C["pat"][o].astype(np.int64), C["t0"][o], o)
    counts: dict[str, int] = {}
    listed: dict[str, int] = {}
    out_hard = []
    for h in hard:
        claims = h.claims
        kept = claims[fin.pos[claims] >= 0] if claims.size else claims
        if claims.size and kept.size < min(2, claims.size):
            continue
        counts[h.kind] = counts.get(h.kind, 0) + 1
        if listed.get(h.kind, 0) >= HARD_NEGATIVE_CAP:
            continue
        listed[h.kind] = listed.get(h.kind, 0) + 1
        rec = {"kind": h.kind, "entities": ents(h.entities), "claims": cid(kept)}
        if h.referrals.size:
            rec["referrals"] = rid(h.referrals)
        rec.update(h.extra)
        out_hard.append(rec)
    return {
        "schema": TRUTH_SCHEMA,
        "generator": "graphkit.demo.city",
        "seed": w.seed,
        "patients": w.N,
        "fraud_rate": fraud_rate,
        "period": {"start": w.start_str, "end": w.end_str},
        "kinds": kinds_count,
        "instances": out_inst,
        "hard_negative_counts": dict(sorted(counts.items())),
        "hard_negatives": out_hard,
        "notes": {
            "claims": "planted claims the pattern makes suspect; amount = sum of their fund_amount",
            "context_claims": "other planted rows of the instance (e.g. the referring visit), not counted in amount",
            "impossible_travel": "claims hold both sides of each home/remote pair (both planted rows)",
            "collusion_ring": "claims = all co-admission / co-visit claims of the ring",
            "duplicate_claim": "claims = both sides of every duplicate pair (the original is a normal claim tagged "
                               "with the instance); duplicated_amount = fund_amount of the duplicates alone",
            "hard_negatives": f"at most {HARD_NEGATIVE_CAP} entries listed per kind; counts are complete",
        },
    }


def _derived_hard_negatives(w: World, ng: NormalGen, fin: _Final) -> list[HardNegative]:
    """Hard negatives read off the final data: family card sharing, hubs, night pharmacies."""
    C = ng.C.data()
    o = fin.order
    pat = C["pat"][o].astype(np.int64)
    card = fin.card[o]
    normal = C["fraud"][o] < 0
    holder = w.card_pat[card]
    out: list[HardNegative] = []
    # family card sharing: one entry per shared card
    sel = np.flatnonzero(normal & (holder != pat))
    if sel.size:
        cs = card[sel]
        srt = sel[np.argsort(cs, kind="stable")]
        cards, starts = np.unique(card[srt], return_index=True)
        ends = np.r_[starts[1:], srt.size]
        for c, a, b in zip(cards, starts, ends):
            rows = srt[a:b]
            members = np.unique(pat[rows])
            ents = [("card", int(c), "card"), ("patient", int(w.card_pat[c]), "holder")]
            ents += [("patient", int(m), "family_member") for m in members]
            out.append(HardNegative("family_card_sharing", ents, o[rows],
                                    note="registered family (contacts kind=family) sharing one card"))
    # family member's claim on a card whose holder is in hospital at that time
    ip = C["ctype"][o] == 1
    S = np.flatnonzero(ip)
    Q = sel[~ip[sel]] if sel.size else sel
    if S.size and Q.size:
        cov = covering(pat[S], C["t0"][o][S], fin.t1[o][S], holder[Q], C["t0"][o][Q], w.base)
        hit = np.flatnonzero(cov >= 0)
        for h in hit:
            q, s = Q[h], S[cov[h]]
            out.append(HardNegative(
                "family_card_during_stay",
                [("card", int(card[q]), "card"), ("patient", int(holder[q]), "holder_in_hospital"),
                 ("patient", int(pat[q]), "family_member")],
                np.array([o[s], o[q]]), note="legal family use of the card of a hospitalised holder"))
    # hubs: level-3 public hospitals with many unrelated patients per day
    inst = C["inst"][o]
    outp = (C["ctype"][o] == 0) & (inst >= 0)
    vol = np.bincount(inst[outp], minlength=w.n_inst)
    tot = max(int(vol.sum()), 1)
    day = C["t0"][o] // DAY
    for h in np.flatnonzero((w.inst_level == 3) & (w.inst_pref == 0)):
        m = outp & (inst == h)
        per_day = np.bincount(day[m] - w.day0, minlength=w.ndays) if m.any() else np.zeros(1)
        out.append(HardNegative("hub_hospital", [("institution", int(h), "hub")], np.empty(0, dtype=np.int64),
                                outpatient_share=round(float(vol[h]) / tot, 4),
                                max_daily_patients=int(per_day.max()),
                                mean_daily_patients=round(float(per_day.mean()), 1)))
    # 24-hour pharmacies: normal night sales
    ph = C["pharm"][o]
    hour = (C["t0"][o] % DAY) // HOUR
    for p in np.flatnonzero(w.ph_24h):
        m = (ph == p) & ((hour >= 22) | (hour < 7)) & normal
        out.append(HardNegative("night_pharmacy", [("pharmacy", int(p), "pharmacy")], np.empty(0, dtype=np.int64),
                                night_claims=int(m.sum()), note="24-hour pharmacy: scattered night sales"))
    return out
