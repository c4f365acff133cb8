"""Attack 13 of issue #16: impossible values that loaded silently, ids with NUL or stray quotes,
a truncated .csv.gz that gave a traceback. Each is now an error naming table, row, column and value,
and a strict load writes nothing."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from pathlib import Path

import pytest

from graphkit.errors import BundleError
from loaders import load_bundle, validate_bundle
from loaders.validate import RULES

from conftest import tiny_tables, write_bundle

ROOT = Path(__file__).resolve().parents[2]

# (table, 1-based row, column, value, expected rule)
CASES = [
    ("claims", 1, "fund_amount", "250.00", "fund_above_total"),     # fund 250 + self 50 > total 200
    ("patients", 1, "birth_date", "2030-01-01", "birth_in_future"),
    ("patients", 2, "death_date", "1940-01-01", "death_before_birth"),  # born 1950
    ("claims", 1, "total_amount", "200.001", "too_many_decimals"),
    ("claim_items", 1, "amount", "50.125", "too_many_decimals"),
    ("claims", 2, "claim_id", "C0001\x00", "bad_id"),               # would shadow claim C0001
    ("claims", 2, "claim_id", 'C0001"', "bad_id"),
    ("claims", 2, "claim_id", "C00\n02", "bad_id"),
    ("cards", 1, "patient_id", "PT0001'", "bad_id"),
]


@pytest.mark.parametrize("table,row,column,value,rule", CASES, ids=[c[4] + "-" + c[2] for c in CASES])
def test_impossible_values_are_errors_naming_table_row_column_value(tmp_path, table, row, column, value, rule) -> None:
    t = tiny_tables()
    t[table][row - 1][column] = value
    bundle = write_bundle(tmp_path / "b", t)
    report = validate_bundle(bundle)
    hits = [i for i in report.issue_list() if i.rule == rule]
    assert hits, report.format()
    i = hits[0]
    assert (i.table, i.row, i.column) == (table, row, column)
    shown = value.replace("\x00", "\\x00").replace("\n", "\\x0a")
    assert shown in (i.value or "") or value in (i.value or ""), i
    with pytest.raises(BundleError, match=re.escape(RULES[rule][1])):
        load_bundle(bundle, tmp_path / "store")
    assert not (tmp_path / "store").exists()  # strict: nothing written


def test_legal_values_next_to_them_still_load(tmp_path) -> None:
    """Claims after a death date are evidence, not errors; 2 decimals, fund + self == total,
    unit prices to the 0.0001 yuan and apostrophes in names are fine."""
    t = tiny_tables()
    t["claims"][4]["start_time"] = "2024-03-11 15:00:00"
    t["patients"][3]["death_date"] = "2024-03-01"  # PT0004 dies before claim C0005: deceased card use
    t["claims"][0].update(total_amount="200.10", fund_amount="150.05", self_amount="50.05")
    t["claim_items"][0].update(unit_price="0.0325", quantity="1538.4615", amount="50.00")
    t["institutions"][1]["name"] = "O'Neil 诊所"
    res = load_bundle(write_bundle(tmp_path / "b", t), tmp_path / "store")
    assert res.report.ok and res.rows["claims"] == 5


def test_lenient_load_quarantines_impossible_rows(tmp_path) -> None:
    t = tiny_tables()
    t["claims"][0]["fund_amount"] = "250.00"
    res = load_bundle(write_bundle(tmp_path / "b", t), tmp_path / "store", lenient=True)
    assert res.rows["claims"] == 4 and res.report.quarantined["claims"] == 1


@pytest.mark.parametrize("lenient", [False, True])
def test_claims_before_the_persons_birth_are_errors(tmp_path, lenient) -> None:
    """A claim that starts before its person was born cannot be true (the spec's "birth date
    after the person's claims"); a claim on the birth day itself (a newborn) loads. The report
    names the claim's row and start time, never the birth date (personal)."""
    t = tiny_tables()
    t["patients"][0]["birth_date"] = "2024-01-05"  # PT0001: its claims C0001 / C0002 start that day
    t["patients"][3]["birth_date"] = "2024-03-12"  # PT0004: its claim C0005 starts the day before
    bundle = write_bundle(tmp_path / "b", t)
    report = validate_bundle(bundle)
    hits = [i for i in report.issue_list() if i.rule == "claim_before_birth"]
    assert [(i.table, i.row, i.column) for i in hits] == [("claims", 5, "start_time")]
    assert "2024-03-11" in hits[0].value and "2024-03-12" not in report.format(limit=100)
    if not lenient:
        with pytest.raises(BundleError, match=re.escape(RULES["claim_before_birth"][1])):
            load_bundle(bundle, tmp_path / "store")
        assert not (tmp_path / "store").exists()
    else:
        res = load_bundle(bundle, tmp_path / "store", lenient=True)
        assert res.rows["claims"] == 4 and res.report.quarantined["claims"] == 1


def _gz_bundle(tmp_path: Path, cut: float) -> Path:
    bundle = write_bundle(tmp_path / "b", tiny_tables())
    raw = (bundle / "claims.csv").read_bytes() * 1  # noqa: the whole table
    (bundle / "claims.csv").unlink()
    data = gzip.compress(raw)
    (bundle / "claims.csv.gz").write_bytes(data[: int(len(data) * cut)])
    return bundle


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_csv_gz_is_a_clear_error_and_nothing_is_written(tmp_path, cut) -> None:
    bundle = _gz_bundle(tmp_path, cut)
    with pytest.raises(BundleError, match="truncated or corrupt"):
        validate_bundle(bundle)
    with pytest.raises(BundleError, match="claims.csv.gz"):
        load_bundle(bundle, tmp_path / "store", lenient=True)
    assert not (tmp_path / "store").exists()
    r = subprocess.run([sys.executable, "-m", "graphkit.cli", "load", str(bundle), "--store", str(tmp_path / "s2")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "压缩文件被截断或已损坏" in r.stdout + r.stderr and not (tmp_path / "s2").exists()


def test_truncated_gz_into_an_existing_store_leaves_it_as_it_was(tmp_path) -> None:
    from graphkit.store import EmbeddedStore

    store = tmp_path / "store"
    fp = load_bundle(write_bundle(tmp_path / "ok", tiny_tables()), store).store_fingerprint
    with pytest.raises(BundleError):
        load_bundle(_gz_bundle(tmp_path, 0.6), store)
    assert EmbeddedStore(store).fingerprint == fp
    assert sorted(p.name for p in store.glob("gen-*")) == [EmbeddedStore(store).manifest["generation"]]
