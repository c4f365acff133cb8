"""Double-random inspection (双随机、一公开): every institution and pharmacy with its risk inputs
and selection weight (:func:`inspection_candidates`), and the seeded, audited draw of targets
(riskier ones more likely) and their inspectors, skipping conflicts (:func:`draw_inspection`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..audit import AuditLog
from ..errors import ParameterError
from .constants import DEFAULT_RISK_WEIGHTS, _PROVIDER_COLS
from .source import MonitoringError, _attach_counts, _count_by_provider, _fingerprint, _log, _providers

__all__ = ["inspection_candidates", "draw_inspection"]


def inspection_candidates(
    source: Any,
    *,
    scores: pd.DataFrame | None = None,
    complaints: pd.DataFrame | None = None,
    violations: pd.DataFrame | None = None,
    weights: Mapping[str, float] | None = None,
    provider_types: Sequence[str] = ("institution", "pharmacy"),
) -> pd.DataFrame:
    """Every institution and pharmacy with its risk inputs and selection weight.

    Parameters
    ----------
    source : Store or mapping of DataFrames
        Where the institutions and pharmacies come from.
    scores : DataFrame, optional
        Provider scores of :func:`graphkit.scan.scan` (entity_type, entity_id, score); 0 when absent.
    complaints, violations : DataFrame, optional
        One row per complaint / past violation with ``provider_id`` (and optionally
        ``provider_type``, ``count``); a row without provider_type matches the id of either type.
    weights : mapping, optional
        Overrides of :data:`DEFAULT_RISK_WEIGHTS`:
        weight = base + score×s + complaint×min(c, complaint_cap) + violation×min(v, violation_cap).
    provider_types : sequence of str
        Which kinds of provider may be drawn.

    Returns
    -------
    DataFrame
        provider_type, provider_id, score, complaints, violations, weight, share (weight / sum
        within the provider type), sorted by type and id.

    Examples
    --------
    >>> import pandas as pd
    >>> data = {"institutions": pd.DataFrame({"institution_id": ["H1", "H2"]})}
    >>> sc = pd.DataFrame({"entity_type": ["institution"], "entity_id": ["H2"], "score": [0.5]})
    >>> inspection_candidates(data, scores=sc)[["provider_id", "weight", "share"]].to_dict("records")
    [{'provider_id': 'H1', 'weight': 1.0, 'share': 0.25}, {'provider_id': 'H2', 'weight': 3.0, 'share': 0.75}]
    """
    w = {**DEFAULT_RISK_WEIGHTS, **(weights or {})}
    unknown = set(w) - set(DEFAULT_RISK_WEIGHTS)
    if unknown:
        raise ParameterError(f"unknown weight(s) {sorted(unknown)}; known: {sorted(DEFAULT_RISK_WEIGHTS)}")
    if any(v < 0 for v in w.values()) or w["base"] <= 0:
        raise ParameterError(f"weights must be >= 0 and base > 0; got {w}")
    pop = _providers(source)
    pop = pop[pop["provider_type"].isin(list(provider_types))].reset_index(drop=True)
    if scores is not None and len(scores):
        s = scores[scores["entity_type"].isin(["institution", "pharmacy"])]
        sv = pd.Series(s["score"].astype("float64").to_numpy(),
                       index=pd.MultiIndex.from_arrays([s["entity_type"].astype(object), s["entity_id"].astype(str).astype(object)]))
        sv = sv.groupby(level=[0, 1]).max()
        pop["score"] = sv.reindex(pd.MultiIndex.from_frame(pop[_PROVIDER_COLS].astype(object))).fillna(0.0).to_numpy()
    else:
        pop["score"] = 0.0
    pop["complaints"] = _attach_counts(pop, _count_by_provider(complaints, "complaints"), "complaints")
    pop["violations"] = _attach_counts(pop, _count_by_provider(violations, "violations"), "violations")
    pop["weight"] = (w["base"] + w["score"] * pop["score"].clip(0, 1)
                     + w["complaint"] * pop["complaints"].clip(0, w["complaint_cap"])
                     + w["violation"] * pop["violations"].clip(0, w["violation_cap"])).round(6)
    pop["share"] = (pop["weight"] / pop.groupby("provider_type")["weight"].transform("sum")).round(6)
    return pop


def draw_inspection(
    source: Any,
    inspectors: Sequence[str] | pd.DataFrame,
    *,
    seed: int,
    n_targets: int | Mapping[str, int] = 5,
    inspectors_per_target: int = 2,
    scores: pd.DataFrame | None = None,
    complaints: pd.DataFrame | None = None,
    violations: pd.DataFrame | None = None,
    weights: Mapping[str, float] | None = None,
    conflicts: pd.DataFrame | None = None,
    log: AuditLog | None = None,
    note: str = "",
) -> pd.DataFrame:
    """Double-random inspection (双随机): draw targets (riskier ones more likely) and their inspectors.

    Targets are drawn without replacement with probability proportional to the weight of
    :func:`inspection_candidates` (successive sampling, done as Efraimidis–Spirakis keys
    ``log(u) / weight`` over the candidates sorted by type and id), separately per provider type
    when ``n_targets`` is a mapping. Each target then gets ``inspectors_per_target`` distinct
    inspectors drawn uniformly from the roster, skipping those with a conflict (回避). The draw
    is recorded in the audit log (action ``inspection_draw``) with its seed, parameters, data
    fingerprint and result.

    Parameters
    ----------
    source : Store or mapping of DataFrames
        Where the institutions and pharmacies come from.
    inspectors : sequence of str or DataFrame
        The inspector roster (执法检查人员名录库): ids, or a DataFrame with ``inspector_id``.
    seed : int
        Random seed: the same seed and inputs give the same draw.
    n_targets : int or mapping
        Targets in total, or per provider type (``{"institution": 3, "pharmacy": 5}``).
    inspectors_per_target : int
        Inspectors per target (at least 2 by the rules).
    scores, complaints, violations, weights
        Risk inputs, see :func:`inspection_candidates`.
    conflicts : DataFrame, optional
        ``inspector_id``, ``provider_id`` pairs that must not meet (回避).
    log : AuditLog, optional
        Where to record the draw (default :func:`graphkit.audit.default_log`).
    note : str
        Free text stored with the audit entry (e.g. the campaign name).

    Returns
    -------
    DataFrame
        draw_id, order (draw order), provider_type, provider_id, score, complaints, violations,
        weight, share, inspectors (``;``-joined ids), seed. ``attrs["audit"]`` holds the entry.

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> from graphkit.audit import AuditLog
    >>> log = AuditLog(os.path.join(tempfile.mkdtemp(), "audit.jsonl"))
    >>> data = {"institutions": pd.DataFrame({"institution_id": [f"H{i}" for i in range(10)]})}
    >>> d = draw_inspection(data, ["A", "B", "C"], seed=7, n_targets=3, log=log)
    >>> d2 = draw_inspection(data, ["A", "B", "C"], seed=7, n_targets=3, log=log)
    >>> d["provider_id"].tolist() == d2["provider_id"].tolist(), len(log.find("inspection_draw"))
    (True, 2)
    """
    if isinstance(inspectors, pd.DataFrame):
        if "inspector_id" not in inspectors.columns:
            raise ParameterError("inspectors DataFrame needs an inspector_id column")
        roster = inspectors["inspector_id"].astype(str).tolist()
    else:
        roster = [str(x) for x in inspectors]
    roster = sorted(dict.fromkeys(roster))
    if inspectors_per_target < 1 or len(roster) < inspectors_per_target:
        raise ParameterError(f"need at least inspectors_per_target={inspectors_per_target} (>= 1) inspectors; got {len(roster)}")
    cand = inspection_candidates(source, scores=scores, complaints=complaints, violations=violations, weights=weights)
    if isinstance(n_targets, Mapping):
        quota = {str(k): int(v) for k, v in n_targets.items()}
    else:
        quota = {"*": int(n_targets)}
    if any(v < 0 for v in quota.values()):
        raise ParameterError(f"n_targets must be >= 0; got {n_targets}")
    rng = np.random.default_rng(int(seed))
    u = rng.random(len(cand))
    key = np.log(np.maximum(u, np.finfo(float).tiny)) / cand["weight"].to_numpy(dtype="float64")
    cand = cand.assign(_key=key)
    chosen = []
    for typ, k in sorted(quota.items()):
        pool = cand if typ == "*" else cand[cand["provider_type"] == typ]
        if typ != "*" and typ not in ("institution", "pharmacy"):
            raise ParameterError(f"n_targets: unknown provider type {typ!r}")
        if k > len(pool):
            raise ParameterError(f"n_targets: {k} {typ if typ != '*' else 'providers'} wanted, only {len(pool)} available")
        chosen.append(pool.sort_values("_key", ascending=False, kind="stable").head(k))
    drawn = pd.concat(chosen).sort_values("_key", ascending=False, kind="stable").drop(columns="_key").reset_index(drop=True)
    bad: dict[str, set[str]] = {}
    if conflicts is not None and len(conflicts):
        for i, p in zip(conflicts["inspector_id"].astype(str), conflicts["provider_id"].astype(str)):
            bad.setdefault(p, set()).add(i)
    assigned = []
    for pid in drawn["provider_id"].astype(str):
        ok = [r for r in roster if r not in bad.get(pid, set())]
        if len(ok) < inspectors_per_target:
            raise MonitoringError(f"only {len(ok)} inspector(s) without a conflict for {pid}; need {inspectors_per_target}")
        pick = rng.choice(len(ok), size=inspectors_per_target, replace=False)
        assigned.append(";".join(ok[j] for j in sorted(pick)))
    drawn["inspectors"] = pd.Series(assigned, dtype="string")
    params = {"seed": int(seed), "n_targets": quota, "inspectors_per_target": int(inspectors_per_target),
              "weights": {**DEFAULT_RISK_WEIGHTS, **(weights or {})}, "candidates": int(len(cand)),
              "roster": roster, "data_fingerprint": _fingerprint(source)}
    draw_id = "DR-" + hashlib.sha256(json.dumps(
        {**params, "candidates_weights": cand[["provider_type", "provider_id", "weight"]].astype(str).values.tolist()},
        sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]
    drawn.insert(0, "order", np.arange(1, len(drawn) + 1))
    drawn.insert(0, "draw_id", draw_id)
    drawn["seed"] = int(seed)
    entry = _log(log).append(
        "inspection_draw", draw_id=draw_id, **params, note=note,
        targets=[{"provider": f"{t}:{i}", "weight": float(w), "inspectors": s.split(";")}
                 for t, i, w, s in zip(drawn["provider_type"], drawn["provider_id"], drawn["weight"], drawn["inspectors"])])
    drawn.attrs["audit"] = entry
    return drawn[["draw_id", "order", "provider_type", "provider_id", "score", "complaints", "violations", "weight",
                  "share", "inspectors", "seed"]]
