"""The rule pack on a variant demo city whose item lines follow the knowledge base, with planted
violations of every category among legal look-alikes (graphkit.demo.violations)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from graphkit.demo import generate_city
from graphkit.demo.config import VARIANTS, CityConfig
from graphkit.demo.violations import PLANTED
from graphkit.evaluate import evaluate
from graphkit.rules import load_kb, rule_findings, run_rules


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    from loaders import load_bundle

    from graphkit.store import open_store

    root = tmp_path_factory.mktemp("rule_city")
    with pytest.MonkeyPatch.context() as mp:  # module scope: the per-test audit fixture does not reach here
        mp.setenv("GRAPHKIT_AUDIT_LOG", str(root / "audit.jsonl"))
        generate_city(root / "b", patients=3000, months=3, seed=0, variant="item_rules")
        load_bundle(root / "b", root / "s", allow_demo_key=True)
    truth = json.loads((root / "b" / "truth.json").read_text("utf-8"))
    store = open_store(root / "s")
    run = run_rules(store)
    return root, truth, store, run


def test_rule_items_are_off_in_the_default_city_and_on_in_their_variant():
    assert CityConfig().rule_items is False and CityConfig().is_default()
    planted = [n for n, v in VARIANTS.items() if v.config.rule_items and v.config.rule_violations > 0]
    assert planted == ["item_rules", "item_rules_foreign"]
    # the other variants bill compliant catalogue lines (their rule leads are the pack's false alarms),
    # except the original city and the over-billing ones, which keep the generator's random lines
    compliant = {n for n, v in VARIANTS.items() if v.config.rule_items and v.config.rule_violations == 0}
    assert compliant == set(VARIANTS) - {"default", "item_rules", "item_rules_foreign", "provider_overbilling",
                                         "volume_overbilling"}


def test_a_compliant_city_plants_no_rule_violation_but_the_card_burst_goods(tmp_path):
    from graphkit.demo import generate_city

    generate_city(tmp_path / "b", patients=3000, months=2, seed=3,
                  config=CityConfig(name="compliant", rule_items=True, rule_violations=0.0))
    truth = json.loads((tmp_path / "b" / "truth.json").read_text("utf-8"))
    rv = [i for i in truth["instances"] if i["kind"] == "rule_violation"]
    assert rv and {i["variant"] for i in rv} == {"card_burst_goods"}
    assert {i["rule_id"] for i in rv} == {"FW-004"}


def test_items_sum_to_totals_and_legal_lines_respect_the_catalogue(city):
    root, truth, _, _ = city
    it = pd.read_parquet(root / "b" / "claim_items.parquet")
    cl = pd.read_parquet(root / "b" / "claims.parquet")
    s = it.groupby("claim_id")["amount"].sum().round(2)
    assert (s.reindex(cl["claim_id"]).to_numpy() == cl["total_amount"].round(2).to_numpy()).all()
    planted = {c for i in truth["instances"] if i["kind"] == "rule_violation" for c in i["claims"]}
    legal = it[~it["claim_id"].isin(planted)].merge(cl[["claim_id", "institution_id"]], on="claim_id")
    kb = load_kb().items
    inst = pd.read_parquet(root / "b" / "institutions.parquet").set_index("institution_id")["level"]
    lvl = legal["institution_id"].map(inst)
    ceil = np.select([lvl == 1, lvl == 2, lvl == 3], [legal["item_code"].map(kb[f"ceil_l{n}"]) for n in (1, 2, 3)],
                     np.nan)
    ceil = np.where(np.isnan(ceil), legal["item_code"].map(kb["ceil_all"]), ceil)
    known = ~np.isnan(ceil)
    assert known.mean() > 0.95
    assert (legal["unit_price"].to_numpy()[known] <= ceil[known] + 0.01).all()
    # a third of the legal lines sit exactly at the ceiling (look-alikes of 超标准收费)
    assert 0.2 < np.isclose(legal["unit_price"].to_numpy()[known], ceil[known]).mean() < 0.6
    # 长处方: 30-day prescriptions of registered chronic patients' drugs exist and are legal
    assert (legal["days_supply"] > 7).sum() > 100
    # a shorter supply holds fewer units: no legal drug line dispenses more than a unit (a box) a
    # day of its supply (a month's six boxes with a supply cut to three days would)
    d = legal[legal["days_supply"].notna() & (legal["days_supply"] > 0)]
    assert len(d) > 1000 and (d["quantity"] <= d["days_supply"]).all()
    # no once-a-day service twice on one person-day at one provider, outside planted fraud
    # (an inpatient line bills the stay's days at once)
    fraud = {c for i in truth["instances"] for c in i["claims"]}
    once = kb.index[kb["once_per"].eq("day")]
    per_day = legal[legal["item_code"].isin(once) & ~legal["claim_id"].isin(fraud)].merge(
        cl.loc[cl["claim_type"] != "inpatient", ["claim_id", "patient_id", "institution_id"]],
        on=["claim_id", "institution_id"])
    per_day = per_day.assign(day=pd.to_datetime(per_day["item_time"]).dt.date)
    assert len(per_day) > 1000
    assert per_day.groupby(["patient_id", "institution_id", "item_code", "day"])["quantity"].sum().max() <= 1


def test_every_category_is_planted_and_recorded(city):
    _, truth, _, _ = city
    inst = [i for i in truth["instances"] if i["kind"] == "rule_violation"]
    assert truth["kinds"]["rule_violation"] == len(inst)
    assert {i["category"] for i in inst} == {c for c, _ in PLANTED.values()}
    # a rule is planted where the city has claims it fits (DB-001: stays of at most 2 days)
    assert len({i["rule_id"] for i in inst if i["variant"] == "planted"}) >= len(PLANTED) - 2
    assert all(i["key"]["type"] in ("institution", "pharmacy") and i["claims"] for i in inst)


def test_rule_violation_recall_and_precision_on_planted_violations(city):
    _, truth, _, run = city
    # the pack also catches the planted duplicate bills (FJ-001 one drug on two claims a day, CL-004
    # the doubled daily dose, CF-002 two bed fees a day): the evaluation counts them as correct leads
    # (graphkit.evaluate.PLANTED_AS), not as false positives
    ev = evaluate(truth, rule_findings(run))["kinds"]["rule_violation"]
    assert ev["correct_on_planted_elsewhere"] > 0
    assert ev["recall"] >= 0.95 and ev["precision_at_k"] >= 0.90, ev
