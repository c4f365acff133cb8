"""The evaluation harness on hand-made truth and findings (exact figures)."""

from __future__ import annotations

import pandas as pd
import pytest

from graphkit.evaluate import evaluate, format_evaluation, match
from graphkit.findings import Entity, Finding, FindingsReport

TRUTH = {
    "instances": [
        {"id": "T1", "kind": "shared_card", "key": {"type": "card", "id": "K1"}, "claims": ["C1", "C2", "C3", "C4"],
         "entities": [{"type": "card", "id": "K1", "role": "card"}, {"type": "pharmacy", "id": "Y1", "role": "venue"}]},
        {"id": "T2", "kind": "shared_card", "key": {"type": "card", "id": "K2"}, "claims": ["C5", "C6"],
         "entities": [{"type": "card", "id": "K2", "role": "card"}, {"type": "institution", "id": "H1", "role": "venue"}]},
        {"id": "T3", "kind": "deceased_card_use", "key": {"type": "patient", "id": "P9"}, "claims": ["C9"], "entities": []},
    ],
    "hard_negatives": [{"kind": "family_card_sharing", "claims": ["C20", "C21", "C22"], "entities": []}],
}


def f(kind, key, claims, score, entities=()):
    return Finding.create(kind, key=(key,), score=score, claims=claims, entities=entities, summary="s / s")


def test_match_rules():
    inst = TRUTH["instances"][0]
    assert match(f("shared_card", "a", ["C1", "C2"], 0.5), inst)            # half of the smaller set
    assert not match(f("shared_card", "a", ["C1", "X1", "X2", "X3"], 0.5), inst)  # 1 of 4: too little…
    assert match(f("shared_card", "a", ["C1", "X1", "X2", "X3"], 0.5, [Entity("card", "K1")]), inst)  # …unless the key entity is there
    assert not match(f("deceased_card_use", "a", ["C1", "C2"], 0.5), inst)  # other kind


def test_rings_match_on_their_people():
    ring = {"id": "T7", "kind": "identity_ring", "key": {"type": "phone", "id": "13800000000"},
            "claims": ["C1", "C2", "C3", "C4", "C5", "C6"],
            "entities": [{"type": "patient", "id": p, "role": "member"} for p in ("P1", "P2", "P3", "P4")]}
    people = [Entity("patient", p) for p in ("P1", "P2", "P3", "P4")]  # the phone key is pseudonymised in findings
    other_claims = ["C1", "X1", "X2", "X3", "X4", "X5"]  # 1 of 6 planted claims: too little by claims alone
    assert match(f("identity_ring", "a", other_claims, 0.5, people), ring)  # the same four people (key pseudonymised)
    assert not match(f("identity_ring", "a", other_claims, 0.5, people[:1]), ring)  # one of four people
    assert not match(f("identity_ring", "a", ["X1"], 0.5, people), ring)  # no claim shared
    assert not match(f("shared_card", "a", other_claims, 0.5, people), TRUTH["instances"][0])  # cards: no people rule


def test_recall_precision_and_hard_negatives():
    findings = [
        f("shared_card", "x", ["C20", "C21"], 0.99),   # a legal family group ranked first: a false positive
        f("shared_card", "y", ["C1", "C2", "C3"], 0.9),
        f("shared_card", "z", ["C7"], 0.1),
        f("deceased_card_use", "d", ["C9"], 0.8),
    ]
    ev = evaluate(TRUTH, findings)
    sc = ev["kinds"]["shared_card"]
    assert sc["instances"] == 2 and sc["findings"] == 3
    assert sc["recall"] == 0.5 and sc["missed"] == ["T2"]
    assert sc["precision_at_k"] == 0.5          # top 2: the family group (miss) and T1 (hit)
    assert sc["precision_all"] == pytest.approx(1 / 3)
    assert sc["hard_negatives_in_top_k"] == {"family_card_sharing": 1}
    assert ev["kinds"]["deceased_card_use"]["recall"] == 1.0
    text = format_evaluation(ev)
    assert "| shared_card | 2 | 3 | 0.500 | 0.500 | family_card_sharing: 1 |" in text


def test_provider_auc_and_average_precision():
    scores = pd.DataFrame(
        {
            "entity_type": ["pharmacy", "institution", "institution", "pharmacy"],
            "entity_id": ["Y1", "H1", "H2", "Y2"],
            "score": [0.9, 0.2, 0.5, 0.0],
            "finding_count": [1, 1, 1, 0],
            "amount_at_risk": [1.0, 1.0, 1.0, 0.0],
            "top_kinds": ["", "", "", ""],
        }
    )
    ev = evaluate(TRUTH, [], scores)
    p = ev["providers"]
    assert p["positives"] == 2 and p["providers"] == 4
    # positives Y1 (0.9) and H1 (0.2) against negatives H2 (0.5) and Y2 (0.0): 3 of 4 pairs ordered right
    assert p["roc_auc"] == pytest.approx(0.75)
    assert p["average_precision"] == pytest.approx((1 / 1 + 2 / 3) / 2)


def test_over_billers_are_also_measured_against_clean_providers_alone():
    """Labelled provider-fraud data labels over-billers; venues of planted instances are neither."""
    truth = {**TRUTH, "provider_fraud": [{"kind": "provider_overbilling", "entity": {"type": "institution", "id": "H3"}}]}
    scores = pd.DataFrame({"entity_type": ["pharmacy", "institution", "institution", "pharmacy", "institution"],
                           "entity_id": ["Y1", "H1", "H2", "Y2", "H3"], "score": [0.9, 0.2, 0.5, 0.0, 0.4],
                           "finding_count": 0, "amount_at_risk": 0.0, "top_kinds": "",
                           "claims": [5, 9, 7, 1, 8], "fund_total": [50.0, 90.0, 70.0, 10.0, 30.0]})
    p = evaluate(truth, [], scores)["providers"]
    assert p["positives"] == 3 and p["providers"] == 5
    ob = p["overbilling"]
    # H3 (0.4) against the clean H2 (0.5) and Y2 (0.0); Y1 and H1 (planted instances) left out
    assert (ob["providers"], ob["positives"]) == (3, 1) and ob["roc_auc"] == pytest.approx(0.5)
    assert ob["baselines"]["claim_count"]["roc_auc"] == pytest.approx(1.0)
    assert ob["baselines"]["fund_total"]["roc_auc"] == pytest.approx(0.5)
    assert "over-billers vs providers with no planted fraud" in format_evaluation(evaluate(truth, [], scores))
    assert "overbilling" not in evaluate(TRUTH, [], scores)["providers"]


def test_member_level_figures_for_groups():
    truth = {"instances": [
        {"id": "R1", "kind": "collusion_ring", "claims": ["C1", "C2", "C3"],
         "entities": [{"type": "patient", "id": p, "role": "member"} for p in ("P1", "P2", "P3", "P4")]},
    ]}
    f = Finding.create("collusion_ring", key=("r",), score=0.9, claims=["C1", "C2"], summary="s / s",
                       entities=[Entity("patient", p, "member") for p in ("P1", "P2", "P3", "P9")])
    m = evaluate(truth, [f])["kinds"]["collusion_ring"]["members"]
    assert m["per_instance"][0]["best_jaccard"] == pytest.approx(3 / 5, abs=1e-3)
    assert m["mean_member_f1"] == pytest.approx(0.75, abs=1e-3)  # precision 3/4, recall 3/4
    assert "mean best-match Jaccard 0.600" in format_evaluation(evaluate(truth, [f]))


def test_demo_command_audits_its_load_scan_and_export(tmp_path, capsys):
    from graphkit.audit import default_log
    from graphkit.cli import main

    assert main(["demo", "--patients", "1000", "--out", str(tmp_path / "demo")]) == 0
    actions = [e["action"] for e in default_log().entries()]
    assert actions[0] == "load" and "scan" in actions, actions
    load = next(e for e in default_log().entries() if e["action"] == "load")
    assert load["details"]["store"] == str((tmp_path / "demo" / "store").resolve()) and load["details"]["rows"]["claims"] > 0
    assert default_log().verify().ok


def test_detector_descriptions_are_whole_sentences():
    from graphkit.detectors import REGISTRY

    for kind, det in REGISTRY.items():
        assert det.doc.endswith(".") and "\n" not in det.doc, (kind, det.doc)


def test_providers_of_kinds_the_data_cannot_support_are_left_out():
    """A provider whose only planted fraud is of a skipped kind (impossible travel on dates only)
    cannot be known from the data: it is reported apart, with the figures including it."""
    truth = {"instances": [
        {"id": "A", "kind": "shared_card", "claims": ["C1"], "entities": [{"type": "pharmacy", "id": "Y1", "role": "venue"}]},
        {"id": "B", "kind": "impossible_travel", "claims": ["C2"], "entities": [{"type": "pharmacy", "id": "Y2", "role": "venue"}]},
    ]}
    scores = pd.DataFrame({"entity_type": ["pharmacy"] * 4, "entity_id": ["Y1", "Y2", "Y3", "Y4"],
                           "score": [0.9, 0.1, 0.5, 0.2], "finding_count": 0, "amount_at_risk": 0.0, "top_kinds": ""})
    rep = FindingsReport(findings=[], data_fingerprint="x", parameters={},
                         extra={"skipped": {"impossible_travel": "结算时间只有日期 / times are dates only"}})
    p = evaluate(truth, rep, scores)["providers"]
    assert p["providers"] == 3 and p["positives"] == 1 and p["roc_auc"] == pytest.approx(1.0)
    assert p["unknowable"]["providers"] == 1 and p["unknowable"]["kinds"] == ["impossible_travel"]
    assert p["unknowable"]["roc_auc_with_them"] == pytest.approx(0.5)
    assert "left out" in format_evaluation({"kinds": {}, "providers": p})


def test_witnesses_of_a_phantom_stay_are_not_provider_positives():
    truth = {"instances": [{"id": "T9", "kind": "phantom_stay", "key": {"type": "patient", "id": ["patient", "P1"]},
                            "entities": [{"type": "patient", "id": "P1", "role": "patient"},
                                         {"type": "institution", "id": "H1", "role": "venue"},
                                         {"type": "pharmacy", "id": "Y1", "role": "elsewhere"}],
                            "claims": []}]}
    scores = pd.DataFrame({"entity_type": ["institution", "pharmacy", "institution"], "entity_id": ["H1", "Y1", "H2"],
                           "score": [0.9, 0.1, 0.5], "finding_count": [1, 0, 0], "amount_at_risk": [1.0, 0.0, 0.0],
                           "top_kinds": ["", "", ""]})
    p = evaluate(truth, [], scores)["providers"]
    # the pharmacy where the patient was really seen is a witness: only the ward's hospital is positive
    assert p["positives"] == 1 and p["providers"] == 3 and p["roc_auc"] == pytest.approx(1.0)


def test_leads_on_planted_fraud_of_the_same_pattern_under_another_heading_are_correct():
    """An over-biller's re-admissions are split stays: a split_stay lead on them is correct for
    precision, never an instance for recall; a lead on ordinary claims still counts against it."""
    truth = {"instances": [{"id": "T1", "kind": "split_stay", "claims": ["S1", "S2"], "entities": []}],
             "provider_fraud": [{"entity": {"type": "institution", "id": "H9"},
                                 "modes": {"readmissions": {"claims": ["R1", "R2", "R3"]}}}]}
    on_r = Finding.create("split_stay", key=["r"], score=0.9, claims=["R1", "R2"])
    plain = Finding.create("split_stay", key=["p"], score=0.8, claims=["X1", "X2"])
    ev = evaluate(truth, [on_r])["kinds"]["split_stay"]
    assert ev["recall"] == 0.0 and ev["precision_at_k"] == 1.0 and ev["correct_on_planted_elsewhere"] == 1
    ev = evaluate(truth, [plain])["kinds"]["split_stay"]
    assert ev["precision_at_k"] == 0.0 and ev["correct_on_planted_elsewhere"] == 0


def test_providers_where_a_cloned_card_was_read_are_not_provider_positives():
    """A cloned card's user is the party; the far pharmacy that read it once is a venue (as the
    venues of a deceased person's or a lent card, which the truth does not name)."""
    truth = {"instances": [{"id": "T8", "kind": "impossible_travel", "key": {"type": "card", "id": "K1"},
                            "entities": [{"type": "card", "id": "K1", "role": "cloned_card"},
                                         {"type": "patient", "id": "P1", "role": "holder"},
                                         {"type": "pharmacy", "id": "Y1", "role": "remote_provider"}],
                            "claims": []},
                           {"id": "T9", "kind": "card_burst", "key": {"type": "pharmacy", "id": "Y2"},
                            "entities": [{"type": "pharmacy", "id": "Y2", "role": "venue"}], "claims": []}]}
    scores = pd.DataFrame({"entity_type": ["pharmacy"] * 3, "entity_id": ["Y1", "Y2", "Y3"],
                           "score": [0.1, 0.9, 0.5], "finding_count": [0, 1, 0], "amount_at_risk": [0.0, 1.0, 0.0],
                           "top_kinds": ["", "", ""]})
    p = evaluate(truth, [], scores)["providers"]
    assert p["positives"] == 1 and p["providers"] == 3 and p["roc_auc"] == pytest.approx(1.0)
