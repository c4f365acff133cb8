"""Run a rule pack over a store: hits per item line, a per-rule summary, and findings of kind
``rule_violation`` grouped per provider × rule × month (a provider with 4,000 hits of one rule
in a month is one lead, not 4,000).

Examples
--------
>>> from graphkit.rules.engine import level_score
>>> level_score("违规", claims=1, deduct=0.0) < level_score("违规", claims=10, deduct=500.0)
True
>>> level_score("可疑", claims=10, deduct=500.0) < level_score("违规", claims=10, deduct=500.0)
True
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from ..findings import Entity, Finding
from ..allocator import release_memory
from .frame import ItemFrame, build_frame
from .library import RulePack, load_pack
from .shapes import SHAPE_COLUMNS, SHAPES, Ctx, _resolve, shape_needs

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["RuleRun", "run_rules", "RULE_THREADS", "SHAPE_BYTES", "rule_findings", "common_practice", "level_score", "LEVEL_WEIGHT", "MAX_ITEMS"]

#: score weight of the 判断等级: a 违规 hit is a finding a bureau deducts on, a 可疑 one goes to review
LEVEL_WEIGHT = {"违规": 1.0, "可疑": 0.7}
#: item lines listed in a finding's evidence (all are counted)
MAX_ITEMS = 30
_INS = {"职工": "employee", "居民": "resident"}


def level_score(level: str, *, claims: int, deduct: float) -> float:
    """Score of a provider × rule × month group: the level's weight × ``s / (1 + s)`` with
    ``s = ln(1 + claims) + ln(1 + 违规金额 / 100)`` (more claims and more money rank higher; the
    score never saturates)."""
    s = float(np.log1p(claims) + np.log1p(max(deduct, 0.0) / 100.0))
    return LEVEL_WEIGHT[level] * s / (1.0 + s)


@dataclass
class RuleRun:
    """What a pack found: ``hits`` (one row per violating item line and rule), ``summary``
    (per rule: status, reason when skipped, hit counts and amounts)."""

    pack: RulePack
    hits: pd.DataFrame
    summary: dict[str, dict[str, Any]]
    frame: ItemFrame | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def totals(self) -> dict[str, Any]:
        ran = [s for s in self.summary.values() if s["status"] == "ran"]
        return {"rules": len(self.summary), "ran": len(ran), "skipped": len(self.summary) - len(ran),
                "hits": int(sum(s["hits"] for s in ran)), "deduct_amount": round(sum(s["deduct_amount"] for s in ran), 2)}


def _skip(rule, reason_zh: str, reason_en: str) -> dict[str, Any]:
    return {"name": rule.name, "category": rule.category, "level": rule.level, "status": "skipped",
            "reason": f"{reason_zh} / {reason_en}", "hits": 0, "claims": 0, "deduct_amount": 0.0, "fund_amount": 0.0,
            "providers": 0}


def _scope_key(rule) -> tuple:
    return (tuple(sorted(rule.claim_types)), tuple(sorted(rule.institution_levels or ())),
            tuple(sorted(rule.insurance or ())))


def _mask(frame: ItemFrame, rule) -> np.ndarray:
    """Per line, whether it is in the rule's settings, institution levels and insurance types
    (decided per claim)."""
    cl = frame.claims
    m = cl["claim_type"].isin(list(rule.claim_types)).to_numpy(bool).copy()
    if rule.institution_levels:
        m &= (cl["provider_type"] == "pharmacy").to_numpy() | cl["level"].isin(list(rule.institution_levels)).to_numpy()
    if rule.insurance:
        m &= cl["insurance_type"].isin([_INS[i] for i in rule.insurance]).to_numpy(bool)
    return m[frame.ci]


def _columns(rule, frame: ItemFrame) -> list[str] | None:
    """The frame columns ``rule`` reads: its shape's, a code rule's declared ``fn.columns`` (those
    the frame holds), else every column (None)."""
    if rule.shape in SHAPE_COLUMNS:
        return list(SHAPE_COLUMNS[rule.shape])
    declared = getattr(_resolve(rule.function), "columns", None) if rule.shape == "code" else None
    return None if declared is None else [c for c in declared if c in frame.columns]


#: rules evaluated at once by default. numpy and Arrow release the GIL in their sorts, gathers and
#: hashes, so a second rule can run on a second core (42.15M lines, the detector alone: 200 → 172 s),
#: but the working memory per shape (:data:`SHAPE_BYTES`, measured at 4.2M lines) underestimates at
#: full size: in a full scan two rules at once took the pack's worker to 8.1 GB against the 7.1 GB
#: planned, for no gain in wall time there. So one at a time unless asked (``threads=2``).
RULE_THREADS = 1
#: a rule's working memory per item line of the frame, by shape (peak above the frame while it
#: runs, its columns included: measured on the 100k-insured city, 4.2M lines); other shapes and
#: code rules: :data:`DEFAULT_SHAPE_BYTES`
SHAPE_BYTES = {"peer_quantity": 52, "supply_overlap": 48, "rare_attribute": 45, "peer_price": 42, "unit_repeat": 42,
               "patient_limit": 35, "quantity_limit": 33, "peer_value": 33, "days_supply_limit": 32,
               "price_ceiling": 27, "count_window": 26, "data_repeat": 26, "split_claims": 25, "code_mismatch": 24,
               "item_time_outside": 20, "pair": 15, "indication_limit": 13, "claim_count": 13, "setting_limit": 9,
               "not_payable": 4, "stay_quantity": 4}
DEFAULT_SHAPE_BYTES = 52


def _working_budget(lines: int) -> float:
    """Bytes the rules running at once may take beside the frame: the pack's planned peak
    (``lines`` × :data:`graphkit.rules.detector.BYTES_PER_LINE`, what a scan budgets for it) less
    what this process holds now. A rule alone always runs."""
    from ..scan_pool import rss_mb
    from .detector import BYTES_PER_LINE

    return max(0.0, lines * BYTES_PER_LINE - rss_mb() * 2**20)


def _run_shapes(frame: ItemFrame, ctx: Ctx, rules: list, threads: int, budget: float,
                collect: Callable[[Any, pd.DataFrame, float, int], None]) -> None:
    """Each rule's shape over its lines, its hits handed to ``collect(rule, hits, seconds,
    providers in scope)`` as soon as it has run (one call at a time). With ``threads`` > 1 the
    next rule (in order) starts beside the running ones only while their working memory
    (:data:`SHAPE_BYTES` × lines) stays within ``budget``; a rule alone always runs. The frame's
    column cache keeps the columns of every running rule."""
    ci = frame.ci
    pcodes = np.asarray(frame.claims["provider_id"].array.codes)
    left = {}
    for r in rules:
        left[_scope_key(r)] = left.get(_scope_key(r), 0) + 1
    scopes: dict[tuple, tuple] = {}
    cond = threading.Condition()
    queue = list(reversed(rules))
    running: dict[str, tuple[float, list[str] | None]] = {}
    failed: list[BaseException] = []

    def weight(r) -> float:
        return SHAPE_BYTES.get(r.shape, DEFAULT_SHAPE_BYTES) * len(frame)

    def start(r):  # under ``cond``: the rule's lines and columns
        k = _scope_key(r)
        if k not in scopes:
            pos = np.flatnonzero(_mask(frame, r))
            on = slice(int(pos[0]), int(pos[-1]) + 1) if pos.size and pos[-1] - pos[0] + 1 == pos.size else pos
            del pos
            scopes[k] = (on, int(pd.unique(pcodes[ci[on]]).size))
        on, nprov = scopes[k]
        cols = _columns(r, frame)
        running[r.id] = (weight(r), cols)
        keep = [c for _, cs in running.values() if cs is not None for c in cs]
        if all(cs is not None for _, cs in running.values()):
            frame.keep_cached(keep)
        return frame.take(cols, on), nprov

    def finish(r, result) -> None:  # under ``cond``
        running.pop(r.id, None)
        k = _scope_key(r)
        left[k] -= 1
        if not left[k]:
            scopes.pop(k, None)
        try:
            if result is not None:
                collect(r, *result)
        except BaseException as e:  # noqa: BLE001 - re-raised by the caller
            failed.append(e)
        cond.notify_all()

    def worker() -> None:
        while True:
            with cond:
                while True:
                    if failed or not queue:
                        return
                    r = queue[-1]
                    if not running or sum(w for w, _ in running.values()) + weight(r) <= budget:
                        queue.pop()
                        try:
                            sub, nprov = start(r)
                        except BaseException as e:  # noqa: BLE001 - re-raised by the caller
                            failed.append(e)
                            finish(r, None)
                            return
                        break
                    cond.wait()
            try:
                t = time.perf_counter()
                h = SHAPES[r.shape](sub, r, ctx)
                del sub
                result = (h, time.perf_counter() - t, nprov)
            except BaseException as e:  # noqa: BLE001 - re-raised by the caller
                with cond:
                    failed.append(e)
                    finish(r, None)
                return
            with cond:
                finish(r, result)
            del result, h  # the raw hits: collected

    if threads <= 1 or len(rules) <= 1:
        worker()
    else:
        pool = [threading.Thread(target=worker, name=f"rules-{i}", daemon=True) for i in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
    if failed:
        raise failed[0]


def run_rules(store: Store, pack: RulePack | str | None = None, *, kb: Any = None,
              rules: list[str] | None = None, drop_common: float | None = None, threads: int | None = None) -> RuleRun:
    """Evaluate ``pack`` (a :class:`RulePack`, a file path, or None for the shipped pack) over
    ``store``'s claims and claim items. ``rules``: only these rule ids. ``drop_common``: keep no
    hit rows of a rule broken at more than this share of its providers (:func:`common_practice`
    with that share gives no findings of it; its summary keeps the counts) — at 10M lines such a
    rule's hits can be most of the run's. ``threads``: rules evaluated at once (default
    :data:`RULE_THREADS`), while their working memory fits beside the frame (:func:`_run_shapes`);
    the hits are the same for any number.

    A rule whose columns the data lacks (e.g. ``days_supply`` absent or all null) is skipped
    and says so in the summary; without ``claim_items`` every rule is skipped.
    """
    if not isinstance(pack, RulePack):
        pack = load_pack(pack, kb=kb)
    chosen = [r for r in pack.rules if r.enabled and (rules is None or r.id in rules)]
    if rules is not None:
        unknown = sorted(set(rules) - {r.id for r in pack.rules})
        if unknown:
            raise KeyError(f"no rule(s) {unknown} in {pack.source}")
    summary: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    empty = pd.DataFrame({"rule_id": pd.Series(dtype="string"), "row": pd.Series(dtype="int64"),
                          "deduct": pd.Series(dtype="float64")})
    if not store.has_table("claim_items") or not store.row_counts().get("claim_items", 0):
        for r in chosen:
            summary[r.id] = _skip(r, "缺少费用明细", "no claim items in the data")
        return RuleRun(pack, empty, summary)
    t0 = time.perf_counter()
    frame = build_frame(store)
    release_memory()  # the build's batches and temporaries, back to the system (≈ 2 GB at 26M lines)
    code = frame.lines["item_code"].array  # a categorical: look each distinct code up once
    cc = np.asarray(code.codes)
    kbi = np.where(cc >= 0, pack.kb.items.index.get_indexer(code.categories.astype(str)).astype(np.int32)[cc], -1)
    del cc
    ctx = Ctx(frame.lines, pack.kb, kbi, frame)
    amount = frame.lines["amount"].to_numpy()
    ci = frame.ci
    pcodes = np.asarray(frame.claims["provider_id"].array.codes)  # per claim
    seconds["frame"] = time.perf_counter() - t0
    parts: dict[str, pd.DataFrame] = {}
    # rules sharing settings share one row subset (a slice where it is one run of lines: the frame
    # is grouped by setting); each rule sees only the columns its shape reads
    scope = _scope_key
    order = sorted(range(len(chosen)), key=lambda i: (scope(chosen[i]), i))
    runnable = []
    for r in (chosen[i] for i in order):
        missing = frame.missing(shape_needs(r))
        if missing:
            summary[r.id] = _skip(r, "费用明细缺少列 " + "、".join(missing), "claim items lack " + ", ".join(missing))
        elif not r.claim_types:
            summary[r.id] = _skip(r, "数据无法区分该就医场景（" + "、".join(r.settings) + "）",
                                  "the bundle cannot tell these settings apart")
        else:
            runnable.append(r)

    def collect(r, h: pd.DataFrame, secs: float, nprov: int) -> None:
        t1 = time.perf_counter()
        h = h[np.isfinite(h["deduct"].to_numpy())] if len(h) else h
        h = h.drop_duplicates("row")
        h = h.assign(deduct=np.clip(h["deduct"].to_numpy("float64"), 0.0, amount[h["row"].to_numpy()]))
        seconds[r.id] = secs + time.perf_counter() - t1
        rows = h["row"].to_numpy()
        ded = h["deduct"].to_numpy()
        hc = ci[rows]
        summary[r.id] = {
            "name": r.name, "category": r.category, "level": r.level, "status": "ran", "reason": "",
            "hits": int(len(h)), "claims": int(pd.unique(hc).size),
            "deduct_amount": round(float(ded.sum()), 2),
            "fund_amount": round(float((ded * frame.claims["fund_ratio"].to_numpy()[hc]).sum()), 2),
            "providers": int(pd.unique(pcodes[hc]).size),
            "scope_providers": nprov,
        }
        if drop_common is None or not _is_common(summary[r.id], drop_common):
            parts[r.id] = h[["row", "deduct"]]

    n_threads = RULE_THREADS if threads is None else max(1, int(threads))
    _run_shapes(frame, ctx, runnable, n_threads, _working_budget(len(frame)) if n_threads > 1 else 0.0, collect)
    frame.drop_cache()
    ids = [r.id for r in chosen if r.id in parts]  # in the pack's order
    if ids:
        hits = pd.concat([parts[i] for i in ids], ignore_index=True)
        n = [len(parts[i]) for i in ids]
        hits.insert(0, "rule_id", pd.Categorical.from_codes(np.repeat(np.arange(len(ids), dtype=np.int32), n), ids))
    else:
        hits = empty
    summary = {r.id: summary[r.id] for r in chosen}
    seconds = {k: seconds[k] for k in ["frame", *(r.id for r in chosen)] if k in seconds}
    return RuleRun(pack, hits, summary, frame, seconds)


def _top_per_group(g: np.ndarray, val: pd.Series, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` most frequent non-null values of ``val`` per group ``g`` (ties: smallest value
    first): (sorted group ids, values, group start offsets into them)."""
    ok = val.notna().to_numpy()
    d = pd.DataFrame({"g": g[ok], "v": val.to_numpy(object)[ok]})
    c = d.groupby(["g", "v"], sort=True).size().reset_index(name="n")
    c = c.sort_values(["g", "n", "v"], ascending=[True, False, True], kind="stable")
    c = c[c.groupby("g", sort=False).cumcount().to_numpy() < k]
    return c["g"].to_numpy(), c["v"].to_numpy(object), c["n"].to_numpy()


def _slices(sorted_g: np.ndarray, n: int) -> np.ndarray:
    """Start offsets of groups 0..n (n+1 values) in an array sorted by group id."""
    return np.searchsorted(sorted_g, np.arange(n + 1))


#: a rule broken at fewer providers than this is never judged common practice (a majority of
#: two or three providers says nothing of what is usual)
MIN_COMMON = 5


def _is_common(s: dict[str, Any], max_provider_share: float) -> bool:
    """A ran rule's summary says it is broken at more than ``max_provider_share`` of its providers."""
    n, of = s.get("providers", 0), s.get("scope_providers", 0)
    return s.get("status") == "ran" and bool(of) and n >= MIN_COMMON and n / of > max_provider_share


def common_practice(run: RuleRun, max_provider_share: float = 0.5) -> set[str]:
    """Rules broken at more than ``max_provider_share`` of the providers billing in their
    settings (and at ≥ :data:`MIN_COMMON` of them): what most providers do is this data's norm —
    a catalogue that does not fit the region's prices or coding, or a practice the bureau must
    address as policy — not a lead on one provider. Their hits, claims and amounts stay in the
    summary, marked ``leads: false`` with the reason; they give no findings.

    >>> common_practice(RuleRun(None, pd.DataFrame(), {"A": {"status": "ran", "providers": 9, "scope_providers": 10},
    ...                                               "B": {"status": "ran", "providers": 3, "scope_providers": 10}}))
    {'A'}
    """
    out = set()
    for rid, s in run.summary.items():
        if s.get("status") != "ran" or not s.get("scope_providers"):
            continue
        share = s["providers"] / s["scope_providers"]
        if _is_common(s, max_provider_share):
            out.add(rid)
            s["leads"] = False
            s["reason"] = (f"普遍做法：{s['providers']}/{s['scope_providers']} 家机构（{share:.0%}）均有违反，"
                           f"属目录与本地不符或需政策处理，不作个案线索 / common practice: broken at {s['providers']} of "
                           f"{s['scope_providers']} providers ({share:.0%}) — a catalogue that does not fit this data, or a "
                           f"policy matter; no lead on one provider")
        else:
            s["leads"] = True
    return out


def rule_findings(run: RuleRun, *, max_items: int = MAX_ITEMS, store: Store | None = None,
                  benign_weight: float = 0.2, max_provider_share: float = 0.5) -> list[Finding]:
    """Findings of kind ``rule_violation``: one per rule × provider × calendar month of the
    claim, with the rule's id, level and basis, the item lines (first ``max_items``) and every
    claim; ``amount_at_risk`` = the fund's share of the 违规金额. Rules most providers break
    (:func:`common_practice`) give none. Legal look-alikes are tested
    by :func:`graphkit.rules.benign.weigh_benign` (``store``: where contacts are read).

    Vectorised: group sums, distinct claims, the most frequent doctors and patients and the
    listed lines are computed for all groups at once; the loop only assembles each finding
    from slices of those arrays.
    """
    if run.frame is None or not len(run.hits):
        return []
    norm = common_practice(run, max_provider_share)
    hits = run.hits[~run.hits["rule_id"].isin(norm)] if norm else run.hits
    if not len(hits):
        return []
    frame = run.frame
    rows = hits["row"].to_numpy()
    opt = [c for c in ("item_name", "quantity", "unit_price", "days_supply") if c in frame.columns]
    cols = ["claim_id", "item_code", "provider_type", "provider_id", "month", "patient_id", "doctor_id", "start",
            "amount", "fund_ratio"] + opt
    h = frame.take(cols, rows).reset_index(drop=True)
    h["rule_id"] = hits["rule_id"].to_numpy()
    h["deduct"] = hits["deduct"].to_numpy("float64")
    h["fund_deduct"] = h["deduct"].to_numpy() * h["fund_ratio"].to_numpy("float64")
    keys = ["rule_id", "provider_type", "provider_id", "month"]
    gb = h.groupby(keys, sort=True, observed=True)
    g = gb.ngroup().to_numpy()
    G = int(g.max()) + 1
    agg = pd.DataFrame({
        "deduct": np.bincount(g, weights=h["deduct"].to_numpy(), minlength=G),
        "fund": np.bincount(g, weights=h["fund_deduct"].to_numpy(), minlength=G),
        "lines": np.bincount(g, minlength=G),
    })
    first = pd.DataFrame({"g": g, **{k: h[k].to_numpy(object) for k in keys}}).drop_duplicates("g").sort_values("g")
    st = h["start"]
    tmin = st.groupby(g).min().reindex(range(G)).to_numpy()
    tmax = st.groupby(g).max().reindex(range(G)).to_numpy()
    npat = h.groupby(g)["patient_id"].nunique().reindex(range(G)).to_numpy()
    # distinct claims per group
    cl = pd.DataFrame({"g": g, "c": h["claim_id"].astype(str).to_numpy(object)}).drop_duplicates().sort_values(["g", "c"])
    cg, cv = cl["g"].to_numpy(), cl["c"].to_numpy(object)
    cs = _slices(cg, G)
    # the most frequent doctors (10) and patients (20)
    dg, dv, _ = _top_per_group(g, h["doctor_id"], 10)
    ds = _slices(dg, G)
    pg, pv, _ = _top_per_group(g, h["patient_id"], 20)
    ps = _slices(pg, G)
    # listed lines: the dearest first, then by claim
    o = np.lexsort((h["claim_id"].astype(str).to_numpy(), -h["deduct"].to_numpy(), g))
    o = o[pd.Series(g[o]).groupby(g[o]).cumcount().to_numpy() < max_items]
    lg = g[o]
    ls = _slices(lg, G)
    lcols = ["claim_id", "item_code"] + opt + ["amount", "deduct"]
    lvals = {}
    for c in lcols:
        v = h[c].to_numpy(object)[o]
        lvals[c] = [None if pd.isna(x) else (x.item() if hasattr(x, "item") else x) for x in v]
    rules = {r.id: r for r in run.pack.rules}
    pack_s, kb_s = f"{run.pack.name} v{run.pack.version}", f"{run.pack.kb.name} v{run.pack.kb.version}"
    desc = {rid: r.describe() for rid, r in rules.items()}
    out: list[Finding] = []
    a_deduct, a_fund, a_lines = (agg[c].to_numpy().tolist() for c in ("deduct", "fund", "lines"))
    for i, (rid, ptype, pid, month) in enumerate(first[keys].itertuples(index=False, name=None)):
        r = rules[rid]
        claims = cv[cs[i]:cs[i + 1]]
        nclaims = len(claims)
        deduct = float(a_deduct[i])
        fund = float(a_fund[i])
        nlines = int(a_lines[i])
        ents = [Entity(ptype, str(pid), "venue")]
        ents += [Entity("doctor", str(d), "prescriber") for d in dv[ds[i]:ds[i + 1]]]
        ents += [Entity("patient", str(p), "insured") for p in pv[ps[i]:ps[i + 1]]]
        a, b = ls[i], ls[i + 1]
        items = [{c: lvals[c][j] for c in lcols} for j in range(a, b)]
        out.append(Finding.create(
            "rule_violation", key=(rid, ptype, pid, month),
            score=level_score(r.level, claims=nclaims, deduct=deduct),
            amount_at_risk=fund, start=tmin[i], end=tmax[i],
            entities=ents, claims=claims,
            summary=f"{r.level}·{r.category}：{r.name}（{rid}），{month} 共 {nclaims} 笔结算、{nlines} 条明细，"
                    f"违规金额 {deduct:,.2f} 元 / {r.level} {rid} at {ptype} {pid}, {month}: {nlines} item lines on "
                    f"{nclaims} claims, {deduct:,.2f} yuan",
            evidence={**desc[rid], "month": month, "hit_lines": nlines, "hit_claims": nclaims,
                      "patients": int(npat[i]), "deduct_amount": round(deduct, 2),
                      "fund_deduct_amount": round(fund, 2), "pack": pack_s, "kb": kb_s,
                      "items": items, "items_listed": len(items)},
        ))
    from .benign import weigh_benign  # legal look-alikes: evidence.benign_checks, the score demoted

    # only the lines of rules that gave findings are weighed (a common-practice rule's hits can be
    # most of the run's at 10M lines)
    return weigh_benign(dataclasses.replace(run, hits=hits), out, store=store, weight=benign_weight)
