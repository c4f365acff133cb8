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

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import GraphkitError
from ..findings import Finding
from .indicators import INDICATORS
from .scores import RiskResult, _fmt, scored_findings

__all__ = ["explain_provider", "format_explanation", "compare_providers", "format_comparison", "PART_NAMES", "TYPE_NAMES"]

#: part -> (中文, English)
PART_NAMES: dict[str, tuple[str, str]] = {
    "intercept": ("基准", "intercept"),
    "exposure": ("业务量暴露", "exposure (volume)"),
    "indicators": ("同类比较指标", "peer-relative indicators"),
    "network": ("关联网络", "network"),
}

#: entity type -> 中文
TYPE_NAMES: dict[str, str] = {"institution": "医疗机构", "pharmacy": "药店", "doctor": "医师", "terminal": "终端"}


def _locate(res: RiskResult, provider: str, entity_type: str | None) -> int:
    sc = res.scores
    m = sc["entity_id"].astype(str) == str(provider)
    if entity_type:
        m &= sc["entity_type"] == entity_type
    hits = np.flatnonzero(m.to_numpy())
    if hits.size == 0:
        of = f"（{TYPE_NAMES.get(entity_type, entity_type)}）" if entity_type else ""
        raise GraphkitError(f"评分中没有 {provider}{of}，请检查编号 / no provider {provider!r}"
                            + (f" of type {entity_type}" if entity_type else "")
                            + " in the scores (institutions, pharmacies, doctors, terminals touched by findings)")
    if hits.size > 1:
        types = sorted(sc.loc[hits, "entity_type"])
        raise GraphkitError(f"{provider} 对应多个主体（{', '.join(types)}），请指明类型 / "
                            f"{provider!r} names several entities ({', '.join(types)}); give the entity type")
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
    ``finding_count`` and ``amount_at_risk`` (the scores row's), ``indicators`` (its indicators
    against its peer group's median and spread, largest excess first, at most ``top``), ``findings`` (those touching it, with ``hazard``: each one's term of ``F`` there, largest first), ``neighbours`` (providers sharing its patients or
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
        "finding_count": int(row["finding_count"]), "amount_at_risk": float(row["amount_at_risk"]),
        "flagged_ratio": float(row["flagged_ratio"]), "indicator_excess": float(row["indicator_excess"]),
        "indicator_hazard": float(row["indicator_hazard"]),
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
        # ``f`` numbers the findings the score counts (indicator leads are the indicators' part)
        byid = dict(enumerate(scored_findings(findings))) if findings is not None else {}
        for r in mine.sort_values(["hazard", "score", "amount"], ascending=False).itertuples(index=False):
            f = byid.get(int(r.f))
            fl.append({"id": f.id if f else None, "kind": r.kind, "score": float(r.score), "claims_here": int(r.claims),
                       "amount_here": round(float(r.amount), 2), "hazard": round(float(r.hazard), 6),
                       "summary": f.summary if f else None})
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
    lines.append(f"检测线索累积风险 / findings hazard F = Σ 各线索计入值 / the findings' terms = {d['findings_hazard']:.4f}"
                 "（每条：−ln(1 − 分数×占比) × 该类选择性，规则与卡类线索再乘以其显著性 / each: −ln(1 − score×share) × "
                 "the kind's selectivity, rule and card findings times their significance）")
    lines.append(f"总风险 / hazard L = λ·(−ln(1 − π) + I) + F = {d['prior_hazard']:.4f} + {d['findings_hazard']:.4f} = {d['hazard']:.4f}"
                 f"  → score = L/(1+L) = {d['score']:.6f}")
    lines.append(f"  λ = {d['prior_weight']:.2f}：检测器未能覆盖的比例（数据不支持而未运行或降级的检测项）"
                 f" / the share of the detector battery this data did not support")
    lines.append(f"  I = {d['indicator_hazard']:.4f}：同类指标超出量 x = {d['indicator_excess']:.3f} 经合规解释核查后的证据 ln 20·x/(1+x)·留存比例"
                 f" / the indicators' own evidence, ln 20·x/(1+x) times the share the benign checks leave")
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
        lines.append(f"  [{f['score']:.3f}] {f['kind']} {f['id'] or ''}: {f['claims_here']} 笔/claims, {f['amount_here']:,.2f} 元 here, "
                     f"计入/counts {f.get('hazard', 0.0):.3f}" + (f" — {f['summary']}" if f.get("summary") else ""))
    lines.append("关联网络（共享参保人/医师的其他机构）/ network neighbours (sharing patients or doctors):")
    if not d["neighbours"]:
        lines.append("  无 / none")
    for n in d["neighbours"]:
        lines.append(f"  {n['entity_type']} {n['entity_id']}{(' ' + n['name']) if n.get('name') else ''}: "
                     f"占比/share {n['share']:.1%}, 风险/risk {n['risk']:.3f}")
    for note in d.get("notes", []):
        lines.append(f"说明 / note: {note}")
    return "\n".join(lines)


# -- two providers side by side ---------------------------------------------------------------

def _split_node(provider: str, entity_type: str | None) -> tuple[str, str | None]:
    """``institution:H1`` (a workbench node id) → ``("H1", "institution")``; a bare id as it is."""
    t, sep, rest = str(provider).partition(":")
    if sep and t in TYPE_NAMES and entity_type in (None, t):
        return rest, t
    return str(provider), entity_type


def _label(d: dict[str, Any]) -> str:
    return " ".join(x for x in (TYPE_NAMES.get(d["entity_type"], d["entity_type"]), d["entity_id"], d.get("name") or "") if x)


def compare_explanations(da: dict[str, Any], db: dict[str, Any], *,
                         regions: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Two :func:`explain_provider` dicts side by side: one row per item.

    Index: the item's key (``score``, ``part.exposure``, ``ind.weekend_share.z``, ``kind.card_burst`` …);
    columns ``item`` (中文 / English), ``a`` and ``b`` (the values, ``None`` where an item does not
    apply), ``a_shown`` and ``b_shown`` (formatted: amounts in 元 with thousands separators,
    indicators in their own units, ``—`` where blank). ``attrs["labels"]`` names the two sides.

    Examples
    --------
    >>> base = {"entity_type": "institution", "name": None, "region": "370102", "peer_group": "institution|clinic",
    ...     "rank": 1, "of": 3, "rank_in_type": 1, "of_type": 2, "score": 0.9, "hazard": 9.0, "prior": 0.3,
    ...     "prior_logit": -0.8, "findings_hazard": 8.9, "parts": dict.fromkeys(PART_NAMES, 0.0),
    ...     "volume": {"claims": 1200, "fund_total": 123456.5, "patients": 80}, "finding_count": 1,
    ...     "amount_at_risk": 5000.0, "indicators": [], "findings": [{"kind": "card_burst"}]}
    >>> t = compare_explanations({**base, "entity_id": "H1"}, {**base, "entity_id": "H2", "findings": []},
    ...                          regions={"370102": "历下区"})
    >>> t.loc["fund_total", ["a_shown", "b_shown"]].tolist(), t.loc["kind.card_burst", "b_shown"], t.loc["region", "a_shown"]
    (['123,456.50 元', '123,456.50 元'], '0', '历下区 370102')
    >>> format_comparison(t).columns.tolist()
    ['项目 / item', '医疗机构 H1', '医疗机构 H2']
    """
    from ..findings import KINDS

    regions = regions or {}
    rows: list[tuple[str, str, Any, Any, str]] = []  # key, item, a, b, how shown

    def add(key: str, item: str, how: str, get: Any) -> None:
        rows.append((key, item, get(da), get(db), how))

    add("name", "名称 / name", "text", lambda d: d.get("name"))
    add("type", "类型 / type", "type", lambda d: d["entity_type"])
    add("region", "地区 / region", "region", lambda d: d.get("region"))
    add("peer_group", "同类组 / peer group", "text", lambda d: d.get("peer_group"))
    add("rank", "排名 / rank", "rank", lambda d: d["rank"])
    add("rank_in_type", "同类型内排名 / rank within type", "rank_in_type", lambda d: d["rank_in_type"])
    add("score", "风险分 / score", "f4", lambda d: d["score"])
    add("hazard", "总风险 / hazard L", "f3", lambda d: d["hazard"])
    add("prior", "先验概率 / prior π", "f4", lambda d: d["prior"])
    add("prior_logit", "先验对数几率 / prior logit", "sf3", lambda d: d["prior_logit"])
    for p, (zh, en) in PART_NAMES.items():
        add(f"part.{p}", f"  {zh} / {en}", "sf3", lambda d, p=p: d["parts"][p])
    add("findings_hazard", "检测线索风险 / findings hazard F", "f3", lambda d: d["findings_hazard"])
    add("claims", "结算笔数 / claims", "int", lambda d: d["volume"]["claims"])
    add("fund_total", "基金支付 / fund", "yuan", lambda d: d["volume"]["fund_total"])
    add("patients", "参保人数 / patients", "int", lambda d: d["volume"]["patients"])
    inds: dict[str, dict[str, dict[str, Any]]] = {}
    for side, d in (("a", da), ("b", db)):
        for i in d["indicators"]:
            inds.setdefault(i["indicator"], {})[side] = i
    for name, by in inds.items():
        ind = INDICATORS[name]
        for part, item, how in (("value", f"{ind.zh} / {ind.en}：本机构 / value", f"ind:{name}"),
                                (("peer_median", f"{ind.zh}：同类中位 / peer median", f"ind:{name}")),
                                ("z", f"{ind.zh}：z", "z")):
            rows.append((f"ind.{name}.{part}", item, by["a"][part] if "a" in by else None,
                         by["b"][part] if "b" in by else None, how))
    add("finding_count", "检测线索 / findings", "int", lambda d: d.get("finding_count", len(d["findings"])))
    kinds = sorted({f["kind"] for d in (da, db) for f in d["findings"]}, key=lambda k: (list(KINDS).index(k) if k in KINDS else 99, k))
    for k in kinds:
        add(f"kind.{k}", f"  {KINDS.get(k, (k,))[0]} / {k}", "int", lambda d, k=k: sum(f["kind"] == k for f in d["findings"]))
    add("amount_at_risk", "涉及金额 / amount at risk", "yuan", lambda d: d.get("amount_at_risk"))

    def shown(v: Any, how: str, d: dict[str, Any]) -> str:
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            return "—"
        if how == "type":
            return f"{TYPE_NAMES.get(v, v)} {v}"
        if how == "region":
            n = regions.get(str(v), "")
            return f"{n} {v}" if n else str(v)
        if how == "rank":
            return f"{v:,} / {d['of']:,}"
        if how == "rank_in_type":
            return f"{v:,} / {d['of_type']:,}"
        if how == "int":
            return f"{int(v):,}"
        if how == "yuan":
            return f"{float(v):,.2f} 元"
        if how.startswith("ind:"):
            return _fmt(float(v), how[4:], unit=True)
        digits = {"f4": 4, "f3": 3, "sf3": 3, "z": 1}.get(how)
        if digits is None:
            return str(v)
        x = round(float(v), digits) + 0.0  # no "-0.000"
        return f"{x:+.{digits}f}" if how in ("sf3", "z") else f"{x:.{digits}f}"

    out = pd.DataFrame({"item": [r[1] for r in rows], "a": [r[2] for r in rows], "b": [r[3] for r in rows],
                        "a_shown": [shown(r[2], r[4], da) for r in rows], "b_shown": [shown(r[3], r[4], db) for r in rows]},
                       index=pd.Index([r[0] for r in rows], name="key"))
    out.attrs["labels"] = (_label(da), _label(db))
    return out


def compare_providers(res: RiskResult, a: str, b: str, *, a_type: str | None = None, b_type: str | None = None,
                      findings: Sequence[Finding] | None = None, regions: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Two providers side by side (see :func:`compare_explanations` for the table).

    ``a`` and ``b`` are ids (``H0007``) or workbench node ids (``institution:H0007``); every
    indicator either has is listed, blank (``—``) for the side it does not apply to. An unknown
    id raises :class:`~graphkit.errors.GraphkitError` with a message in Chinese and English.

    Examples
    --------
    >>> t = compare_providers(res, "H0007", "institution:H0011", findings=findings)  # doctest: +SKIP
    >>> print(format_comparison(t).to_string(index=False))                           # doctest: +SKIP
    """
    top = len(INDICATORS)
    out = []
    for p, t in ((a, a_type), (b, b_type)):
        pid, ptype = _split_node(p, t)
        if not pid.strip():
            raise GraphkitError("请填写要对比的机构编号 / give the id of the provider to compare")
        out.append(explain_provider(res, pid.strip(), entity_type=ptype, findings=findings, top=top))
    return compare_explanations(out[0], out[1], regions=regions)


def format_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison as shown: ``项目 / item`` and one column per provider (strings only)."""
    la, lb = table.attrs.get("labels", ("A", "B"))
    if la == lb:
        la, lb = f"A: {la}", f"B: {lb}"
    return pd.DataFrame({"项目 / item": table["item"].to_numpy(), la: table["a_shown"].to_numpy(),
                         lb: table["b_shown"].to_numpy()})
