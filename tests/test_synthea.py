"""Tests of the Synthea → claims-bundle adapter on the real 11-patient export."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from graphkit.schema import TABLES
from loaders.synthea import CARD_PREFIX, SyntheaFormatError, SyntheaWarning, synthea_to_bundle

SYNTHEA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "synthea" / "csv"

pytestmark = pytest.mark.skipif(
    not (SYNTHEA / "patients.csv").is_file(), reason=f"Synthea sample export not found at {SYNTHEA}"
)

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def read(bundle: Path, table: str) -> pd.DataFrame:
    """A bundle CSV table as strings, empty cell = ''."""
    return pd.read_csv(bundle / f"{table}.csv", dtype=str, keep_default_na=False)


def source(name: str) -> pd.DataFrame:
    return pd.read_csv(SYNTHEA / name, dtype=str, keep_default_na=False)


def copy_export(tmp_path: Path) -> Path:
    dst = tmp_path / "synthea"
    shutil.copytree(SYNTHEA, dst)
    for f in dst.iterdir():
        f.chmod(0o644)
    return dst


def assert_consistent(bundle: Path) -> None:
    """Keys unique, every reference resolves, amounts and times valid (the spec's rules)."""
    inst, docs, pats = read(bundle, "institutions"), read(bundle, "doctors"), read(bundle, "patients")
    cards, claims = read(bundle, "cards"), read(bundle, "claims")
    for df, key in ((inst, "institution_id"), (docs, "doctor_id"), (pats, "patient_id"), (cards, "card_id"), (claims, "claim_id")):
        assert (df[key] != "").all()
        assert df[key].is_unique, key
    assert set(docs["institution_id"]) - {""} <= set(inst["institution_id"])
    assert set(cards["patient_id"]) <= set(pats["patient_id"])
    assert claims["card_id"].isin(cards["card_id"]).all()
    assert claims["patient_id"].isin(pats["patient_id"]).all()
    assert claims["institution_id"].isin(inst["institution_id"]).all()  # every claim has one
    assert (claims["pharmacy_id"] == "").all()
    assert claims.loc[claims["doctor_id"] != "", "doctor_id"].isin(docs["doctor_id"]).all()
    holder = claims["card_id"].map(dict(zip(cards["card_id"], cards["patient_id"])))
    assert (holder == claims["patient_id"]).all()
    total, fund, self_ = (claims[c].astype(float) for c in ("total_amount", "fund_amount", "self_amount"))
    assert (total >= 0).all() and (fund >= 0).all() and (self_ >= 0).all()
    assert (fund <= total).all()
    assert np.allclose(self_, (total - fund).round(2), atol=0.005)
    assert claims["start_time"].str.match(TIME_RE).all()
    has_end = claims["end_time"] != ""
    assert claims.loc[has_end, "end_time"].str.match(TIME_RE).all()
    assert (pd.to_datetime(claims.loc[has_end, "end_time"]) >= pd.to_datetime(claims.loc[has_end, "start_time"])).all()
    assert claims["claim_type"].isin(["outpatient", "inpatient"]).all()
    assert inst["kind"].isin(["hospital", "clinic", "community", ""]).all()
    assert inst["level"].isin(["1", "2", "3", ""]).all()
    assert pats["sex"].isin(["M", "F", ""]).all()
    assert pats["insurance_type"].isin(["employee", "resident", ""]).all()
    assert cards["status"].isin(["active"]).all()
    if (bundle / "claim_items.csv").exists():
        items = read(bundle, "claim_items")
        assert items["claim_id"].isin(claims["claim_id"]).all()
        assert (items["item_code"] != "").all()
        assert (items["amount"].astype(float) >= 0).all()
    if (bundle / "contacts.csv").exists():
        contacts = read(bundle, "contacts")
        assert contacts["patient_id"].isin(pats["patient_id"]).all()
        assert not contacts.duplicated().any()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("synthea") / "bundle"
    with warnings.catch_warnings():
        warnings.simplefilter("error", SyntheaWarning)  # a clean export needs no repair
        counts = synthea_to_bundle(SYNTHEA, out)
    return out, counts


def test_row_counts(bundle: tuple[Path, dict[str, int]]) -> None:
    out, counts = bundle
    n_claims = len(source("claims.csv"))
    n_charges = int((source("claims_transactions.csv")["TYPE"] == "CHARGE").sum())
    assert counts == {
        "institutions": 47,
        "doctors": 47,
        "patients": 11,
        "cards": 11,
        "claims": n_claims,  # 561: every Synthea claim kept, none dropped
        "claim_items": n_charges,  # 1579: one item per CHARGE transaction
        "contacts": 11,  # one address each; Synthea patients have no phone
    }
    assert n_claims == 561
    for table, n in counts.items():
        assert len(read(out, table)) == n
    assert not (out / "pharmacies.csv").exists() and not (out / "referrals.csv").exists()


def test_bundle_is_consistent(bundle: tuple[Path, dict[str, int]]) -> None:
    assert_consistent(bundle[0])


def test_columns_in_schema_order_extras_after(bundle: tuple[Path, dict[str, int]]) -> None:
    out, counts = bundle
    extras = {
        "institutions": ["lat", "lon", "city", "stub"],
        "doctors": ["sex", "stub"],
        "patients": ["fips", "zip", "payer_name", "stub"],
        "cards": [],
        "claims": ["encounter_id", "encounter_class"],
        "claim_items": ["charge_id"],
        "contacts": [],
    }
    for table in counts:
        header = list(read(out, table).columns)
        assert header == list(TABLES[table].column_names) + extras[table]


def test_claims_join_encounters(bundle: tuple[Path, dict[str, int]]) -> None:
    claims = read(bundle[0], "claims").set_index("claim_id")
    src = source("claims.csv").set_index("Id")
    enc = source("encounters.csv").set_index("Id")
    e = enc.loc[src.loc[claims.index, "APPOINTMENTID"]]
    assert (claims["encounter_id"].to_numpy() == e.index.to_numpy()).all()
    assert (claims["institution_id"].to_numpy() == e["ORGANIZATION"].to_numpy()).all()
    assert (claims["doctor_id"].to_numpy() == e["PROVIDER"].to_numpy()).all()
    assert (claims["start_time"].to_numpy() == e["START"].str.replace("T", " ").str.rstrip("Z").to_numpy()).all()
    assert (claims["end_time"].to_numpy() == e["STOP"].str.replace("T", " ").str.rstrip("Z").to_numpy()).all()
    assert (claims["diagnosis_code"].to_numpy() == src.loc[claims.index, "DIAGNOSIS1"].to_numpy()).all()
    inpatient = (e["ENCOUNTERCLASS"] == "inpatient").to_numpy()
    assert (claims["claim_type"].to_numpy() == np.where(inpatient, "inpatient", "outpatient")).all()
    assert (claims["claim_type"] == "inpatient").sum() == 11  # 10 inpatient stays, one with a drug claim
    assert (claims["department"] == "GENERAL PRACTICE").all()
    assert (claims["card_id"] == CARD_PREFIX + claims["patient_id"]).all()


def test_amounts_from_transactions(bundle: tuple[Path, dict[str, int]]) -> None:
    claims = read(bundle[0], "claims").set_index("claim_id")
    # encounter claim: charge 85.55, payer (ECHECK) 35.55, copay 50
    assert claims.loc["2267a352-830a-5208-d167-3ce363ced98a", ["total_amount", "fund_amount", "self_amount"]].tolist() == [
        "85.55",
        "35.55",
        "50.00",
    ]
    # medication claim of the same encounter: 290.82 charged, 176.37 covered (= medications.PAYER_COVERAGE)
    assert claims.loc["0ba9aa2a-8621-a610-d541-27f0eab038b9", ["total_amount", "fund_amount", "self_amount"]].tolist() == [
        "290.82",
        "176.37",
        "114.45",
    ]
    # the patient's own payments (COPAY/CASH/CHECK/CC) equal self_amount for every claim
    tx = source("claims_transactions.csv")
    pay = tx[(tx["TYPE"] == "PAYMENT") & (tx["METHOD"] != "ECHECK")]
    paid = pay["PAYMENTS"].astype(float).groupby(pay["CLAIMID"]).sum().reindex(claims.index, fill_value=0.0)
    assert np.allclose(paid.to_numpy(), claims["self_amount"].astype(float).to_numpy(), atol=0.005)


def test_claim_items_sum_to_claim_total(bundle: tuple[Path, dict[str, int]]) -> None:
    """Documented rule: total_amount == round(sum of the claim's item amounts, 2)."""
    claims = read(bundle[0], "claims").set_index("claim_id")
    items = read(bundle[0], "claim_items")
    sums = items["amount"].astype(float).groupby(items["claim_id"]).sum().round(2)
    sums = sums.reindex(claims.index, fill_value=0.0)
    assert np.allclose(sums.to_numpy(), claims["total_amount"].astype(float).to_numpy(), atol=0.005)
    q, u, a = (items[c].astype(float) for c in ("quantity", "unit_price", "amount"))
    assert np.allclose(q * u, a, atol=0.005)
    assert items["category"].isin(["drug", "exam", "treatment", "material", "bed", "non_medical", ""]).all()
    amox = items[items["item_code"] == "308192"]
    assert (amox["category"] == "drug").all() and len(amox) > 0


def test_entities(bundle: tuple[Path, dict[str, int]]) -> None:
    out = bundle[0]
    inst = read(out, "institutions").set_index("name")
    assert inst.loc["TUFTS MEDICAL CENTER  INC", ["kind", "level"]].tolist() == ["hospital", "3"]
    assert inst.loc["DANA FARBER CANCER INSTITUTE", ["kind", "level"]].tolist() == ["hospital", "2"]  # admits inpatients
    assert inst.loc["Fitchburg Outpatient Clinic", ["kind", "level", "region"]].tolist() == ["clinic", "1", "01420"]
    assert inst.loc["LEOMINSTER COMUNITY HEALTH CENTER", "kind"] == "community"
    assert (inst["ownership"] == "").all()
    pats = read(out, "patients").set_index("patient_id")
    p = pats.loc["b37f7960-7e9e-f3f7-f891-79ae4f632406"]
    assert (p["name"], p["id_number"], p["birth_date"], p["sex"], p["region"]) == (
        "Temika453 Wuckert783",
        "999-33-2827",
        "2011-03-18",
        "F",
        "Norfolk County",
    )
    assert (p["insurance_type"], p["payer_name"]) == ("resident", "Medicaid")
    assert pats.loc["515991e2-40dd-22c1-c377-e0b71ad973b9", "insurance_type"] == "employee"  # UnitedHealthcare
    assert pats.loc["0432d0f1-d9c8-da30-9750-39bfe10c0cd9", "death_date"] == "2022-09-07"
    assert (pats["death_date"] != "").sum() == 1
    assert (pats["low_income"] == "").all()
    assert pats["birth_date"].str.match(DATE_RE).all()
    cards = read(out, "cards").set_index("patient_id")
    assert (cards.loc[pats.index, "issued_date"] == pats["birth_date"]).all()
    contacts = read(out, "contacts")
    assert set(contacts["kind"]) == {"address"}
    assert not contacts["value"].str.contains("00000").any()  # placeholder ZIP left out


def test_parquet_matches_csv(bundle: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    counts = synthea_to_bundle(SYNTHEA, tmp_path / "pq", fmt="parquet")
    assert counts == bundle[1]
    claims = pd.read_parquet(tmp_path / "pq" / "claims.parquet")
    assert list(claims.columns[: len(TABLES["claims"].column_names)]) == list(TABLES["claims"].column_names)
    assert pd.api.types.is_datetime64_any_dtype(claims["start_time"])
    csv_claims = read(bundle[0], "claims")
    assert np.allclose(claims["total_amount"].to_numpy(), csv_claims["total_amount"].astype(float).to_numpy())
    assert (claims["start_time"].dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy() == csv_claims["start_time"].to_numpy()).all()
    assert not list((tmp_path / "pq").glob("*.csv"))


def test_rerun_replaces_other_format(tmp_path: Path) -> None:
    out = tmp_path / "b"
    synthea_to_bundle(SYNTHEA, out, fmt="parquet")
    synthea_to_bundle(SYNTHEA, out, fmt="csv")
    assert not list(out.glob("*.parquet"))  # a stale parquet would shadow the csv


def test_missing_column_raises_value_error(tmp_path: Path) -> None:
    src = copy_export(tmp_path)
    enc = source("encounters.csv").drop(columns=["START"])
    enc.to_csv(src / "encounters.csv", index=False)
    with pytest.raises(ValueError, match=r"encounters\.csv.*'START'"):
        synthea_to_bundle(src, tmp_path / "out")
    with pytest.raises(SyntheaFormatError):
        synthea_to_bundle(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written


def test_missing_transaction_column_raises(tmp_path: Path) -> None:
    src = copy_export(tmp_path)
    source("claims_transactions.csv").drop(columns=["METHOD"]).to_csv(src / "claims_transactions.csv", index=False)
    with pytest.raises(ValueError, match=r"claims_transactions\.csv.*'METHOD'"):
        synthea_to_bundle(src, tmp_path / "out")


def test_missing_required_file_raises(tmp_path: Path) -> None:
    src = copy_export(tmp_path)
    (src / "providers.csv").unlink()
    with pytest.raises(ValueError, match=r"providers\.csv"):
        synthea_to_bundle(src, tmp_path / "out")


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fmt"):
        synthea_to_bundle(SYNTHEA, tmp_path / "out", fmt="xlsx")
    src = copy_export(tmp_path)
    with pytest.raises(ValueError, match="differ"):
        synthea_to_bundle(src, src)
    assert (src / "patients.csv").is_file() and (src / "claims.csv").is_file()


def test_encounter_mode_without_transactions(tmp_path: Path) -> None:
    src = copy_export(tmp_path)
    (src / "claims_transactions.csv").unlink()
    (src / "payers.csv").unlink()  # optional too: insurance_type becomes null
    with pytest.warns(SyntheaWarning, match="one claim per encounter"):
        counts = synthea_to_bundle(src, tmp_path / "out")
    enc = source("encounters.csv")
    assert counts["claims"] == len(enc) == 388
    assert "claim_items" not in counts and not (tmp_path / "out" / "claim_items.csv").exists()
    claims = read(tmp_path / "out", "claims").set_index("claim_id")
    e = enc.set_index("Id").loc[claims.index]
    assert np.allclose(claims["total_amount"].astype(float), e["TOTAL_CLAIM_COST"].astype(float))
    assert np.allclose(claims["fund_amount"].astype(float), e["PAYER_COVERAGE"].astype(float))
    assert (read(tmp_path / "out", "patients")["insurance_type"] == "").all()
    assert_consistent(tmp_path / "out")


def test_dangling_references_get_stubs(tmp_path: Path) -> None:
    src = copy_export(tmp_path)
    enc = source("encounters.csv")
    orgs, provs, pats = source("organizations.csv"), source("providers.csv"), source("patients.csv")
    gone_org = enc["ORGANIZATION"].iloc[0]  # used by encounters and by its providers
    gone_doc = enc["PROVIDER"].iloc[-1]
    gone_pat = enc["PATIENT"].iloc[-1]
    orgs[orgs["Id"] != gone_org].to_csv(src / "organizations.csv", index=False)
    provs = provs[provs["Id"] != gone_doc]
    provs.loc[provs.index[-1], "ORGANIZATION"] = "no-such-org"
    provs.to_csv(src / "providers.csv", index=False)
    pd.concat([pats[pats["Id"] != gone_pat], pats.iloc[[0]]]).to_csv(src / "patients.csv", index=False)  # + a duplicate
    with pytest.warns(SyntheaWarning) as record:
        counts = synthea_to_bundle(src, tmp_path / "out")
    text = " | ".join(str(w.message) for w in record)
    assert "stub" in text and "repeating an ID" in text
    out = tmp_path / "out"
    assert counts["claims"] == 561 and counts["patients"] == 11 and counts["cards"] == 11
    assert_consistent(out)
    inst = read(out, "institutions").set_index("institution_id")
    assert inst.loc[gone_org, "stub"] == "true" and inst.loc["no-such-org", "stub"] == "true"
    assert inst.loc[gone_org, "name"] == ""
    assert read(out, "doctors").set_index("doctor_id").loc[gone_doc, "stub"] == "true"
    assert read(out, "patients").set_index("patient_id").loc[gone_pat, "stub"] == "true"


def test_end_to_end_validate_and_load(bundle: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    from loaders import validate

    report = validate.validate_bundle(bundle[0])
    assert report.ok, report.format()
    assert report.issues.empty and len(report.issue_list()) == 0
    from loaders import load_bundle

    result = load_bundle(bundle[0], tmp_path / "store")
    assert result.rows["claims"] == bundle[1]["claims"]
    assert result.rows["patients"] == 11


def test_end_to_end_cli_adapt_load_scan(tmp_path: Path) -> None:
    """The real export through the CLI: adapt → load → scan finds the settlement after death."""
    import json

    from graphkit.cli import main

    assert main(["adapt", "synthea", str(SYNTHEA), str(tmp_path / "bundle")]) == 0
    assert main(["load", str(tmp_path / "bundle"), "--store", str(tmp_path / "store")]) == 0
    assert main(["scan", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "out")]) == 0
    doc = json.loads((tmp_path / "out" / "findings.json").read_text("utf-8"))
    dead = [f for f in doc["findings"] if f["kind"] == "deceased_card_use"]
    # patient 0432d0f1… died 2022-09-07 and has a wellness encounter on 2022-09-13 in the export
    assert [e["id"] for f in dead for e in f["entities"] if e["role"] == "deceased"] == [
        "0432d0f1-d9c8-da30-9750-39bfe10c0cd9"
    ]
    assert len(dead) == 1 and dead[0]["claims"]
    # every claim the finding rests on starts after the death date
    claims = pd.read_csv(tmp_path / "bundle" / "claims.csv", dtype=str).set_index("claim_id")
    assert all(claims.loc[c, "start_time"] > "2022-09-07 23:59:59" for c in dead[0]["claims"])
