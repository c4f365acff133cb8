"""Tests for the synthetic demo-city generator (graphkit.demo.city)."""

from __future__ import annotations

import hashlib
import os
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from graphkit.demo import generate_city
from graphkit.demo._util import id_number_valid
from graphkit.demo._world import haversine_km
from graphkit.schema import TABLES

KINDS = ("collusion_ring", "shared_card", "deceased_card_use", "impossible_travel", "card_burst",
         "phantom_stay", "split_stay", "referral_loop", "referral_concentration", "identity_ring", "duplicate_claim")
EXTRA = {"institutions": ("lat", "lon"), "pharmacies": ("lat", "lon")}
ARROW_TYPES = {"str": pa.string(), "int": pa.int64(), "bool": pa.bool_(), "date": pa.date32(),
               "datetime": pa.timestamp("ms"), "decimal": pa.float64(), "float": pa.float64()}  # parquet stores seconds as ms
N = 2000
SEED = int(os.environ.get("GRAPHKIT_DEMO_TEST_SEED", "7"))


def expected_types(table: str) -> dict[str, pa.DataType]:
    types = {c.name: ARROW_TYPES[c.type] for c in TABLES[table].columns}
    types.update({c: pa.float64() for c in EXTRA.get(table, ())})
    return types


def read_bundle(folder: Path) -> dict[str, pa.Table]:
    out = {}
    for name in TABLES:
        pqf, csvf, gzf = folder / f"{name}.parquet", folder / f"{name}.csv", folder / f"{name}.csv.gz"
        if pqf.exists():
            out[name] = pq.read_table(pqf)
        else:
            path = gzf if gzf.exists() else csvf
            out[name] = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                column_types=expected_types(name), strings_can_be_null=True))
    return out


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    out = tmp_path_factory.mktemp("city")
    summary = generate_city(out, patients=N, seed=SEED, months=12)
    tables = read_bundle(out)
    df = {k: v.to_pandas() for k, v in tables.items()}
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    return {"dir": out, "summary": summary, "tables": tables, "df": df, "truth": truth}


@pytest.fixture(scope="module")
def planted(city):
    return {c: i["kind"] for i in city["truth"]["instances"] for c in i["claims"] + i.get("context_claims", [])}


def _instances(city, kind):
    return [i for i in city["truth"]["instances"] if i["kind"] == kind]


# ------------------------------------------------------------------------------------------------
# Bundle contract
# ------------------------------------------------------------------------------------------------
def test_summary_rows_match_files(city):
    for name, table in city["tables"].items():
        assert city["summary"]["rows"][name] == table.num_rows
    assert city["summary"]["rows"]["patients"] == N
    # 10-14 claims per patient-year (planted rows included)
    assert 9 <= city["summary"]["rows"]["claims"] / N <= 15


def test_every_table_has_exactly_the_spec_columns_and_types(city):
    for name, table in city["tables"].items():
        assert tuple(table.column_names) == TABLES[name].column_names + EXTRA.get(name, ()), name
        types = expected_types(name)
        for field in table.schema:
            assert field.type == types[field.name], (name, field.name, field.type)


def test_required_columns_non_null_and_enums(city):
    for name, table in city["tables"].items():
        for col in TABLES[name].columns:
            arr = table.column(col.name)
            if col.required:
                assert arr.null_count == 0, (name, col.name)
            if col.enum:
                vals = set(v for v in arr.to_pylist() if v is not None)
                assert vals <= set(col.enum), (name, col.name, vals - set(col.enum))
            if col.int_values:
                assert set(v for v in arr.to_pylist() if v is not None) <= set(col.int_values)


def test_primary_keys_unique(city):
    for name, table in city["tables"].items():
        pk = TABLES[name].primary_key
        if not pk:
            continue
        df = city["df"][name]
        assert not df.duplicated(list(pk)).any(), name


def test_every_reference_resolves(city):
    df = city["df"]
    for name, t in TABLES.items():
        for ref in t.references:
            vals = df[name][ref.column].dropna()
            target = set(df[ref.table][ref.target])
            missing = set(vals) - target
            assert not missing, (name, ref.column, sorted(missing)[:5])
    # family contacts point to patients
    fam = df["contacts"][df["contacts"].kind == "family"]
    assert set(fam.value) <= set(df["patients"].patient_id)


def test_claims_consistency(city):
    c = city["df"]["claims"]
    has_inst, has_ph = c.institution_id.notna(), c.pharmacy_id.notna()
    assert (has_inst ^ has_ph).all()
    assert (has_ph == (c.claim_type == "pharmacy")).all()
    assert (c[c.claim_type == "inpatient"].end_time.notna()).all()
    assert (c[c.claim_type != "inpatient"].end_time.isna()).all()
    ok = c.end_time.isna() | (c.end_time >= c.start_time)
    assert ok.all()
    for col in ("total_amount", "fund_amount", "self_amount"):
        assert (c[col] >= 0).all()
        assert np.allclose(c[col], c[col].round(2))
    assert (c.fund_amount <= c.total_amount + 1e-9).all()
    assert np.allclose(c.self_amount, c.total_amount - c.fund_amount, atol=0.011)
    assert c.terminal_id.notna().all()
    # ids sortable and in start_time order
    assert c.claim_id.is_monotonic_increasing
    assert c.start_time.is_monotonic_increasing
    period = city["truth"]["period"]
    assert (c.start_time >= pd.Timestamp(period["start"])).all()
    assert (c.start_time < pd.Timestamp(period["end"]) + pd.Timedelta(days=1)).all()
    assert (c.end_time.dropna() < pd.Timestamp(period["end"]) + pd.Timedelta(days=1)).all()
    # the terminal belongs to the provider of the claim
    prov = c.institution_id.fillna(c.pharmacy_id)
    assert (c.terminal_id.str.slice(1).str.split("-").str[0] == prov).all()


def test_claim_items_sum_to_totals(city):
    c, it = city["df"]["claims"], city["df"]["claim_items"]
    assert set(it.claim_id) == set(c.claim_id)
    sums = it.groupby("claim_id").amount.sum()
    tot = c.set_index("claim_id").total_amount.reindex(sums.index)
    assert np.allclose(sums, tot, atol=0.01)
    n_items = it.groupby("claim_id").size()
    assert n_items.min() >= 1 and n_items.max() <= 6
    assert (it.amount >= 0).all() and (it.unit_price >= 0).all() and (it.quantity >= 1).all()


def test_referral_claims_belong_to_the_referred_patient(city):
    c, r = city["df"]["claims"], city["df"]["referrals"].set_index("referral_id")
    rc = c[c.referral_id.notna()]
    assert len(rc) > 0
    assert (rc.patient_id.values == r.loc[rc.referral_id, "patient_id"].values).all()
    assert (rc.institution_id.values == r.loc[rc.referral_id, "to_institution_id"].values).all()
    assert (rc.start_time.values >= r.loc[rc.referral_id, "referred_at"].values).all()


# ------------------------------------------------------------------------------------------------
# Identifiers and personal data
# ------------------------------------------------------------------------------------------------
def test_identifier_styles(city):
    df = city["df"]
    pats = {
        ("institutions", "institution_id"): r"H\d{4}", ("pharmacies", "pharmacy_id"): r"Y\d{4}",
        ("doctors", "doctor_id"): r"D\d{5}", ("patients", "patient_id"): r"PT\d{8}",
        ("cards", "card_id"): r"K\d{9}", ("claims", "claim_id"): r"C\d{9}",
        ("referrals", "referral_id"): r"RF\d{7}", ("claims", "terminal_id"): r"T[HY]\d{4}-\d{2}",
    }
    for (t, col), rx in pats.items():
        assert df[t][col].str.fullmatch(rx).all(), (t, col)


def test_personal_data_is_plausible(city):
    p = city["df"]["patients"]
    assert p.name.str.fullmatch(r"[\u4e00-\u9fff]{2,3}").all()
    assert all(id_number_valid(x) for x in p.id_number)
    assert p.id_number.is_unique
    birth = pd.to_datetime(p.birth_date).dt.strftime("%Y%m%d")
    assert (p.id_number.str.slice(6, 14) == birth).all()
    assert (p.id_number.str.slice(0, 6) == p.region).all()
    male = p.id_number.str.slice(16, 17).astype(int) % 2 == 1
    assert (male == (p.sex == "M")).all()
    age = (pd.Timestamp(city["truth"]["period"]["start"]) - pd.to_datetime(p.birth_date)).dt.days / 365.25
    assert age.min() >= 0 and age.max() < 97
    ct = city["df"]["contacts"]
    assert ct[ct.kind == "phone"].value.str.fullmatch(r"1[3-9]\d{9}").all()
    assert ct[ct.kind == "bank_account"].value.str.fullmatch(r"\d{16,19}").all()
    assert (ct[ct.kind == "address"].groupby("patient_id").size() == 1).all()
    assert set(ct[ct.kind == "address"].patient_id) == set(p.patient_id)
    assert 0.02 <= p.low_income.mean() <= 0.09
    deaths = p.death_date.notna().mean()
    assert 0.002 <= deaths <= 0.02


def test_regions_and_coordinates(city):
    inst, ph = city["df"]["institutions"], city["df"]["pharmacies"]
    prov = pd.concat([inst[["region", "lat", "lon"]], ph[["region", "lat", "lon"]]])
    assert prov.region.str.fullmatch(r"\d{6}").all()
    assert set(prov.region.str.slice(0, 4)) >= {"3701", "3702", "1101", "3101", "4401"}
    home = prov[prov.region.str.startswith("3701")]
    d = haversine_km(home.lat.values[:, None], home.lon.values[:, None], home.lat.values[None, :], home.lon.values[None, :])
    assert d.max() < 45
    nb = prov[prov.region.str.startswith("3702")]
    d2 = haversine_km(home.lat.mean(), home.lon.mean(), nb.lat.values, nb.lon.values)
    assert (d2 > 250).all() and (d2 < 380).all()
    # districts of one prefecture: each provider is near its district's other providers
    for _, g in home.groupby("region"):
        dd = haversine_km(g.lat.values[:, None], g.lon.values[:, None], g.lat.values[None, :], g.lon.values[None, :])
        assert dd.max() < 20
    assert set(inst.level) == {1, 2, 3}
    assert set(inst.ownership) == {"public", "private"}
    assert (inst[inst.level == 3].ownership == "public").all()


def test_cards_and_lost_cards(city):
    cards, p = city["df"]["cards"], city["df"]["patients"]
    active = cards[cards.status != "lost"].groupby("patient_id").size()
    assert (active == 1).all() and len(active) == len(p)
    lost = cards[cards.status == "lost"]
    assert 0.01 <= len(lost) / len(p) <= 0.05
    # every lost card was replaced later by a card of the same holder
    newer = cards[cards.patient_id.isin(lost.patient_id) & (cards.status != "lost")].set_index("patient_id")
    assert (pd.to_datetime(newer.loc[lost.patient_id, "issued_date"].values)
            > pd.to_datetime(lost.issued_date.values)).all()


# ------------------------------------------------------------------------------------------------
# Normal population: realistic and free of the planted signals
# ------------------------------------------------------------------------------------------------
def test_normal_population_shape(city, planted):
    c = city["df"]["claims"]
    normal = c[~c.claim_id.isin(planted)]
    share = normal.claim_type.value_counts(normalize=True)
    assert share["outpatient"] > 0.35 and share["pharmacy"] > 0.35 and 0.01 < share["inpatient"] < 0.06
    inst = city["df"]["institutions"].set_index("institution_id")
    op = normal[normal.claim_type == "outpatient"]
    hub_share = (op.institution_id.map(inst.level) == 3).mean()
    assert 0.3 <= hub_share <= 0.55
    ip = normal[normal.claim_type == "inpatient"]
    assert ip.total_amount.median() > 3 * op.total_amount.median() * 10
    # outpatient visits mostly on weekdays, in daytime
    assert (op.start_time.dt.day_of_week < 5).mean() > 0.8
    assert op.start_time.dt.hour.between(7, 17).mean() > 0.8
    # items: non_medical almost never in normal claims
    it = city["df"]["claim_items"]
    nm = it[it.category == "non_medical"]
    assert (~nm.claim_id.isin(planted)).sum() <= 0.002 * len(normal)


def test_no_normal_claim_after_death(city, planted):
    c, p = city["df"]["claims"], city["df"]["patients"].set_index("patient_id")
    death = pd.to_datetime(c.patient_id.map(p.death_date))
    after = c[death.notna() & (c.start_time.dt.normalize() > death)]
    assert len(after) > 0
    assert after.claim_id.isin(planted).all()
    assert set(planted[x] for x in after.claim_id) == {"deceased_card_use"}
    # stays of people who died end at the latest on the death date
    ip = c[(c.claim_type == "inpatient") & death.notna() & ~c.claim_id.isin(planted)]
    assert (ip.end_time.dt.normalize() <= death[ip.index]).all()


def test_family_sharing_is_registered(city, planted):
    c, cards = city["df"]["claims"], city["df"]["cards"].set_index("card_id")
    fam = city["df"]["contacts"]
    fam = set(zip(fam[fam.kind == "family"].patient_id, fam[fam.kind == "family"].value))
    holder = c.card_id.map(cards.patient_id)
    shared = c[holder != c.patient_id]
    normal = shared[~shared.claim_id.isin(planted)]
    assert len(normal) > 20  # family sharing is frequent (the hard negative)
    assert all((p, h) in fam and (h, p) in fam for p, h in zip(normal.patient_id, holder[normal.index]))
    planted_shared = shared[shared.claim_id.isin(planted)]
    assert set(planted[x] for x in planted_shared.claim_id) == {"shared_card"}
    assert not any((p, h) in fam for p, h in zip(planted_shared.patient_id, holder[planted_shared.index]))
    hn = [h for h in city["truth"]["hard_negatives"] if h["kind"] == "family_card_sharing"]
    assert hn and all(set(h["claims"]) <= set(normal.claim_id) for h in hn)


def test_no_normal_claim_inside_own_stay(city, planted):
    c = city["df"]["claims"]
    ip = c[c.claim_type == "inpatient"][["patient_id", "start_time", "end_time", "claim_id"]]
    other = c[c.claim_type != "inpatient"][["patient_id", "start_time", "claim_id"]]
    m = other.merge(ip, on="patient_id", suffixes=("", "_stay"))
    inside = m[(m.start_time > m.start_time_stay) & (m.start_time < m.end_time)]
    assert len(inside) > 0
    assert inside.claim_id.isin(planted).all() and inside.claim_id_stay.isin(planted).all()
    assert set(planted[x] for x in inside.claim_id) == {"phantom_stay"}
    # no overlapping stays of one person, but for planted duplicates (a stay and its re-billed copy)
    j = ip.merge(ip, on="patient_id")
    j = j[j.claim_id_x < j.claim_id_y]
    ov = j[(j.start_time_y < j.end_time_x) & (j.start_time_x < j.end_time_y)]
    assert len(ov) > 0
    assert {planted.get(x) for x in ov.claim_id_x} | {planted.get(y) for y in ov.claim_id_y} == {"duplicate_claim"}


def _locate(city):
    inst, ph = city["df"]["institutions"], city["df"]["pharmacies"]
    return pd.concat([inst.set_index("institution_id")[["lat", "lon"]], ph.set_index("pharmacy_id")[["lat", "lon"]]])


def _fast_pairs(city, key):
    c = city["df"]["claims"].copy()
    loc = _locate(city)
    c["pid"] = c.institution_id.fillna(c.pharmacy_id)
    c = c.join(loc, on="pid").sort_values([key, "start_time"]).reset_index(drop=True)
    same = c[key].values[1:] == c[key].values[:-1]
    hours = (c.start_time.values[1:] - c.start_time.values[:-1]).astype("timedelta64[s]").astype(float) / 3600
    km = haversine_km(c.lat.values[1:], c.lon.values[1:], c.lat.values[:-1], c.lon.values[:-1])
    bad = same & (km > 200) & (km / np.maximum(hours, 1 / 60) > 200)
    return c.claim_id.values[:-1][bad], c.claim_id.values[1:][bad]


def test_impossible_travel_only_where_planted(city, planted):
    for key in ("patient_id", "card_id"):
        a, b = _fast_pairs(city, key)
        assert len(a) >= 3
        for x, y in zip(a, b):
            assert planted.get(x) == "impossible_travel" or planted.get(y) == "impossible_travel"
    # each instance has >= 2 home/remote pairs 5-90 minutes apart and > 250 km apart
    c = city["df"]["claims"].set_index("claim_id")
    loc = _locate(city)
    for inst in _instances(city, "impossible_travel"):
        rows = c.loc[inst["claims"]].sort_values("start_time")
        pid = rows.institution_id.fillna(rows.pharmacy_id)
        assert (rows.card_id == inst["key"]["id"]).all()
        assert len(rows) % 2 == 0 and len(rows) >= 4
        lat, lon = loc.loc[pid, "lat"].values, loc.loc[pid, "lon"].values
        fast = 0
        for i in range(len(rows) - 1):
            dt = (rows.start_time.iloc[i + 1] - rows.start_time.iloc[i]).total_seconds() / 60
            km = haversine_km(lat[i], lon[i], lat[i + 1], lon[i + 1])
            fast += (5 <= dt <= 90) and km > 250
        assert fast >= 2


def test_card_burst_only_where_planted(city, planted):
    c = city["df"]["claims"]
    night = c[(c.start_time.dt.hour >= 21) | (c.start_time.dt.hour < 3)].copy()
    night["night"] = (night.start_time - pd.Timedelta(hours=12)).dt.date
    k = night.groupby(["terminal_id", "night"]).card_id.nunique()
    big = k[k >= 10]
    keys = {i["key"]["id"] for i in _instances(city, "card_burst")}
    assert set(big.index.get_level_values(0)) == keys
    normal_night = night[~night.claim_id.isin(planted)]
    assert normal_night.groupby(["terminal_id", "night"]).card_id.nunique().max() <= 4
    it = city["df"]["claim_items"]
    for inst in _instances(city, "card_burst"):
        rows = c[c.claim_id.isin(inst["claims"])]
        assert (rows.terminal_id == inst["key"]["id"]).all()
        nights = rows.groupby((rows.start_time - pd.Timedelta(hours=12)).dt.date)
        assert 3 <= nights.ngroups <= 8
        for _, g in nights:
            assert g.card_id.nunique() >= 15
            assert (g.start_time.max() - g.start_time.min()) <= pd.Timedelta(minutes=90)
            assert g.total_amount.max() - g.total_amount.min() <= 4.01
        assert (it[it.claim_id.isin(inst["claims"])].category == "non_medical").any()


# ------------------------------------------------------------------------------------------------
# Ground truth
# ------------------------------------------------------------------------------------------------
def test_truth_file_structure(city):
    t = city["truth"]
    assert t["schema"] == "graphkit.truth/v1" and t["seed"] == SEED and t["patients"] == N
    assert set(t["period"]) == {"start", "end"}
    ids = [i["id"] for i in t["instances"]]
    assert len(ids) == len(set(ids))
    for kind in KINDS:
        assert len(_instances(city, kind)) >= 3, kind
        assert t["kinds"][kind] == len(_instances(city, kind))
    hn = {h["kind"] for h in t["hard_negatives"]}
    assert {"family_card_sharing", "dialysis_cohort", "nursing_home", "chemo_cycle", "hub_hospital",
            "legit_traveller"} <= hn


def test_truth_claims_entities_and_amounts(city):
    df = city["df"]
    claims = df["claims"].set_index("claim_id")
    sets = {"patient": set(df["patients"].patient_id), "card": set(df["cards"].card_id),
            "doctor": set(df["doctors"].doctor_id), "institution": set(df["institutions"].institution_id),
            "pharmacy": set(df["pharmacies"].pharmacy_id), "terminal": set(df["claims"].terminal_id)}
    seen: set[str] = set()
    for inst in city["truth"]["instances"]:
        assert inst["claims"], inst["id"]
        assert set(inst["claims"]) <= set(claims.index), inst["id"]
        assert not (set(inst["claims"]) & seen), "a planted claim belongs to two instances"
        seen |= set(inst["claims"])
        assert inst["amount"] == pytest.approx(claims.loc[inst["claims"], "fund_amount"].sum(), abs=0.02)
        for e in inst["entities"]:
            assert e["id"] in sets[e["type"]], (inst["id"], e)
            assert e["role"]
        key = inst["key"]
        if key["type"] in sets:
            assert key["id"] in sets[key["type"]]
        if key["type"] == "institutions":
            assert key["ids"] == sorted(key["ids"]) and set(key["ids"]) <= sets["institution"]
        if key["type"] == "ring":
            assert set(key["institutions"]) <= sets["institution"] and set(key["doctors"]) <= sets["doctor"]
        for rid in inst.get("referrals", []):
            assert rid in set(df["referrals"].referral_id)
    for h in city["truth"]["hard_negatives"]:
        assert set(h["claims"]) <= set(claims.index)
        assert not (set(h["claims"]) & seen), h["kind"]
        for e in h["entities"]:
            assert e["id"] in sets[e["type"]]


def test_planted_patterns_match_their_definitions(city):
    df = city["df"]
    c = df["claims"].set_index("claim_id")
    cards = df["cards"].set_index("card_id")
    pats = df["patients"].set_index("patient_id")
    ct = df["contacts"]
    fam = set(zip(ct[ct.kind == "family"].patient_id, ct[ct.kind == "family"].value))
    addr = ct[ct.kind == "address"].set_index("patient_id").value
    refs = df["referrals"].set_index("referral_id")
    for inst in city["truth"]["instances"]:
        rows = c.loc[inst["claims"]]
        kind, key = inst["kind"], inst["key"]
        if kind == "shared_card":
            if inst["variant"] == "lent":
                assert (rows.card_id == key["id"]).all()
                users = set(rows.patient_id)
                assert 2 <= len(users) <= 4 and cards.loc[key["id"], "patient_id"] not in users
                assert 4 <= len(rows) <= 15
            elif inst["variant"] == "multi_card":
                assert (rows.patient_id == key["id"]).all() and 3 <= rows.card_id.nunique() <= 6
                assert (cards.loc[rows.card_id, "patient_id"].values != key["id"]).all()
            else:
                assert cards.loc[key["id"], "status"] == "lost"
                holder = cards.loc[key["id"], "patient_id"]
                new = cards[(cards.patient_id == holder) & (cards.index != key["id"])].issued_date.iloc[0]
                assert (rows.start_time >= pd.Timestamp(new)).all() and (rows.patient_id == holder).all()
        elif kind == "deceased_card_use":
            death = pd.Timestamp(pats.loc[key["id"], "death_date"])
            assert (rows.patient_id == key["id"]).all() and (rows.start_time.dt.normalize() > death).all()
            assert 2 <= len(rows) <= 12
        elif kind == "collusion_ring":
            members = [e["id"] for e in inst["entities"] if e["role"] == "member"]
            assert 6 <= len(members) <= 20 and set(rows.patient_id) <= set(members)
            assert inst["episodes"] >= 4
            assert set(rows.institution_id) <= set(key["institutions"])
            assert set(rows.doctor_id) <= set(key["doctors"])
            assert (len(members) == len(set(addr[members])))
        elif kind == "phantom_stay":
            stay = rows[rows.claim_type == "inpatient"]
            assert len(stay) == 1 and (stay.end_time - stay.start_time).iloc[0] >= pd.Timedelta(days=4)
            inside = rows[(rows.start_time > stay.start_time.iloc[0]) & (rows.start_time < stay.end_time.iloc[0])]
            assert len(inside) >= 2 and (rows.patient_id == key["id"]).all()
        elif kind == "split_stay":
            rows = rows.sort_values("start_time")
            assert (rows.claim_type == "inpatient").all() and len(rows) >= 3
            gaps = (rows.start_time.values[1:] - rows.end_time.values[:-1]) / np.timedelta64(1, "D")
            assert (gaps > 0).all() and (gaps <= 11).all()
            assert rows.diagnosis_code.str.slice(0, 3).nunique() == 1
            assert rows.referral_id.isna().all()
        elif kind == "referral_loop":
            assert len(inst["referrals"]) >= 6
            r = refs.loc[inst["referrals"]]
            assert set(r.from_institution_id) | set(r.to_institution_id) == set(key["ids"])
            dest = rows[rows.referral_id.notna()]
            assert set(dest.referral_id) == set(inst["referrals"])
            assert (dest.claim_type == "inpatient").all()
        elif kind == "referral_concentration":
            r = df["referrals"][df["referrals"].from_doctor_id == key["id"]]
            assert len(r) >= 20
            assert r.to_institution_id.value_counts(normalize=True).iloc[0] >= 0.8
        elif kind == "identity_ring":
            members = key["patients"]
            assert 6 <= len(members) <= 15
            holders = set(ct[(ct.kind == key["type"]) & (ct.value == key["id"])].patient_id)
            assert holders == set(members)
            assert len(set(addr[members])) == len(members)
            assert not any((a, b) in fam for a in members for b in members)
            assert set(rows.patient_id) <= set(members)


def _day(ts: pd.Series) -> np.ndarray:
    return ts.values.astype("datetime64[D]").astype(np.int64)


def test_duplicate_claims_are_planted_as_defined(city, planted):
    c = city["df"]["claims"]
    dups = _instances(city, "duplicate_claim")
    assert {i["variant"] for i in dups} == {"overlapping_stay", "double_settlement"}
    for inst in dups:
        rows = c[c.claim_id.isin(inst["claims"])].sort_values(["patient_id", "start_time"])
        venue = inst["key"]["id"]
        assert inst["entities"][0] == {"type": inst["key"]["type"], "id": venue, "role": "venue"}
        assert {e["id"] for e in inst["entities"][1:]} == set(rows.patient_id)
        col = "institution_id" if inst["key"]["type"] == "institution" else "pharmacy_id"
        assert (rows[col] == venue).all() and len(rows) == 2 * inst["pairs"]
        first, second = rows.iloc[0::2], rows.iloc[1::2]
        assert (first.patient_id.values == second.patient_id.values).all()   # one pair per patient
        assert (first.card_id.values == second.card_id.values).all()
        assert (first.diagnosis_code.values == second.diagnosis_code.values).all()
        if inst["variant"] == "overlapping_stay":
            assert (rows.claim_type == "inpatient").all() and 4 <= inst["pairs"] <= 10
            overlap = np.minimum(_day(first.end_time), _day(second.end_time)) - np.maximum(
                _day(first.start_time), _day(second.start_time))
            assert (overlap >= 2).all()
            ratio = second.total_amount.values / first.total_amount.values
            assert ((ratio > 0.8) & (ratio < 1.25)).all()
        else:
            assert 5 <= inst["pairs"] <= 12 and rows.claim_type.isin(["outpatient", "pharmacy"]).all()
            gap = (second.start_time.values - first.start_time.values) / np.timedelta64(1, "s")
            assert ((gap >= 60) & (gap <= 480)).all()
            same = [k for k in c.columns if k not in ("claim_id", "start_time")]
            a, b = first[same].reset_index(drop=True), second[same].reset_index(drop=True)
            assert a.equals(b)
            items = city["df"]["claim_items"]
            for x, y in zip(first.claim_id, second.claim_id):
                ix = items[items.claim_id == x].drop(columns=["claim_id", "item_time"]).reset_index(drop=True)
                iy = items[items.claim_id == y].drop(columns=["claim_id", "item_time"]).reset_index(drop=True)
                assert len(ix) > 0 and ix.equals(iy)
    # normal data: no repeat of a claim (patient, provider, type, diagnosis, amounts) within 10 minutes
    n = c[~c.claim_id.isin(planted)].copy()
    n["prov"] = n.institution_id.fillna(n.pharmacy_id)
    n = n.sort_values("start_time")
    key = ["patient_id", "prov", "claim_type", "diagnosis_code", "total_amount", "fund_amount"]
    gap = n.groupby(key).start_time.diff().dropna()
    assert not (gap <= pd.Timedelta(minutes=10)).any()


def test_normal_referral_peers_spread(city, planted):
    r = city["df"]["referrals"]
    conc = {i["key"]["id"] for i in _instances(city, "referral_concentration")}
    loops = {e["id"] for i in _instances(city, "referral_loop") for e in i["entities"] if e["type"] == "doctor"}
    by_doc = r.groupby("from_doctor_id").to_institution_id.agg(["size", lambda s: s.value_counts(normalize=True).iloc[0]])
    by_doc.columns = ["n", "top"]
    busy = by_doc[(by_doc.n >= 15) & ~by_doc.index.isin(conc | loops)]
    assert (busy.top < 0.8).all()


# ------------------------------------------------------------------------------------------------
# Determinism and formats
# ------------------------------------------------------------------------------------------------
def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_city(a, patients=1000, seed=3, months=4)
    generate_city(b, patients=1000, seed=3, months=4)
    generate_city(c, patients=1000, seed=4, months=4)
    da, db, dc = _digest(a), _digest(b), _digest(c)
    assert da == db
    assert da["claims.parquet"] != dc["claims.parquet"]
    assert da["patients.parquet"] != dc["patients.parquet"]


def test_csv_and_parquet_hold_the_same_content(city, tmp_path):
    generate_city(tmp_path / "csv", patients=N, seed=SEED, months=12, fmt="csv")
    generate_city(tmp_path / "gz", patients=N, seed=SEED, months=12, fmt="csv.gz")
    text = (tmp_path / "csv" / "claims.csv").read_text(encoding="utf-8")
    header, first = text.split("\n", 2)[:2]
    assert header == ",".join(TABLES["claims"].column_names)
    assert re.search(r",\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},", first)
    csv_t = read_bundle(tmp_path / "csv")
    gz_t = read_bundle(tmp_path / "gz")
    for name, table in city["tables"].items():
        assert csv_t[name].equals(table), name
        assert gz_t[name].equals(table), name
    # the same truth; only the generator's seal differs (the digests of the files as written)
    truths = [json.loads((d / "truth.json").read_text("utf-8")) for d in (tmp_path / "csv", city["dir"])]
    seals = [t.pop("seal") for t in truths]
    assert truths[0] == truths[1]
    assert sorted(seals[0]["files"]) == sorted(p.name for p in (tmp_path / "csv").glob("*.csv"))


def test_parameters_are_validated(tmp_path):
    with pytest.raises(ValueError, match="fmt"):
        generate_city(tmp_path, patients=1000, fmt="xlsx")
    with pytest.raises(ValueError, match="patients"):
        generate_city(tmp_path, patients=10)


def test_fraud_rate_scales_instances(tmp_path):
    s = generate_city(tmp_path, patients=5000, seed=1, months=3, fraud_rate=2.0)
    assert s["instances"]["shared_card"] == 4
    assert s["instances"]["collusion_ring"] == 3


def test_budgets_put_only_the_planted_providers_over_pace(city):
    """Budget pace recomputed here from the claims: the planted providers in truth.json are over
    pace at the year's last month with their level, near-pace ones stay within +5 %, all others
    at least 5 % below pace in every month."""
    b = city["df"]["budgets"]
    mon = city["truth"]["monitoring"]
    inst, ph = city["df"]["institutions"].institution_id, city["df"]["pharmacies"].pharmacy_id
    assert len(b) == len(inst) + len(ph) and set(b.year) == {2024} and (b.amount > 0).all()
    assert set(b[b.provider_type == "institution"].provider_id) == set(inst)
    assert set(b[b.provider_type == "pharmacy"].provider_id) == set(ph)
    c = city["df"]["claims"]
    settled = c.end_time.where(c.claim_type == "inpatient", c.start_time)
    c = c.assign(provider_id=c.institution_id.fillna(c.pharmacy_id), m=settled.dt.month, y=settled.dt.year)
    c = c[c.y == 2024]
    spend = c.pivot_table(index="provider_id", columns="m", values="fund_amount", aggfunc="sum").reindex(
        columns=range(1, 13)).fillna(0.0)
    budget = b.set_index("provider_id").amount
    dev = spend.reindex(budget.index).fillna(0.0).cumsum(axis=1).div(budget, axis=0).mul(12 / np.arange(1, 13)) - 1
    over = {o["provider_id"]: o for o in mon["over_pace"]}
    near = {o["provider_id"] for o in mon["near_pace"]}
    assert len(over) == 5 and {o["level"] for o in over.values()} == {"warn", "refuse"} and len(near) == 2
    for pid, o in over.items():
        d = dev.loc[pid, 12]
        assert abs(d - o["deviation"]) < 1e-6 and o["month"] == "2024-12"
        assert (0.05 < d <= 0.10) if o["level"] == "warn" else d > 0.10
    assert (dev.loc[sorted(near)].max(axis=1) < 0.05).all()
    rest = dev.drop(index=list(over) + sorted(near))
    assert (rest.max(axis=1) <= -0.05).all()
