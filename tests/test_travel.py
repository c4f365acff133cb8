"""impossible_travel judged only as far as the data allows: time precision, unknown places,
region centroids with radii, district→county hops, benign look-alikes.

Every bundle here is planted by hand: the exact answer is known.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import graphkit
from conftest import tiny_tables, write_bundle
from graphkit.detectors.travel import gap_text, min_travel_hours
from graphkit.scan import scan, write_scan
from graphkit.store import open_store
from loaders import load_bundle

# real seats of 济南市 districts and counties (WGS-84)
JINAN = {
    "370102": ("历下区", 36.666, 117.076), "370103": ("市中区", 36.651, 116.998), "370104": ("槐荫区", 36.651, 116.901),
    "370105": ("天桥区", 36.679, 116.987), "370112": ("历城区", 36.680, 117.065), "370113": ("长清区", 36.554, 116.752),
    "370124": ("平阴县", 36.289, 116.456), "370126": ("商河县", 37.309, 117.157), "110105": ("朝阳区", 39.922, 116.443),
}


def _inst(iid: str, region: str, name: str | None = None, lat: str = "", lon: str = "") -> dict:
    return {"institution_id": iid, "name": name or f"{iid}医院", "level": "2", "ownership": "public", "kind": "hospital",
            "region": region, "lat": lat, "lon": lon}


def _claim(cid: str, card: str, pat: str, inst: str, t: str) -> dict:
    return {"claim_id": cid, "card_id": card, "patient_id": pat, "claim_type": "outpatient", "institution_id": inst,
            "pharmacy_id": "", "doctor_id": "", "department": "", "start_time": t, "end_time": "", "diagnosis_code": "",
            "total_amount": "100", "fund_amount": "80", "self_amount": "20", "referral_id": "", "terminal_id": ""}


def make_store(tmp_path: Path, insts: list[dict], claims: list[dict], *, regions: bool = True, n_people: int = 12,
               extra_contacts: list[dict] | None = None) -> graphkit.Store:
    """A bundle with the given institutions and claims; people PX01.. with cards KX01.."""
    t = tiny_tables()
    t["institutions"] = insts
    t["pharmacies"] = [{"pharmacy_id": "Y0001", "name": "药房", "chain": "", "region": "370102", "lat": "", "lon": ""}]
    t["doctors"] = [{"doctor_id": "D00001", "name": "", "institution_id": "", "department": "", "title": ""}]
    base = dict(t["patients"][0])
    t["patients"] = [{**base, "patient_id": f"PX{i:02d}", "name": f"人{i}", "id_number": "", "death_date": ""}
                     for i in range(1, n_people + 1)]
    t["cards"] = [{"card_id": f"KX{i:02d}", "patient_id": f"PX{i:02d}", "issued_date": "2020-01-01", "status": "active",
                   "kind": "physical"} for i in range(1, n_people + 1)]
    t["claims"] = claims
    for k in ("referrals", "claim_items", "budgets"):
        t.pop(k)
    t["contacts"] = extra_contacts or [{"patient_id": "PX01", "kind": "phone", "value": "13800000000"}]
    if regions:
        t["regions"] = [{"region_code": c, "name": n, "parent_code": c[:4] + "00", "lat": str(la), "lon": str(lo)}
                        for c, (n, la, lo) in JINAN.items()]
    else:
        t.pop("regions")
    bundle = write_bundle(tmp_path / "bundle", t)
    load_bundle(bundle, tmp_path / "store")
    return open_store(tmp_path / "store")


def _background(n: int = 8, minutes: bool = True) -> list[dict]:
    """Ordinary people: two settlements in one district hours apart (the data's own speeds)."""
    out = []
    for i in range(1, n + 1):
        m = f"{7 * i % 60:02d}" if minutes else "00"
        out += [_claim(f"CB{i:02d}a", f"KX{i:02d}", f"PX{i:02d}", "HB01", f"2024-05-0{1 + i % 8} 08:{m}:00"),
                _claim(f"CB{i:02d}b", f"KX{i:02d}", f"PX{i:02d}", "HB02", f"2024-05-0{1 + i % 8} 1{i % 8}:{m}:00")]
    return out


BASE_INSTS = [_inst("HB01", "370102", lat="36.668", lon="117.070"), _inst("HB02", "370103", lat="36.650", lon="116.990")]


def test_min_travel_and_gap_text():
    p = dict(road_speed_kmh=120.0, rail_speed_kmh=350.0, rail_overhead_hours=0.5, flight_speed_kmh=800.0,
             flight_overhead_hours=2.0)
    # a day is enough to fly across China: dates alone can never prove impossibility
    assert min_travel_hours(pd.Series([5000.0]).to_numpy(), p)[0] < 24
    assert gap_text(86400, 86400) == ("同一日", "on the same day")
    assert gap_text(3600, 3600)[1] == "within the same hour" and gap_text(60, 60)[1] == "within 1 min"


def test_dates_only_bundle_is_skipped_with_reason(tmp_path):
    insts = BASE_INSTS + [_inst("HF01", "110105", lat="39.91", lon="116.41")]
    claims = _background(minutes=False)
    # 300+ km apart on one date: would be "0 minutes apart" if dates were read as times
    claims = [{**c, "start_time": c["start_time"][:10]} for c in claims]
    claims += [_claim("CF01", "KX10", "PX10", "HB01", "2024-06-01"), _claim("CF02", "KX10", "PX10", "HF01", "2024-06-01")]
    store = make_store(tmp_path, insts, claims)
    assert store.profile()["time_precision"] == "day"
    assert graphkit.impossible_travels(store) == []  # by construction: a day always suffices
    res = scan(store)
    assert "impossible_travel" in res.skipped and "impossible_travel" not in res.parameters
    assert "结算时间只有日期" in res.skipped["impossible_travel"] and "dates only" in res.skipped["impossible_travel"]
    # no finding of any kind rests on a difference finer than a day
    for f in res.findings:
        for pair in f.evidence.get("pairs", []):
            assert pair.get("max_gap_minutes", 1440) >= 1440
    paths = write_scan(res, tmp_path / "scan")
    doc = json.loads(paths["findings"].read_text("utf-8"))
    assert doc["skipped"]["impossible_travel"] == res.skipped["impossible_travel"]
    assert doc["data_profile"]["time_precision"] == "day"


def test_hour_precision_same_hour_300km_found_but_adjacent_hours_not(tmp_path):
    insts = BASE_INSTS + [_inst("HF01", "110105", lat="39.91", lon="116.41")]
    claims = _background(minutes=False)
    # same hour stamp, ~360 km: true gap < 1 h, fastest trip (rail) ≈ 1.5 h → impossible
    claims += [_claim("CS01", "KX09", "PX09", "HB01", "2024-06-01 10:00:00"), _claim("CS02", "KX09", "PX09", "HF01", "2024-06-01 10:00:00")]
    # stamps one hour apart: the true gap may be up to 2 h → possible by rail → not reported
    claims += [_claim("CA01", "KX10", "PX10", "HB01", "2024-06-02 10:00:00"), _claim("CA02", "KX10", "PX10", "HF01", "2024-06-02 11:00:00")]
    store = make_store(tmp_path, insts, claims)
    assert store.profile()["time_precision"] == "hour"
    fs = graphkit.impossible_travels(store)
    assert [f.entity_ids("card") for f in fs] == [["KX09"]]
    pair = fs[0].evidence["pairs"][0]
    assert pair["max_gap_minutes"] == 60.0 and pair["gap_written_minutes"] == 0.0
    assert "同一小时内" in fs[0].summary and "within the same hour" in fs[0].summary and "0分钟" not in fs[0].summary
    res = scan(store, kinds=["impossible_travel"])
    assert res.degraded["impossible_travel"] and "小时" in res.degraded["impossible_travel"][0]


def test_unknown_region_codes_never_produce_a_finding(tmp_path):
    insts = BASE_INSTS + [_inst("HU01", "999901"), _inst("HU02", "999902")]
    claims = _background()
    claims += [_claim("CU01", "KX09", "PX09", "HU01", "2024-06-01 10:03:00"), _claim("CU02", "KX09", "PX09", "HU02", "2024-06-01 10:05:00")]
    store = make_store(tmp_path, insts, claims)
    prof = store.profile()
    assert prof["regions"]["unknown"] == 2 and prof["regions"]["unknown_examples"] == ["999901", "999902"]
    assert graphkit.impossible_travels(store) == []
    pairs = store.projection("travel_pairs", by="card_id")
    row = pairs[pairs["claim_a"] == "CU01"].iloc[0]
    assert row["place_a"] == row["place_b"] == "unknown" and pd.isna(row["distance_km"]) and pd.isna(row["distance_low_km"])


def test_district_to_county_in_ten_minutes_found_from_region_centroids(tmp_path):
    # no coordinates: 历下区 → 平阴县 (≈ 70 km between seats) placed by the regions table
    insts = BASE_INSTS + [_inst("HL01", "370102"), _inst("HP01", "370124")]
    claims = _background()
    claims += [_claim("CD01", "KX09", "PX09", "HL01", "2024-06-01 09:03:00"), _claim("CD02", "KX09", "PX09", "HP01", "2024-06-01 09:13:00")]
    # an ordinary trip: the same two places 2 hours apart is not reported
    claims += [_claim("CD03", "KX10", "PX10", "HL01", "2024-06-02 09:03:00"), _claim("CD04", "KX10", "PX10", "HP01", "2024-06-02 11:03:00")]
    store = make_store(tmp_path, insts, claims)
    fs = graphkit.impossible_travels(store)
    assert [f.claims for f in fs] == [["CD01", "CD02"]]
    pair = fs[0].evidence["pairs"][0]
    assert pair["place_a"] == pair["place_b"] == "region:regions_table"
    assert 30 < pair["distance_low_km"] < pair["distance_km"] < 75  # lower bound: centroid distance less both radii
    assert pair["max_gap_minutes"] == 11.0 and pair["required_minutes"] > 11.0
    ev = fs[0].evidence
    assert ev["null"]["method"] and "log10_p" in ev["null"]
    assert {c["check"] for c in ev["benign_checks"]} >= {"same_brand", "family_card", "imprecise_times", "imprecise_places"}


def test_district_to_county_found_from_the_gazetteer_without_regions_table(tmp_path):
    from graphkit.places import gazetteer

    if gazetteer().empty:
        pytest.skip("gazetteer package not installed")
    insts = BASE_INSTS + [_inst("HL01", "370102"), _inst("HP01", "370124")]
    claims = _background() + [_claim("CD01", "KX09", "PX09", "HL01", "2024-06-01 09:03:00"),
                              _claim("CD02", "KX09", "PX09", "HP01", "2024-06-01 09:13:00")]
    store = make_store(tmp_path, insts, claims, regions=False)
    fs = graphkit.impossible_travels(store)
    assert [f.claims for f in fs] == [["CD01", "CD02"]]
    assert fs[0].evidence["pairs"][0]["place_b"] == "region:gazetteer"


def test_known_coordinates_35km_in_12_minutes_found(tmp_path):
    # 历下 clinic → 长清 clinic, both geolocated, ≈ 31 km: fastest road trip > 15 min
    insts = BASE_INSTS + [_inst("HL01", "370102", lat="36.666", lon="117.076"), _inst("HC01", "370113", lat="36.554", lon="116.752")]
    claims = _background() + [_claim("CK01", "KX09", "PX09", "HL01", "2024-06-01 09:03:00"),
                              _claim("CK02", "KX09", "PX09", "HC01", "2024-06-01 09:15:00")]
    store = make_store(tmp_path, insts, claims)
    fs = graphkit.impossible_travels(store)
    assert [f.claims for f in fs] == [["CK01", "CK02"]]
    pair = fs[0].evidence["pairs"][0]
    assert pair["place_a"] == pair["place_b"] == "coordinates" and 30 < pair["distance_low_km"] < 33
    assert "13分钟内" in fs[0].summary


def test_two_sites_of_one_brand_down_ranked_below_a_true_case(tmp_path):
    insts = BASE_INSTS + [
        _inst("HR01", "370102", name="仁和医院"), _inst("HR02", "370124", name="仁和医院平阴分院"),
        _inst("HL01", "370102", name="泉城诊所"), _inst("HP01", "370124", name="平阴县中医院"),
    ]
    claims = _background()
    claims += [_claim("CR01", "KX09", "PX09", "HR01", "2024-06-01 09:03:00"), _claim("CR02", "KX09", "PX09", "HR02", "2024-06-01 09:13:00")]
    claims += [_claim("CT01", "KX10", "PX10", "HL01", "2024-06-01 09:03:00"), _claim("CT02", "KX10", "PX10", "HP01", "2024-06-01 09:13:00")]
    store = make_store(tmp_path, insts, claims)
    fs = graphkit.impossible_travels(store)
    by_card = {f.entity_ids("card")[0]: f for f in fs}
    assert set(by_card) == {"KX09", "KX10"}
    brand = {c["check"]: c for c in by_card["KX09"].evidence["benign_checks"]}["same_brand"]
    assert brand["outcome"] == "explains"
    assert {c["check"]: c for c in by_card["KX10"].evidence["benign_checks"]}["same_brand"]["outcome"] == "ruled_out"
    assert by_card["KX10"].score > by_card["KX09"].score
    assert scan(store, kinds=["impossible_travel"]).findings[0].entity_ids("card") == ["KX10"]  # the true case ranks first


def test_family_sharing_a_card_is_explained(tmp_path):
    insts = BASE_INSTS + [_inst("HL01", "370102"), _inst("HP01", "370124")]
    claims = _background()
    # card KX09 settled for its holder PX09 in 历下 and for family PX11 in 平阴 10 minutes later
    claims += [_claim("CF01", "KX09", "PX09", "HL01", "2024-06-01 09:03:00"), _claim("CF02", "KX09", "PX11", "HP01", "2024-06-01 09:13:00")]
    fam = [{"patient_id": "PX09", "kind": "family", "value": "PX11"}, {"patient_id": "PX11", "kind": "family", "value": "PX09"}]
    store = make_store(tmp_path, insts, claims, extra_contacts=fam)
    fs = graphkit.impossible_travels(store)
    assert len(fs) == 1
    check = {c["check"]: c for c in fs[0].evidence["benign_checks"]}["family_card"]
    assert check["outcome"] == "explains" and fs[0].score < 0.5


def test_an_online_channel_terminal_is_explained_and_ranked_below_a_cloned_card(tmp_path):
    """互联网医院: a hub's online terminal serves people who are elsewhere; each is followed by a
    purchase at home minutes later. Cloned cards pass an ordinary counter that serves many."""
    insts = BASE_INSTS + [_inst("HH01", "370102", name="省立医院"), _inst("HC01", "370124"), _inst("HC02", "370126"),
                          _inst("HP01", "370124")]
    claims = _background(30)
    # the counters where people live serve their neighbours too (weeks apart: no pair is judged)
    claims += [_claim(f"CV{i:02d}{h}", f"KX{i:02d}", f"PX{i:02d}", h, f"2024-{7 + j:02d}-{1 + i % 28:02d} {8 + i % 9:02d}:{7 * i % 60:02d}:00")
               for i in range(1, 31) for j, h in enumerate(("HC01", "HC02", "HP01"))]
    online = {}
    for i, (home, t) in enumerate((("HC01", "19:01"), ("HC02", "20:10"), ("HC01", "21:30"))):
        card, pat = f"KX{31 + i:02d}", f"PX{31 + i:02d}"
        net = _claim(f"CN{i}a", card, pat, "HH01", f"2024-06-0{2 + i} {t}:00")
        net["terminal_id"] = "THH01-NET"
        claims += [net, _claim(f"CN{i}b", card, pat, home, f"2024-06-0{2 + i} {t[:3]}{int(t[3:]) + 12:02d}:00")]
        online[card] = home
    # two cloned cards pass the background hospital's counter, which serves thirty people: not a channel
    claims += [_claim("CT01", "KX34", "PX34", "HB01", "2024-06-01 09:03:00"), _claim("CT02", "KX34", "PX34", "HP01", "2024-06-01 09:13:00")]
    claims += [_claim("CT03", "KX35", "PX35", "HB01", "2024-06-05 09:03:00"), _claim("CT04", "KX35", "PX35", "HC01", "2024-06-05 09:13:00")]
    for c in claims:
        if not c["terminal_id"]:
            c["terminal_id"] = "T" + c["institution_id"]
    store = make_store(tmp_path, insts, claims, n_people=35)
    fs = graphkit.impossible_travels(store)
    by_card = {f.entity_ids("card")[0]: f for f in fs}
    assert set(online) | {"KX34", "KX35"} <= set(by_card)
    for card in online:
        remote = {c["check"]: c for c in by_card[card].evidence["benign_checks"]}["remote_settlement"]
        assert remote["outcome"] == "explains" and "THH01-NET" in remote["detail"]
        assert by_card[card].score < min(by_card["KX34"].score, by_card["KX35"].score)
    for card in ("KX34", "KX35"):
        cloned = {c["check"]: c for c in by_card[card].evidence["benign_checks"]}["remote_settlement"]
        assert cloned["outcome"] != "explains"
