"""Shared fixtures: a tiny hand-written bundle whose every value is known."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

TINY: dict[str, list[dict[str, str]]] = {
    "institutions": [
        {"institution_id": "H0001", "name": "第一人民医院", "level": "3", "ownership": "public", "kind": "hospital", "region": "370102", "lat": "36.67", "lon": "117.00"},
        {"institution_id": "H0002", "name": "康宁诊所", "level": "1", "ownership": "private", "kind": "clinic", "region": "370103", "lat": "36.65", "lon": "117.05"},
        {"institution_id": "H0003", "name": "北京协和", "level": "3", "ownership": "public", "kind": "hospital", "region": "110105", "lat": "39.91", "lon": "116.41"},
    ],
    "pharmacies": [
        {"pharmacy_id": "Y0001", "name": "益丰大药房", "chain": "益丰", "region": "370102", "lat": "36.67", "lon": "117.01"},
    ],
    "doctors": [
        {"doctor_id": "D00001", "name": "王医生", "institution_id": "H0001", "department": "内科", "title": "主任医师"},
        {"doctor_id": "D00002", "name": "李医生", "institution_id": "H0002", "department": "全科", "title": ""},
        {"doctor_id": "D00003", "name": "", "institution_id": "", "department": "", "title": "药师"},
    ],
    "patients": [
        {"patient_id": "PT0001", "name": "张三", "id_number": "370102198001011234", "birth_date": "1980-01-01", "sex": "M", "region": "370102", "insurance_type": "employee", "death_date": "", "low_income": "false"},
        {"patient_id": "PT0002", "name": "李四", "id_number": "370102195005052345", "birth_date": "1950-05-05", "sex": "F", "region": "370102", "insurance_type": "resident", "death_date": "2024-03-01", "low_income": "true"},
        {"patient_id": "PT0003", "name": "王五", "id_number": "370103200001013456", "birth_date": "2000-01-01", "sex": "M", "region": "370103", "insurance_type": "resident", "death_date": "", "low_income": ""},
        {"patient_id": "PT0004", "name": "赵六", "id_number": "370103201001014567", "birth_date": "2010-01-01", "sex": "F", "region": "370103", "insurance_type": "resident", "death_date": "", "low_income": ""},
    ],
    "cards": [
        {"card_id": "K0001", "patient_id": "PT0001", "issued_date": "2020-01-01", "status": "active", "kind": "physical"},
        {"card_id": "K0002", "patient_id": "PT0002", "issued_date": "2020-01-01", "status": "active", "kind": "physical"},
        {"card_id": "K0003", "patient_id": "PT0003", "issued_date": "2020-01-01", "status": "active", "kind": "e_voucher"},
        {"card_id": "K0004", "patient_id": "PT0004", "issued_date": "2020-01-01", "status": "active", "kind": ""},
    ],
    "claims": [
        {"claim_id": "C0001", "card_id": "K0001", "patient_id": "PT0001", "claim_type": "outpatient", "institution_id": "H0001", "pharmacy_id": "", "doctor_id": "D00001", "department": "内科", "start_time": "2024-01-05 09:00:00", "end_time": "", "diagnosis_code": "J06.9", "total_amount": "200.00", "fund_amount": "150.00", "self_amount": "50.00", "referral_id": "", "terminal_id": "T0001"},
        {"claim_id": "C0002", "card_id": "K0001", "patient_id": "PT0001", "claim_type": "pharmacy", "institution_id": "", "pharmacy_id": "Y0001", "doctor_id": "D00003", "department": "", "start_time": "2024-01-05T09:30:00", "end_time": "", "diagnosis_code": "", "total_amount": "80.5", "fund_amount": "60.5", "self_amount": "20", "referral_id": "", "terminal_id": "T0002"},
        {"claim_id": "C0003", "card_id": "K0002", "patient_id": "PT0002", "claim_type": "inpatient", "institution_id": "H0001", "pharmacy_id": "", "doctor_id": "D00001", "department": "内科", "start_time": "2024-02-20 10:00:00", "end_time": "2024-03-01 10:00:00", "diagnosis_code": "I63.9", "total_amount": "12000", "fund_amount": "9000", "self_amount": "3000", "referral_id": "RF0001", "terminal_id": ""},
        {"claim_id": "C0004", "card_id": "K0003", "patient_id": "PT0003", "claim_type": "outpatient", "institution_id": "H0002", "pharmacy_id": "", "doctor_id": "D00002", "department": "全科", "start_time": "2024-03-10 15:00:00", "end_time": "", "diagnosis_code": "K29.7", "total_amount": "90", "fund_amount": "45", "self_amount": "45", "referral_id": "", "terminal_id": ""},
        {"claim_id": "C0005", "card_id": "K0003", "patient_id": "PT0004", "claim_type": "outpatient", "institution_id": "H0002", "pharmacy_id": "", "doctor_id": "D00002", "department": "全科", "start_time": "2024-03-11 15:00:00", "end_time": "", "diagnosis_code": "J02.9", "total_amount": "60", "fund_amount": "30", "self_amount": "30", "referral_id": "", "terminal_id": ""},
    ],
    "referrals": [
        {"referral_id": "RF0001", "patient_id": "PT0002", "from_institution_id": "H0002", "from_doctor_id": "D00002", "to_institution_id": "H0001", "referred_at": "2024-02-19 16:00:00", "out_of_area": "false", "reason": "脑梗"},
    ],
    "contacts": [
        {"patient_id": "PT0003", "kind": "family", "value": "PT0004"},
        {"patient_id": "PT0004", "kind": "family", "value": "PT0003"},
        {"patient_id": "PT0003", "kind": "phone", "value": "13800000001"},
        {"patient_id": "PT0004", "kind": "address", "value": "历下区文化路1号"},
    ],
    "budgets": [
        {"provider_type": "institution", "provider_id": "H0001", "year": "2024", "amount": "5000000"},
        {"provider_type": "pharmacy", "provider_id": "Y0001", "year": "2024", "amount": "300000"},
    ],
    "regions": [
        {"region_code": "370102", "name": "历下区", "parent_code": "370100", "lat": "36.666", "lon": "117.076"},
        {"region_code": "370103", "name": "市中区", "parent_code": "370100", "lat": "36.651", "lon": "116.997"},
        {"region_code": "110105", "name": "朝阳区", "parent_code": "110100", "lat": "39.9215", "lon": "116.4434"},
        {"region_code": "370124", "name": "平阴县", "parent_code": "370100", "lat": "", "lon": ""},
    ],
    "claim_items": [
        {"claim_id": "C0001", "item_code": "X001", "item_name": "血常规", "category": "exam", "quantity": "1", "unit_price": "50", "amount": "50", "item_time": "2024-01-05 09:05:00", "days_supply": "", "department": "检验科"},
        {"claim_id": "C0001", "item_code": "Y001", "item_name": "阿莫西林", "category": "drug", "quantity": "2", "unit_price": "75", "amount": "150", "item_time": "2024-01-05 09:20:00", "days_supply": "7", "department": ""},
    ],
}


def write_bundle(root: Path, tables: dict[str, list[dict[str, str]]], *, encoding: str = "utf-8") -> Path:
    """Write tables as CSV files into ``root`` (created) and return it."""
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        with open(root / f"{name}.csv", "w", newline="", encoding=encoding) as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)
    return root


def tiny_tables() -> dict[str, list[dict[str, str]]]:
    return {t: [dict(r) for r in rows] for t, rows in TINY.items()}


@pytest.fixture(scope="session")
def small_rule_city(tmp_path_factory) -> Path:
    """A small ``item_rules`` demo city (1,000 patients, 2 months, seed 0), generated and loaded once
    for the session: ``root / "b"`` the bundle (with ``truth.json``), ``root / "s"`` the embedded
    store. Read it only."""
    from loaders import load_bundle

    from graphkit.demo import generate_city

    root = tmp_path_factory.mktemp("small_rule_city")
    with pytest.MonkeyPatch.context() as mp:  # session scope: the per-test audit fixture does not reach here
        mp.setenv("GRAPHKIT_AUDIT_LOG", str(root / "audit.jsonl"))
        generate_city(root / "b", patients=1000, months=2, seed=0, variant="item_rules")
        load_bundle(root / "b", root / "s", allow_demo_key=True)
    return root


@pytest.fixture
def tiny_bundle(tmp_path: Path) -> Path:
    return write_bundle(tmp_path / "bundle", tiny_tables())


@pytest.fixture(autouse=True)
def _isolated_audit_log(tmp_path_factory, monkeypatch):
    """Every test writes its audit entries to a log of its own, never to the user's."""
    audit_dir = tmp_path_factory.mktemp("audit")
    monkeypatch.setenv("GRAPHKIT_AUDIT_LOG", str(audit_dir / "audit.jsonl"))
    # …signed by a key of its own (made on first use), anchors beside it; never the user's key
    monkeypatch.setenv("GRAPHKIT_AUDIT_KEY", str(audit_dir / "keys" / "audit-ed25519.pem"))
    monkeypatch.delenv("GRAPHKIT_AUDIT_PUBKEY", raising=False)
    monkeypatch.delenv("GRAPHKIT_AUDIT_ANCHORS", raising=False)
    # hand-made test bundles may use the built-in demo key (a real load without a key is refused)
    monkeypatch.setenv("GRAPHKIT_ALLOW_DEMO_KEY", "1")


@pytest.fixture
def guard(tmp_path_factory, monkeypatch):
    """A guard in this process (a single-user install: the test's account is its service account),
    with the demo key, writing to this test's audit log; its roles file maps nobody (default
    investigator) until a test rewrites ``guard.config.roles``. ``GRAPHKIT_GUARD`` points at it."""
    from graphkit.guard import Guard, GuardConfig

    d = tmp_path_factory.mktemp("guard")
    roles = d / "roles.toml"
    roles.write_text('default_role = "investigator"\n[roles.investigator]\npermissions = ["export", "clear_data", "audit", "load"]\n'
                     '[roles.analyst]\npermissions = ["export"]\n[roles.auditor]\npermissions = ["audit"]\n', "utf-8")
    g = Guard(GuardConfig(socket=d / "guard.sock", roles=roles, audit_log=os.environ["GRAPHKIT_AUDIT_LOG"],
                          allow_demo_key=True)).start()
    monkeypatch.setenv("GRAPHKIT_GUARD", str(g.socket_path))
    yield g
    g.close()


@pytest.fixture(autouse=True)
def _roles(tmp_path_factory, monkeypatch):
    """Tests act as an investigator (all permissions); role tests override this file."""
    path = tmp_path_factory.mktemp("roles") / "roles.toml"
    path.write_text(
        'default_role = "investigator"\n'
        '[roles.investigator]\npermissions = ["export", "clear_data", "audit"]\n'
        '[roles.analyst]\npermissions = ["export"]\n'
        '[roles.auditor]\npermissions = ["audit"]\n'
        '[users]\n"ana" = "analyst"\n"aud" = "auditor"\n',
        "utf-8",
    )
    monkeypatch.setenv("GRAPHKIT_ROLES", str(path))
