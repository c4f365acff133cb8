"""Adapter: a Synthea CSV export folder → a claims bundle (``shared/spec/claims-bundle.md``).

Synthea (MITRE's synthetic patient generator) writes US-style records: organisations,
clinicians, patients, payers, encounters and — since Synthea 3 — ``claims.csv`` and
``claims_transactions.csv``. This module maps them onto the bundle contract so the whole
workbench (validation, load, detectors) can run on data written by someone else.

Mapping
-------
Column names of the export are matched case-insensitively (``Id`` and ``ID`` are the same).
Every identifier is kept verbatim (Synthea UUIDs), so bundle rows trace back to the export.

institutions ← ``organizations.csv``
    ``institution_id`` = ``Id``; ``name`` = ``NAME``; ``kind`` = ``hospital`` when the name
    contains HOSPITAL / HOSP / MEDICAL CENTER (CENTRE, CTR), or when the organisation admitted
    an ``inpatient`` encounter; ``community`` when it reads "COMMUNITY HEALTH" (also the
    common misspelling "COMUNITY"); ``clinic`` otherwise. ``level`` = 3 for hospitals named as
    such, 2 for hospitals known only from inpatient admissions, 1 for everything else.
    ``ownership`` is null (Synthea does not say). ``region`` = the 5-digit ZIP (first five
    digits; ``00000`` counts as missing), else ``CITY``. Extra columns: ``lat``, ``lon``,
    ``city``, ``stub``.
doctors ← ``providers.csv``
    ``doctor_id`` = ``Id``; ``name`` = ``NAME``; ``institution_id`` = ``ORGANIZATION``;
    ``department`` = ``SPECIALITY``; ``title`` null. Extras: ``sex`` (``GENDER``), ``stub``.
patients ← ``patients.csv`` (+ ``payer_transitions.csv``, ``payers.csv``, ``encounters.PAYER``)
    ``name`` = ``FIRST LAST`` (Synthea's numeric name suffixes are kept); ``id_number`` =
    ``SSN``; ``birth_date`` / ``death_date`` = ``BIRTHDATE`` / ``DEATHDATE``; ``sex`` =
    ``GENDER`` (M/F, anything else null); ``region`` = ``COUNTY`` (else ``FIPS``): the county
    name is used because ``FIPS`` is blank for some patients; ``low_income`` null.
    ``insurance_type`` comes from the patient's *current* payer — the payer of the latest
    ``payer_transitions`` row (by ``START_DATE``), else of the latest encounter: a payer whose
    ``OWNERSHIP`` is GOVERNMENT (Medicare, Medicaid, Dual Eligible) → ``resident``; PRIVATE →
    ``employee``; NO_INSURANCE or unknown → null. Without ``payers.csv`` the name decides
    (Medicare/Medicaid/Dual → resident, NO_INSURANCE → null, other → employee). Extras:
    ``fips``, ``zip``, ``payer_name``, ``stub``.
cards
    One per patient: ``card_id`` = ``"CARD-" + patient_id``, ``status`` = ``active``,
    ``issued_date`` = birth date (else the date of the patient's first claim).
contacts
    ``address`` = ``"ADDRESS, CITY, STATE ZIP"`` per patient (empty parts and ZIP ``00000``
    left out); ``phone`` when the export has a ``PHONE`` column (Synthea's patients have none).
claims ← ``claims.csv`` + ``claims_transactions.csv`` + ``encounters.csv`` ("claims mode")
    One bundle claim per ``claims.csv`` row: ``claim_id`` = ``Id``; the encounter is
    ``APPOINTMENTID``. ``patient_id`` = ``PATIENTID`` (else the encounter's ``PATIENT``);
    ``card_id`` = that patient's card; ``claim_type`` = ``inpatient`` when ``ENCOUNTERCLASS``
    is ``inpatient``, else ``outpatient`` (ambulatory, wellness, emergency, urgentcare, snf,
    hospice, …; there are no pharmacies); ``institution_id`` = encounter ``ORGANIZATION``
    (else the provider's organisation); ``doctor_id`` = encounter ``PROVIDER`` (else
    ``PROVIDERID``); ``department`` = that provider's ``SPECIALITY``; ``start_time`` /
    ``end_time`` = encounter ``START`` / ``STOP`` (else ``SERVICEDATE``) with the trailing
    ``Z`` dropped, i.e. naive UTC wall-clock; ``diagnosis_code`` = ``DIAGNOSIS1`` (else the
    encounter's ``REASONCODE``) — note these are SNOMED-CT codes, not ICD-10.
    Extras: ``encounter_id``, ``encounter_class``.

    **Amounts come from the transactions**, because Synthea writes one claim for the encounter
    itself plus one per medication, while ``encounters.TOTAL_CLAIM_COST`` / ``PAYER_COVERAGE``
    are per encounter (and do not even equal the sum of that encounter's charges in real
    exports). Per claim: ``total_amount`` = Σ ``AMOUNT`` of its ``CHARGE`` rows;
    ``fund_amount`` = Σ ``PAYMENTS`` of its ``PAYMENT`` rows with ``METHOD`` = ``ECHECK``
    (Synthea's exporter writes the payer's covered cost as ECHECK and the patient's share as
    COPAY / CASH / CHECK / CC), clamped to ``[0, total_amount]``; ``self_amount`` =
    ``total − fund`` (never negative). All rounded to 2 decimals (yuan in the bundle; the
    numbers are Synthea's dollars, unconverted).
claim_items ← ``CHARGE`` rows of ``claims_transactions.csv``
    ``item_code`` = ``PROCEDURECODE`` (``"UNCODED"`` when blank); ``item_name`` = ``NOTES``;
    ``quantity`` = ``UNITS``; ``unit_price`` = ``UNITAMOUNT`` (else amount / quantity);
    ``amount`` = ``AMOUNT``. Negative charges are clamped to 0. **Rule:** for every claim,
    ``total_amount`` equals the sum of its items' ``amount`` rounded to 2 decimals (a claim
    without charge rows has total 0 and no items). ``category`` is looked up by (encounter,
    code) — then by code alone — in the clinical files: medications and immunizations →
    ``drug``; devices and supplies → ``material``; imaging studies → ``exam``; procedures →
    ``exam`` when the description reads like a test/screening/assessment, else
    ``treatment``; the encounter's own code (the visit fee) → ``treatment``; not found →
    null. Extra: ``charge_id``.

Encounter mode. When ``claims.csv`` or ``claims_transactions.csv`` is absent (Synthea 2
exports have neither), each encounter becomes one claim: ``claim_id`` = encounter ``Id``,
``total_amount`` = ``TOTAL_CLAIM_COST``, ``fund_amount`` = ``PAYER_COVERAGE`` (clamped to the
total), ``diagnosis_code`` = ``REASONCODE``; no ``claim_items`` table is written.

References that would dangle. An institution, doctor or patient id referenced by a kept row
but absent from its source file gets a *stub* row (only the id, plus the doctor's
institution; ``stub`` = true) rather than losing the claim; a stub patient also gets a card.
Rows are dropped only when they cannot be made valid, each drop announced with a
:class:`SyntheaWarning`: duplicate or empty ``Id`` (first kept); a claim with no patient, no
start time or no institution; transactions of unknown claims. An ``end_time`` before
``start_time`` becomes null (warned). With a well-formed export nothing is dropped or stubbed.

Required input (else :class:`SyntheaFormatError`, a ``ValueError`` naming file and column):
``patients.csv`` (Id), ``organizations.csv`` (Id), ``providers.csv`` (Id, ORGANIZATION),
``encounters.csv`` (Id, START, PATIENT, ORGANIZATION; plus TOTAL_CLAIM_COST and
PAYER_COVERAGE in encounter mode), ``claims.csv`` (Id, PATIENTID, APPOINTMENTID) and
``claims_transactions.csv`` (CLAIMID, TYPE, AMOUNT, METHOD, PAYMENTS, PROCEDURECODE) in
claims mode. Every other file and column is optional; missing ones give nulls.

Output: one file per table in ``out`` (created), schema columns in schema order, extras
after. ``fmt="csv"``: UTF-8, ``YYYY-MM-DD`` dates, ``YYYY-MM-DD HH:MM:SS`` times, amounts with
2 decimals, booleans ``true``/``false``, empty cell = null. ``fmt="parquet"``: typed columns
(string, float64, int64, bool, date32, timestamp — second values, stored by Parquet
as milliseconds). Bundle-table files already in ``out``
(any extension) are removed first so a stale file cannot shadow the new one.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from graphkit.errors import BundleError
from graphkit.schema import TABLE_ORDER, TABLES

__all__ = ["synthea_to_bundle", "SyntheaFormatError", "SyntheaWarning", "card_id_for", "CARD_PREFIX"]

CARD_PREFIX = "CARD-"

_HOSPITAL_RE = re.compile(r"\bHOSPITAL\b|\bHOSP\b|\bMEDICAL\s+(?:CENTER|CENTRE|CTR)\b", re.IGNORECASE)
_COMMUNITY_RE = re.compile(r"\bCOMM?UNITY\s+HEALTH\b", re.IGNORECASE)
_EXAM_RE = re.compile(
    r"\b(?:screening|assessment|test(?:ing)?|culture|measurement|examination|evaluation|"
    r"radiograph\w*|ultrasound|ultrasonography|imaging|x-ray|scan|panel|count|biopsy|"
    r"electrocardiogram|ecg|ekg|spirometry|audiometry|urinalysis|mammograph\w*|"
    r"tomography|echocardiograph\w*|colonoscopy|endoscopy|viral\s+load|antigen)\b",
    re.IGNORECASE,
)
_GOVERNMENT_PAYER_RE = re.compile(r"medicare|medicaid|dual", re.IGNORECASE)
_AMOUNT_COLUMNS = frozenset({"total_amount", "fund_amount", "self_amount", "unit_price", "amount"})
_EXTENSIONS = (".csv", ".csv.gz", ".parquet")


class SyntheaFormatError(BundleError, ValueError):
    """The Synthea export lacks a required file or column (the message names both)."""


class SyntheaWarning(UserWarning):
    """Rows dropped, stubbed or repaired while converting a Synthea export."""


def card_id_for(patient_id: str) -> str:
    """The deterministic card id of a patient: ``"CARD-" + patient_id``.

    Examples
    --------
    >>> card_id_for("b37f7960")
    'CARD-b37f7960'
    """
    return CARD_PREFIX + patient_id


# --------------------------------------------------------------------------- reading


def _read(src: Path, name: str, required: Iterable[str] = (), *, optional: bool = False) -> pd.DataFrame | None:
    """Read one export file as strings (blank → NA), upper-case column names, check columns."""
    path = src / name
    if not path.is_file():
        if optional:
            return None
        raise SyntheaFormatError(f"Synthea export {src}: required file {name} is missing")
    df = pd.read_csv(
        path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig", skipinitialspace=False
    )
    df.columns = [str(c).strip().upper() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        cols = ", ".join(repr(c) for c in missing)
        raise SyntheaFormatError(
            f"Synthea export {src}: file {name} lacks required column(s) {cols} (column names are case-insensitive)"
        )
    for c in df.columns:
        s = df[c].astype("string").str.strip()
        df[c] = s.mask(s == "")
    return df


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    """Column ``name`` or an all-NA string column when the export lacks it."""
    if name in df.columns:
        return df[name].astype("string")
    return pd.Series(pd.NA, index=df.index, dtype="string")


def _ts(s: pd.Series) -> pd.Series:
    """ISO-8601 strings (with or without ``Z``) → naive datetime64[s]; unparseable → NaT."""
    out = pd.to_datetime(s.astype("string"), format="ISO8601", errors="coerce", utc=True)
    return out.dt.tz_localize(None).astype("datetime64[s]")


def _date(s: pd.Series) -> pd.Series:
    return _ts(s).dt.floor("D")


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.astype("string"), errors="coerce").astype("float64")


def _dedupe(df: pd.DataFrame, key: str, name: str, notes: list[str]) -> pd.DataFrame:
    """Drop rows with an empty or repeated ``key`` (first kept), noting how many."""
    empty = df[key].isna()
    if empty.any():
        notes.append(f"{name}: dropped {int(empty.sum())} row(s) with an empty {key}")
    df = df.loc[~empty]
    dup = df.duplicated(key, keep="first")
    if dup.any():
        notes.append(f"{name}: dropped {int(dup.sum())} row(s) repeating an {key} (first kept)")
    return df.loc[~dup].reset_index(drop=True)


# --------------------------------------------------------------------------- entities


def _institutions(orgs: pd.DataFrame, inpatient_orgs: set[str]) -> pd.DataFrame:
    name = _col(orgs, "NAME")
    named_hospital = name.fillna("").str.contains(_HOSPITAL_RE).to_numpy(bool)
    community = name.fillna("").str.contains(_COMMUNITY_RE).to_numpy(bool)
    admits = orgs["ID"].isin(inpatient_orgs).to_numpy(bool)
    hospital = named_hospital | admits
    kind = np.where(hospital, "hospital", np.where(community, "community", "clinic"))
    level = np.where(named_hospital, 3, np.where(hospital, 2, 1))
    zip5 = _col(orgs, "ZIP").str.replace(r"\D", "", regex=True).str.slice(0, 5)
    zip5 = zip5.mask((zip5.str.len() < 5) | (zip5 == "00000"))
    city = _col(orgs, "CITY")
    return pd.DataFrame(
        {
            "institution_id": orgs["ID"].astype("string"),
            "name": name,
            "level": pd.array(level, dtype="Int64"),
            "ownership": pd.Series(pd.NA, index=orgs.index, dtype="string"),
            "kind": pd.Series(kind, index=orgs.index, dtype="string"),
            "region": zip5.fillna(city),
            "lat": _num(_col(orgs, "LAT")),
            "lon": _num(_col(orgs, "LON")),
            "city": city,
            "stub": pd.array(np.zeros(len(orgs), bool), dtype="boolean"),
        }
    )


def _doctors(providers: pd.DataFrame) -> pd.DataFrame:
    sex = _col(providers, "GENDER").str.upper()
    return pd.DataFrame(
        {
            "doctor_id": providers["ID"].astype("string"),
            "name": _col(providers, "NAME"),
            "institution_id": _col(providers, "ORGANIZATION"),
            "department": _col(providers, "SPECIALITY"),
            "title": pd.Series(pd.NA, index=providers.index, dtype="string"),
            "sex": sex.where(sex.isin(["M", "F"])),
            "stub": pd.array(np.zeros(len(providers), bool), dtype="boolean"),
        }
    )


def _payer_class(payers: pd.DataFrame | None) -> tuple[dict[str, str], dict[str, str | None]]:
    """payer id → name, payer id → insurance_type (resident / employee / None)."""
    if payers is None or "ID" not in payers.columns:
        return {}, {}
    names = dict(zip(payers["ID"], _col(payers, "NAME").fillna("")))
    owners = dict(zip(payers["ID"], _col(payers, "OWNERSHIP").fillna("").str.upper()))
    kinds: dict[str, str | None] = {}
    for pid, nm in names.items():
        own = owners.get(pid, "")
        if own == "GOVERNMENT":
            kinds[pid] = "resident"
        elif own == "PRIVATE":
            kinds[pid] = "employee"
        elif own == "NO_INSURANCE" or nm.upper() == "NO_INSURANCE" or not nm:
            kinds[pid] = None
        else:  # ownership unknown: decide by name
            kinds[pid] = "resident" if _GOVERNMENT_PAYER_RE.search(nm) else "employee"
    return names, kinds


def _current_payer(patients: pd.DataFrame, transitions: pd.DataFrame | None, encounters: pd.DataFrame) -> pd.Series:
    """Patient id → payer id of the latest payer transition, else of the latest encounter."""
    found: dict[str, str] = {}
    if transitions is not None and {"PATIENT", "PAYER"} <= set(transitions.columns):
        t = transitions.assign(_start=_ts(_col(transitions, "START_DATE"))).dropna(subset=["PATIENT", "PAYER"])
        t = t.sort_values("_start", kind="stable", na_position="first")
        found = dict(zip(t["PATIENT"], t["PAYER"]))  # later rows overwrite earlier ones
    if "PAYER" in encounters.columns:
        e = encounters.assign(_start=_ts(encounters["START"])).dropna(subset=["PATIENT", "PAYER"])
        e = e.sort_values("_start", kind="stable", na_position="first")
        fallback = dict(zip(e["PATIENT"], e["PAYER"]))
        for pid, payer in fallback.items():
            found.setdefault(pid, payer)
    return patients["ID"].map(found).astype("string")


def _patients(
    pts: pd.DataFrame,
    transitions: pd.DataFrame | None,
    payers: pd.DataFrame | None,
    encounters: pd.DataFrame,
) -> pd.DataFrame:
    first, last = _col(pts, "FIRST").fillna(""), _col(pts, "LAST").fillna("")
    name = (first + " " + last).str.strip()
    sex = _col(pts, "GENDER").str.upper()
    zip_ = _col(pts, "ZIP")
    zip_ = zip_.mask(zip_.str.fullmatch(r"0+").fillna(False))
    payer_ids = _current_payer(pts, transitions, encounters)
    names, kinds = _payer_class(payers)
    if names:
        payer_name = payer_ids.map(names).astype("string")
        insurance = payer_ids.map(kinds).astype("string")
    else:
        payer_name = pd.Series(pd.NA, index=pts.index, dtype="string")
        insurance = pd.Series(pd.NA, index=pts.index, dtype="string")
    return pd.DataFrame(
        {
            "patient_id": pts["ID"].astype("string"),
            "name": name.mask(name == ""),
            "id_number": _col(pts, "SSN"),
            "birth_date": _date(_col(pts, "BIRTHDATE")),
            "sex": sex.where(sex.isin(["M", "F"])),
            "region": _col(pts, "COUNTY").fillna(_col(pts, "FIPS")),
            "insurance_type": insurance,
            "death_date": _date(_col(pts, "DEATHDATE")),
            "low_income": pd.array([pd.NA] * len(pts), dtype="boolean"),
            "fips": _col(pts, "FIPS"),
            "zip": zip_,
            "payer_name": payer_name.mask(payer_name == ""),
            "stub": pd.array(np.zeros(len(pts), bool), dtype="boolean"),
        }
    )


def _contacts(pts: pd.DataFrame) -> pd.DataFrame:
    zip_ = _col(pts, "ZIP")
    zip_ = zip_.mask(zip_.str.fullmatch(r"0+").fillna(False))
    rows: list[tuple[str, str, str]] = []
    cols = [_col(pts, c) for c in ("ADDRESS", "CITY", "STATE")] + [zip_, _col(pts, "PHONE")]
    for pid, addr, city, state, zp, phone in zip(pts["ID"], *cols):
        street = ", ".join(str(x) for x in (addr, city) if not pd.isna(x))
        tail = " ".join(str(x) for x in (state, zp) if not pd.isna(x))
        value = ", ".join(x for x in (street, tail) if x)
        if value:
            rows.append((pid, "address", value))
        if not pd.isna(phone):
            rows.append((pid, "phone", str(phone)))
    out = pd.DataFrame(rows, columns=["patient_id", "kind", "value"], dtype="string")
    return out.drop_duplicates().reset_index(drop=True)


# --------------------------------------------------------------------------- claims


def _item_categories(src: Path, encounters: pd.DataFrame) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """(encounter, code) → category and code → category, from the clinical files present."""
    by_pair: dict[tuple[str, str], str] = {}
    by_code: dict[str, str] = {}

    def add(enc: pd.Series, code: pd.Series, cat: str | pd.Series) -> None:
        cats = cat if isinstance(cat, pd.Series) else pd.Series(cat, index=code.index)
        for e, c, k in zip(enc, code, cats):
            if pd.isna(c):
                continue
            if not pd.isna(e):
                by_pair.setdefault((e, c), k)
            by_code.setdefault(c, k)

    for name, code_col, cat in (
        ("medications.csv", "CODE", "drug"),
        ("immunizations.csv", "CODE", "drug"),
        ("devices.csv", "CODE", "material"),
        ("supplies.csv", "CODE", "material"),
        ("imaging_studies.csv", "PROCEDURE_CODE", "exam"),
    ):
        df = _read(src, name, optional=True)
        if df is not None and code_col in df.columns:
            add(_col(df, "ENCOUNTER"), df[code_col], cat)
    proc = _read(src, "procedures.csv", optional=True)
    if proc is not None and "CODE" in proc.columns:
        exam = _col(proc, "DESCRIPTION").fillna("").str.contains(_EXAM_RE).to_numpy(bool)
        add(_col(proc, "ENCOUNTER"), proc["CODE"], pd.Series(np.where(exam, "exam", "treatment"), index=proc.index))
    if "CODE" in encounters.columns:
        add(encounters["ID"], encounters["CODE"], "treatment")
    return by_pair, by_code


def _claims_from_transactions(
    src: Path, claims: pd.DataFrame, tx: pd.DataFrame, encounters: pd.DataFrame, notes: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Claims mode: one claim per ``claims.csv`` row, amounts and items from the transactions."""
    claims = _dedupe(claims, "ID", "claims.csv", notes)
    enc = encounters.set_index("ID")
    appt = claims["APPOINTMENTID"]
    known_enc = appt.isin(enc.index)
    if (~known_enc & appt.notna()).any():
        notes.append(
            f"claims.csv: {int((~known_enc & appt.notna()).sum())} claim(s) name an unknown encounter "
            "(SERVICEDATE and PROVIDERID used instead)"
        )

    def from_enc(col: str) -> pd.Series:
        if col not in enc.columns:
            return pd.Series(pd.NA, index=claims.index, dtype="string")
        return pd.Series(appt.map(enc[col]).to_numpy(), index=claims.index, dtype="string")

    base = pd.DataFrame(
        {
            "claim_id": claims["ID"].astype("string"),
            "patient_id": _col(claims, "PATIENTID").fillna(from_enc("PATIENT")),
            "doctor_id": from_enc("PROVIDER").fillna(_col(claims, "PROVIDERID")),
            "institution_id": from_enc("ORGANIZATION"),
            "start_raw": from_enc("START").fillna(_col(claims, "SERVICEDATE")),
            "end_raw": from_enc("STOP"),
            "encounter_class": from_enc("ENCOUNTERCLASS"),
            "diagnosis_code": _col(claims, "DIAGNOSIS1").fillna(from_enc("REASONCODE")),
            "encounter_id": appt.astype("string"),
        }
    )

    t = tx.copy()
    t_type = _col(t, "TYPE").str.upper()
    unknown_claim = ~t["CLAIMID"].isin(base["claim_id"])
    if unknown_claim.any():
        notes.append(f"claims_transactions.csv: ignored {int(unknown_claim.sum())} row(s) of unknown claims")
    charge = t.loc[(t_type == "CHARGE").to_numpy(bool) & ~unknown_claim.to_numpy(bool)].copy()
    amount = _num(charge["AMOUNT"])
    if amount.isna().any():
        notes.append(f"claims_transactions.csv: {int(amount.isna().sum())} CHARGE row(s) without a numeric AMOUNT (taken as 0)")
    if (amount < 0).any():
        notes.append(f"claims_transactions.csv: {int((amount < 0).sum())} negative CHARGE amount(s) clamped to 0")
    charge["_amount"] = amount.fillna(0.0).clip(lower=0.0).round(2)
    pay = t.loc[
        (t_type == "PAYMENT").to_numpy(bool)
        & (_col(t, "METHOD").str.upper() == "ECHECK").fillna(False).to_numpy(bool)
        & ~unknown_claim.to_numpy(bool)
    ]
    total = charge.groupby("CLAIMID")["_amount"].sum()
    fund = _num(pay["PAYMENTS"]).fillna(0.0).groupby(pay["CLAIMID"]).sum()
    no_charge = ~base["claim_id"].isin(total.index)
    if no_charge.any():
        notes.append(f"claims_transactions.csv: {int(no_charge.sum())} claim(s) have no CHARGE row (total 0)")
    base["total_amount"] = base["claim_id"].map(total).astype("float64").fillna(0.0)
    base["fund_amount"] = base["claim_id"].map(fund).astype("float64").fillna(0.0)

    # items
    by_pair, by_code = _item_categories(src, encounters)
    code = _col(charge, "PROCEDURECODE")
    if code.isna().any():
        notes.append(f"claims_transactions.csv: {int(code.isna().sum())} CHARGE row(s) without PROCEDURECODE (item_code 'UNCODED')")
    claim_enc = charge["CLAIMID"].map(dict(zip(base["claim_id"], base["encounter_id"])))
    category = [
        by_pair.get((e, c), by_code.get(c)) if not pd.isna(c) else None for e, c in zip(claim_enc, code)
    ]
    qty = _num(_col(charge, "UNITS"))
    unit = _num(_col(charge, "UNITAMOUNT"))
    unit = unit.fillna(charge["_amount"] / qty.where(qty > 0)).clip(lower=0.0).round(2)
    items = pd.DataFrame(
        {
            "claim_id": charge["CLAIMID"].astype("string"),
            "item_code": code.fillna("UNCODED"),
            "item_name": _col(charge, "NOTES"),
            "category": pd.Series(category, index=charge.index, dtype="string"),
            "quantity": qty,
            "unit_price": unit,
            "amount": charge["_amount"],
            "charge_id": _col(charge, "CHARGEID"),
        }
    ).reset_index(drop=True)
    return base, items


def _claims_from_encounters(encounters: pd.DataFrame) -> pd.DataFrame:
    """Encounter mode: one claim per encounter with the encounter's own amounts."""
    return pd.DataFrame(
        {
            "claim_id": encounters["ID"].astype("string"),
            "patient_id": encounters["PATIENT"].astype("string"),
            "doctor_id": _col(encounters, "PROVIDER"),
            "institution_id": encounters["ORGANIZATION"].astype("string"),
            "start_raw": encounters["START"].astype("string"),
            "end_raw": _col(encounters, "STOP"),
            "encounter_class": _col(encounters, "ENCOUNTERCLASS"),
            "diagnosis_code": _col(encounters, "REASONCODE"),
            "encounter_id": encounters["ID"].astype("string"),
            "total_amount": _num(encounters["TOTAL_CLAIM_COST"]),
            "fund_amount": _num(encounters["PAYER_COVERAGE"]),
        }
    )


def _finish_claims(base: pd.DataFrame, doctors: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Common claim columns: type, times, institution fallback, amounts, drops."""
    doc_org = dict(zip(doctors["doctor_id"], doctors["institution_id"]))
    doc_dept = dict(zip(doctors["doctor_id"], doctors["department"]))
    inst = base["institution_id"].fillna(base["doctor_id"].map(doc_org).astype("string"))
    start = _ts(base["start_raw"])
    end = _ts(base["end_raw"])
    before = (end < start).fillna(False)
    if before.any():
        notes.append(f"claims: {int(before.sum())} end time(s) before the start time set to null")
    end = end.mask(before)
    total = base["total_amount"].astype("float64")
    bad_total = total.isna() | (total < 0)
    if bad_total.any():
        notes.append(f"claims: {int(bad_total.sum())} missing or negative total amount(s) set to 0")
    total = total.mask(bad_total, 0.0).round(2)
    fund = base["fund_amount"].astype("float64").fillna(0.0).clip(lower=0.0).round(2)
    over = fund > total
    if over.any():
        notes.append(f"claims: {int(over.sum())} fund amount(s) above the total clamped to the total")
    fund = fund.where(~over, total)
    self_amount = (total - fund).clip(lower=0.0).round(2)
    cls = base["encounter_class"].str.lower()
    out = pd.DataFrame(
        {
            "claim_id": base["claim_id"],
            "card_id": (CARD_PREFIX + base["patient_id"]).astype("string"),
            "patient_id": base["patient_id"],
            "claim_type": pd.Series(
                np.where((cls == "inpatient").fillna(False).to_numpy(bool), "inpatient", "outpatient"),
                index=base.index,
                dtype="string",
            ),
            "institution_id": inst,
            "pharmacy_id": pd.Series(pd.NA, index=base.index, dtype="string"),
            "doctor_id": base["doctor_id"],
            "department": base["doctor_id"].map(doc_dept).astype("string"),
            "start_time": start,
            "end_time": end,
            "diagnosis_code": base["diagnosis_code"],
            "total_amount": total,
            "fund_amount": fund,
            "self_amount": self_amount,
            "referral_id": pd.Series(pd.NA, index=base.index, dtype="string"),
            "terminal_id": pd.Series(pd.NA, index=base.index, dtype="string"),
            "encounter_id": base["encounter_id"],
            "encounter_class": base["encounter_class"],
        }
    )
    drop = pd.Series(False, index=out.index)
    for col, why in (("patient_id", "no patient"), ("start_time", "no parseable start time"), ("institution_id", "no institution")):
        miss = out[col].isna() & ~drop
        if miss.any():
            notes.append(f"claims: dropped {int(miss.sum())} claim(s) with {why}")
            drop |= miss
    return out.loc[~drop].reset_index(drop=True)


# --------------------------------------------------------------------------- stubs


def _stub_frame(table: str, ids: list[str], id_col: str, **values: list) -> pd.DataFrame:
    spec = TABLES[table]
    data: dict[str, object] = {}
    for c in spec.columns:
        if c.name == id_col:
            data[c.name] = pd.Series(ids, dtype="string")
        elif c.name in values:
            data[c.name] = pd.Series(values[c.name], dtype="string")
        elif c.type in ("date", "datetime"):
            data[c.name] = pd.Series([pd.NaT] * len(ids), dtype="datetime64[s]")
        elif c.type == "int":
            data[c.name] = pd.array([pd.NA] * len(ids), dtype="Int64")
        elif c.type == "bool":
            data[c.name] = pd.array([pd.NA] * len(ids), dtype="boolean")
        elif c.type in ("decimal", "float"):
            data[c.name] = pd.Series([np.nan] * len(ids), dtype="float64")
        else:
            data[c.name] = pd.Series([pd.NA] * len(ids), dtype="string")
    data["stub"] = pd.array([True] * len(ids), dtype="boolean")
    return pd.DataFrame(data)


def _append_stubs(df: pd.DataFrame, stubs: pd.DataFrame) -> pd.DataFrame:
    if stubs.empty:
        return df
    stubs = stubs.reindex(columns=df.columns)
    for c in df.columns:
        stubs[c] = stubs[c].astype(df[c].dtype)
    return pd.concat([df, stubs], ignore_index=True)


# --------------------------------------------------------------------------- writing


def _csv_text(s: pd.Series, name: str, typ: str | None) -> pd.Series:
    """One column as CSV text (NA → empty)."""
    if typ == "date":
        return s.dt.strftime("%Y-%m-%d").astype("object").where(s.notna(), "")
    if typ == "datetime" or pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.strftime("%Y-%m-%d %H:%M:%S").astype("object").where(s.notna(), "")
    if pd.api.types.is_bool_dtype(s):
        return s.map(lambda v: "" if pd.isna(v) else ("true" if v else "false")).astype("object")
    if pd.api.types.is_integer_dtype(s):
        return s.map(lambda v: "" if pd.isna(v) else str(int(v))).astype("object")
    if pd.api.types.is_float_dtype(s):
        if name in _AMOUNT_COLUMNS:
            return s.map(lambda v: "" if pd.isna(v) else f"{v:.2f}").astype("object")
        return s.map(lambda v: "" if pd.isna(v) else np.format_float_positional(v, trim="-")).astype("object")
    return s.astype("object").where(s.notna(), "")


def _arrow_array(s: pd.Series, typ: str | None) -> pa.Array:
    if typ == "date":
        return pa.array(s.to_numpy("datetime64[s]"), type=pa.timestamp("s"), from_pandas=True).cast(pa.date32())
    if typ == "datetime" or pd.api.types.is_datetime64_any_dtype(s):
        return pa.array(s.to_numpy("datetime64[s]"), type=pa.timestamp("s"), from_pandas=True)
    if pd.api.types.is_bool_dtype(s):
        return pa.array(s.astype("object").where(s.notna(), None).tolist(), type=pa.bool_())
    if pd.api.types.is_integer_dtype(s):
        return pa.array(s.astype("object").where(s.notna(), None).tolist(), type=pa.int64())
    if pd.api.types.is_float_dtype(s):
        return pa.array(s.to_numpy("float64"), type=pa.float64(), from_pandas=True)
    return pa.array(s.astype("object").where(s.notna(), None).tolist(), type=pa.string())


def _null_column(typ: str, index: pd.Index) -> pd.Series:
    """An all-null column of a schema type (a column Synthea has nothing for)."""
    if typ in ("date", "datetime"):
        return pd.Series(pd.NaT, index=index, dtype="datetime64[s]")
    if typ == "int":
        return pd.Series(pd.NA, index=index, dtype="Int64")
    if typ == "bool":
        return pd.Series(pd.NA, index=index, dtype="boolean")
    if typ in ("decimal", "float"):
        return pd.Series(np.nan, index=index, dtype="float64")
    return pd.Series(pd.NA, index=index, dtype="string")


def _write_table(df: pd.DataFrame, table: str, out: Path, fmt: str) -> int:
    spec = TABLES[table]
    for c in spec.columns:  # every schema column present, typed null when unknown
        if c.name not in df.columns:
            df[c.name] = _null_column(c.type, df.index)
    cols = list(spec.column_names) + [c for c in df.columns if c not in spec.column_names]
    df = df[cols]
    types = {c.name: c.type for c in spec.columns}
    if fmt == "csv":
        text = pd.DataFrame({c: _csv_text(df[c], c, types.get(c)) for c in cols}, columns=cols)
        text.to_csv(out / f"{table}.csv", index=False, encoding="utf-8", lineterminator="\n")
    else:
        arrays = [_arrow_array(df[c], types.get(c)) for c in cols]
        pq.write_table(pa.Table.from_arrays(arrays, names=cols), out / f"{table}.parquet")
    return len(df)


# --------------------------------------------------------------------------- entry point


def synthea_to_bundle(src: str | Path, out: str | Path, *, fmt: str = "csv") -> dict[str, int]:
    """Convert a Synthea CSV export folder into a claims bundle folder; return row counts per table.

    Parameters
    ----------
    src : str or Path
        Folder holding Synthea's ``*.csv`` files (``output/csv``).
    out : str or Path
        Bundle folder to write (created if needed). Existing bundle-table files in it are
        replaced; it must not be ``src`` (both use names like ``patients.csv``).
    fmt : {"csv", "parquet"}
        File format of the bundle tables.

    Returns
    -------
    dict[str, int]
        Rows written per bundle table, in schema order (``institutions``, ``doctors``,
        ``patients``, ``cards``, ``claims``, ``claim_items`` (claims mode only), ``contacts``).

    Raises
    ------
    SyntheaFormatError
        (a ``ValueError``) when a required file or column is missing; the message names them.
    ValueError
        For an unknown ``fmt`` or ``out`` equal to ``src``.

    Warns
    -----
    SyntheaWarning
        For every group of rows dropped, stubbed or repaired (see the module docstring).

    Notes
    -----
    The full mapping and its rules (amounts from transactions, stubs for dangling ids,
    encounter mode for exports without claims files) are in the module docstring.
    Amounts are Synthea's US dollars written as-is into the yuan-denominated columns.

    Examples
    --------
    >>> counts = synthea_to_bundle("synthea/output/csv", "bundle")   # doctest: +SKIP
    >>> counts["patients"], counts["cards"]                           # doctest: +SKIP
    (11, 11)
    """
    fmt = fmt.lower()
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet'; got {fmt!r}")
    src, out = Path(src), Path(out)
    from graphkit.outputs import claim_output_dir

    if out.exists() and out.resolve() == src.resolve():
        raise ValueError(f"out must differ from src ({src}): the bundle would overwrite Synthea's own files")
    claim_output_dir(out, "bundle")  # a bundle folder of ours, or empty: never a store or someone's files
    if not src.is_dir():
        raise SyntheaFormatError(f"Synthea export folder {src} does not exist or is not a folder")
    notes: list[str] = []

    # ---- read
    pts = _dedupe(_read(src, "patients.csv", ["ID"]), "ID", "patients.csv", notes)
    orgs = _dedupe(_read(src, "organizations.csv", ["ID"]), "ID", "organizations.csv", notes)
    provs = _dedupe(_read(src, "providers.csv", ["ID", "ORGANIZATION"]), "ID", "providers.csv", notes)
    claims_raw = _read(src, "claims.csv", optional=True)
    tx_raw = _read(src, "claims_transactions.csv", optional=True)
    claims_mode = claims_raw is not None and tx_raw is not None
    enc_required = ["ID", "START", "PATIENT", "ORGANIZATION"]
    if not claims_mode:
        enc_required += ["TOTAL_CLAIM_COST", "PAYER_COVERAGE"]
        if claims_raw is not None or tx_raw is not None:
            missing = "claims_transactions.csv" if claims_raw is not None else "claims.csv"
            notes.append(f"{missing} is missing: one claim per encounter from encounters.csv amounts, no claim_items")
    encounters = _dedupe(_read(src, "encounters.csv", enc_required), "ID", "encounters.csv", notes)
    if claims_mode:
        for name, df, req in (
            ("claims.csv", claims_raw, ["ID", "PATIENTID", "APPOINTMENTID"]),
            ("claims_transactions.csv", tx_raw, ["CLAIMID", "TYPE", "AMOUNT", "METHOD", "PAYMENTS", "PROCEDURECODE"]),
        ):
            missing_cols = [c for c in req if c not in df.columns]
            if missing_cols:
                raise SyntheaFormatError(
                    f"Synthea export {src}: file {name} lacks required column(s) "
                    + ", ".join(repr(c) for c in missing_cols)
                    + " (column names are case-insensitive)"
                )
    payers = _read(src, "payers.csv", optional=True)
    transitions = _read(src, "payer_transitions.csv", optional=True)

    # ---- entities
    inpatient_orgs = set(
        encounters.loc[(_col(encounters, "ENCOUNTERCLASS").str.lower() == "inpatient").fillna(False), "ORGANIZATION"].dropna()
    )
    institutions = _institutions(orgs, inpatient_orgs)
    doctors = _doctors(provs)
    patients = _patients(pts, transitions, payers, encounters)

    # ---- claims
    items: pd.DataFrame | None = None
    if claims_mode:
        base, items = _claims_from_transactions(src, claims_raw, tx_raw, encounters, notes)
    else:
        base = _claims_from_encounters(encounters)
    claims = _finish_claims(base, doctors, notes)
    if items is not None:
        items = items.loc[items["claim_id"].isin(claims["claim_id"])].reset_index(drop=True)

    # ---- stubs for references that would dangle
    known_docs = set(doctors["doctor_id"])
    missing_docs = claims.loc[claims["doctor_id"].notna() & ~claims["doctor_id"].isin(known_docs)]
    missing_docs = missing_docs.drop_duplicates("doctor_id")
    if len(missing_docs):
        notes.append(f"doctors: added {len(missing_docs)} stub(s) for providers missing from providers.csv")
        stubs = _stub_frame(
            "doctors",
            missing_docs["doctor_id"].tolist(),
            "doctor_id",
            institution_id=missing_docs["institution_id"].tolist(),
        )
        doctors = _append_stubs(doctors, stubs)
    known_inst = set(institutions["institution_id"])
    wanted = pd.concat([doctors["institution_id"], claims["institution_id"]]).dropna()
    missing_inst = list(dict.fromkeys(x for x in wanted if x not in known_inst))
    if missing_inst:
        notes.append(f"institutions: added {len(missing_inst)} stub(s) for organizations missing from organizations.csv")
        institutions = _append_stubs(institutions, _stub_frame("institutions", missing_inst, "institution_id"))
    known_pat = set(patients["patient_id"])
    missing_pat = list(dict.fromkeys(x for x in claims["patient_id"] if x not in known_pat))
    if missing_pat:
        notes.append(f"patients: added {len(missing_pat)} stub(s) for patients missing from patients.csv")
        patients = _append_stubs(patients, _stub_frame("patients", missing_pat, "patient_id"))

    first_claim = claims.groupby("patient_id")["start_time"].min().dt.floor("D")
    issued = patients["birth_date"].fillna(patients["patient_id"].map(first_claim))
    cards = pd.DataFrame(
        {
            "card_id": (CARD_PREFIX + patients["patient_id"]).astype("string"),
            "patient_id": patients["patient_id"],
            "issued_date": issued.astype("datetime64[s]"),
            "status": pd.Series("active", index=patients.index, dtype="string"),
        }
    )
    contacts = _contacts(pts)

    # ---- write
    out.mkdir(parents=True, exist_ok=True)
    for t in TABLE_ORDER:
        for ext in _EXTENSIONS:
            stale = out / f"{t}{ext}"
            if stale.is_file():
                stale.unlink()
    tables: dict[str, pd.DataFrame] = {
        "institutions": institutions,
        "doctors": doctors,
        "patients": patients,
        "cards": cards,
        "claims": claims,
        "contacts": contacts,
    }
    if items is not None:
        tables["claim_items"] = items
    counts = {t: _write_table(tables[t].copy(), t, out, fmt) for t in TABLE_ORDER if t in tables}
    for note in notes:
        warnings.warn(f"Synthea export {src}: {note}", SyntheaWarning, stacklevel=2)
    return counts
