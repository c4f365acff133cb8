"""The provider risk model on planted cities where the right answer is known."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from graphkit.cli import main
from graphkit.detectors import run_detector
from graphkit.evaluate import evaluate
from graphkit.findings import Entity, Finding
from graphkit.risk.scores import DEFAULTS, rule_surprise
from graphkit.risk import RISK_COLUMNS, SCORES_COLUMNS, explain_provider, provider_risk
from graphkit.risk.peers import FENCE_Z
from graphkit.scan import provider_scores
from graphkit.store.embedded import EmbeddedStore


def _city(tmp_path, providers: dict[str, dict], *, times: str = "second", seed: int = 0, patients: int = 400,
          shared: dict[str, str] | None = None, sigma: float = 0.3):
    """A city of clinics; ``providers[id]`` = {"claims": n, "cost": mean total, "kind": ...,
    "pharmacy": bool, "doctors": n (claims shared in turn), "one_doctor": bool (one settles all),
    "region": code (default R1, where every patient lives)}. Claims of every provider look alike unless told otherwise.
    ``shared``: provider -> other provider whose patients it settles (a shared patient pool)."""
    rng = np.random.default_rng(seed)
    inst, phar, docs, rows = [], [], [], []
    pools = {}
    for n, (pid, spec) in enumerate(providers.items()):
        if spec.get("pharmacy"):
            phar.append({"pharmacy_id": pid, "name": f"药店{pid}", "chain": None, "region": "R1"})
        else:
            inst.append({"institution_id": pid, "name": f"诊所{pid}", "level": 1, "ownership": "private",
                         "kind": spec.get("kind", "clinic"), "region": spec.get("region", "R1")})
            nd = spec.get("doctors", 1)
            docs += [{"doctor_id": f"D{pid}" if nd == 1 else f"D{pid}-{j}", "institution_id": pid, "department": "全科",
                      "name": None} for j in range(nd)]
        lo = (n * 37) % patients
        pools[pid] = (np.arange(lo, lo + 60) % patients)
    for pid, other in (shared or {}).items():
        pools[pid] = pools[other]
    cid = 0
    day0 = np.datetime64("2024-01-01T00:00:00")
    for pid, spec in providers.items():
        k = spec["claims"]
        pats = rng.choice(pools[pid], size=k)
        days = rng.integers(0, 180, size=k)
        secs = rng.integers(8 * 3600, 17 * 3600, size=k) if times == "second" else np.zeros(k, int)
        cost = rng.lognormal(np.log(spec.get("cost", 100.0)), sigma, size=k)
        for j in range(k):
            cid += 1
            rows.append({
                "claim_id": f"C{cid:07d}", "card_id": f"K{pats[j]:05d}", "patient_id": f"P{pats[j]:05d}",
                "claim_type": "pharmacy" if spec.get("pharmacy") else "outpatient",
                "institution_id": None if spec.get("pharmacy") else pid, "pharmacy_id": pid if spec.get("pharmacy") else None,
                "doctor_id": None if spec.get("pharmacy") else (
                    f"D{pid}" if spec.get("doctors", 1) == 1 else f"D{pid}-{0 if spec.get('one_doctor') else j % spec['doctors']}"),
                "start_time": day0 + np.timedelta64(int(days[j]), "D") + np.timedelta64(int(secs[j]), "s"),
                "diagnosis_code": "J06.9", "total_amount": round(float(cost[j]), 2), "fund_amount": round(float(cost[j]) * 0.7, 2),
            })
    pats = pd.DataFrame({"patient_id": [f"P{i:05d}" for i in range(patients)],
                         "sex": np.where(np.arange(patients) % 2, "F", "M"), "region": "R1",
                         "birth_date": pd.to_datetime("1970-01-01")})
    tables = {"institutions": pd.DataFrame(inst), "doctors": pd.DataFrame(docs), "patients": pats,
              "claims": pd.DataFrame(rows).assign(start_time=lambda d: pd.to_datetime(d["start_time"]))}
    if phar:
        tables["pharmacies"] = pd.DataFrame(phar)
    EmbeddedStore.write(tmp_path, tables)
    return EmbeddedStore(tmp_path)


def _score(sc: pd.DataFrame, pid: str, col: str = "score") -> float:
    return float(sc.loc[sc["entity_id"] == pid, col].iloc[0])


def _finding(store, pid: str, n: int, score: float = 0.9, kind: str = "card_burst") -> Finding:
    claims = store.table("claims", ["claim_id", "institution_id", "pharmacy_id"])
    mine = claims[(claims["institution_id"] == pid) | (claims["pharmacy_id"] == pid)]["claim_id"].tolist()[:n]
    return Finding.create(kind, key=(pid, n), score=score, claims=mine, entities=[Entity("institution", pid, "venue")],
                          summary="测试 / test")


def _clinics(n: int = 24, **over) -> dict[str, dict]:
    out = {f"H{i:03d}": {"claims": 40 + 10 * i} for i in range(n)}
    out.update(over)
    return out


def test_every_provider_has_a_row_and_the_parts_add_up(tmp_path):
    provs = _clinics(20)
    provs.update({f"Y{i:03d}": {"claims": 30 + 5 * i, "pharmacy": True} for i in range(12)})
    store = _city(tmp_path, provs)
    sc = provider_scores(store, [_finding(store, "H003", 20)])
    assert list(sc.columns[:6]) == SCORES_COLUMNS and list(sc.columns) == RISK_COLUMNS
    for t, ids in (("institution", 20), ("pharmacy", 12), ("doctor", 20)):
        assert (sc["entity_type"] == t).sum() == ids
    assert sc["score"].between(0, 1).all() and (sc["score"] > 0).all()
    # the parts add up as docs/risk-model.md says
    prior_logit = sc[["intercept", "exposure", "indicators", "network"]].sum(axis=1)
    assert np.allclose(prior_logit, sc["prior_logit"], atol=1e-5)
    prov = sc["entity_type"] != "terminal"
    assert np.allclose(1 / (1 + np.exp(-sc.loc[prov, "prior_logit"])), sc.loc[prov, "prior"], atol=1e-8)
    lam = DEFAULTS["prior_weight"]
    ind = DEFAULTS["cap_indicators"] * sc["indicator_excess"] / (1 + sc["indicator_excess"])
    assert (sc["indicator_hazard"] >= 0).all() and (sc["indicator_hazard"] <= ind + 1e-9).all()
    assert np.allclose(lam * (-np.log1p(-sc["prior"]) + sc["indicator_hazard"]), sc["prior_hazard"], atol=1e-6)
    assert np.allclose(sc["prior_hazard"] + sc["findings"], sc["hazard"], atol=1e-6)
    assert np.allclose(sc["hazard"] / (1 + sc["hazard"]), sc["score"], atol=1e-8)
    assert (sc["score"] == sc["score"].max()).mean() <= 0.01 + 1 / len(sc)
    assert sc["score"].is_monotonic_decreasing and sc["rank"].tolist() == list(range(1, len(sc) + 1))
    # slopes are non-negative: evidence only adds (a part below its city mean lowers the prior a little)
    assert (sc["findings"] >= 0).all()


def test_without_evidence_the_ranking_is_exposure(tmp_path):
    store = _city(tmp_path, _clinics(24))
    sc = provider_risk(store, []).scores
    inst = sc[sc["entity_type"] == "institution"]
    assert (inst[["findings", "network"]] == 0).all().all()
    # identical behaviour at every clinic: no indicator passes the fence, order = volume
    assert (inst["indicators"] == 0).all()
    assert inst["claims"].is_monotonic_decreasing


def test_a_strong_finding_lifts_a_small_provider_above_bigger_clean_ones(tmp_path):
    store = _city(tmp_path, _clinics(24))
    small = "H002"  # 60 claims; the biggest has 270
    sc = provider_risk(store, [_finding(store, small, 50, 0.95)]).scores
    inst = sc[sc["entity_type"] == "institution"].reset_index(drop=True)
    assert inst.loc[0, "entity_id"] == small
    assert _score(sc, small, "findings") > 0


def test_a_kind_that_touches_everyone_tells_little(tmp_path):
    """Benign look-alike: a detector spraying weak leads over nearly every provider (hubs included)
    must not outrank a selective finding of the same score."""
    provs = _clinics(24, H900={"claims": 3000, "kind": "hospital"})
    store = _city(tmp_path, provs)
    fs = [_finding(store, "H900", 10, 0.6, kind="shared_card")]
    fs += [_finding(store, f"H{i:03d}", 3, 0.6, kind="shared_card") for i in range(0, 24) if i != 5]
    fs.append(_finding(store, "H005", 60, 0.6, kind="card_burst"))  # the one selective lead
    res = provider_risk(store, fs)
    sc = res.scores
    assert res.params["kind_weight"]["shared_card"] < 0.1 < res.params["kind_weight"]["card_burst"]
    assert _score(sc, "H005", "findings") > 5 * _score(sc, "H900", "findings")
    inst = sc[sc["entity_type"] == "institution"].reset_index(drop=True)
    assert inst.loc[0, "entity_id"] == "H005"
    # the hub's flagged share stays near the city's rate (the EB relative rate in its own column)
    assert _score(sc, "H005", "flagged_ratio") > 10 * max(_score(sc, "H900", "flagged_ratio"), 0.01)


def test_each_rule_of_the_pack_is_weighed_by_its_own_selectivity(tmp_path):
    """rule_violation findings come from many tests: a rule that fires at nearly every provider (a
    suspicious-level pattern common in the data) must not dilute one that fires at two — weighed
    as one kind, both got the sprayed rule's weight."""
    provs = _clinics(24)
    store = _city(tmp_path, provs)
    claims = store.table("claims", ["claim_id", "institution_id"])
    by = {p: claims.loc[claims["institution_id"] == p, "claim_id"].tolist() for p in provs}

    def rule(pid: str, rid: str, n: int) -> Finding:
        return Finding.create("rule_violation", key=(pid, rid), score=0.6, claims=by[pid][:n],
                              entities=[Entity("institution", pid, "venue")], evidence={"rule_id": rid}, summary="测试 / test")

    fs = [rule(f"H{i:03d}", "CL-005", 5) for i in range(22)] + [rule("H022", "CF-003", 5), rule("H023", "CF-003", 5)]
    res = provider_risk(store, fs)
    kw = res.params["kind_weight"]
    assert kw["rule_violation:CF-003"] > 0.5 > 0.1 > kw["rule_violation:CL-005"]
    assert min(_score(res.scores, h, "findings") for h in ("H022", "H023")) > \
        5 * max(_score(res.scores, f"H{i:03d}", "findings") for i in range(22))


def test_a_rule_counts_once_per_provider_however_many_months_it_fired(tmp_path):
    """Rule findings are one per provider × rule × month: a busy clinic where one rule fired in
    six months holds no more rule evidence than a clinic where it fired once; a second rule at a
    provider is a second test and adds."""
    provs = _clinics(24)
    store = _city(tmp_path, provs)
    claims = store.table("claims", ["claim_id", "institution_id"])
    by = {p: claims.loc[claims["institution_id"] == p, "claim_id"].tolist() for p in provs}

    def rule(pid: str, rid: str, month: int) -> Finding:
        return Finding.create("rule_violation", key=(pid, rid, month), score=0.6, claims=by[pid][month:month + 2],
                              entities=[Entity("institution", pid, "venue")], evidence={"rule_id": rid},
                              summary="测试 / test")

    fs = [rule("H020", "CF-009", m) for m in range(6)] + [rule("H003", "CF-009", 0)]
    fs += [rule("H007", "CF-009", 0), rule("H007", "CL-009", 0)]
    sc = provider_risk(store, fs).scores
    assert _score(sc, "H003", "findings") > 0
    # H020 (240 claims) is busier than H003 (70): the same 2 hits a month are no more surprising there
    assert 0 < _score(sc, "H020", "findings") <= _score(sc, "H003", "findings")
    assert _score(sc, "H007", "findings") > 1.5 * _score(sc, "H003", "findings")


def test_a_rule_hit_counts_by_how_surprising_it_is_at_the_providers_volume(tmp_path):
    """Item-level rules fire a little everywhere (a data-learnt norm's tail): the same 2 hit claims in a
    month count at a small clinic and not at a busy one (where its volume predicts them), one hit is
    what chance gives, and 8 of a small clinic's claims in one month count in full
    (docs/risk-model.md, *findings*)."""
    provs = _clinics(24)
    store = _city(tmp_path, provs)
    claims = store.table("claims", ["claim_id", "institution_id"])
    by = {p: claims.loc[claims["institution_id"] == p, "claim_id"].tolist() for p in provs}
    hits = {p: 1 for i, p in enumerate(provs) if i % 2 == 0}
    hits.update({"H002": 8, "H003": 2, "H021": 2})  # 60, 70 and 250 claims
    fs = [Finding.create("rule_violation", key=(p, "CL-005"), score=0.6, claims=by[p][:k],
                         entities=[Entity("institution", p, "venue")], evidence={"rule_id": "CL-005"}, summary="测试 / test")
          for p, k in hits.items()]
    res = provider_risk(store, fs)
    sc = res.scores
    full = -np.log1p(-0.6) * res.params["kind_weight"]["rule_violation:CL-005"]
    assert _score(sc, "H002", "findings") == pytest.approx(full, rel=1e-4)
    assert 0.5 * full < _score(sc, "H003", "findings") < full
    assert _score(sc, "H021", "findings") < 0.1 * full and _score(sc, "H022", "findings") < 0.1 * full
    # the factor itself: one hit at a clinic of 5,000 claims is what chance gives, 8 at one of 100
    # count in full
    vol = np.full(24, 100.0)
    vol[1] = 5000.0
    k = np.ones(24)
    k[2] = 8.0
    rules, inst = np.array(["r"] * 24, object), np.array(["institution"] * 24, object)
    f = rule_surprise(np.arange(24), rules, k, vol, inst, months=6)
    assert f[1] < 0.01 and f[2] == pytest.approx(1.0, abs=1e-3)
    # the rule's own family decides how much 3 hits at a small clinic count: less when it alone
    # stands out of the rule's tests than when the rule singles out eight clinics
    k3 = np.ones(24)
    k3[2] = 3.0
    k8 = np.ones(24)
    k8[2:10] = 3.0
    alone = rule_surprise(np.arange(24), rules, k3, vol, inst, months=6)[2]
    many = rule_surprise(np.arange(24), rules, k8, vol, inst, months=6)[2]
    assert alone < many
    # the rate is the entity's peers': a hospital with as many hits as the other hospitals is not
    # surprising next to clinics that rarely hit
    vol2, k2 = np.r_[np.full(12, 1000.0), np.full(12, 2000.0)], np.r_[np.ones(3), np.full(12, 20.0)]
    peers = np.array(["clinic"] * 12 + ["hospital"] * 12, object)
    at = np.r_[np.arange(3), np.arange(12, 24)]  # 3 clinics hit once, every hospital 20 times
    pooled = rule_surprise(at, rules[at], k2, vol2, inst)
    by_peer = rule_surprise(at, rules[at], k2, vol2, inst, groups=peers)
    assert by_peer[3:].max() < 0.25 < 0.5 < pooled[3:].min()


def test_a_misused_card_implicates_a_pharmacy_only_where_such_cards_concentrate(tmp_path):
    """A dead person's card used at a pharmacy is the card holder's family's doing as often as the
    pharmacy's: one such card at a pharmacy of ordinary size is what chance gives it, five different
    ones at one pharmacy (cards kept behind the counter, 留存医保卡) implicate it. A phantom stay's
    witness — the pharmacy where the patient was seen meanwhile — counts the same way."""
    provs = {f"Y{i:03d}": {"claims": 200, "pharmacy": True} for i in range(24)}
    provs["H001"] = {"claims": 200}
    store = _city(tmp_path, provs)
    claims = store.table("claims", ["claim_id", "pharmacy_id", "institution_id"])
    at = {p: claims.loc[(claims["pharmacy_id"] == p) | (claims["institution_id"] == p), "claim_id"].tolist() for p in provs}

    def dead(pid: str, j: int) -> Finding:
        return Finding.create("deceased_card_use", key=(pid, j), score=0.9, claims=at[pid][3 * j: 3 * j + 3],
                              entities=[Entity("pharmacy", pid, "venue")], summary="测试 / test")

    stay = Finding.create("phantom_stay", key=("H001",), score=0.9, claims=at["H001"][:1] + at["Y003"][:4],
                          entities=[Entity("institution", "H001", "venue"), Entity("pharmacy", "Y003", "elsewhere")],
                          summary="测试 / test")
    fs = [dead("Y001", 0)] + [dead("Y002", j) for j in range(5)] + [stay]
    res = provider_risk(store, fs)
    sc = res.scores
    one, five = _score(sc, "Y001", "findings"), _score(sc, "Y002", "findings")
    w = res.params["kind_weight"]["deceased_card_use"]
    assert one < 0.05 * w and five > 0.9 * 5 * w * -np.log1p(-0.9)
    assert _score(sc, "Y003", "findings") < 0.05 < _score(sc, "H001", "findings")
    # the same claims with the pharmacy as a party to the stay count at it in full
    party = Finding.create("phantom_stay", key=("H001",), score=0.9, claims=stay.claims,
                           entities=[Entity("institution", "H001", "venue"), Entity("pharmacy", "Y003", "venue")],
                           summary="测试 / test")
    assert _score(provider_risk(store, fs[:-1] + [party]).scores, "Y003", "findings") > 0.5


def test_a_selective_kind_stays_selective_when_its_claims_spill_over_hubs(tmp_path):
    """A ring's findings sit mostly at its own venue, with a claim or two of its members at many other
    providers (the hubs everyone visits): the kind points at a few providers, not at all it touches,
    so it keeps the weight of a selective kind and its venue outranks a provider a sprayed kind
    (one finding at each of 20 providers, same score and share) points at."""
    provs = _clinics(24)
    store = _city(tmp_path, provs)
    claims = store.table("claims", ["claim_id", "institution_id"])
    by = {p: claims.loc[claims["institution_id"] == p, "claim_id"].tolist() for p in provs}
    fs = []
    for j, venue in enumerate(["H020", "H021"]):
        spill = [by[f"H{i:03d}"][j] for i in range(20)]  # one claim at each of 20 other clinics
        fs.append(Finding.create("identity_ring", key=(venue,), score=0.9, claims=by[venue][:60] + spill,
                                 entities=[Entity("institution", venue, "shared_venue")], summary="测试 / test"))
    fs += [_finding(store, f"H{i:03d}", 20, 0.9, kind="shared_card") for i in range(20)]
    res = provider_risk(store, fs)
    kw = res.params["kind_weight"]
    # touched: 22 of 24 providers (weight ≈ 0.03 if each counted 1); pointed at: ≈ 2.7
    assert kw["identity_ring"] > 0.5 > 0.1 > kw["shared_card"]
    assert _score(res.scores, "H020", "findings") > 5 * _score(res.scores, "H003", "findings")


def test_small_clinics_cannot_top_an_indicator_by_chance(tmp_path):
    """Shrinkage: 3 visits at 10x the cost rank below 400 visits at 3x when single visits vary
    a lot (as claim costs do: a lognormal spread of 1)."""
    provs = _clinics(24, H800={"claims": 3, "cost": 1000.0}, H801={"claims": 400, "cost": 300.0})
    store = _city(tmp_path, provs, sigma=1.0)
    res = provider_risk(store, [])
    ex = res.excess[res.excess["indicator"] == "cost_outpatient"].set_index("row")
    ents = res.activity.entities
    row = {e: i for i, e in enumerate(ents["entity_id"]) if ents.at[i, "entity_type"] == "institution"}
    tiny, big = ex.loc[row["H800"]], ex.loc[row["H801"]]
    assert tiny["value"] > big["value"]          # raw: the tiny clinic is dearer
    assert big["z"] > tiny["z"] and big["excess"] > 0  # shrunk: the big one stands out
    sc = res.scores
    assert _score(sc, "H801", "indicators") > _score(sc, "H800", "indicators")


def test_one_doctor_share_is_measured_only_where_several_doctors_settle(tmp_path):
    """A one-doctor clinic settles everything under its doctor by nature; a clinic of three where
    one settles all stands out."""
    provs = {f"H{i:03d}": {"claims": 60 + 10 * i, "doctors": 3} for i in range(24)}
    provs.update(H900={"claims": 300}, H901={"claims": 300, "doctors": 3, "one_doctor": True})
    store = _city(tmp_path, provs)
    res = provider_risk(store, [])
    ents = res.activity.entities
    row = {e: i for i, e in enumerate(ents["entity_id"]) if ents.at[i, "entity_type"] == "institution"}
    top = res.excess[res.excess["indicator"] == "top_doctor_share"].set_index("row")
    assert row["H900"] not in top.index           # one doctor: not measured
    assert top.loc[row["H901"], "excess"] > 0      # three doctors, one settles all: beyond the fence
    assert (top.drop(index=row["H901"])["excess"] == 0).all()


def test_providers_in_another_city_are_not_compared_with_the_citys(tmp_path):
    """Clinics in a region where none of the insured live (异地就医) are peers only of each other;
    with fewer than min_peers of them they are not compared — the same dear visits at home stand out."""
    provs = _clinics(24, H950={"claims": 300, "cost": 400.0}, H951={"claims": 300, "cost": 400.0, "region": "R9"},
                     H952={"claims": 80, "region": "R9"})
    store = _city(tmp_path, provs)
    res = provider_risk(store, [])
    ents = res.activity.entities
    row = {e: i for i, e in enumerate(ents["entity_id"]) if ents.at[i, "entity_type"] == "institution"}
    assert ents.at[row["H951"], "locality"] == "away" and ents.at[row["H950"], "locality"] == "local"
    ex = res.excess
    assert not ex["row"].isin([row["H951"], row["H952"]]).any()
    assert ex.loc[(ex["row"] == row["H950"]) & (ex["indicator"] == "cost_outpatient"), "excess"].iloc[0] > 0
    assert _score(res.scores, "H951", "indicators") <= 0 < _score(res.scores, "H950", "indicators")
    # the blind share carries the indicators' own evidence too, λ·(−ln(1 − π) + I): an up-coder
    # that no benign check explains keeps all of it, I = ln 20·x/(1+x)
    sc, lam, x = res.scores, DEFAULTS["prior_weight"], _score(res.scores, "H950", "indicator_excess")
    blind = -np.log1p(-_score(sc, "H950", "prior"))
    assert x > 0 and _score(sc, "H950", "indicator_hazard") == pytest.approx(np.log(20) * x / (1 + x), abs=1e-6)
    assert _score(sc, "H950", "prior_hazard") == pytest.approx(lam * (blind + np.log(20) * x / (1 + x)), abs=1e-6)


def test_excess_against_a_peer_group_too_small_to_test_counts_unchecked(tmp_path):
    """Seven clinics in all: the coarsest peer group has fewer than min_peers, so indicator_outlier
    does not test them and no benign check runs — the up-coder's excess keeps its full evidence in
    the blind share, as a tested one that no check explains."""
    provs = {f"H{i:03d}": {"claims": 60 + 10 * i} for i in range(6)}
    provs["H950"] = {"claims": 300, "cost": 400.0}
    store = _city(tmp_path, provs)
    res = provider_risk(store, [])
    ents = res.activity.entities
    row = {e: i for i, e in enumerate(ents["entity_id"]) if ents.at[i, "entity_type"] == "institution"}
    ex = res.excess[res.excess["row"] == row["H950"]]
    assert (ex["peer_size"] < DEFAULTS["min_peers"]).all() and ex["excess"].max() > 0
    assert run_detector("indicator_outlier", store)[0] == []
    x = _score(res.scores, "H950", "indicator_excess")
    assert _score(res.scores, "H950", "indicator_hazard") == pytest.approx(np.log(20) * x / (1 + x), abs=1e-6)
    # clinics with no excess carry none
    assert all(_score(res.scores, h, "indicator_hazard") == 0 for h in provs if h != "H950"
               and _score(res.scores, h, "indicator_excess") == 0)


def test_indicators_are_one_sided(tmp_path):
    provs = _clinics(24, H700={"claims": 400, "cost": 10.0})  # far cheaper than peers
    store = _city(tmp_path, provs)
    res = provider_risk(store, [])
    ex = res.excess
    ents = res.activity.entities
    row = int(np.flatnonzero((ents["entity_id"] == "H700").to_numpy())[0])
    cost = ex[(ex["row"] == row) & (ex["indicator"] == "cost_outpatient")].iloc[0]
    assert cost["z"] < -FENCE_Z and cost["excess"] == 0 and cost["contribution"] == 0
    assert (ex.loc[ex["z"] < ex["fence"], "excess"] == 0).all() and (ex["fence"] >= FENCE_Z).all()


def test_network_lifts_a_provider_sharing_patients_with_a_flagged_one(tmp_path):
    provs = _clinics(24)
    store = _city(tmp_path, provs, shared={"H010": "H004"})  # H010 settles H004's patients
    sc = provider_risk(store, [_finding(store, "H004", 80, 0.95)]).scores
    assert _score(sc, "H010", "network") > 0
    assert _score(sc, "H010", "network") > _score(sc, "H017", "network")


def test_dates_only_drops_night_share_and_says_so(tmp_path):
    store = _city(tmp_path, _clinics(12), times="day")
    res = provider_risk(store, [])
    assert "night_share" not in set(res.excess["indicator"])
    assert "weekend_share" in set(res.excess["indicator"])
    assert any("night share not computed" in n for n in res.notes)


def test_explain_returns_the_parts_of_the_scores_row(tmp_path, capsys):
    store = _city(tmp_path / "s", _clinics(24, H801={"claims": 400, "cost": 300.0}))
    f = _finding(store, "H801", 30)
    lead = _finding(store, "H801", 5, kind="indicator_outlier")  # not counted in F: listed before f
    res = provider_risk(store, [lead, f])
    d = explain_provider(res, "H801", findings=[lead, f])
    row = res.scores[res.scores["entity_id"] == "H801"].iloc[0]
    assert d["rank"] == row["rank"] and math.isclose(d["score"], row["score"])
    assert math.isclose(sum(d["parts"].values()), d["prior_logit"], abs_tol=1e-5)
    assert d["indicators"][0]["indicator"] == "cost_outpatient" and d["indicators"][0]["excess"] > 0
    assert [x["id"] for x in d["findings"]] == [f.id] and d["findings"][0]["claims_here"] == 30
    assert d["findings"][0]["summary"] == f.summary
    assert d["findings"][0]["hazard"] == pytest.approx(d["findings_hazard"], rel=1e-5)  # its term is all of F
    fpath = tmp_path / "findings.json"
    fpath.write_text(json.dumps({"schema": "graphkit.findings/v1", "findings": [f.to_dict()]}), "utf-8")
    assert main(["explain", "H801", "--store", str(tmp_path / "s"), "--findings", str(fpath)]) == 0
    out = capsys.readouterr().out
    assert "门诊次均费用" in out and "exposure" in out and "card_burst" in out
    assert main(["explain", "NOPE", "--store", str(tmp_path / "s")]) == 1


def test_evaluate_reports_volume_baselines(tmp_path):
    store = _city(tmp_path, _clinics(12))
    sc = provider_risk(store, []).scores
    truth = {"instances": [{"id": "T", "kind": "card_burst", "claims": [], "entities": [{"type": "institution", "id": "H011", "role": "venue"}]}]}
    ev = evaluate(truth, [], sc)
    b = ev["providers"]["baselines"]
    assert b["claim_count"]["roc_auc"] == pytest.approx(1.0) and b["fund_total"]["roc_auc"] > 0.8


def test_implausible_diagnosis_judges_an_age_only_where_the_birth_month_decides():
    """Birth dates to the month (#16): a perinatal code (P00–P96, under 2) at 2.05 years that may be
    1.97 is not judged implausible; at 2.2 years however the month falls, it is."""
    from graphkit.risk.indicators import implausible_dx, last_birth_days

    codes, sex = pd.Series(["P07.3", "P07.3", "P07.3"]), pd.Series(["F", "F", "F"])
    age, young = pd.Series([2.05, 2.2, 2.05]), pd.Series([1.97, 2.12, 2.05])
    assert implausible_dx(codes, sex, age, young).tolist() == [False, True, True]
    assert implausible_dx(codes, sex, age).tolist() == [True, True, True]  # exact dates: the age as it is
    b = np.array([18293.0, 18809.0])  # 2020-02-01, 2021-07-01
    assert last_birth_days(b).tolist() == [18293.0 + 28, 18809.0 + 30]  # Feb 2020 had 29 days
    exact = np.array([18297.0, 18809.0])  # 2020-02-05: the day is known
    assert last_birth_days(exact) is exact
