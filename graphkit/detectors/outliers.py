"""``indicator_outlier`` (监控指标异常): a provider whose case-mix adjusted monitoring indicators
(智能监控指标) stand out from its peers beyond the Bonferroni fence — provider-level over-billing
(extra visits, phantom patients, inflated cost, unneeded admissions, extended stays,
readmissions) that no pattern among a few claims shows.

Null (calibrated on the bundle)
    The indicators of the provider risk model (:mod:`graphkit.risk.indicators`, case-mix adjusted
    by :mod:`graphkit.risk.casemix`) against the provider's peer group (:mod:`graphkit.risk.peers`:
    kind × level × ownership × region, coarser when a group has fewer than ``min_peers``
    providers): robust ``z = (shrunk − peer median) / robust scale`` (1.4826·MAD of the
    well-measured peers, floored at the sampling noise of a median-size peer), one-sided. The
    candidates are the providers whose family-weighted excess beyond the fence
    (``Φ⁻¹(1 − 0.0035/K)``, Tukey's outer fence made Bonferroni over the provider's ``K``
    indicator families) is positive — exactly the risk model's indicator excess, computed once
    per scan (:mod:`graphkit.risk.shared`). Per family the one-sided normal tail of the robust
    z of its most extreme member, times the family's size; the provider's ``p`` is its smallest
    family ``p``. ``surprise(log10 p, n_tests)`` with ``n_tests`` = providers tested × indicator
    families; the score is ``surprise_score(surprise) × benign factor``. A provider whose peer
    group has fewer than ``min_peers`` members is not tested.

Benign explanations (``evidence["benign_checks"]``)
    ``case_mix`` — the indicators are compared at the city's case mix (diagnosis group × claim
    type); the raw (unadjusted) z is shown beside the adjusted one; without diagnosis codes on
    most of its claims: not testable. ``specialty`` — a provider whose claims concentrate in one
    diagnosis group (≥ ½ of them) is compared with the providers of its type whose claims
    concentrate in the same group (at least two others): when it is not beyond its fence
    against them, the pattern is that specialty's (dialysis, oncology, rehabilitation, DTP) and
    the candidate is dropped. ``small_provider`` — the shrink weight of its leading indicator:
    under ½ (its own value counts less than its peers'), × that weight. ``referral_hub`` — the
    share of its patients referred in (where the bundle has referrals): a referral centre sees
    sicker patients; × (1 − share) when above its peers' median share. ``data_coverage`` — the
    share of its claims with a diagnosis code (the case-mix adjustment rests on it) and what the
    data could not support (notes): × that share, at least ``benign_weight``, when under ½.

Key: the provider. Claims: its claims above the case-mix expectation — fund above the median
of their diagnosis group × claim type × provider level (its own claims included), and, when
visits per person is beyond the fence, the claims of its patients seen more often than its
peers' median at its case mix. ``amount_at_risk`` = ``max(0, O − E)`` over its claims (``E``
the cell medians) plus, when visits per person is beyond the fence, the visits beyond the
peers' median at its case mix × its fund per claim. Entities: the provider (venue) and its
top doctors (treating).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..findings import Entity, Finding
from ..params import Param
from ..risk.casemix import claim_groups, dx_groups, group_expectation
from ..risk.indicators import INDICATORS, birth_days, death_days, format_indicator
from ..risk.peers import FAMILIES
from ..risk.shared import shared_excess, shared_indicators
from . import register
from ._common import benign_check, benign_factor, surprise, surprise_score, yuan
from ._outlier_checks import residents_of_patients, who_and_when

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["indicator_outliers", "CASE_MIX_ADJUSTED"]

LN10 = float(np.log(10.0))
PROVIDERS = ("institution", "pharmacy")
#: indicators the case-mix adjustment applies to (graphkit.risk.casemix)
CASE_MIX_ADJUSTED = ("cost_outpatient", "cost_inpatient", "cost_pharmacy", "visits_per_person", "fund_per_patient",
                     "admission_rate", "length_of_stay", "readmit_15d", "readmit_30d")


def _fmt(v: float, name: str) -> str:
    return format_indicator(v, name, unit=True)


def _raw_values(act: Any) -> dict[str, np.ndarray]:
    """Unadjusted values per entity row (provider side) of the indicators the case mix adjusts
    and that a bincount gives: cost per claim type (mean ln(1 + total)), visits per person
    (claims / patients, patients filled in by the caller), admission rate, length of stay."""
    ne = act.n_entities
    ok = act.prov >= 0
    out: dict[str, np.ndarray] = {}
    x = np.log1p(np.maximum(act.total, 0.0))
    for name, t in (("cost_outpatient", 0), ("cost_inpatient", 1), ("cost_pharmacy", 2)):
        m = ok & (act.ctype == t)
        n = np.bincount(act.prov[m], minlength=ne)
        out[name] = np.bincount(act.prov[m], weights=x[m], minlength=ne) / np.maximum(n, 1)
    med = ok & ((act.ctype == 0) | (act.ctype == 1))
    n = np.bincount(act.prov[med], minlength=ne)
    out["admission_rate"] = np.bincount(act.prov[med], weights=(act.ctype[med] == 1).astype(float), minlength=ne) / np.maximum(n, 1)
    m = ok & (act.ctype == 1) & ~np.isnan(act.los)
    n = np.bincount(act.prov[m], minlength=ne)
    out["length_of_stay"] = np.bincount(act.prov[m], weights=act.los[m], minlength=ne) / np.maximum(n, 1)
    out["claims"] = np.bincount(act.prov[ok], minlength=ne).astype(float)
    return out


def _mad_z(v: float, ref: np.ndarray, floor: float) -> tuple[float, float, float]:
    med = float(np.median(ref))
    scale = max(1.4826 * float(np.median(np.abs(ref - med))), floor, 1e-9)
    return (v - med) / scale, med, scale


def _referred_in(store: Store, act: Any) -> np.ndarray | None:
    """Per entity row: distinct patients referred to it (``None`` without referrals)."""
    if not store.has_table("referrals"):
        return None
    ref = store.table("referrals", ["patient_id", "to_institution_id"]).dropna()
    if ref.empty:
        return None
    ent = act.entities
    inst = ent[ent["entity_type"] == "institution"]
    row = pd.Series(inst.index.to_numpy(), index=inst["entity_id"].astype(str).to_numpy())
    row = row[~row.index.duplicated()]
    r = ref.assign(row=ref["to_institution_id"].astype(str).map(row)).dropna(subset=["row"])
    cnt = r.drop_duplicates(["row", "patient_id"]).groupby("row").size()
    out = np.zeros(act.n_entities)
    out[cnt.index.to_numpy(int)] = cnt.to_numpy(float)
    return out


@register(
    "indicator_outlier",
    [
        Param("min_peers", 10, "int", low=3,
              doc="providers a peer group needs for a robust median/MAD (the risk model's min_peers); smaller groups are not tested"),
        Param("top_doctors", 3, "int", low=0, doc="doctors named with the provider (most claims among the finding's claims)"),
        Param("benign_weight", 0.25, "float", low=0.0, high=1.0,
              doc="least score factor of the data-coverage check (a pattern partly resting on claims without diagnoses)"),
    ],
    # opt-in: its precision@k on planted over-billing is ~0.5 (institutional residents — care homes,
    # group-exam sites — still pass the fence); docs/detectors.md
    default=False,
)
def indicator_outliers(store: Store, *, min_peers: int = 10, top_doctors: int = 3, benign_weight: float = 0.25) -> list[Finding]:
    """Providers whose case-mix adjusted monitoring indicators stand out from their peers beyond the Bonferroni fence."""
    act, ind, notes = shared_indicators(store)
    ex = shared_excess(store, int(min_peers))
    if ex.empty:
        return []
    ent = act.entities
    types = ent["entity_type"].to_numpy()
    is_prov = np.isin(types, PROVIDERS)
    e = ex[is_prov[ex["row"].to_numpy(int)] & (ex["peer_size"].to_numpy(int) >= int(min_peers))].copy()
    if e.empty:
        return []
    e["family"] = e["indicator"].map(FAMILIES)
    fam_size = e.groupby(["row", "family"])["indicator"].transform("size").to_numpy(float)
    e["p"] = norm.sf(e["z"].to_numpy(float))
    e["log10_p"] = np.minimum(norm.logsf(e["z"].to_numpy(float)) / LN10 + np.log10(fam_size), 0.0)
    n_tests = int(e["row"].nunique()) * int(e["family"].nunique())
    hit = e[e["excess"] > 0]
    if hit.empty:
        return []
    cand = np.unique(hit["row"].to_numpy(int))
    raw = _raw_values(act)
    pairs = np.zeros(act.n_entities)
    vpp = ind[ind["indicator"] == "visits_per_person"]
    pairs[vpp["row"].to_numpy(int)] = vpp["n"].to_numpy(float)
    raw["visits_per_person"] = raw["claims"] / np.maximum(pairs, 1.0)

    # --- per-claim expectations (only where a candidate settles claims) -------------------------
    ok = act.prov >= 0
    in_cand = np.zeros(act.n_entities, bool)
    in_cand[cand] = True
    cmask = ok & in_cand[np.maximum(act.prov, 0)]
    grp = claim_groups(act.dx, act.dx_codes)
    lv_code = pd.factorize(pd.Series(ent["level"].astype(object).to_numpy()).astype(str))[0]
    nlv = int(lv_code.max()) + 2 if lv_code.size else 1
    stratum = (act.ctype.astype(np.int64) + 1) * nlv + np.append(lv_code, -1)[act.prov].astype(np.int64) + 1
    E = np.full(act.n_claims, np.nan)
    E[ok] = group_expectation(act.fund[ok], grp[ok], stratum[ok])
    crow = np.flatnonzero(cmask)
    cprov = act.prov[crow]
    excess_c = act.fund[crow] - E[crow]
    O_minus_E = np.bincount(cprov, weights=excess_c, minlength=act.n_entities)
    fund = np.bincount(act.prov[ok], weights=act.fund[ok], minlength=act.n_entities)
    has_dx = np.bincount(cprov, weights=(act.dx[crow] >= 0).astype(float), minlength=act.n_entities)
    # dominant diagnosis group per provider (all providers: the specialty peers need theirs)
    dxm = ok & (act.dx >= 0)
    G = int(grp.max()) + 1 if grp.size else 1
    key, cnt = np.unique(act.prov[dxm].astype(np.int64) * G + grp[dxm], return_counts=True)
    kp = key // G
    order = np.lexsort((-cnt, kp))
    first = order[np.r_[True, kp[order][1:] != kp[order][:-1]]] if order.size else order
    dom_grp = np.full(act.n_entities, -1, np.int64)
    dom_cnt = np.zeros(act.n_entities)
    dom_grp[kp[first]] = key[first] % G
    dom_cnt[kp[first]] = cnt[first]
    dx_claims = np.bincount(act.prov[dxm], minlength=act.n_entities).astype(float)
    dom_share = dom_cnt / np.maximum(dx_claims, 1.0)
    group_total = np.bincount(grp[dxm], minlength=G).astype(float)
    group_names = np.append(dx_groups(act.dx_codes).unique().to_numpy(object), "?")
    referred = _referred_in(store, act)
    concentrated = dom_share >= 0.5
    # pairs (provider, patient) of the candidates: visits per pair
    pk = cprov.astype(np.int64) * max(len(act.patients), 1) + act.pat[crow]
    upk, pinv, pcnt = np.unique(pk, return_inverse=True, return_counts=True)
    visits_of_claim = pcnt[pinv]
    # each candidate's claims as one slice (claim order kept): the loop never scans all of them
    by_prov = np.argsort(cprov, kind="stable")
    crow_s, excess_s, visits_s = crow[by_prov], excess_c[by_prov], visits_of_claim[by_prov]
    lo_of = np.searchsorted(cprov[by_prov], cand, side="left")
    hi_of = np.searchsorted(cprov[by_prov], cand, side="right")

    # lookups by row and by (indicator, peer group), so the loop over candidates never scans ``e``
    days_known = act.day[act.day >= 0]
    ref = pd.Timestamp(int(days_known.max()), unit="D") if days_known.size else None
    res_type = residents_of_patients(store, act.patients, ref)
    bday = birth_days(act.patients)
    dday = death_days(act.patients)

    hits = {int(r): g for r, g in hit.groupby("row", sort=True)}
    peer_rows = {k: g["row"].to_numpy(int) for k, g in e.groupby(["indicator", "peer_group"], sort=False)}
    shrunk_of = {n: pd.Series(g["shrunk"].to_numpy(float), index=g["row"].to_numpy(int)) for n, g in e.groupby("indicator", sort=False)}
    findings: list[Finding] = []
    sel_rows: dict[int, np.ndarray] = {}
    drafts = []
    for r, lo, hi in zip(cand, lo_of, hi_of):
        hr = hits[int(r)].sort_values(["contribution", "z"], ascending=False)
        lead = hr.iloc[0]
        fence = float(lead["fence"])
        log10_p = float(hr["log10_p"].min())
        s = float(surprise(log10_p, n_tests))
        # claims driving the excess, amount
        mine = crow_s[lo:hi]  # its claim rows
        sel = excess_s[lo:hi] > 0
        amount = max(float(O_minus_E[r]), 0.0)
        excess_visits = 0.0
        v = hr[hr["indicator"] == "visits_per_person"]
        if len(v):
            x = v.iloc[0]
            ratio = raw["visits_per_person"][r] / max(float(x["value"]), 1e-12)  # real visits per adjusted visit
            expect = float(x["peer_median"]) * ratio
            excess_visits = max(pairs[r] * (float(x["shrunk"]) - float(x["peer_median"])) * ratio, 0.0)
            amount += excess_visits * fund[r] / max(raw["claims"][r], 1.0)
            sel |= visits_s[lo:hi] > expect
        if not sel.any():
            sel = np.ones(mine.size, bool)
        checks = []
        # case mix: adjusted vs raw
        adj = [n for n in hr["indicator"] if n in CASE_MIX_ADJUSTED]
        cover = float(has_dx[r] / max(raw["claims"][r], 1.0))
        if not adj:
            checks.append(benign_check("case_mix", "病种结构", "ruled_out",
                                       "超出的指标不随病种变化 / the indicators beyond the fence do not depend on diagnoses"))
        elif cover < 0.5:
            checks.append(benign_check("case_mix", "病种结构", "not_testable",
                                       f"仅{cover:.0%}的结算有诊断编码，无法按病种调整 / only {cover:.0%} of its claims carry a diagnosis"))
        else:
            parts = []
            for _, x in hr[hr["indicator"].isin(adj)].iterrows():
                n = x["indicator"]
                if n in raw:
                    peers = peer_rows[(n, x["peer_group"])]
                    zr, _, _ = _mad_z(float(raw[n][r]), raw[n][peers], float(x["peer_scale"]))
                    parts.append(f"{INDICATORS[n].zh} 未调整z {zr:.1f} → 调整后z {x['z']:.1f} / {n} raw z {zr:.1f} → adjusted z {x['z']:.1f}")
                else:
                    parts.append(f"{INDICATORS[n].zh} 调整后z {x['z']:.1f} / {n} adjusted z {x['z']:.1f}")
            checks.append(benign_check("case_mix", "病种结构", "ruled_out",
                                       "按全市同病种同类型期望值调整后仍超出阈值：" + "；".join(parts)))
        # specialty: concentrated in one diagnosis group → compare with providers concentrated in it
        g = int(dom_grp[r])
        gname = str(group_names[g]) if 0 <= g < len(group_names) else "?"
        drop = False
        if g < 0 or not concentrated[r]:
            checks.append(benign_check("specialty", "专科机构", "ruled_out",
                                       f"病种分散：最多的病种{gname}占{dom_share[r]:.0%} / no dominant diagnosis group ({gname} {dom_share[r]:.0%})"))
        else:
            spec = np.flatnonzero(concentrated & (dom_grp == g) & (types == types[r]))
            spec = spec[spec != r]
            if spec.size < 2:
                own = dom_cnt[r] / max(group_total[g], 1.0)
                checks.append(benign_check("specialty", "专科机构", "not_testable",
                                           f"{gname}占其结算{dom_share[r]:.0%}，同类专科机构不足2家（其占全市该病种{own:.0%}） / "
                                           f"{gname} is {dom_share[r]:.0%} of its claims; fewer than 2 other providers concentrate in it"))
            else:
                beyond = []
                for _, x in hr.iterrows():
                    sh = shrunk_of[x["indicator"]]
                    vals = sh[sh.index.isin(spec)].to_numpy(float)
                    if vals.size < 2:
                        continue
                    zs, _, _ = _mad_z(float(x["shrunk"]), vals, float(x["peer_scale"]))
                    if zs > float(x["fence"]):
                        beyond.append(f"{x['indicator']} z {zs:.1f}")
                if beyond:
                    checks.append(benign_check("specialty", "专科机构", "ruled_out",
                                               f"与同样集中于{gname}的{spec.size}家机构相比仍超出：{'；'.join(beyond)} / "
                                               f"still beyond the fence against {spec.size} providers concentrated in {gname}"))
                else:
                    drop = True  # the pattern is its specialty's: explained, not reported
        if drop:
            continue
        # small provider: shrinkage of the leading indicator
        w = float(lead["weight"])
        if w >= 0.5:
            checks.append(benign_check("small_provider", "规模小", "ruled_out",
                                       f"n={int(lead['n'])}，自身数值权重{w:.2f} / n={int(lead['n'])}, own value weighs {w:.2f}"))
        else:
            checks.append(benign_check("small_provider", "规模小", "partial",
                                       f"n={int(lead['n'])}，自身数值权重仅{w:.2f} / n={int(lead['n'])}, own value weighs only {w:.2f}", factor=w))
        # referral hub
        if referred is None or types[r] != "institution":
            checks.append(benign_check("referral_hub", "转诊接收中心", "not_testable",
                                       "无转诊记录 / no referrals in the data" if referred is None else "药店不接收转诊 / pharmacies receive no referrals"))
        else:
            share = float(referred[r] / max(pairs[r], 1.0))
            peers = peer_rows[(lead["indicator"], lead["peer_group"])]
            pshare = float(np.median(referred[peers] / np.maximum(pairs[peers], 1.0))) if peers.size else 0.0
            if share > pshare and share > 0:
                checks.append(benign_check("referral_hub", "转诊接收中心", "partial",
                                           f"{share:.0%}的患者为转入（同类中位数{pshare:.0%}） / {share:.0%} of its patients referred in (peers {pshare:.0%})",
                                           factor=max(1.0 - share, 0.0)))
            else:
                checks.append(benign_check("referral_hub", "转诊接收中心", "ruled_out",
                                           f"{share:.0%}的患者为转入（同类中位数{pshare:.0%}） / {share:.0%} referred in (peers {pshare:.0%})"))
        # data coverage
        note = "；".join(notes) if notes else ""
        if adj and cover < 0.5:
            checks.append(benign_check("data_coverage", "数据完整性", "partial",
                                       f"仅{cover:.0%}的结算有诊断编码 / {cover:.0%} of claims carry a diagnosis. {note}",
                                       factor=max(cover, float(benign_weight))))
        else:
            checks.append(benign_check("data_coverage", "数据完整性", "ruled_out",
                                       f"{cover:.0%}的结算有诊断编码 / {cover:.0%} of claims carry a diagnosis. {note}".strip()))
        checks += who_and_when(act, hr, mine, sel, res_type, bday, dday)
        score = float(surprise_score(s)) * benign_factor(checks)
        sel_rows[int(r)] = mine[sel]
        drafts.append((int(r), hr, lead, log10_p, s, score, checks, amount, excess_visits, float(O_minus_E[r]), cover))
    if not drafts:
        return []
    # claim ids of the selected rows, one pass over the claim_id column
    from ..risk.activity import table_batches

    want = np.zeros(act.n_claims, bool)
    for rows in sel_rows.values():
        want[rows] = True
    ids = np.empty(act.n_claims, object)
    _, batches = table_batches(store, "claims", ["claim_id"])
    at = 0
    for f in batches:
        k = len(f)
        m = want[at:at + k]
        if m.any():
            ids[at:at + k][m] = f["claim_id"].astype(str).to_numpy(object)[m]
        at += k
    for r, hr, lead, log10_p, s, score, checks, amount, excess_visits, ome, cover in drafts:
        rows = sel_rows[r]
        days = act.day[rows]
        days = days[days >= 0]
        start = pd.Timestamp(int(days.min()), unit="D") if days.size else None
        end = pd.Timestamp(int(days.max()), unit="D") if days.size else None
        docs = act.doc[rows]
        docs = docs[docs >= 0]
        ents = [Entity(str(types[r]), str(ent.at[r, "entity_id"]), "venue")]
        if docs.size and top_doctors > 0:
            u, c = np.unique(docs, return_counts=True)  # most claims first, ties by doctor row
            ents += [Entity("doctor", str(ent.at[int(d), "entity_id"]), "treating")
                     for d in u[np.argsort(-c, kind="stable")][:int(top_doctors)]]
        name = lead["indicator"]
        null = {"peer_group": lead["peer_group"], "peer_size": int(lead["peer_size"]), "indicator": name,
                "value": float(lead["shrunk"]), "peer_median": float(lead["peer_median"]),
                "robust_scale": float(lead["peer_scale"]), "z": float(lead["z"]), "p_one_sided": float(lead["p"]),
                "fence": float(lead["fence"]), "n_tests": n_tests, "log10_p": log10_p, "surprise": s,
                "method": "robust z (peer median, 1.4826·MAD) of case-mix adjusted, shrunk indicators; one-sided normal tail × family size; "
                          "Bonferroni over providers × indicator families"}
        cols = list(hr.columns)  # DataFrame.to_dict("records") costs ≈ 2 ms a call: per column, then zipped
        recs = [dict(zip(cols, v)) for v in zip(*(hr[c].tolist() for c in cols))]
        inds = [{"indicator": x["indicator"], "zh": INDICATORS[x["indicator"]].zh, "family": x["family"],
                 "value": float(x["value"]), "shrunk": float(x["shrunk"]), "n": float(x["n"]), "weight": float(x["weight"]),
                 "peer_group": x["peer_group"], "peer_median": float(x["peer_median"]), "robust_scale": float(x["peer_scale"]),
                 "z": float(x["z"]), "p_one_sided": float(x["p"]), "fence": float(x["fence"]), "excess": float(x["excess"]),
                 "contribution": float(x["contribution"])} for x in recs]
        top = "；".join(f"{INDICATORS[x['indicator']].zh} {_fmt(float(x['shrunk']), x['indicator'])}（同类中位数 "
                       f"{_fmt(float(x['peer_median']), x['indicator'])}，z {float(x['z']):.1f}）" for x in recs[:3])
        top_en = "; ".join(f"{x['indicator']} z {float(x['z']):.1f}" for x in recs[:3])
        pname = ent.at[r, "name"] if isinstance(ent.at[r, "name"], str) else ent.at[r, "entity_id"]
        findings.append(Finding.create(
            "indicator_outlier", key=(str(types[r]), str(ent.at[r, "entity_id"])), score=score, amount_at_risk=amount,
            start=start, end=end, entities=ents, claims=ids[rows],
            summary=f"监控指标异常：{pname} {top}；超出病种期望 {yuan(amount)} / monitoring-indicator outlier: {top_en}",
            evidence={"null": null, "indicators": inds, "indicator_excess": float(hr["contribution"].sum()),
                      "observed_minus_expected_fund": ome, "excess_visits": excess_visits,
                      "diagnosis_coverage": cover, "benign_checks": checks, "data_notes": list(notes)},
        ))
    findings.sort(key=lambda f: (-f.score, -f.amount_at_risk, f.id))
    return findings
