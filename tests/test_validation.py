"""Validation of claims bundles: one test per rule of the spec's Validation section.

Every issue is checked exactly: table, row (1-based, header excluded), column, value, rule.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from conftest import tiny_tables, write_bundle
from graphkit.cli import main as cli_main
from graphkit.errors import BundleError
from graphkit.schema import REQUIRED_TABLES, TABLES
from loaders import Issue, ValidationReport, load_bundle, validate_bundle
from loaders.validate import RULES

Tables = dict[str, list[dict[str, str]]]


# -- helpers ------------------------------------------------------------------------------
def make_bundle(tmp_path: Path, mutate: Callable[[Tables], None], name: str = "bad") -> Path:
    t = tiny_tables()
    mutate(t)
    return write_bundle(tmp_path / name, t)


def issues_of(report: ValidationReport) -> list[tuple]:
    return [(i.table, i.row, i.column, i.value, i.rule) for i in report.issue_list()]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its bytes (to prove nothing was written)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def set_cell(table: str, row: int, column: str, value: str) -> Callable[[Tables], None]:
    """Mutation: set ``column`` of data row ``row`` (1-based) of ``table``."""

    def mutate(t: Tables) -> None:
        t[table][row - 1][column] = value

    return mutate


def single_issue(tmp_path: Path, mutate: Callable[[Tables], None]) -> tuple:
    report = validate_bundle(make_bundle(tmp_path, mutate))
    assert isinstance(report, ValidationReport)
    assert not report.ok
    found = issues_of(report)
    assert len(found) == 1, found
    return found[0]


# -- the good bundle ----------------------------------------------------------------------
def test_tiny_bundle_is_valid(tiny_bundle: Path) -> None:
    report = validate_bundle(tiny_bundle)
    assert report.ok, report.format()
    assert report.issue_list() == []
    assert report.rows_read == {
        "institutions": 3, "pharmacies": 1, "doctors": 3, "patients": 4, "cards": 4,
        "referrals": 1, "claims": 5, "claim_items": 2, "contacts": 4, "budgets": 2, "regions": 4,
    }
    assert "OK: no issues" in report.format()


# -- missing tables and columns ----------------------------------------------------------
@pytest.mark.parametrize("table", REQUIRED_TABLES)
def test_missing_required_table(tmp_path: Path, table: str) -> None:
    bundle = make_bundle(tmp_path, lambda t: t.pop(table))
    report = validate_bundle(bundle)
    assert not report.ok
    found = issues_of(report)
    assert (table, None, None, None, "missing_table") in found
    # the table-level issue comes first for its table
    assert [f for f in found if f[0] == table] == [(table, None, None, None, "missing_table")]


def test_missing_required_table_cascades_to_references(tmp_path: Path) -> None:
    report = validate_bundle(make_bundle(tmp_path, lambda t: t.pop("cards")))
    assert issues_of(report) == [("cards", None, None, None, "missing_table")] + [
        ("claims", i, "card_id", card, "dangling_reference")
        for i, card in enumerate(["K0001", "K0001", "K0002", "K0003", "K0003"], start=1)
    ]


def test_missing_optional_table_is_fine_when_unreferenced(tmp_path: Path) -> None:
    def drop(t: Tables) -> None:
        t.pop("claim_items")
        t.pop("contacts")

    assert validate_bundle(make_bundle(tmp_path, drop)).ok


def test_missing_optional_table_that_is_referenced(tmp_path: Path) -> None:
    report = validate_bundle(make_bundle(tmp_path, lambda t: t.pop("pharmacies")))
    assert issues_of(report) == [
        ("claims", 2, "pharmacy_id", "Y0001", "dangling_reference"),
        ("budgets", 2, "provider_id", "Y0001", "dangling_reference"),  # a budget names the pharmacy too
    ]


REQUIRED_COLUMNS = [(t, c) for t in TABLES for c in TABLES[t].required_columns]


@pytest.mark.parametrize(("table", "column"), REQUIRED_COLUMNS)
def test_missing_required_column(tmp_path: Path, table: str, column: str) -> None:
    def drop(t: Tables) -> None:
        for r in t[table]:
            del r[column]

    report = validate_bundle(make_bundle(tmp_path, drop))
    assert not report.ok
    found = issues_of(report)
    assert [f for f in found if f[0] == table] == [(table, None, column, None, "missing_column")]


def test_missing_column_of_unreferenced_table_still_fails(tmp_path: Path) -> None:
    """Regression: a missing column used to be dropped silently (report OK, table emptied)."""

    def drop(t: Tables) -> None:
        for r in t["contacts"]:
            del r["value"]

    report = validate_bundle(make_bundle(tmp_path, drop))
    assert issues_of(report) == [("contacts", None, "value", None, "missing_column")]


def test_missing_optional_column_is_fine(tmp_path: Path) -> None:
    def drop(t: Tables) -> None:
        for r in t["claims"]:
            del r["terminal_id"]
            del r["self_amount"]

    assert validate_bundle(make_bundle(tmp_path, drop)).ok


def test_extra_columns_are_not_an_error(tmp_path: Path) -> None:
    def add(t: Tables) -> None:
        for r in t["claims"]:
            r["settlement_batch"] = "B1"

    assert validate_bundle(make_bundle(tmp_path, add)).ok


# -- cell values --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("table", "row", "column", "value"),
    [
        ("claims", 3, "claim_type", "emergency"),
        ("cards", 2, "status", "stolen"),
        ("patients", 4, "sex", "X"),
        ("patients", 1, "insurance_type", "commercial"),
        ("institutions", 2, "ownership", "mixed"),
        ("institutions", 3, "kind", "spa"),
        ("contacts", 3, "kind", "email"),
        ("claim_items", 2, "category", "gift"),
        ("cards", 1, "kind", "paper"),
    ],
)
def test_unknown_enum_value(tmp_path: Path, table: str, row: int, column: str, value: str) -> None:
    assert single_issue(tmp_path, set_cell(table, row, column, value)) == (table, row, column, value, "unknown_enum")


def test_enum_values_are_case_insensitive(tmp_path: Path) -> None:
    def mutate(t: Tables) -> None:
        t["claims"][0]["claim_type"] = "OutPatient"
        t["patients"][0]["sex"] = "m"

    assert validate_bundle(make_bundle(tmp_path, mutate)).ok


@pytest.mark.parametrize(
    ("table", "row", "column", "value", "rule"),
    [
        ("patients", 2, "birth_date", "1950-13-45", "bad_date"),
        ("patients", 3, "death_date", "yesterday", "bad_date"),
        ("cards", 4, "issued_date", "2020/01/01x", "bad_date"),
        ("claims", 4, "start_time", "2024-03-10 25:61:00", "bad_datetime"),
        ("claims", 1, "end_time", "soon", "bad_datetime"),
        ("referrals", 1, "referred_at", "2024-02-30 16:00:00", "bad_datetime"),
        ("claims", 2, "total_amount", "8O.5", "bad_number"),
        ("claims", 5, "fund_amount", "thirty", "bad_number"),
        ("claims", 3, "self_amount", "3000元", "bad_number"),
        ("claim_items", 1, "amount", "fifty", "bad_number"),
        ("institutions", 1, "level", "three", "bad_int"),
        ("institutions", 2, "level", "4", "bad_int"),
        ("institutions", 3, "level", "2.5", "bad_int"),
        ("patients", 1, "low_income", "maybe", "bad_bool"),
        ("patients", 1, "birth_date", "1800-01-01", "out_of_range"),
        ("claim_items", 1, "item_time", "2024-01-05 9h", "bad_datetime"),
        ("claim_items", 2, "days_supply", "7.5", "bad_int"),
        ("claim_items", 2, "days_supply", "-3", "out_of_bounds"),
        ("regions", 1, "lat", "north", "bad_number"),
        ("regions", 1, "lat", "91.2", "out_of_bounds"),
        ("regions", 2, "lon", "-181", "out_of_bounds"),
    ],
)
def test_unparseable_values(tmp_path: Path, table: str, row: int, column: str, value: str, rule: str) -> None:
    assert single_issue(tmp_path, set_cell(table, row, column, value)) == (table, row, column, value, rule)


def test_region_coordinates_are_not_money(tmp_path: Path) -> None:
    """lat/lon keep their decimals (no cents rounding, no 2-decimal rule); a region row may lack them."""
    from graphkit.store import open_store

    def mutate(t: Tables) -> None:
        t["regions"][0]["lat"] = "36.6661234"
        t["regions"][0]["lon"] = "-117.0761234"

    b = make_bundle(tmp_path, mutate)
    assert validate_bundle(b).ok
    load_bundle(b, tmp_path / "store")
    reg = open_store(tmp_path / "store").table("regions").set_index("region_code")
    assert reg.loc["370102", "lat"] == 36.6661234 and reg.loc["370102", "lon"] == -117.0761234
    assert pd.isna(reg.loc["370124", "lat"]) and reg.loc["370124", "name"] == "平阴县"


def test_region_codes_elsewhere_are_free_text(tmp_path: Path) -> None:
    """A provider's or patient's region need not be listed in ``regions`` (not a reference)."""
    def mutate(t: Tables) -> None:
        t["institutions"][0]["region"] = "999999"
        t["patients"][0]["region"] = "本市"

    assert validate_bundle(make_bundle(tmp_path, mutate)).ok


def test_duplicate_region_code(tmp_path: Path) -> None:
    def mutate(t: Tables) -> None:
        t["regions"][1]["region_code"] = "370102"

    assert single_issue(tmp_path, mutate) == ("regions", 2, "region_code", "370102", "duplicate_key")


def test_out_of_range_reported_alongside_unparseable_dates(tmp_path: Path) -> None:
    """Regression: an unparseable date in a column used to hide the out-of-range ones."""

    def mutate(t: Tables) -> None:
        t["patients"][0]["birth_date"] = "1800-01-01"
        t["patients"][1]["birth_date"] = "1950-02-30"
        t["claims"][0]["start_time"] = "2101-01-01 00:00:00"

    assert issues_of(validate_bundle(make_bundle(tmp_path, mutate))) == [
        ("patients", 1, "birth_date", "1800-01-01", "out_of_range"),
        ("patients", 2, "birth_date", "1950-02-30", "bad_date"),
        ("claims", 1, "start_time", "2101-01-01 00:00:00", "out_of_range"),
    ]


def test_iso_datetime_variants_parse(tmp_path: Path) -> None:
    def mutate(t: Tables) -> None:
        t["claims"][0]["start_time"] = "2024-01-05T09:00:00"
        t["claims"][1]["start_time"] = "2024-01-05 09:30"

    assert validate_bundle(make_bundle(tmp_path, mutate)).ok


def test_utc_offsets_keep_wall_clock_time(tmp_path: Path) -> None:
    """Regression: an offset beside naive times ("mixed timezones") used to crash validation."""

    def mutate(t: Tables) -> None:
        t["claims"][0]["start_time"] = "2024-01-05T09:00:00+08:00"
        t["claims"][1]["start_time"] = "2024-01-05T09:30:00Z"

    bundle = make_bundle(tmp_path, mutate)
    assert validate_bundle(bundle).ok
    res = load_bundle(bundle, tmp_path / "store")
    from graphkit.store.embedded import EmbeddedStore

    times = EmbeddedStore(res.store).table("claims").set_index("claim_id")["start_time"]
    assert str(times["C0001"]) == "2024-01-05 09:00:00"
    assert str(times["C0002"]) == "2024-01-05 09:30:00"


@pytest.mark.parametrize(
    ("table", "row", "column"),
    [("claims", 2, "card_id"), ("claims", 4, "start_time"), ("claims", 1, "total_amount"), ("cards", 3, "patient_id")],
)
def test_required_value_empty(tmp_path: Path, table: str, row: int, column: str) -> None:
    assert single_issue(tmp_path, set_cell(table, row, column, "")) == (table, row, column, None, "required_null")


@pytest.mark.parametrize(
    ("table", "row", "column", "value"),
    [
        ("claims", 1, "total_amount", "-200.00"),
        ("claims", 3, "fund_amount", "-1"),
        ("claims", 5, "self_amount", "-0.01"),
        ("claim_items", 2, "amount", "-150"),
        ("claim_items", 1, "unit_price", "-50"),
    ],
)
def test_negative_amount(tmp_path: Path, table: str, row: int, column: str, value: str) -> None:
    assert single_issue(tmp_path, set_cell(table, row, column, value)) == (table, row, column, value, "negative_amount")


@pytest.mark.parametrize(
    ("table", "mutate", "expected"),
    [
        ("claims", set_cell("claims", 5, "claim_id", "C0001"), ("claims", 5, "claim_id", "C0001", "duplicate_key")),
        ("cards", set_cell("cards", 4, "card_id", "K0001"), ("cards", 4, "card_id", "K0001", "duplicate_key")),
        ("patients", set_cell("patients", 4, "patient_id", "PT0003"), None),
    ],
)
def test_duplicate_primary_key(tmp_path: Path, table: str, mutate, expected) -> None:
    report = validate_bundle(make_bundle(tmp_path, mutate))
    found = issues_of(report)
    if expected is not None:
        assert found == [expected]
    else:  # PT0004 disappears: its card and contacts now dangle; the duplicate is row 4
        assert found[0] == ("patients", 4, "patient_id", "PT0003", "duplicate_key")
        assert ("cards", 4, "patient_id", "PT0004", "dangling_reference") in found


def test_duplicate_composite_key(tmp_path: Path) -> None:
    def mutate(t: Tables) -> None:
        t["contacts"].append(dict(t["contacts"][2]))

    assert issues_of(validate_bundle(make_bundle(tmp_path, mutate))) == [
        ("contacts", 5, "patient_id|kind|value", "PT0003|phone|13800000001", "duplicate_key")
    ]


def test_leading_zeros_make_identifiers_differ(tmp_path: Path) -> None:
    """`H0001` and `H1` differ: a claim on H1 dangles, and ids keep their zeros."""
    assert single_issue(tmp_path, set_cell("claims", 1, "institution_id", "H1")) == (
        "claims", 1, "institution_id", "H1", "dangling_reference",
    )


@pytest.mark.parametrize(
    ("table", "row", "column", "value"),
    [
        ("claims", 2, "card_id", "K9999"),
        ("claims", 4, "patient_id", "PT9999"),
        ("claims", 1, "institution_id", "H9999"),
        ("claims", 2, "pharmacy_id", "Y9999"),
        ("claims", 3, "doctor_id", "D99999"),
        ("claims", 1, "referral_id", "RF9999"),
        ("cards", 3, "patient_id", "PT9999"),
        ("doctors", 2, "institution_id", "H0009"),
        ("referrals", 1, "from_institution_id", "H9999"),
        ("referrals", 1, "patient_id", "PT9999"),
        ("contacts", 3, "patient_id", "PT9999"),
        ("contacts", 1, "value", "PT9999"),  # a family contact names an unknown patient
    ],
)
def test_dangling_reference(tmp_path: Path, table: str, row: int, column: str, value: str) -> None:
    assert single_issue(tmp_path, set_cell(table, row, column, value)) == (
        table, row, column, value, "dangling_reference",
    )


def test_dangling_claim_item(tmp_path: Path) -> None:
    assert single_issue(tmp_path, set_cell("claim_items", 2, "claim_id", "C9999")) == (
        "claim_items", 2, "claim_id", "C9999", "dangling_reference",
    )


def test_non_family_contact_values_are_not_references(tmp_path: Path) -> None:
    assert validate_bundle(make_bundle(tmp_path, set_cell("contacts", 3, "value", "PT9999"))).ok


def test_end_time_before_start_time(tmp_path: Path) -> None:
    assert single_issue(tmp_path, set_cell("claims", 3, "end_time", "2024-02-19 10:00:00")) == (
        "claims", 3, "end_time", "2024-02-19 10:00:00", "end_before_start",
    )


def test_end_time_equal_to_start_time_is_fine(tmp_path: Path) -> None:
    assert validate_bundle(make_bundle(tmp_path, set_cell("claims", 3, "end_time", "2024-02-20T10:00:00"))).ok


@pytest.mark.parametrize(
    ("row", "changes", "value"),
    [
        (2, {"institution_id": "H0001"}, "pharmacy: institution_id=H0001, pharmacy_id=Y0001"),
        (2, {"pharmacy_id": "", "institution_id": "H0001"}, "pharmacy: institution_id=H0001, pharmacy_id="),
        (1, {"institution_id": "", "pharmacy_id": "Y0001"}, "outpatient: institution_id=, pharmacy_id=Y0001"),
        (3, {"institution_id": ""}, "inpatient: institution_id=, pharmacy_id="),
        (4, {"claim_type": "pharmacy"}, "pharmacy: institution_id=H0002, pharmacy_id="),
    ],
)
def test_claim_type_provider_mismatch(tmp_path: Path, row: int, changes: dict, value: str) -> None:
    def mutate(t: Tables) -> None:
        t["claims"][row - 1].update(changes)

    assert single_issue(tmp_path, mutate) == ("claims", row, "institution_id|pharmacy_id", value, "provider_mismatch")


# -- malformed CSV rows ---------------------------------------------------------------------
def _rewrite_lines(path: Path, edit: Callable[[list[str]], None]) -> None:
    lines = path.read_text("utf-8").splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n", "utf-8")


def test_malformed_row_too_many_fields(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b", tiny_tables())
    _rewrite_lines(bundle / "claims.csv", lambda ls: ls.__setitem__(2, ls[2] + ",extra"))
    report = validate_bundle(bundle)
    text = "C0002,K0001,PT0001,pharmacy,,Y0001,D00003,,2024-01-05T09:30:00,,,80.5,60.5,20,,T0002,extra"
    assert issues_of(report) == [("claims", 2, None, text, "malformed_row")]
    assert report.rows_read["claims"] == 5


def test_malformed_row_too_few_fields_keeps_later_row_numbers(tmp_path: Path) -> None:
    t = tiny_tables()
    t["claims"][4]["claim_type"] = "emergency"  # row 5, after the malformed row
    bundle = write_bundle(tmp_path / "b", t)
    _rewrite_lines(bundle / "claims.csv", lambda ls: ls.__setitem__(3, "C0003,K0002"))
    found = issues_of(validate_bundle(bundle))
    assert found == [
        ("claims", 3, None, "C0003,K0002", "malformed_row"),
        ("claims", 5, "claim_type", "emergency", "unknown_enum"),
    ]


def test_malformed_row_after_multiline_value(tmp_path: Path) -> None:
    """Row numbers count records, not physical lines (a quoted value may hold a newline)."""
    t = tiny_tables()
    t["claims"][0]["department"] = "内\n科"
    bundle = write_bundle(tmp_path / "b", t)
    # physical lines: 0 header, 1-2 row 1, 3 row 2, 4 row 3
    _rewrite_lines(bundle / "claims.csv", lambda ls: ls.__setitem__(4, ls[4] + ",x"))
    found = issues_of(validate_bundle(bundle))
    assert [(f[0], f[1], f[4]) for f in found] == [("claims", 3, "malformed_row")]


# -- ordering and the readable report ---------------------------------------------------
def test_issues_are_sorted_by_table_order_then_row(tmp_path: Path) -> None:
    def mutate(t: Tables) -> None:
        t["claims"][3]["total_amount"] = "-1"  # claims row 4
        t["claims"][0]["claim_type"] = "emergency"  # claims row 1
        t["patients"][2]["sex"] = "Q"  # patients row 3
        t["cards"][1]["status"] = "stolen"  # cards row 2
        t["institutions"][1]["level"] = "9"  # institutions row 2

    report = validate_bundle(make_bundle(tmp_path, mutate))
    assert issues_of(report) == [
        ("institutions", 2, "level", "9", "bad_int"),
        ("patients", 3, "sex", "Q", "unknown_enum"),
        ("cards", 2, "status", "stolen", "unknown_enum"),
        ("claims", 1, "claim_type", "emergency", "unknown_enum"),
        ("claims", 4, "total_amount", "-1", "negative_amount"),
    ]
    assert list(report.issues.columns) == ["table", "row", "column", "value", "rule", "message"]
    assert all(isinstance(i, Issue) for i in report.issue_list())
    assert set(report.issues["rule"]) <= set(RULES)


def test_format_names_table_row_column_and_value(tmp_path: Path) -> None:
    report = validate_bundle(make_bundle(tmp_path, set_cell("claims", 3, "claim_type", "emergency")))
    text = report.format()
    assert "发现 1 个问题 / 1 issue(s)" in text
    assert "claims 行/row 3 列/column claim_type 值/value 'emergency'" in text
    assert "未知的枚举值 / unknown enum value" in text
    assert str(report.bundle) in text


def test_format_limits_issue_lines(tmp_path: Path) -> None:
    def mutate(t: Tables) -> None:
        for r in t["claims"]:
            r["claim_type"] = "emergency"

    text = validate_bundle(make_bundle(tmp_path, mutate)).format(limit=2)
    assert text.count("值/value 'emergency'") == 2
    assert "3 more" in text


def test_report_to_csv(tmp_path: Path) -> None:
    report = validate_bundle(make_bundle(tmp_path, set_cell("cards", 2, "status", "stolen")))
    report.to_csv(tmp_path / "issues.csv")
    rows = list(csv.DictReader(open(tmp_path / "issues.csv", encoding="utf-8")))
    assert [(r["table"], r["row"], r["column"], r["value"], r["rule"]) for r in rows] == [
        ("cards", "2", "status", "stolen", "unknown_enum")
    ]


# -- strict load writes nothing ------------------------------------------------------------
BAD_MUTATIONS = {
    "enum": set_cell("claims", 3, "claim_type", "emergency"),
    "dangling": set_cell("claims", 2, "card_id", "K9999"),
    "missing_table": lambda t: t.pop("doctors"),
}


@pytest.mark.parametrize("kind", sorted(BAD_MUTATIONS))
def test_strict_load_raises_and_writes_nothing(tmp_path: Path, kind: str) -> None:
    bundle = make_bundle(tmp_path, BAD_MUTATIONS[kind])
    store = tmp_path / "store"
    with pytest.raises(BundleError) as exc:
        load_bundle(bundle, store)
    assert not store.exists()
    assert exc.value.issues, "the error carries the individual issues"
    assert all(isinstance(i, Issue) for i in exc.value.issues)
    assert "校验报告 / Validation report" in str(exc.value)


def test_strict_load_leaves_existing_store_byte_for_byte(tmp_path: Path, tiny_bundle: Path) -> None:
    store = tmp_path / "store"
    first = load_bundle(tiny_bundle, store)
    before = snapshot(store)
    bad = make_bundle(tmp_path, set_cell("claims", 1, "total_amount", "-5"))
    with pytest.raises(BundleError) as exc:
        load_bundle(bad, store)
    assert [(i.table, i.row, i.column, i.value, i.rule) for i in exc.value.issues] == [
        ("claims", 1, "total_amount", "-5", "negative_amount")
    ]
    assert snapshot(store) == before
    from graphkit.store.embedded import EmbeddedStore

    assert EmbeddedStore(store).fingerprint == first.store_fingerprint


def test_strict_load_into_empty_existing_folder_writes_nothing(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    with pytest.raises(BundleError):
        load_bundle(make_bundle(tmp_path, set_cell("claims", 1, "start_time", "x")), store)
    assert list(store.iterdir()) == []


def test_missing_bundle_folder_is_a_bundle_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError):
        validate_bundle(tmp_path / "nope")
    with pytest.raises(BundleError):
        load_bundle(tmp_path / "nope", tmp_path / "store")
    assert not (tmp_path / "store").exists()


# -- CLI ------------------------------------------------------------------------------------
def test_cli_validate_good_bundle_exits_0(tiny_bundle: Path, capsys) -> None:
    assert cli_main(["validate", str(tiny_bundle)]) == 0
    out = capsys.readouterr().out
    assert "OK: no issues" in out
    assert "claims: 读取/read 5" in out


def test_cli_validate_bad_bundle_exits_1(tmp_path: Path, capsys) -> None:
    bundle = make_bundle(tmp_path, set_cell("claims", 4, "fund_amount", "-45"))
    report_csv = tmp_path / "issues.csv"
    assert cli_main(["validate", str(bundle), "--report", str(report_csv)]) == 1
    out = capsys.readouterr().out
    assert "claims 行/row 4 列/column fund_amount 值/value '-45'" in out
    assert "negative amount" in out
    issues = pd.read_csv(report_csv, dtype=str)
    assert issues[["table", "row", "column", "value", "rule"]].values.tolist() == [
        ["claims", "4", "fund_amount", "-45", "negative_amount"]
    ]


def test_cli_validate_missing_folder_exits_1(tmp_path: Path, capsys) -> None:
    assert cli_main(["validate", str(tmp_path / "nope")]) == 1
    assert "错误 / error" in capsys.readouterr().err


def test_cli_load_bad_bundle_exits_1_and_writes_nothing(tmp_path: Path, capsys) -> None:
    bundle = make_bundle(tmp_path, set_cell("cards", 1, "patient_id", "PT9999"))
    store = tmp_path / "store"
    assert cli_main(["load", str(bundle), "--store", str(store)]) == 1
    err = capsys.readouterr().err
    assert "cards 行/row 1 列/column patient_id 值/value 'PT9999'" in err
    assert not store.exists()


def test_cli_load_good_bundle_exits_0(tiny_bundle: Path, tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    assert cli_main(["load", str(tiny_bundle), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "claims: 5" in out
    assert (store / "manifest.json").is_file()


def test_cli_load_lenient_reports_quarantine(tmp_path: Path, capsys) -> None:
    bundle = make_bundle(tmp_path, set_cell("claims", 5, "claim_type", "emergency"))
    store = tmp_path / "store"
    assert cli_main(["load", str(bundle), "--store", str(store), "--lenient"]) == 0
    out = capsys.readouterr().out
    assert "claims: 读取/read 5, 保留/kept 4, 隔离/quarantined 1" in out
    assert "claims 行/row 5 列/column claim_type 值/value 'emergency'" in out
    assert "quarantined rows" in out and "claims: 4" in out
    assert len(list((store / "quarantine").glob("*/claims.csv"))) == 1
