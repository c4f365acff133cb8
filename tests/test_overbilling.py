"""Provider-level over-billing in the demo generator, its labels, and case-mix adjusted indicators."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from graphkit.demo import generate_city
from graphkit.demo.overbilling import CASEMIX_LOOKALIKES, MODES
from graphkit.evaluate import evaluate
from graphkit.risk import provider_risk
from graphkit.store.embedded import EmbeddedStore


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    out = tmp_path_factory.mktemp("ob")
    generate_city(out, patients=3000, seed=2, months=3, variant="provider_overbilling")
    claims = pq.read_table(out / "claims.parquet").to_pandas()
    return out, json.loads((out / "truth.json").read_text("utf-8")), claims


def test_variant_plants_overbilling_providers_with_their_modes(city):
    out, truth, claims = city
    recs = truth["provider_fraud"]
    inst = [r for r in recs if r["entity"]["type"] == "institution"]
    phar = [r for r in recs if r["entity"]["type"] == "pharmacy"]
    assert len(inst) >= 3 and len(phar) >= 2
    assert len({(r["entity"]["type"], r["entity"]["id"]) for r in recs}) == len(recs)
    by_id = claims.set_index("claim_id")
    for r in recs:
        assert r["kind"] == "provider_overbilling" and 0.15 <= r["intensity"] <= 1.0
        assert 1 <= len(r["modes"]) <= 3 and set(r["modes"]) <= set(MODES)
        col = "institution_id" if r["entity"]["type"] == "institution" else "pharmacy_id"
        for mode, m in r["modes"].items():
            assert r["entity"]["type"] in MODES[mode][1]
            rows = by_id.loc[m["claims"]]
            # every listed claim is in the bundle, settled at that provider, by the counted patients
            assert len(rows) == len(m["claims"]) == len(set(m["claims"]))
            assert (rows[col] == r["entity"]["id"]).all()
            assert rows["patient_id"].nunique() == m["patients"]
            assert math.isclose(rows["fund_amount"].sum(), m["fund"], abs_tol=0.05)
            if mode in ("unneeded_admissions", "extended_stays", "readmissions"):
                assert (rows["claim_type"] == "inpatient").all()
    # phantom patients had no claim at that provider before (recruited identities): all their
    # claims there are over-billing rows
    for r in recs:
        if "phantom_patients" in r["modes"]:
            col = "institution_id" if r["entity"]["type"] == "institution" else "pharmacy_id"
            listed = {c for m in r["modes"].values() for c in m["claims"]}
            ph_pat = set(by_id.loc[r["modes"]["phantom_patients"]["claims"], "patient_id"])
            here = claims[(claims[col] == r["entity"]["id"]) & claims["patient_id"].isin(ph_pat)]
            assert here["claim_id"].isin(listed).all()
    # the export looks like labelled claims data: dates only, no terminals
    assert "terminal_id" not in claims.columns
    st = pd.to_datetime(claims["start_time"])
    assert (st == st.dt.normalize()).all()


def test_case_mix_lookalikes_are_hard_negatives_and_never_overbillers(city):
    _, truth, claims = city
    hn = [h for h in truth["hard_negatives"] if h["kind"] in CASEMIX_LOOKALIKES]
    assert sorted(h["kind"] for h in hn) == sorted(CASEMIX_LOOKALIKES)
    venues = {(h["entities"][0]["type"], h["entities"][0]["id"]) for h in hn}
    fraud = {(r["entity"]["type"], r["entity"]["id"]) for r in truth["provider_fraud"]}
    assert not venues & fraud
    dial = next(h for h in hn if h["kind"] == "dialysis_centre")
    rows = claims[claims["claim_id"].isin(dial["claims"])]
    assert (rows["diagnosis_code"] == "N18.5").all() and len(rows) == len(dial["claims"])
    # three sessions a week: visits per person far above any ordinary provider's
    assert len(rows) / rows["patient_id"].nunique() > 20


def test_evaluate_counts_overbilling_providers_as_positives():
    truth = {"instances": [], "provider_fraud": [
        {"kind": "provider_overbilling", "entity": {"type": "institution", "id": "H2"}, "modes": {}},
        {"kind": "provider_overbilling", "entity": {"type": "pharmacy", "id": "Y1"}, "modes": {}}]}
    sc = pd.DataFrame({"entity_type": ["institution", "institution", "pharmacy", "pharmacy"],
                       "entity_id": ["H1", "H2", "Y1", "Y2"], "score": [0.1, 0.9, 0.5, 0.4],
                       "claims": [10.0, 20, 30, 40], "fund_total": [5.0, 1, 7, 8]})
    p = evaluate(truth, [], sc)["providers"]
    assert p["positives"] == 2 and p["providers"] == 4
    assert p["roc_auc"] == 1.0  # 0.9 and 0.5 above 0.4 and 0.1
    assert p["baselines"]["claim_count"]["roc_auc"] == 0.5
    assert p["baselines"]["fund_total"]["roc_auc"] == 0.25


def _casemix_store(tmp_path):
    """24 clinics with 100 visits each, J06.9 at exactly 100 yuan; H_LA: 100 dialysis visits
    (N18.5) at 450; H_UP: 100 J06.9 visits billed at 450."""
    provs = {f"H{i:02d}": ("J06.9", 100.0) for i in range(24)}
    provs["H_LA"] = ("N18.5", 450.0)
    provs["H_UP"] = ("J06.9", 450.0)
    inst, docs, rows = [], [], []
    day0 = np.datetime64("2024-01-01T09:00:00")
    cid = 0
    for n, (pid, (dx, cost)) in enumerate(provs.items()):
        inst.append({"institution_id": pid, "name": pid, "level": 1, "ownership": "private", "kind": "clinic",
                     "region": "R1"})
        docs.append({"doctor_id": f"D{pid}", "institution_id": pid, "department": "全科", "name": None})
        for j in range(100):
            cid += 1
            p = n * 50 + j % 50
            rows.append({"claim_id": f"C{cid:06d}", "card_id": f"K{p:05d}", "patient_id": f"P{p:05d}",
                         "claim_type": "outpatient", "institution_id": pid, "pharmacy_id": None,
                         "doctor_id": f"D{pid}", "start_time": day0 + np.timedelta64(j, "D"),
                         "diagnosis_code": dx, "total_amount": cost, "fund_amount": cost * 0.7})
    pats = pd.DataFrame({"patient_id": [f"P{i:05d}" for i in range(len(provs) * 50)], "sex": "F", "region": "R1",
                         "birth_date": pd.to_datetime("1970-01-01")})
    EmbeddedStore.write(tmp_path, {"institutions": pd.DataFrame(inst), "doctors": pd.DataFrame(docs), "patients": pats,
                                   "claims": pd.DataFrame(rows).assign(start_time=lambda d: pd.to_datetime(d["start_time"]))})
    return EmbeddedStore(tmp_path)


def test_case_mix_lookalike_is_not_flagged_but_an_upcoder_of_the_same_size_is(tmp_path):
    res = provider_risk(_casemix_store(tmp_path), [])
    ents = res.activity.entities
    row = {e: i for i, e in enumerate(ents["entity_id"]) if ents.at[i, "entity_type"] == "institution"}
    ex = res.excess[res.excess["indicator"] == "cost_outpatient"].set_index("row")
    la, up, peer = ex.loc[row["H_LA"]], ex.loc[row["H_UP"]], ex.loc[row["H00"]]
    # cost at the city's case mix: the dialysis centre costs what its diagnosis costs everywhere
    assert math.isclose(la["value"], math.log(101.0), rel_tol=1e-12)
    assert math.isclose(up["value"], math.log(451.0), rel_tol=1e-12)
    assert math.isclose(peer["value"], math.log(101.0), rel_tol=1e-12)
    assert la["z"] == 0.0 and la["excess"] == 0.0
    assert up["excess"] > 0
    # visits per person and fund per patient are adjusted the same way: same pattern, same value
    fpp = res.excess[res.excess["indicator"] == "fund_per_patient"].set_index("row")
    assert math.isclose(fpp.loc[row["H_LA"], "value"], fpp.loc[row["H00"], "value"], rel_tol=1e-12)
    assert fpp.loc[row["H_UP"], "excess"] > 0 and fpp.loc[row["H_LA"], "excess"] == 0.0
    sc = res.scores.set_index("entity_id")
    assert sc.at["H_UP", "indicators"] > sc.at["H_LA", "indicators"]
