"""Server-side projections (``cypher/projections/``) against their pandas versions, on a real
Bolt server (ArcadeDB started by the fixtures, or ``NEO4J_URI``).

Every projection in :data:`graphkit.neo4jstore.SERVER_SIDE` that this module covers must give
the frame the embedded store gives — same columns, order and values — on the planted bundle,
on an edge-case bundle (planted + stays, readmissions, referral chains and odd values) and on a
generated demo city; and the detectors they serve must not read the claims table back.
"""

from __future__ import annotations

import importlib

from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest

import graphkit
from graphkit.neo4jstore import Connection, Neo4jStore, load_bundle_neo4j
from graphkit.neo4jstore.runner import run_in
from loaders import load_bundle

from conftest import write_bundle
from test_detectors import _claim, planted_tables
from test_neo4j import bolt_server  # noqa: F401  (fixture)

#: example parameters for the parity test's loop over SERVER_SIDE (ids of the planted bundle)
PARITY_KWARGS: dict[str, list[dict[str, Any]]] = {
    "travel_pairs": [{"by": "card_id"}, {"by": "patient_id"}],
    "clock_minutes": [{"providers": ["institution:H0001", "pharmacy:Y0001", "institution:NOPE"]}, {"providers": []}],
    "patient_claims": [{"patient_ids": ["PT0001", "PT0002", "PT0005", "PT0008", "NOBODY"]}, {"patient_ids": []}],
    "member_claims": [{"patient_ids": ["PT0001", "PT0003", "PT0007", "PT0008"]}],
    "referral_claims": [{"referral_ids": ["RF0001", "NO-SUCH-REFERRAL"]}, {"referral_ids": []}],
    "venue_reach": [{"institutions": ["H0001", "H0002", "NO-SUCH"], "pharmacies": ["Y0001"]}, {}],
    "replaced_card_use": [{}, {"grace_days": 0}],
}

#: projection -> parameter sets (callables get the embedded store: ids come from its tables)
Kw = dict[str, Any] | Callable[[Any], dict[str, Any]]


def _some(emb: Any, table: str, col: str, n: int = 300) -> list[str]:
    ids = emb.table(table, [col])[col].dropna().drop_duplicates()
    return sorted(ids.sample(min(n, len(ids)), random_state=7)) + ["NO-SUCH-ID"]


CASES: dict[str, list[Kw]] = {
    "patient_claims": [lambda e: {"patient_ids": _some(e, "patients", "patient_id")}, {"patient_ids": []}],
    "member_claims": [lambda e: {"patient_ids": _some(e, "patients", "patient_id")}],
    "referral_claims": [lambda e: {"referral_ids": _some(e, "referrals", "referral_id", 10_000)}],
    "referral_edges": [{}],
    "doctor_referrals": [{}],
    "referral_sequences": [{}, {"max_gap_days": 10}, {"max_gap_days": 365}],
    "stay_overlaps": [{}, {"edge_days": 0}, {"edge_days": 2}],
    "inpatient_admissions": [{}],
    "provider_activity": [{}],
    "identity_links": [{}, {"min_households": 2, "min_address_members": 3}],
    "travel_pairs": [{"by": "card_id"}, {"by": "patient_id"}, {"by": "card_id", "max_gap_hours": 2.0, "coordinate_km": 0.0}],
    "clock_minutes": [lambda e: {"providers": ["institution:" + i for i in _some(e, "institutions", "institution_id", 20)]
                                 + ["pharmacy:" + i for i in _some(e, "pharmacies", "pharmacy_id", 20)]},
                      {"providers": []}],
    "unit_cards": [lambda e: {"units": ["institution:" + i for i in _some(e, "institutions", "institution_id", 20)]
                              + ["pharmacy:" + i for i in _some(e, "pharmacies", "pharmacy_id", 20)]
                              + ["terminal:" + t for t in _some(e, "claims", "terminal_id", 20)]},
                   {"units": []}],
    "card_patient_counts": [{}],
    "identical_claims": [{}],
    "provider_claim_counts": [{}],
    "latest_claim_time": [{}],
    "diagnosis_counts": [{}],
    "replaced_card_use": [{}, {"grace_days": 0}],
    "venue_reach": [lambda e: {"institutions": _some(e, "institutions", "institution_id"),
                               "pharmacies": _some(e, "pharmacies", "pharmacy_id")}],
}


def _stay(cid: str, card: str, pid: str, start: str, end: str, inst: str, dx: str, referral: str = "") -> dict[str, str]:
    return {**_claim(cid, card, pid, start, inst=inst, ctype="inpatient", fund="1000", end=end),
            "diagnosis_code": dx, "referral_id": referral}


def edge_tables() -> dict:
    """The planted bundle plus the cases the planted one lacks: stays with claims elsewhere (by the
    person, by others on their card, at the stay's own institution, on admission/discharge days),
    readmission chains (same, referral-linked, unlinked, transfer; diagnosis codes in odd case and
    spacing; patients whose first stay ids do not follow their patient ids), referral chains, a
    referral without a doctor, a self-referral and an institution without level and region."""
    t = planted_tables()
    t["institutions"].append({**t["institutions"][0], "institution_id": "H0004", "name": "无级别机构", "level": "",
                              "kind": "", "region": "", "lat": "", "lon": ""})
    t["referrals"] += [
        {"referral_id": "RF0002", "patient_id": "PT0003", "from_institution_id": "H0002", "from_doctor_id": "",
         "to_institution_id": "H0003", "referred_at": "2024-04-01 10:00:00", "out_of_area": "true", "reason": "x"},
        {"referral_id": "RF0003", "patient_id": "PT0003", "from_institution_id": "H0003", "from_doctor_id": "D00003",
         "to_institution_id": "H0002", "referred_at": "2024-04-20 10:00:00", "out_of_area": "", "reason": ""},
        {"referral_id": "RF0004", "patient_id": "PT0003", "from_institution_id": "H0002", "from_doctor_id": "D00002",
         "to_institution_id": "H0003", "referred_at": "2024-08-01 10:00:00", "out_of_area": "true", "reason": ""},
        {"referral_id": "RF0005", "patient_id": "PT0005", "from_institution_id": "H0004", "from_doctor_id": "",
         "to_institution_id": "H0001", "referred_at": "2024-06-01 10:00:00", "out_of_area": "false", "reason": ""},
        {"referral_id": "RF0006", "patient_id": "PT0005", "from_institution_id": "H0001", "from_doctor_id": "D00001",
         "to_institution_id": "H0001", "referred_at": "2024-06-02 10:00:00", "out_of_area": "false", "reason": ""},
    ]
    # PT0003 holds an old lost physical card besides the e-voucher K0003 (issued later): the
    # e-voucher is no replacement, so the old card's use is not replaced-card use
    t["cards"].append({"card_id": "K0020", "patient_id": "PT0003", "issued_date": "2015-03-01", "status": "lost",
                       "kind": "physical"})
    c = t["claims"]
    c += [_claim("C0420", "K0020", "PT0003", "2024-05-02 09:00:00", inst="H0002")]
    # referral follow-ups; C0403 follows RF0003 (to H0002) and is the origin of RF0004 (from H0002)
    c += [{**_claim("C0401", "K0003", "PT0003", "2024-04-02 09:00:00", inst="H0003"), "referral_id": "RF0002"},
          {**_claim("C0402", "K0003", "PT0003", "2024-03-31 09:00:00", inst="H0002")},
          {**_claim("C0403", "K0003", "PT0003", "2024-04-21 09:00:00", inst="H0002"), "referral_id": "RF0003"},
          {**_claim("C0404", "K0005", "PT0005", "2024-06-03 09:00:00"), "referral_id": "RF0005"}]
    # PT0011's stay at H0001 (04-10 10:00 to 04-16 09:00) and claims during it
    c += [_stay("C0510", "K0011", "PT0011", "2024-04-10 10:00:00", "2024-04-16 09:00:00", "H0001", " i63.9"),
          _claim("C0451", "K0011", "PT0011", "2024-04-10 15:00:00", inst="H0002"),      # admission day
          _claim("C0452", "K0011", "PT0011", "2024-04-11 12:00:00", ctype="pharmacy", pharm="Y0001"),
          _claim("C0453", "K0011", "PT0011", "2024-04-12 12:00:00"),                     # own institution
          _claim("C0454", "K0011", "PT0008", "2024-04-13 12:00:00", inst="H0003"),      # someone else, their card
          _claim("C0455", "K0001", "PT0011", "2024-04-14 12:00:00", inst="H0002"),      # the person, another card
          _claim("C0456", "K0011", "PT0011", "2024-04-16 08:00:00", inst="H0002"),      # discharge day
          _claim("C0457", "K0011", "PT0011", "2024-04-16 10:00:00", inst="H0002")]      # after discharge
    # PT0011's readmissions: linked (RF0001 links H0002-H0001), same, other, transfer, other dx, no dx
    c += [_stay("C0511", "K0011", "PT0011", "2024-04-20 09:00:00", "2024-04-25 09:00:00", "H0002", "I63.1"),
          _stay("C0512", "K0011", "PT0011", "2024-05-01 09:00:00", "2024-05-05 09:00:00", "H0002", "I63"),
          _stay("C0513", "K0011", "PT0011", "2024-05-10 09:00:00", "2024-05-12 09:00:00", "H0004", "i63.5 "),
          _stay("C0514", "K0011", "PT0011", "2024-05-15 09:00:00", "2024-05-18 09:00:00", "H0002", "I63.9", "RF0003"),
          _stay("C0515", "K0011", "PT0011", "2024-05-20 09:00:00", "2024-05-22 09:00:00", "H0002", "J18.9"),
          _stay("C0516", "K0011", "PT0011", "2024-05-23 09:00:00", "2024-05-25 09:00:00", "H0002", "")]
    # PT0013's chain has smaller claim ids than PT0012's: chains are numbered by first stay, not patient id
    c += [_stay("C0505", "K0013", "PT0013", "2024-09-01 09:00:00", "2024-09-03 09:00:00", "H0003", "K80.2"),
          _stay("C0506", "K0013", "PT0013", "2024-09-05 09:00:00", "2024-09-07 09:00:00", "H0003", "K80.1"),
          _stay("C0507", "K0013", "PT0013", "2024-09-07 12:00:00", "2024-09-09 09:00:00", "H0003", "K80")]
    c += [_stay("C0530", "K0012", "PT0012", "2024-09-01 09:00:00", "2024-09-02 09:00:00", "H0001", "N18.5"),
          _stay("C0531", "K0012", "PT0012", "2024-09-04 09:00:00", "2024-09-05 09:00:00", "H0001", "N18.5"),
          _stay("C0533", "K0012", "PT0012", "2024-09-06 09:00:00", "2024-09-07 09:00:00", "H0001", "N18.5"),
          _stay("C0532", "K0012", "PT0012", "2024-09-06 09:00:00", "2024-09-06 18:00:00", "H0001", "N18.5")]
    # a stay of PT0003 during which registered family (PT0007) uses their card elsewhere (C0105)
    c += [_stay("C0540", "K0003", "PT0003", "2024-05-10 09:00:00", "2024-05-13 09:00:00", "H0001", "S72.0")]
    # identical twins (duplicate_claim): minutes apart at an institution (one with a diagnosis, one
    # without), hours apart at a pharmacy, three of a kind; near twins (other fund, other diagnosis)
    c += [{**_claim("C0600", "K0005", "PT0005", "2024-07-01 09:00:00", inst="H0002", fund="80.5"), "diagnosis_code": "M54.5"},
          {**_claim("C0601", "K0005", "PT0005", "2024-07-01 09:04:00", inst="H0002", fund="80.5"), "diagnosis_code": "M54.5"},
          {**_claim("C0602", "K0005", "PT0005", "2024-07-01 09:06:00", inst="H0002", fund="80.5"), "diagnosis_code": "M54.6"},
          _claim("C0603", "K0006", "PT0006", "2024-07-02 09:00:00", inst="H0003", fund="42"),
          _claim("C0604", "K0006", "PT0006", "2024-07-02 09:01:00", inst="H0003", fund="42"),
          _claim("C0605", "K0006", "PT0006", "2024-07-02 09:02:00", inst="H0003", fund="43"),
          _claim("C0606", "K0006", "PT0006", "2024-07-03 09:00:00", ctype="pharmacy", pharm="Y0001", fund="12.3"),
          _claim("C0607", "K0006", "PT0006", "2024-07-03 15:00:00", ctype="pharmacy", pharm="Y0001", fund="12.3"),
          _claim("C0608", "K0006", "PT0006", "2024-07-04 15:00:00", ctype="pharmacy", pharm="Y0001", fund="12.3")]
    return t


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, tuple[Path, Any]]:
    """name -> (bundle folder, embedded store): planted, edge cases, demo city."""
    from graphkit.demo import generate_city

    root = tmp_path_factory.mktemp("projections")
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHKIT_AUDIT_LOG", str(root / "audit.jsonl"))
        mp.setenv("GRAPHKIT_ALLOW_DEMO_KEY", "1")
        for name, make in (("planted", lambda p: write_bundle(p, planted_tables())),
                           ("edge", lambda p: write_bundle(p, edge_tables())),
                           ("demo", lambda p: generate_city(p, patients=2000, seed=3, fmt="parquet") and p)):
            bundle = root / name
            make(bundle)
            load_bundle(bundle, root / f"{name}-store")
            out[name] = (bundle, graphkit.open_store(root / f"{name}-store"))
    return out


def _graph(server: dict, bundle: Path, emb: Any) -> Neo4jStore:
    """A Neo4jStore holding exactly ``bundle`` (reloaded only when the graph holds something else)."""
    c = Connection(server["uri"], server["user"], server["password"], server["database"])
    meta = c.read("meta/read_meta")
    if not meta or meta[0]["fingerprint"] != emb.fingerprint:
        c.write(lambda tx: run_in(tx, "admin/wipe"), name="wipe")
        load_bundle_neo4j(bundle, c)
    return Neo4jStore(c)


def _check(server: dict, bundles: dict, dataset: str, name: str) -> None:
    bundle, emb = bundles[dataset]
    neo = _graph(server, bundle, emb)
    try:
        for kw in CASES[name]:
            kw = kw(emb) if callable(kw) else kw
            want, got = emb.projection(name, **kw), neo.projection(name, **kw)
            pd.testing.assert_frame_equal(want, got, check_dtype=False, obj=f"{name}({sorted(kw)})")
    finally:
        neo.conn.close()


# tests are grouped by data set so that the graph is loaded once per data set
@pytest.mark.parametrize("name", sorted(CASES))
def test_planted(bolt_server, bundles, name):  # noqa: F811
    _check(bolt_server, bundles, "planted", name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_edge_cases(bolt_server, bundles, name):  # noqa: F811
    _check(bolt_server, bundles, "edge", name)


def test_edge_bundle_exercises_the_cases(bundles):
    """The edge-case bundle really holds what it is meant to test (non-empty, every relation kind)."""
    emb = bundles["edge"][1]
    assert set(emb.projection("stay_overlaps", edge_days=0)["via"]) == {"person", "card"}
    adm = emb.projection("inpatient_admissions")
    assert adm["referral_id"].notna().any() and adm["referral_id"].isna().any()
    assert emb.projection("referral_sequences")["step"].max() >= 1
    assert emb.projection("referral_claims", referral_ids=["RF0003", "RF0004"])["origin"].any()
    assert (emb.projection("doctor_referrals")["level"] == "?").any()
    twins = emb.projection("identical_claims")
    assert {"C0600", "C0601", "C0603", "C0604", "C0606", "C0607", "C0608"} <= set(twins["claim_id"])
    assert not {"C0602", "C0605"} & set(twins["claim_id"]) and set(twins["provider_type"]) == {"institution", "pharmacy"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_demo_city(bolt_server, bundles, name):  # noqa: F811
    _check(bolt_server, bundles, "demo", name)


#: detectors whose projections are all server-side: none reads the claims table back
CLAIM_FREE = ("deceased_card_use", "duplicate_claim", "identity_ring", "impossible_travel", "phantom_stay",
              "referral_concentration", "referral_loop", "shared_card", "split_stay")


def test_demo_city_scan_without_reading_claims(bolt_server, bundles, monkeypatch):  # noqa: F811
    bundle, emb = bundles["demo"]
    neo = _graph(bolt_server, bundle, emb)
    table = Neo4jStore.table
    guard = {"on": True}

    def no_claims(self, name, columns=None):
        assert not (guard["on"] and name in ("claims", "claim_items")), f"{name} read back by a detector"
        return table(self, name, columns)

    # the provider risk model makes one pass over the claim columns it needs (volume and
    # peer indicators of every provider); the detectors must not read claims back
    scan_module = importlib.import_module("graphkit.scan")
    real_scores = scan_module.provider_scores

    def scores_unguarded(*args, **kwargs):
        guard["on"] = False
        try:
            return real_scores(*args, **kwargs)
        finally:
            guard["on"] = True

    monkeypatch.setattr(Neo4jStore, "table", no_claims)
    monkeypatch.setattr(scan_module, "provider_scores", scores_unguarded)
    try:
        got = graphkit.scan(neo, kinds=list(CLAIM_FREE))
    finally:
        neo.conn.close()
    want = graphkit.scan(emb, kinds=list(CLAIM_FREE))
    assert {f.kind for f in want.findings} == set(CLAIM_FREE), "every kind must find something in the demo city"
    assert [f.to_dict() for f in want.findings] == [f.to_dict() for f in got.findings]
    pd.testing.assert_frame_equal(want.scores, got.scores, check_dtype=False)
