"""Detectors on a tiny bundle with planted patterns: exact findings asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import graphkit
from graphkit.detectors import REGISTRY, default_kinds
from graphkit.errors import ParameterError
from graphkit.findings import ENTITY_TYPES, FINDINGS_SCHEMA, KINDS, read_findings
from graphkit.store import open_store
from loaders import load_bundle

from conftest import tiny_tables, write_bundle


def _claim(cid, card, pid, when, *, inst="H0001", pharm="", ctype="outpatient", fund="100", end=""):
    return {
        "claim_id": cid, "card_id": card, "patient_id": pid, "claim_type": ctype,
        "institution_id": inst if ctype != "pharmacy" else "", "pharmacy_id": pharm if ctype == "pharmacy" else "",
        "doctor_id": "D00001" if ctype != "pharmacy" and inst == "H0001" else "", "department": "",
        "start_time": when, "end_time": end, "diagnosis_code": "", "total_amount": str(float(fund) * 1.5),
        "fund_amount": fund, "self_amount": str(float(fund) * 0.5), "referral_id": "", "terminal_id": "",
    }


def planted_tables() -> dict:
    t = tiny_tables()
    base = dict(t["patients"][0])
    for pid in ("PT0005", "PT0006", "PT0007", "PT0008", "PT0011", "PT0012", "PT0013"):
        t["patients"].append({**base, "patient_id": pid, "name": f"人{pid}", "id_number": ""})
    for cid, pid, status, issued in (
        ("K0005", "PT0005", "active", "2020-01-01"), ("K0006", "PT0006", "active", "2020-01-01"),
        ("K0007", "PT0007", "active", "2020-01-01"), ("K0008", "PT0008", "active", "2020-01-01"),
        ("K0011", "PT0011", "active", "2020-01-01"), ("K0012", "PT0012", "active", "2020-01-01"),
        ("K0013", "PT0013", "active", "2020-01-01"),
        ("K0009", "PT0001", "lost", "2019-01-01"), ("K0010", "PT0001", "active", "2024-02-01"),
    ):
        t["cards"].append({"card_id": cid, "patient_id": pid, "issued_date": issued, "status": status})
    # PT0007 is registered family of PT0004 only (PT0004 <-> PT0003 registered): same family group as PT0003
    t["contacts"] += [{"patient_id": "PT0007", "kind": "family", "value": "PT0004"}]
    c = t["claims"]
    # (a) card K0001 (holder PT0001) lent to PT0005 (twice) and PT0006 (once): not family
    c += [_claim("C0101", "K0001", "PT0005", "2024-04-10 09:00:00"), _claim("C0102", "K0001", "PT0005", "2024-05-10 09:00:00"),
          _claim("C0103", "K0001", "PT0006", "2024-06-10 09:00:00")]
    # legal family sharing: PT0007 uses K0003 (holder PT0003) — same family group via PT0004
    c += [_claim("C0104", "K0003", "PT0007", "2024-04-11 09:00:00", inst="H0002"), _claim("C0105", "K0003", "PT0007", "2024-05-11 09:00:00", inst="H0002")]
    # (b) PT0008 settled on three other people's cards
    c += [_claim("C0106", "K0011", "PT0008", "2024-04-12 09:00:00"), _claim("C0107", "K0012", "PT0008", "2024-04-13 09:00:00"),
          _claim("C0108", "K0013", "PT0008", "2024-04-14 09:00:00")]
    # (c) lost card K0009 used after replacement K0010 issued 2024-02-01
    c += [_claim("C0109", "K0009", "PT0001", "2024-03-01 21:00:00", ctype="pharmacy", pharm="Y0001")]
    # deceased PT0002 (died 2024-03-01): a claim on the death day is tolerated, one four days later is not
    c += [_claim("C0110", "K0002", "PT0002", "2024-03-01 08:00:00", ctype="pharmacy", pharm="Y0001"),
          _claim("C0111", "K0002", "PT0002", "2024-03-05 10:00:00", ctype="pharmacy", pharm="Y0001", fund="300")]
    # impossible travel: K0005 in Jinan (H0001) then Beijing (H0003, ~360 km) 40 minutes later
    c += [_claim("C0112", "K0005", "PT0005", "2024-07-01 10:00:00"), _claim("C0113", "K0005", "PT0005", "2024-07-01 10:40:00", inst="H0003")]
    # a legitimate trip: K0006 in Jinan, then Beijing eleven hours later
    c += [_claim("C0114", "K0006", "PT0006", "2024-07-02 08:00:00"), _claim("C0115", "K0006", "PT0006", "2024-07-02 19:00:00", inst="H0003")]
    return t


@pytest.fixture
def planted_store(tmp_path: Path):
    bundle = write_bundle(tmp_path / "bundle", planted_tables())
    load_bundle(bundle, tmp_path / "store")
    return open_store(tmp_path / "store")


def test_shared_card_finds_exactly_the_planted_cases(planted_store):
    fs = graphkit.shared_cards(planted_store)
    got = {(f.evidence["pattern"], tuple(f.claims)) for f in fs}
    assert got == {
        ("one_card_many_people", ("C0101", "C0102", "C0103")),
        ("one_person_many_cards", ("C0106", "C0107", "C0108")),
        ("replaced_card_in_use", ("C0109",)),
    }
    lent = next(f for f in fs if f.evidence["pattern"] == "one_card_many_people")
    assert set(lent.entity_ids("patient", "user")) == {"PT0005", "PT0006"}
    assert lent.entity_ids("patient", "card_holder") == ["PT0001"]
    assert lent.amount_at_risk == pytest.approx(300.0)
    # legal family sharing (C0104/C0105 and the tiny bundle's C0005) is never reported
    assert not {"C0104", "C0105", "C0005"} & {c for f in fs for c in f.claims}


def test_family_sharing_becomes_a_finding_without_the_family_link(tmp_path):
    t = planted_tables()
    t["contacts"] = [r for r in t["contacts"] if r["kind"] != "family"]
    load_bundle(write_bundle(tmp_path / "b", t), tmp_path / "s")
    fs = graphkit.shared_cards(open_store(tmp_path / "s"))
    k3 = [f for f in fs if "K0003" in f.entity_ids("card")]
    assert len(k3) == 1 and set(k3[0].claims) == {"C0005", "C0104", "C0105"}


def test_deceased_card_use(planted_store):
    fs = graphkit.deceased_card_uses(planted_store)
    assert [(f.entity_ids("patient", "deceased"), f.claims) for f in fs] == [(["PT0002"], ["C0111"])]
    assert fs[0].evidence["max_days_after_death"] == 4
    assert fs[0].amount_at_risk == pytest.approx(300.0)
    # a grace of five days tolerates it
    assert graphkit.deceased_card_uses(planted_store, grace_days=5) == []


def test_impossible_travel(planted_store):
    fs = graphkit.impossible_travels(planted_store)
    assert [(f.entity_ids("card"), f.claims) for f in fs] == [(["K0005"], ["C0112", "C0113"])]
    pair = fs[0].evidence["pairs"][0]
    assert 330 < pair["distance_km"] < 400 and pair["gap_written_minutes"] == 40.0
    # 10:00 is an hour stamp of this column (true time in [10:00, 11:00)), 10:40 is known to the minute
    assert pair["max_gap_minutes"] == 41.0 and "0分钟" not in fs[0].summary and "41分钟内" in fs[0].summary
    assert {"institution:H0001", "institution:H0003"} <= {f"{e.type}:{e.id}" for e in fs[0].entities}


def test_impossible_travel_region_centroids_without_coordinates(tmp_path):
    t = planted_tables()
    for table in ("institutions", "pharmacies"):
        for r in t[table]:
            r.pop("lat"), r.pop("lon")
    load_bundle(write_bundle(tmp_path / "b", t), tmp_path / "s")
    fs = graphkit.impossible_travels(open_store(tmp_path / "s"))
    assert [f.claims for f in fs] == [["C0112", "C0113"]]
    pair = fs[0].evidence["pairs"][0]
    assert pair["place_a"] == pair["place_b"] == "region:regions_table"
    assert 330 < pair["distance_low_km"] < pair["distance_km"] < 400  # centroid distance less both radii


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_common_detector_checks(kind, planted_store):
    det = REGISTRY[kind]
    before = planted_store.fingerprint
    a, used = graphkit.run_detector(kind, planted_store)
    b, _ = graphkit.run_detector(kind, planted_store)
    assert [f.to_dict() for f in a] == [f.to_dict() for f in b]  # deterministic
    assert used == det.defaults()
    assert open_store(planted_store.path).fingerprint == before  # input untouched
    for f in a:
        assert f.kind == kind and 0 <= f.score < 1 and f.claims and f.summary and " / " in f.summary
        assert all(e.type in ENTITY_TYPES for e in f.entities)
    with pytest.raises(ParameterError, match=f"parameter of {kind} must be"):
        p = det.params[0]
        graphkit.run_detector(kind, planted_store, {p.name: "not-a-number" if p.type != "str" else 5})
    with pytest.raises(ParameterError, match="has no parameter"):
        graphkit.run_detector(kind, planted_store, {"no_such_param": 1})


def test_scan_writes_spec_findings_and_scores(planted_store, tmp_path):
    result = graphkit.scan(planted_store)
    paths = graphkit.write_scan(result, tmp_path / "out")
    doc = json.loads(paths["findings"].read_text("utf-8"))
    assert doc["schema"] == FINDINGS_SCHEMA
    assert doc["data_fingerprint"] == planted_store.fingerprint
    assert set(doc["parameters"]) == set(default_kinds())  # opt-in kinds run only when asked for
    scores = [f["score"] for f in doc["findings"]]
    assert scores == sorted(scores, reverse=True)
    for f in doc["findings"]:
        assert set(f) >= {"id", "kind", "score", "amount_at_risk", "period", "entities", "claims", "summary", "evidence"}
        assert f["kind"] in KINDS and set(f["period"]) == {"start", "end"}
        assert all(set(e) == {"type", "id", "role"} for e in f["entities"])
    assert {f["kind"] for f in doc["findings"]} == {"shared_card", "deceased_card_use", "impossible_travel"}
    # round trip
    assert [f.to_dict() for f in read_findings(paths["findings"]).findings] == doc["findings"]
    import pandas as pd

    sc = pd.read_csv(paths["scores"], dtype={"entity_id": str})
    assert list(sc.columns[:6]) == ["entity_type", "entity_id", "score", "finding_count", "amount_at_risk", "top_kinds"]
    assert {("institution", i) for i in ("H0001", "H0002", "H0003")} | {("pharmacy", "Y0001")} <= set(zip(sc.entity_type, sc.entity_id))
    y = sc[(sc.entity_type == "pharmacy") & (sc.entity_id == "Y0001")].iloc[0]
    assert y.score > 0 and y.finding_count == 2 and y.amount_at_risk == pytest.approx(400.0)
    h2 = sc[(sc.entity_type == "institution") & (sc.entity_id == "H0002")].iloc[0]  # untouched: still scored (v1.1)
    assert 0 < h2.score < 1 and h2.finding_count == 0 and h2.findings == 0


def test_stable_ids_across_reloads(tmp_path):
    t = planted_tables()
    load_bundle(write_bundle(tmp_path / "b", t), tmp_path / "s1")
    ids1 = {f.id for f in graphkit.scan(open_store(tmp_path / "s1")).findings}
    t["claims"].append(_claim("C0199", "K0001", "PT0006", "2024-08-10 09:00:00"))
    load_bundle(write_bundle(tmp_path / "b2", t), tmp_path / "s2")
    ids2 = {f.id for f in graphkit.scan(open_store(tmp_path / "s2")).findings}
    assert ids1 == ids2  # one more claim on the lent card: same lead, same id


def test_evidence_graph(planted_store):
    f = next(f for f in graphkit.shared_cards(planted_store) if f.evidence["pattern"] == "one_card_many_people")
    g = f.subgraph(planted_store)
    assert {"patient:PT0005", "patient:PT0006", "card:K0001", "institution:H0001"} <= set(g.nodes)
    e = g.get_edge_data("patient:PT0005", "card:K0001")["PAID_WITH"]
    assert e["claims"] == 2 and e["fund"] == pytest.approx(200.0)


def test_scan_rejects_unknown_kind(planted_store):
    with pytest.raises(ParameterError, match="unknown detector kind"):
        graphkit.scan(planted_store, kinds=["nope"])
