"""Why a provider ranks where it does: its parts, indicators against peers, findings, neighbours.

:func:`explain_provider` returns the explanation as data (for the notebook and services);
:func:`format_explanation` prints it (Chinese first, English alongside) for ``graphkit explain``.

Examples
--------
>>> from graphkit.risk import provider_risk                       # doctest: +SKIP
>>> res = provider_risk(store, findings)                           # doctest: +SKIP
>>> print(format_explanation(explain_provider(res, "H0007", findings=findings)))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import GraphkitError
from ..findings import Finding
from .indicators import INDICATORS
from .scores import RiskResult, _fmt

__all__ = ["explain_provider", "format_explanation", "PART_NAMES"]

#: part -> (中文, English)
PART_NAMES: dict[str, tuple[str, str]] = {
    "intercept": ("基准", "intercept"),
    "exposure": ("业务量暴露", "exposure (volume)"),
    "indicators": ("同类比较指标", "peer-relative indicators"),
    "network": ("关联网络", "network"),
}


def _locate(res: RiskResult, provider: str, entity_type: str | None) -> int:
    sc = res.scores
    m = sc["entity_id"].astype(str) == str(provider)
    if entity_type:
        m &= sc["entity_type"] == entity_type
    hits = np.flatnonzero(m.to_numpy())
    if hits.size == 0:
        raise GraphkitError(f"no provider {provider!r}" + (f" of type {entity_type}" if entity_type else "") +
                            " in the scores (institutions, pharmacies, doctors, terminals touched by findings)")
    if hits.size > 1:
        types = sorted(sc.loc[hits, "entity_type"])
        raise GraphkitError(f"{provider!r} names several entities ({', '.join(types)}); give the entity type")
    return int(hits[0])


def _spread(scale: float, name: str) -> str:
    """A peer group's robust spread in the indicator's own units."""
    ind = INDICATORS[name]
    if ind.scale == "log":
        return f"×/÷{np.exp(scale):.2f}"
    if ind.kind == "rate" or name.endswith("_share"):
        return f"±{100 * scale:.1f}pp"
    return f"±{scale:.2f}"


def explain_provider(res: RiskResult, provider: str, *, entity_type: str | None = None,
                     findings: Sequence[Finding] | None = None, top: int = 8) -> dict[str, Any]:
    """The explanation of one provider's score as a dict (JSON-ready).

    Keys: identity (entity_type, entity_id, name, region, peer_group), ``rank`` and ``of``
    (among all rows) and ``rank_in_type``, ``score``, ``hazard``, ``prior``, ``findings``,
    ``parts`` (the prior's log-odds parts), ``calibration`` (the slopes this data gave), ``volume``,
    ``indicators`` (its indicators against its peer group's median and spread, largest excess
    first), ``findings`` (those touching it), ``neighbours`` (providers sharing its patients or
    doctors that carry the most risk into it), ``notes`` (what the data could not support).
    """
    pos = _locate(res, provider, entity_type)
    row = res.scores.iloc[pos]
    etype = str(row["entity_type"])
    same = res.scores["entity_type"] == etype
    out: dict[str, Any] = {
        "entity_type": etype, "entity_id": str(row["entity_id"]),
        "name": None if pd.isna(row["name"]) else str(row["name"]),
        "region": None if pd.isna(row["region"]) else str(row["region"]),
        "peer_group": str(row["peer_group"]),
        "rank": int(row["rank"]), "of": int(len(res.scores)),
        "rank_in_type": int((res.scores.loc[same, "rank"] <= row["rank"]).sum()), "of_type": int(same.sum()),
        "score": float(row["score"]), "hazard": float(row["hazard"]), "prior": float(row["prior"]),
        "prior_logit": float(row["prior_logit"]), "findings_hazard": float(row["findings"]),
        "prior_hazard": float(row["prior_hazard"]), "prior_weight": float(res.params.get("prior_weight", 0.0)),
        "parts": {p: float(row[p]) for p in PART_NAMES},
        "calibration": res.params.get("prior_fits", {}),
        "volume": {"claims": int(row["claims"]), "fund_total": float(row["fund_total"]), "patients": int(row["patients"])},
        "flagged_ratio": float(row["flagged_ratio"]), "indicator_excess": float(row["indicator_excess"]),
        "network_ratio": float(row["network_ratio"]),
        "notes": list(res.notes),
    }
    ent_row = int(res.order[pos]) if res.order is not None else -1
    inds = []
    if 0 <= ent_row < res.activity.n_entities and len(res.excess):
        ex = res.excess[res.excess["row"] == ent_row].sort_values(["contribution", "z"], ascending=False).head(top)
        for r in ex.itertuples(index=False):
            ind = INDICATORS[r.indicator]
            inds.append({
                "indicator": r.indicator, "zh": ind.zh, "en": ind.en, "n": float(r.n),
                "value": float(r.value), "shrunk": float(r.shrunk), "peer_median": float(r.peer_median),
                "peer_scale": float(r.peer_scale), "z": float(r.z), "excess": float(r.excess),
                "contribution": float(r.contribution), "peer_group": str(r.peer_group), "peer_size": int(r.peer_size),
                "shown": {"value": _fmt(r.value, r.indicator), "shrunk": _fmt(r.shrunk, r.indicator),
                          "peer_median": _fmt(r.peer_median, r.indicator), "spread": _spread(r.peer_scale, r.indicator)},
            })
    out["indicators"] = inds
    att = res.attributions
    fl = []
    if len(att):
        mine = att[(att["entity_type"] == etype) & (att["entity_id"] == out["entity_id"])]
        byid = {i: f for i, f in enumerate(findings)} if findings is not None else {}
        for r in mine.sort_values(["score", "amount"], ascending=False).itertuples(index=False):
            f = byid.get(int(r.f))
            fl.append({"id": f.id if f else None, "kind": r.kind, "score": float(r.score), "claims_here": int(r.claims),
                       "amount_here": round(float(r.amount), 2), "summary": f.summary if f else None})
    out["findings"] = fl
    nbs = []
    if 0 <= ent_row < res.activity.n_entities:
        r_prop = res.network["propagated"].to_numpy(float)
        ents = res.activity.entities
        for n in res.graph.neighbours(ent_row, r_prop, k=5).itertuples(index=False):
            nbs.append({"entity_type": str(ents.at[n.row, "entity_type"]), "entity_id": str(ents.at[n.row, "entity_id"]),
                        "name": None if pd.isna(ents.at[n.row, "name"]) else str(ents.at[n.row, "name"]),
                        "share": round(float(n.weight), 4), "risk": round(float(n.risk), 4)})
    out["neighbours"] = nbs
    return out


def format_explanation(d: dict[str, Any]) -> str:
    """Text for ``graphkit explain`` (Chinese first, English alongside)."""
    name = f" {d['name']}" if d.get("name") else ""
    lines = [
        f"{d['entity_type']} {d['entity_id']}{name}（地区/region {d.get('region') or '-'}；同类组/peer group {d['peer_group']}）",
        f"风险分 / score {d['score']:.6f}  排名 / rank {d['rank']} / {d['of']}"
        f"（同类型内 / within {d['entity_type']}: {d['rank_in_type']} / {d['of_type']}）",
        f"业务量 / volume: {d['volume']['claims']:,} 笔结算/claims, {d['volume']['fund_total']:,.2f} 元基金/fund, "
        f"{d['volume']['patients']:,} 人/patients",
        "先验（按本数据检测线索校准的业务量、同类指标、关联网络；对数几率相加）/ prior (volume, peer indicators, "
        "network, weighted as this data's findings say; log-odds add up):",
    ]
    for p, (zh, en) in PART_NAMES.items():
        lines.append(f"  {zh} / {en:<26} {d['parts'][p]:+9.3f}")
    lines.append(f"  合计 / prior logit {'':<17} {d['prior_logit']:+9.3f}  → 先验概率 / prior π = {d['prior']:.4f}")
    lines.append(f"检测线索累积风险 / findings hazard F = Σ −ln(1 − 分数×占比 / score×share) = {d['findings_hazard']:.4f}")
    lines.append(f"总风险 / hazard L = λ·−ln(1 − π) + F = {d['prior_hazard']:.4f} + {d['findings_hazard']:.4f} = {d['hazard']:.4f}"
                 f"  → score = L/(1+L) = {d['score']:.6f}")
    lines.append(f"  λ = {d['prior_weight']:.2f}：检测器未能覆盖的比例（数据不支持而未运行或降级的检测项）"
                 f" / the share of the detector battery this data did not support")
    lines.append("同类比较指标（相对同类组中位数与离散度）/ indicators against the peer group's median and spread:")
    if not d["indicators"]:
        lines.append("  无 / none")
    for i in d["indicators"]:
        mark = "↑" if i["excess"] > 0 else " "
        lines.append(f" {mark} {i['zh']} / {i['en']}: {i['shown']['value']} (收缩后/shrunk {i['shown']['shrunk']}, n={i['n']:,.0f}) "
                     f"vs 同类/peers {i['shown']['peer_median']} {i['shown']['spread']}, z {i['z']:+.1f}"
                     + (f", 超出/excess {i['excess']:.2f}" if i["excess"] > 0 else ""))
    lines.append(f"检测线索 / findings touching it: {len(d['findings'])}")
    for f in d["findings"][:10]:
        lines.append(f"  [{f['score']:.3f}] {f['kind']} {f['id'] or ''}: {f['claims_here']} 笔/claims, {f['amount_here']:,.2f} 元 here"
                     + (f" — {f['summary']}" if f.get("summary") else ""))
    lines.append("关联网络（共享参保人/医师的其他机构）/ network neighbours (sharing patients or doctors):")
    if not d["neighbours"]:
        lines.append("  无 / none")
    for n in d["neighbours"]:
        lines.append(f"  {n['entity_type']} {n['entity_id']}{(' ' + n['name']) if n.get('name') else ''}: "
                     f"占比/share {n['share']:.1%}, 风险/risk {n['risk']:.3f}")
    for note in d.get("notes", []):
        lines.append(f"说明 / note: {note}")
    return "\n".join(lines)
