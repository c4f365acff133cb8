"""Generator variants: export quirks do what they say, look-alikes are planted and recorded.

One small variant city with every look-alike is generated once; each quirk runs on a copy.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from graphkit.demo import generate_city
from graphkit.demo.config import CAMOUFLAGED, LOOKALIKES, VARIANTS, CityConfig
from graphkit.demo.quirks import FOREIGN_CODES, QUIRKS, apply_quirks, read_bundle

N, MONTHS, SEED = 3000, 4, 11
ALL = CityConfig(name="all", outer_counties=True, branch_campuses=3, e_voucher_share=0.5,
                 lookalikes=tuple((k, 1.0) for k in LOOKALIKES))
#: hard-negative kind recorded for each look-alike
HN_KIND = {
    "care_home_batch": "care_home_batch", "dormitory": "collective_household",
    "village_agent": "village_agent_activation", "newborn_parent_card": "newborn_on_parent_card",
    "outbreak": "outbreak", "group_exam": "group_exam", "family_doctor_contract": "family_doctor_contract",
    "chronic_refill_day": "chronic_refill_day", "branch_campus": "branch_campus_transfer",
    "stay_outside_service": "stay_outside_service", "rail_day_trip": "rail_day_trip",
    "internet_hospital": "internet_hospital_visit", "family_across_households": "family_across_households",
    "medical_alliance": "medical_alliance", "newborn_with_mother": "newborn_with_mother",
    "twice_daily_sessions": "twice_daily_sessions",
}


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    out = tmp_path_factory.mktemp("variant_city")
    summary = generate_city(out, patients=N, seed=SEED, months=MONTHS, config=ALL)
    b = read_bundle(out)
    df = {k: v.to_pandas() for k, v in b.tables.items()}
    return {"dir": out, "summary": summary, "truth": b.truth, "df": df}


def quirked(city, tmp_path: Path, quirks: list[str]):
    dst = tmp_path / "b"
    shutil.copytree(city["dir"], dst)
    apply_quirks(dst, quirks)
    b = read_bundle(dst)
    return dst, b, {k: v.to_pandas() for k, v in b.tables.items()}


def hard(city, kind: str) -> list[dict]:
    return [h for h in city["truth"]["hard_negatives"] if h["kind"] == kind]


# ------------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------------
def test_default_variant_writes_the_original_tables(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate_city(a, patients=1500, seed=3, months=2)
    generate_city(b, patients=1500, seed=3, months=2, variant="default")
    for p in sorted(a.glob("*.parquet")):
        assert hashlib.sha256(p.read_bytes()).digest() == hashlib.sha256((b / p.name).read_bytes()).digest(), p.name
    assert "variant" not in json.loads((a / "truth.json").read_text("utf-8"))


def test_variants_are_many_and_valid():
    assert len(VARIANTS) >= 10
    for v in VARIANTS.values():
        for q in v.quirks:
            assert q.partition(":")[0] in QUIRKS
    with pytest.raises(ValueError, match="lookalikes"):
        CityConfig(lookalikes=(("no_such_thing", 1.0),))


# ------------------------------------------------------------------------------------------------
# look-alikes
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(HN_KIND))
def test_each_lookalike_is_a_hard_negative_with_claims(city, name):
    entries = hard(city, HN_KIND[name])
    assert entries, f"{name}: no {HN_KIND[name]} in truth.json"
    claims = set(city["df"]["claims"]["claim_id"])
    for h in entries:
        assert h["claims"] and set(h["claims"]) <= claims
        assert h["entities"]
    assert city["truth"]["variant"]["config"]["lookalikes"][name] == 1.0


def test_group_exam_is_one_morning_one_terminal_one_price(city):
    c = city["df"]["claims"].set_index("claim_id")
    for h in hard(city, "group_exam"):
        x = c.loc[h["claims"]]
        assert x["terminal_id"].nunique() == 1 and x["total_amount"].nunique() == 1
        assert x["start_time"].dt.date.nunique() == 1 and x["start_time"].dt.hour.max() <= 11
        assert x["patient_id"].nunique() == len(x) >= 15


def test_care_home_batch_settles_residents_together(city):
    c = city["df"]["claims"].set_index("claim_id")
    contacts = city["df"]["contacts"]
    for h in hard(city, "care_home_batch"):
        room = next(e["id"] for e in h["entities"] if e["role"] == "care_home_room")
        term = next(e["id"] for e in h["entities"] if e["type"] == "terminal")
        batch = c[(c["institution_id"] == room) & (c["terminal_id"] == term)]
        by_day = batch.groupby(batch["start_time"].dt.date)["start_time"]
        assert (by_day.max() - by_day.min()).max() <= pd.Timedelta(minutes=60)
        assert by_day.size().max() >= 10
        residents = {e["id"] for e in h["entities"] if e["role"] == "resident"}
        desk = contacts[(contacts["kind"] == "phone") & (contacts["value"] == h["shared_phone"])]
        assert set(desk["patient_id"]) == residents


def test_dormitory_and_village_agent_share_identifiers(city):
    p = city["df"]["patients"].set_index("patient_id")
    contacts = city["df"]["contacts"]
    for h in hard(city, "collective_household"):
        people = [e["id"] for e in h["entities"]]
        addr = contacts[(contacts["kind"] == "address") & (contacts["value"] == h["address"])]
        assert set(addr["patient_id"]) == set(people) and len(people) >= 10
        age = (pd.Timestamp(city["truth"]["period"]["start"]) - pd.to_datetime(p.loc[people, "birth_date"])).dt.days / 365.25
        assert age.between(17.9, 37).all()
        fam = contacts[(contacts["kind"] == "family") & contacts["patient_id"].isin(people)]
        assert fam.empty  # unrelated
    for h in hard(city, "village_agent_activation"):
        villagers = {e["id"] for e in h["entities"] if e["role"] == "villager"}
        dev = contacts[(contacts["kind"] == "device") & (contacts["value"] == h["device"])]
        assert set(dev["patient_id"]) == villagers and len(villagers) >= 8
        cards = city["df"]["cards"]
        ev = cards[cards["patient_id"].isin(villagers) & (cards["kind"] == "e_voucher")]
        assert set(ev["patient_id"]) == villagers


def test_newborns_settle_on_a_parents_card_before_their_own(city):
    c = city["df"]["claims"].set_index("claim_id")
    cards = city["df"]["cards"].set_index("card_id")
    for h in hard(city, "newborn_on_parent_card"):
        kid = next(e["id"] for e in h["entities"] if e["role"] == "newborn")
        parent = next(e["id"] for e in h["entities"] if e["role"] == "holder")
        x = c.loc[h["claims"]]
        assert (x["patient_id"] == kid).all()
        assert (cards.loc[x["card_id"], "patient_id"] == parent).all()
        own = cards[cards["patient_id"] == kid]
        assert (x["start_time"] < pd.Timestamp(own["issued_date"].min())).all()
        birth = city["df"]["patients"].set_index("patient_id").loc[kid, "birth_date"]
        assert (x["start_time"] > pd.Timestamp(birth)).all()


def _days(ts: pd.Series) -> np.ndarray:
    return ts.values.astype("datetime64[D]").astype(np.int64)


def test_legal_duplicate_lookalikes_newborn_stays_and_twice_daily_sessions(city):
    c = city["df"]["claims"].set_index("claim_id")
    born = hard(city, "newborn_with_mother")
    assert born
    for h in born:
        x = c.loc[h["claims"]].sort_values("department")
        venue, mother = h["entities"][0], h["entities"][1]
        assert venue["role"] == "venue" and (x["institution_id"] == venue["id"]).all()
        assert (x["patient_id"] == mother["id"]).all() and x["card_id"].nunique() == 1
        assert (x["claim_type"] == "inpatient").all() and len(x) == 2
        assert set(x["diagnosis_code"].str[0]) == {"O", x["diagnosis_code"].iloc[0][0]}
        perinatal = x["diagnosis_code"].str.match(r"^(P[0-8][0-9]|P9[0-6]|Z38)")
        assert perinatal.sum() == 1 and x.loc[~perinatal, "diagnosis_code"].iloc[0].startswith("O8")
        overlap = _days(x["end_time"]).min() - _days(x["start_time"]).max()
        assert overlap >= 1
    twice = hard(city, "twice_daily_sessions")
    assert twice
    for h in twice:
        x = c.loc[h["claims"]].sort_values(["patient_id", "start_time"])
        assert h["entities"][0]["role"] == "venue" and (x["institution_id"] == h["entities"][0]["id"]).all()
        assert 15 <= x["patient_id"].nunique() <= 30
        day = x["start_time"].dt.normalize()
        per_day = x.groupby([x["patient_id"], day])
        assert (per_day.size() == 2).all()
        gap = per_day["start_time"].agg(lambda s: s.max() - s.min())
        assert (gap >= pd.Timedelta(hours=3)).all() and (gap <= pd.Timedelta(hours=6)).all()
        same = per_day[["diagnosis_code", "total_amount", "fund_amount"]].nunique()
        assert (same == 1).all().all()
        assert per_day.ngroups >= 6 * 15


def test_e_vouchers_are_held_alongside_physical_cards(city):
    cards, c = city["df"]["cards"], city["df"]["claims"]
    assert set(cards["kind"]) == {"physical", "e_voucher"}
    both = cards.groupby("patient_id")["kind"].nunique()
    assert (both == 2).sum() > N * 0.2
    ev = cards[cards["kind"] == "e_voucher"].set_index("card_id")
    used = c[c["card_id"].isin(ev.index)]
    assert len(used) > 0
    assert (used["start_time"] >= pd.to_datetime(ev.loc[used["card_id"], "issued_date"]).to_numpy()).all()
    assert hard(city, "e_voucher_alongside_card")


def test_services_during_a_stay_and_day_trips(city):
    c = city["df"]["claims"].set_index("claim_id")
    for h in hard(city, "stay_outside_service"):
        stay, other = c.loc[h["claims"][0]], c.loc[h["claims"][1]]
        if stay["claim_type"] != "inpatient":
            stay, other = other, stay
        assert stay["start_time"] < other["start_time"] < stay["end_time"]
        assert stay["patient_id"] == other["patient_id"]
    inst = city["df"]["institutions"].set_index("institution_id")
    ph = city["df"]["pharmacies"].set_index("pharmacy_id")
    region = lambda r: (inst.loc[r["institution_id"], "region"] if isinstance(r["institution_id"], str)  # noqa: E731
                        else ph.loc[r["pharmacy_id"], "region"])
    for h in hard(city, "rail_day_trip"):
        a, b = c.loc[h["claims"][0]], c.loc[h["claims"][1]]
        assert a["start_time"].date() == b["start_time"].date()
        assert abs(a["start_time"] - b["start_time"]) >= pd.Timedelta(hours=2.5)
        assert region(a)[:4] != region(b)[:4]  # another prefecture
        assert h["km"] >= 250
    # travellers and online patients are never in hospital: no unplanted phantom stay next to them
    inpatients = set(c.loc[c["claim_type"] == "inpatient", "patient_id"])
    for kind in ("rail_day_trip", "internet_hospital_visit"):
        for h in hard(city, kind):
            assert not {e["id"] for e in h["entities"] if e["type"] == "patient"} & inpatients


def test_family_across_households_is_registered(city):
    contacts = city["df"]["contacts"]
    fam = set(zip(contacts.loc[contacts["kind"] == "family", "patient_id"], contacts.loc[contacts["kind"] == "family", "value"]))
    addr = contacts[contacts["kind"] == "address"].set_index("patient_id")["value"]
    c = city["df"]["claims"]
    used = 0
    for h in hard(city, "family_across_households"):
        payer = next(e["id"] for e in h["entities"] if e["role"] == "holder")
        elder = next(e["id"] for e in h["entities"] if e["role"] == "family_member")
        assert (payer, elder) in fam and (elder, payer) in fam
        assert addr[payer] != addr[elder]
        used += int(((c["patient_id"] == elder) & (c["card_id"] == h["entities"][0]["id"])).sum())
    assert used > 0


def test_branch_campuses_and_camouflaged_fraud(tmp_path):
    cfg = CityConfig(name="camo", outer_counties=True, branch_campuses=6, fraud=CAMOUFLAGED)
    generate_city(tmp_path, patients=N, seed=SEED, months=MONTHS, config=cfg)
    truth = json.loads((tmp_path / "truth.json").read_text("utf-8"))
    inst = pq.read_table(tmp_path / "institutions.parquet").to_pandas()
    assert inst["name"].str.contains("（(?:东院|西院|南院|北院|新院区)）$").sum() == 6  # …（东院）
    variants = {(i["kind"], i["variant"]) for i in truth["instances"]}
    assert ("impossible_travel", "district_county") in variants
    assert ("split_stay", "branch_campuses") in variants
    rings = [i for i in truth["instances"] if i["kind"] == "collusion_ring"]
    assert max(sum(e["role"] == "member" for e in r["entities"]) for r in rings) < 8


# ------------------------------------------------------------------------------------------------
# export quirks
# ------------------------------------------------------------------------------------------------
def test_dates_only_puts_every_time_at_midnight(city, tmp_path):
    _, _, df = quirked(city, tmp_path, ["dates_only"])
    for t, col in (("claims", "start_time"), ("claims", "end_time"), ("referrals", "referred_at")):
        s = df[t][col].dropna()
        assert (s == s.dt.normalize()).all(), col
    assert (df["claims"]["start_time"].dt.date == city["df"]["claims"]["start_time"].dt.date).all()


def test_date_strings_and_hour_only(city, tmp_path):
    dst, _, _ = quirked(city, tmp_path, ["date_strings"])
    raw = pq.read_table(dst / "claims.parquet").column("start_time").to_pylist()
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", x) for x in raw)
    shutil.rmtree(dst)
    _, _, df = quirked(city, tmp_path, ["hour_only"])
    s = df["claims"]["start_time"]
    assert (s.dt.minute == 0).all() and (s.dt.second == 0).all() and s.dt.hour.nunique() > 10


def test_missing_terminals_doctors_coordinates(city, tmp_path):
    _, _, df = quirked(city, tmp_path, ["no_terminals", "no_pharmacy_doctors", "no_coordinates", "no_card_kind"])
    c = df["claims"]
    assert "terminal_id" not in c.columns and "kind" not in df["cards"].columns
    assert c.loc[c["claim_type"] == "pharmacy", "doctor_id"].isna().all()
    assert c.loc[c["claim_type"] != "pharmacy", "doctor_id"].notna().mean() > 0.99
    assert not {"lat", "lon"} & (set(df["institutions"].columns) | set(df["pharmacies"].columns))


def test_drop_doctors_fraction(city, tmp_path):
    _, _, df = quirked(city, tmp_path, ["drop_doctors:0.3"])
    before = city["df"]["claims"]["doctor_id"].notna()
    after = df["claims"]["doctor_id"].notna()
    assert 0.25 < 1 - after[before].mean() < 0.35


@pytest.mark.parametrize("bare", [False, True])
def test_foreign_region_codes(city, tmp_path, bare):
    dst, _, df = quirked(city, tmp_path, ["foreign_regions_bare" if bare else "foreign_regions"])
    codes = set(FOREIGN_CODES.values())
    for t in ("institutions", "pharmacies", "patients"):
        assert set(df[t]["region"].dropna()) <= codes
    assert (dst / "regions.parquet").exists() != bare
    if not bare:
        assert set(df["institutions"]["region"]) <= set(df["regions"]["region_code"])
        assert df["regions"][["lat", "lon"]].notna().all().all()


@pytest.mark.parametrize("style,pattern", [("ids_numeric", r"[1-9]\d*"), ("ids_zeros", r"0\d{11}"),
                                           ("ids_uuid", r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")])
def test_id_formats_rename_tables_and_truth_together(city, tmp_path, style, pattern):
    _, b, df = quirked(city, tmp_path, [style])
    c = df["claims"]
    for col in ("claim_id", "card_id", "patient_id"):
        assert c[col].str.fullmatch(pattern).all(), col
    assert set(c["card_id"]) <= set(df["cards"]["card_id"])
    assert set(c["institution_id"].dropna()) <= set(df["institutions"]["institution_id"])
    assert set(df["claim_items"]["claim_id"]) <= set(c["claim_id"])
    fam = df["contacts"][df["contacts"]["kind"] == "family"]
    assert set(fam["value"]) <= set(df["patients"]["patient_id"])
    amount = c.set_index("claim_id")["fund_amount"]
    tables = {"patient": df["patients"]["patient_id"], "card": df["cards"]["card_id"],
              "institution": df["institutions"]["institution_id"], "pharmacy": df["pharmacies"]["pharmacy_id"],
              "doctor": df["doctors"]["doctor_id"], "terminal": c["terminal_id"]}
    old = city["truth"]["instances"]
    for i, (new, before) in enumerate(zip(b.truth["instances"], old)):
        assert new["claims"] != before["claims"]
        assert round(float(amount[new["claims"]].sum()), 2) == pytest.approx(new["amount"], abs=0.05)
        for e in new["entities"]:
            assert e["id"] in set(tables[e["type"]]), (new["id"], e)
    for h in b.truth["hard_negatives"]:
        assert set(h["claims"]) <= set(c["claim_id"])


def test_gb18030_csv_with_numeric_ids_and_date_strings_loads(city, tmp_path):
    from loaders import load_bundle

    dst, b, df = quirked(city, tmp_path, ["ids_numeric", "date_strings", "csv_gb18030"])
    raw = (dst / "institutions.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "医院" in raw.decode("gb18030") and b.encoding == "gb18030"
    res = load_bundle(dst, tmp_path / "store", encoding="gb18030")
    assert res.report.ok, res.report.format(limit=5)
    assert res.rows["claims"] == len(city["df"]["claims"])
    ids = df["patients"]["patient_id"]
    assert ids.str.fullmatch(r"\d+").all() and np.isin("1", ids)


def test_optional_tables_regions_table_and_compressed_csv(city, tmp_path):
    dst, b, df = quirked(city, tmp_path, ["no_items", "no_contacts", "regions_table", "csv_gz"])
    names = sorted(p.name for p in dst.iterdir() if p.name != "truth.json")
    assert all(n.endswith(".csv.gz") for n in names)
    assert "claim_items.csv.gz" not in names and "contacts.csv.gz" not in names
    assert set(df["institutions"]["region"]) <= set(df["regions"]["region_code"])
    assert df["regions"]["region_code"].str.fullmatch(r"\d{6}").all()
    assert b.truth["variant"]["quirks_applied"] == ["no_items", "no_contacts", "regions_table", "csv_gz"]
