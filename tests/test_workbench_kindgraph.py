"""Each kind's graph draws the evidence that defines it (planted frames, exact nodes and
edges), folds context, aggregates big graphs; and on a demo city every kind's lead shows it."""

from __future__ import annotations

import pandas as pd
import pytest

from graphkit.findings import Entity, Finding
from graphkit.workbench.kindgraph import aggregate, defining_nodes, kind_graph, lead_kind_graph, vis_elements_kind
from graphkit.workbench.testing import make_demo


def _claims(rows):
    cols = ["claim_id", "patient_id", "card_id", "institution_id", "pharmacy_id", "doctor_id", "terminal_id", "start_time",
            "fund_amount"]
    df = pd.DataFrame(rows, columns=cols)
    df["start_time"] = pd.to_datetime(df["start_time"])
    return df


def _edges(g, rel):
    return sorted((s, d) for s, d, k, a in g.edges(keys=True, data=True) if a.get("rel") == rel)


def test_identity_ring_draws_the_shared_identifier_and_who_shares_it():
    f = Finding.create("identity_ring", key=["r"], claims=["C1", "C2"],
                       entities=[Entity("patient", "P1", "member"), Entity("patient", "P2", "member")],
                       evidence={"identifiers": [{"kind": "device", "token": "pz:d1", "members": 2, "households": 2}]})
    c = _claims([["C1", "P1", "K1", "H1", None, "D1", None, "2024-01-01 10:00", 10.0],
                 ["C2", "P2", "K2", "H1", None, "D2", None, "2024-01-01 11:00", 20.0]])
    contacts = pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "kind": ["device", "device", "phone"],
                             "value": ["pz:d1", "pz:d1", "pz:d1"]})
    g = kind_graph(f, c, contacts=contacts)
    assert _edges(g, "SHARES") == [("patient:P1", "identifier:device:pz:d1"), ("patient:P2", "identifier:device:pz:d1")]
    assert defining_nodes(g) == ["identifier:device:pz:d1", "patient:P1", "patient:P2"]
    # the two doctors (context) are one folded node
    assert "doctor:D1" not in g and g.nodes["context:doctor"]["members"] == 2
    assert sorted(g.nodes) == ["card:K1", "card:K2", "context:doctor", "identifier:device:pz:d1", "institution:H1",
                               "patient:P1", "patient:P2"]


def test_referral_loop_draws_referred_edges_both_ways_with_counts_and_fund():
    f = Finding.create("referral_loop", key=["H1", "H2"], claims=["C1", "C2", "C3"],
                       entities=[Entity("institution", "H1", "venue"), Entity("institution", "H2", "venue")],
                       evidence={"cycle": ["H1", "H2"], "referral_ids": ["R1", "R2", "R3"],
                                 "edges": [{"from": "H1", "to": "H2", "referrals": 2}, {"from": "H2", "to": "H1", "referrals": 1}]})
    c = _claims([["C1", "P1", "K1", "H2", None, None, None, "2024-01-02", 100.0],
                 ["C2", "P2", "K2", "H2", None, None, None, "2024-01-03", 50.0],
                 ["C3", "P1", "K1", "H1", None, None, None, "2024-01-09", 70.0]])
    refs = pd.DataFrame({"referral_id": ["R1", "R2", "R3"], "patient_id": ["P1", "P2", "P1"],
                         "from_institution_id": ["H1", "H1", "H2"], "from_doctor_id": [None, None, None],
                         "to_institution_id": ["H2", "H2", "H1"]})
    g = kind_graph(f, c, referrals=refs)
    assert _edges(g, "REFERRED") == [("institution:H1", "institution:H2"), ("institution:H2", "institution:H1")]
    e = g["institution:H1"]["institution:H2"]["REFERRED"]
    assert (e["referrals"], e["patients"], e["claims"], e["fund"]) == (2, 2, 2, 150.0)
    assert e["text"] == "转诊 2次 · 2人 · 150元"
    back = g["institution:H2"]["institution:H1"]["REFERRED"]
    assert (back["referrals"], back["fund"]) == (1, 70.0)
    # without the referrals table: the evidence's counts
    g2 = kind_graph(f, c)
    assert g2["institution:H2"]["institution:H1"]["REFERRED"]["referrals"] == 1
    _, edges = vis_elements_kind(g)
    assert "转诊 2次 · 2人 · 150元" in [x["label"] for x in edges]


def test_referral_concentration_from_the_doctor_to_its_destinations():
    f = Finding.create("referral_concentration", key=["doctor", "D9"], claims=["C1"],
                       entities=[Entity("doctor", "D9", "referrer"), Entity("institution", "H1", "source"),
                                 Entity("institution", "H5", "destination")],
                       evidence={"referrer_type": "doctor", "destinations": {"H5": 3, "H6": 1}})
    g = kind_graph(f, _claims([["C1", "P1", "K1", "H5", None, "D1", None, "2024-01-02", 10.0]]))
    assert _edges(g, "REFERRED") == [("doctor:D9", "institution:H5"), ("doctor:D9", "institution:H6")]
    assert g["doctor:D9"]["institution:H5"]["REFERRED"]["referrals"] == 3
    assert "doctor:D9" in g and "doctor:D1" not in g  # the referrer stays; other doctors folded


def test_phantom_stay_draws_the_stay_interval_and_claims_during_it():
    f = Finding.create("phantom_stay", key=["stay", "S1"], claims=["S1", "C2"],
                       entities=[Entity("patient", "P1", "patient"), Entity("institution", "H1", "venue"),
                                 Entity("pharmacy", "Y1", "elsewhere")],
                       evidence={"stay": {"claim_id": "S1", "institution": "H1", "admitted": "2024-02-05T09:00:00",
                                          "discharged": "2024-02-21T09:00:00", "days": 16.0, "fund": 900.0},
                                 "overlaps": [{"claim_id": "C2", "time": "2024-02-08T09:11:32", "provider": "pharmacy:Y1",
                                               "fund": 30.0}]})
    c = _claims([["S1", "P1", "K1", "H1", None, None, None, "2024-02-05 09:00", 900.0],
                 ["C2", "P1", "K1", None, "Y1", None, None, "2024-02-08 09:11", 30.0]])
    g = kind_graph(f, c)
    assert g.nodes["stay:S1"]["label"] == "住院 02-05→02-21\n16天 days"
    assert _edges(g, "STAYED") == [("patient:P1", "stay:S1")] and _edges(g, "AT") == [("stay:S1", "institution:H1")]
    d = g["stay:S1"]["pharmacy:Y1"]["DURING"]
    assert (d["claims"], d["fund"], d["claim_ids"]) == (1, 30.0, ["C2"])


def test_split_stay_draws_each_stay_and_the_readmission_gap():
    f = Finding.create("split_stay", key=["P1"], claims=["S1", "S2"],
                       entities=[Entity("patient", "P1", "patient"), Entity("institution", "H1", "venue")],
                       evidence={"stays": [{"claim_id": "S1", "institution": "H1", "admitted": "2024-01-01", "discharged": "2024-01-05"},
                                           {"claim_id": "S2", "institution": "H1", "admitted": "2024-01-08", "discharged": "2024-01-12"}],
                                 "steps": [{"from_claim": "S1", "to_claim": "S2", "gap_days": 3}]})
    g = kind_graph(f, pd.DataFrame())
    assert _edges(g, "READMITTED") == [("stay:S1", "stay:S2")]
    assert g["stay:S1"]["stay:S2"]["READMITTED"]["text"].startswith("3天后再入院")
    assert _edges(g, "STAYED") == [("patient:P1", "stay:S1"), ("patient:P1", "stay:S2")]


def test_deceased_card_use_shows_the_death_date_and_marks_settlements_after_it():
    f = Finding.create("deceased_card_use", key=["P1"], claims=["C1", "C2"],
                       entities=[Entity("patient", "P1", "deceased"), Entity("card", "K1", "card")],
                       evidence={"death_date": "2024-03-01T00:00:00"})
    c = _claims([["C1", "P2", "K1", None, "Y1", None, None, "2024-03-05", 40.0],
                 ["C2", "P2", "K1", None, "Y1", None, None, "2024-03-09", 60.0]])
    g = kind_graph(f, c, holders={"K1": "P1"})
    assert g.nodes["patient:P1"]["death_date"] == "2024-03-01" and "† 2024-03-01" in g.nodes["patient:P1"]["label"]
    assert _edges(g, "HOLDS") == [("patient:P1", "card:K1")]
    assert g["card:K1"]["pharmacy:Y1"]["SETTLED_AT"]["text"] == "死亡后 2笔 · 100元"
    # an edge holding settlements before the death too: only those after it are counted and summed
    early = pd.concat([c, _claims([["C0", "P1", "K1", None, "Y1", None, None, "2024-02-20", 25.0]])], ignore_index=True)
    g = kind_graph(f, early, holders={"K1": "P1"})
    e = g["card:K1"]["pharmacy:Y1"]["SETTLED_AT"]
    assert (e["text"], e["after_death"], e["fund"]) == ("死亡后 2笔 · 100元", 2, 125.0)


def test_card_burst_draws_time_ordered_cards_at_the_terminal():
    f = Finding.create("card_burst", key=["terminal", "T1"], claims=["C1", "C2", "C3", "C4"],
                       entities=[Entity("terminal", "T1", "terminal"), Entity("pharmacy", "Y1", "venue")],
                       evidence={"bursts": [{"start": "2024-02-25T22:00:00", "end": "2024-02-25T22:10:00", "distinct_cards": 3}]})
    c = _claims([["C3", "P3", "K3", None, "Y1", None, "T1", "2024-02-25 22:09", 5.0],
                 ["C1", "P1", "K1", None, "Y1", None, "T1", "2024-02-25 22:01", 5.0],
                 ["C2", "P2", "K2", None, "Y1", None, "T1", "2024-02-25 22:05", 5.0],
                 ["C4", "P4", "K4", None, "Y1", None, "T1", "2024-02-26 09:00", 5.0]])  # outside the burst
    g = kind_graph(f, c)
    bn = f"burst:{f.id}:1"
    seq = sorted((a["order"], s, a["text"]) for s, d, k, a in g.edges(keys=True, data=True) if a.get("rel") == "IN_BURST")
    assert seq == [(1, "card:K1", "#1 22:01:00"), (2, "card:K2", "#2 22:05:00"), (3, "card:K3", "#3 22:09:00")]
    assert _edges(g, "AT") == [(bn, "terminal:T1")] and g.nodes[bn]["label"].startswith("第1次 burst 02-25 22:00–22:10")


def test_duplicate_claim_draws_both_claims_of_each_pair():
    f = Finding.create("duplicate_claim", key=["duplicate_claim", "institution", "H1"], claims=["S1", "S2", "V1", "V2"],
                       entities=[Entity("institution", "H1", "venue"), Entity("patient", "P1", "patient")],
                       evidence={"pairs": [
                           {"shape": "overlapping_stay", "claim_id": "S2", "duplicate_of": "S1", "patient_id": "P1",
                            "provider_type": "institution", "provider_id": "H1", "overlap_days": 4, "fund_amount": 900.0},
                           {"shape": "double_settlement", "claim_id": "V2", "duplicate_of": "V1", "patient_id": "P1",
                            "provider_type": "institution", "provider_id": "H1", "minutes_apart": 3.0, "fund_amount": 60.0}]})
    c = _claims([["S1", "P1", "K1", "H1", None, None, None, "2024-01-01 09:00", 1000.0],
                 ["S2", "P1", "K1", "H1", None, None, None, "2024-01-02 09:00", 900.0],
                 ["V1", "P1", "K1", "H1", None, None, None, "2024-02-01 09:00", 60.0],
                 ["V2", "P1", "K1", "H1", None, None, None, "2024-02-01 09:03", 60.0]])
    g = kind_graph(f, c)
    assert _edges(g, "DUPLICATES") == [("settlement:V1", "settlement:V2"), ("stay:S1", "stay:S2")]
    assert g["stay:S1"]["stay:S2"]["DUPLICATES"]["text"] == "重叠 4 天 overlap"
    assert g["settlement:V1"]["settlement:V2"]["DUPLICATES"]["text"] == "相隔 3 分钟 min apart"
    assert g.nodes["settlement:V2"]["label"] == "结算 02-01 09:03"
    assert ("stay:S2", "institution:H1") in _edges(g, "AT")


def test_big_graphs_are_aggregated_per_provider():
    f = Finding.create("shared_card", key=["x"], claims=[f"C{i}" for i in range(400)],
                       entities=[Entity("pharmacy", "Y1", "venue")])
    c = _claims([[f"C{i}", f"P{i}", f"K{i}", None, "Y1" if i % 2 else "Y2", None, None, "2024-01-01", 1.0] for i in range(400)])
    g = kind_graph(f, c, max_nodes=300)
    assert sorted(g.nodes) == ["group:card@pharmacy:Y1", "group:card@pharmacy:Y2", "group:patient@pharmacy:Y1",
                               "group:patient@pharmacy:Y2", "pharmacy:Y1", "pharmacy:Y2"]
    assert g["group:card@pharmacy:Y1"]["pharmacy:Y1"]["SETTLED_AT"]["claims"] == 200
    assert g.nodes["group:patient@pharmacy:Y2"]["members"] == 200
    assert aggregate(g, 300) is g  # small enough: unchanged


@pytest.fixture(scope="module")
def wb(tmp_path_factory):
    from graphkit.workbench.data import Workbench

    d = make_demo(tmp_path_factory.mktemp("wb-kinds") / "city", patients=3000)
    return Workbench.open(d["store"], d["findings"], user="t", cases=tmp_path_factory.mktemp("c") / "cases.sqlite")


def test_every_kind_of_the_demo_city_draws_its_defining_evidence(wb):
    seen = set()
    for fid, f in wb.findings.items():
        g = lead_kind_graph(wb, fid)
        assert {f"{e.type}:{e.id}" for e in f.entities} <= set(g.nodes), f.kind
        rels = {a.get("rel") for _, _, a in g.edges(data=True)}
        if f.kind == "identity_ring":
            for d in f.evidence["identifiers"]:
                n = f"identifier:{d['kind']}:{d['token']}"
                assert g.in_degree(n) >= 2, (f.id, n)
        elif f.kind == "referral_loop":
            cyc = f.evidence["cycle"]
            for e in f.evidence["edges"]:
                assert g.has_edge(f"institution:{e['from']}", f"institution:{e['to']}", key="REFERRED"), (f.id, e)
            assert len(cyc) >= 2
        elif f.kind == "referral_concentration":
            assert "REFERRED" in rels
        elif f.kind in ("phantom_stay", "split_stay"):
            assert any(str(v).startswith("stay:") for v in g.nodes) and "STAYED" in rels
        elif f.kind == "deceased_card_use":
            assert any(a.get("death_date") for _, a in g.nodes(data=True))
        elif f.kind == "card_burst":
            assert "IN_BURST" in rels and any(str(v).startswith("burst:") for v in g.nodes)
        elif f.kind == "duplicate_claim":
            assert "DUPLICATES" in rels
        elif f.kind == "collusion_ring":
            days = f.evidence["co_visit_days"][:20]
            visits = [v for v in g.nodes if str(v).startswith("visit:")]
            assert len(visits) == len(days) and "CO_VISIT" in rels, f.id
            assert all(g.in_degree(v) >= 2 for v in visits), f.id  # members present together
        elif f.kind == "rule_violation":
            assert g.has_edge(f"rule:{f.evidence['rule_id']}:{f.evidence['month']}", next(
                f"{e.type}:{e.id}" for e in f.entities if e.role == "venue"), key="BROKEN_AT"), f.id
        elif f.kind == "shared_card":
            labels = " ".join(str(a.get("label", "")) for _, a in g.nodes(data=True) if a.get("lead"))
            assert any(w in labels for w in ("已补卡", "人使用", "张卡")), (f.id, labels)
        elif f.kind == "impossible_travel":
            for p in f.evidence["pairs"]:
                assert g.has_edge(p["provider_a"], p["provider_b"]), (f.id, p)
            assert "TRAVEL" in rels
        seen.add(f.kind)
    assert {"identity_ring", "referral_loop", "referral_concentration", "phantom_stay", "split_stay",
            "deceased_card_use", "card_burst", "duplicate_claim", "impossible_travel", "shared_card", "collusion_ring",
            "rule_violation"} <= seen


def test_impossible_travel_joins_the_two_places_with_distance_and_minutes():
    pair = {"claim_a": "C1", "claim_b": "C2", "provider_a": "institution:H1", "provider_b": "pharmacy:Y9",
            "distance_km": 72.7, "max_gap_minutes": 18.0, "required_minutes": 35.9}
    f = Finding.create("impossible_travel", key=["P1"], claims=["C1", "C2"],
                       entities=[Entity("patient", "P1", "user"), Entity("card", "K1", "card")], evidence={"pairs": [pair]})
    c = _claims([["C1", "P1", "K1", "H1", None, None, None, "2024-02-01 10:02", 30.0],
                 ["C2", "P1", "K1", None, "Y9", None, None, "2024-02-01 10:20", 40.0]])
    g = kind_graph(f, c)
    assert _edges(g, "TRAVEL") == [("institution:H1", "pharmacy:Y9")]
    e = next(a for s, d, k, a in g.edges(keys=True, data=True) if a.get("rel") == "TRAVEL")
    assert e["text"] == "73 公里 · 间隔 18 分钟 · 至少需 36 分钟" and e["claim_ids"] == ["C1", "C2"]
    assert {"institution:H1", "pharmacy:Y9", "patient:P1"} <= set(defining_nodes(g))


def test_shared_card_writes_the_cards_story_on_its_node():
    c = _claims([["C1", "P1", "K1", "H1", None, None, None, "2024-02-10", 30.0],
                 ["C2", "P1", "K1", None, "Y1", None, None, "2024-03-01", 40.0],
                 ["C3", "P1", "K1", None, "Y1", None, None, "2024-03-05", 50.0]])
    f = Finding.create("shared_card", key=["K1"], claims=["C1", "C2", "C3"],
                       entities=[Entity("card", "K1", "lost_card"), Entity("patient", "P1", "card_holder")],
                       evidence={"pattern": "replaced_card_in_use", "replaced_on": "2024-02-21T00:00:00"})
    g = kind_graph(f, c)
    assert g.nodes["card:K1"]["replaced_on"] == "2024-02-21" and "2024-02-21 已补卡" in g.nodes["card:K1"]["label"]
    marked = [a for s, d, k, a in g.edges(keys=True, data=True) if a.get("after_replacement")]
    assert [(a["after_replacement"], a["text"]) for a in marked] == [(2, "补卡后 2笔 · 90元")]
    many = Finding.create("shared_card", key=["K2"], claims=["C1"], evidence={"pattern": "one_card_many_people",
                          "users": ["P2", "P3"], "holder": "P1"},
                          entities=[Entity("card", "K2", "card"), Entity("patient", "P1", "card_holder")])
    g = kind_graph(many, _claims([["C1", "P2", "K2", "H1", None, None, None, "2024-02-10", 30.0]]))
    assert g.nodes["card:K2"]["label"].endswith("2 人使用 · 持卡人 P1") and g.nodes["card:K2"]["lead"]
    one = Finding.create("shared_card", key=["P4"], claims=["C1"], evidence={"pattern": "one_person_many_cards",
                         "cards": ["K5", "K6", "K7"]}, entities=[Entity("patient", "P4", "user"), Entity("card", "K5", "used_card")])
    g = kind_graph(one, _claims([["C1", "P4", "K5", "H1", None, None, None, "2024-02-10", 30.0]]))
    assert g.nodes["patient:P4"]["label"].endswith("使用 3 张卡")


def test_collusion_ring_draws_each_co_visit_day_with_the_members_present():
    days = [{"date": "2024-01-17", "provider": "H1", "provider_type": "institution", "mode": "inpatient",
             "members": ["P1", "P2", "P3"], "claims": 3},
            {"date": "2024-02-03", "provider": "H1", "provider_type": "institution", "mode": "inpatient",
             "members": ["P1", "P3"], "claims": 2}]
    f = Finding.create("collusion_ring", key=["r"], claims=["C1", "C2", "C3"], evidence={"co_visit_days": days},
                       entities=[Entity("patient", p, "member") for p in ("P1", "P2", "P3")] + [Entity("institution", "H1", "venue")])
    c = _claims([["C1", "P1", "K1", "H1", None, None, None, "2024-01-17", 100.0],
                 ["C2", "P2", "K2", "H1", None, None, None, "2024-01-17", 100.0],
                 ["C3", "P3", "K3", "H1", None, None, None, "2024-01-17", 100.0]])
    g = kind_graph(f, c)
    v1, v2 = f"visit:{f.id}:1", f"visit:{f.id}:2"
    assert g.nodes[v1]["label"] == "同日住院 01-17\n3人" and g.nodes[v2]["date"] == "2024-02-03"
    assert sorted(s for s, d, k, a in g.edges(keys=True, data=True) if d == v2 and a["rel"] == "CO_VISIT") == ["patient:P1", "patient:P3"]
    assert g.has_edge(v1, "institution:H1") and {v1, v2, "institution:H1"} <= set(defining_nodes(g))


def test_rule_violation_and_indicator_outlier_draw_the_rule_and_the_indicators_at_the_provider():
    ev = {"rule_id": "FW-004", "level": "违规", "category": "超支付范围", "month": "2024-01", "hit_lines": 113,
          "hit_claims": 60, "deduct_amount": 19099.94, "fund_deduct_amount": 12563.18}
    f = Finding.create("rule_violation", key=["FW-004", "pharmacy", "Y1", "2024-01"], claims=["C1"], evidence=ev,
                       entities=[Entity("pharmacy", "Y1", "venue"), Entity("patient", "P1", "insured")])
    g = kind_graph(f, _claims([["C1", "P1", "K1", None, "Y1", None, None, "2024-01-05", 30.0]]))
    e = g["rule:FW-004:2024-01"]["pharmacy:Y1"]["BROKEN_AT"]
    assert g.nodes["rule:FW-004:2024-01"]["label"] == "FW-004 违规·超支付范围\n113条明细 · 19,100元"
    assert (e["claims"], e["fund"], e["text"]) == (60, 12563.18, "2024-01 · 60笔结算")
    inds = [{"indicator": "cost_outpatient", "zh": "门诊次均费用", "z": 6.2, "shrunk": 410.0, "peer_median": 75.0, "excess": 2.7},
            {"indicator": "weekend_share", "zh": "周末结算占比", "z": 1.0, "shrunk": 0.2, "peer_median": 0.17, "excess": 0.0}]
    o = Finding.create("indicator_outlier", key=["institution", "H1"], claims=["C1"], evidence={"indicators": inds},
                       entities=[Entity("institution", "H1", "venue")])
    g = kind_graph(o, _claims([["C1", "P1", "K1", "H1", None, None, None, "2024-01-05", 30.0]]))
    drawn = [v for v in g.nodes if str(v).startswith("indicator:")]
    assert drawn == [f"indicator:{o.id}:cost_outpatient"] and g.nodes[drawn[0]]["label"] == "门诊次均费用\nz 6.2"
    assert _edges(g, "OUTLIER") == [(drawn[0], "institution:H1")]
