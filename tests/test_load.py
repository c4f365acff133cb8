"""Loading bundles into the embedded store: lenient quarantine, encodings, formats, mapping
files, idempotent and additive reloads, pseudonymisation, atomicity, and a property test."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TINY, tiny_tables, write_bundle
from graphkit.errors import BundleError
from graphkit.pseudo import DEMO_KEY, Pseudonymiser
from graphkit.schema import TABLES
from graphkit.store.embedded import EmbeddedStore
from loaders import Mapping, ValidationReport, load_bundle, locate_tables, validate_bundle
from loaders.validate import RULES

Tables = dict[str, list[dict[str, str]]]

CLEAR_PERSONAL = (
    [r["name"] for r in TINY["patients"]]
    + [r["id_number"] for r in TINY["patients"]]
    + [r["value"] for r in TINY["contacts"] if r["kind"] != "family"]
)

BUREAU_KEY = "9b3e7a1fc2d84e60" * 2  # a generated-looking 128-bit hex key (weak keys are refused)


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from the demo key unless they set one."""
    monkeypatch.delenv("GRAPHKIT_PSEUDO_KEY", raising=False)
    monkeypatch.delenv("GRAPHKIT_PSEUDO_KEY_FILE", raising=False)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def store_values(store: Path) -> list[str]:
    """Every cell of every parquet file under ``store`` as text."""
    out = []
    for f in store.rglob("*.parquet"):
        for col in pq.read_table(f).columns:
            out.extend(str(v) for v in col.to_pylist() if v is not None)
    return out


def assert_no_clear_personal_data(store: Path) -> None:
    cells = set(store_values(store))
    blobs = [p.read_bytes() for p in store.rglob("*") if p.is_file()]
    for clear in CLEAR_PERSONAL:
        assert clear not in cells, clear
        assert not any(clear in c for c in cells), clear
        for blob in blobs:
            assert clear.encode("utf-8") not in blob, clear
            assert clear.encode("gb18030") not in blob, clear


# -- lenient loads ----------------------------------------------------------------------------
def test_lenient_quarantines_bad_rows_and_cascades(tmp_path: Path) -> None:
    t = tiny_tables()
    t["cards"][1]["status"] = "stolen"  # card K0002 (row 2) is bad → claim C0003 refers to it
    t["claims"][3]["claim_type"] = "emergency"  # claim C0004 (row 4) is bad itself
    bundle = write_bundle(tmp_path / "b", t)
    res = load_bundle(bundle, tmp_path / "store", lenient=True)

    rep = res.report
    assert not rep.ok and rep.lenient
    assert [(i.table, i.row, i.column, i.value, i.rule) for i in rep.issue_list()] == [
        ("cards", 2, "status", "stolen", "unknown_enum"),
        ("claims", 3, "card_id", "K0002", "dangling_reference"),
        ("claims", 4, "claim_type", "emergency", "unknown_enum"),
    ]
    assert rep.rows_read["cards"] == 4 and rep.rows_kept["cards"] == 3 and rep.quarantined["cards"] == 1
    assert rep.rows_read["claims"] == 5 and rep.rows_kept["claims"] == 3 and rep.quarantined["claims"] == 2
    for table in rep.rows_read:  # nothing dropped silently
        assert rep.rows_kept[table] + rep.quarantined[table] == rep.rows_read[table]
    assert rep.quarantined["patients"] == 0
    text = rep.format()
    assert "claims: 读取/read 5, 保留/kept 3, 隔离/quarantined 2" in text
    assert "cards: 读取/read 4, 保留/kept 3, 隔离/quarantined 1" in text

    st_ = EmbeddedStore(tmp_path / "store")
    assert res.rows == st_.row_counts()
    assert res.rows["cards"] == 3 and res.rows["claims"] == 3 and res.rows["patients"] == 4
    assert sorted(st_.table("claims")["claim_id"]) == ["C0001", "C0002", "C0005"]
    assert sorted(st_.table("cards")["card_id"]) == ["K0001", "K0003", "K0004"]

    q = res.quarantine_dir
    assert q is not None and q.parent == tmp_path / "store" / "quarantine"
    qc = pd.read_csv(q / "claims.csv", dtype=str, keep_default_na=False)
    assert qc[["_row", "_reason", "claim_id"]].values.tolist() == [
        ["3", "card_id: dangling_reference", "C0003"],
        ["4", "claim_type: unknown_enum", "C0004"],
    ]
    qk = pd.read_csv(q / "cards.csv", dtype=str, keep_default_na=False)
    assert qk[["_row", "_reason", "card_id", "status"]].values.tolist() == [["2", "status: unknown_enum", "K0002", "stolen"]]
    assert not (q / "patients.csv").exists()
    report_txt = (q / "report.txt").read_text("utf-8")
    assert "claims 行/row 4 列/column claim_type 值/value 'emergency'" in report_txt


def test_lenient_cascade_through_every_level(tmp_path: Path) -> None:
    """patient PT0001 bad → its card K0001 → claims C0001, C0002 → C0001's items."""
    t = tiny_tables()
    t["patients"][0]["sex"] = "X"
    res = load_bundle(write_bundle(tmp_path / "b", t), tmp_path / "store", lenient=True)
    assert [(i.table, i.row, i.column, i.rule) for i in res.report.issue_list()] == [
        ("patients", 1, "sex", "unknown_enum"),
        ("cards", 1, "patient_id", "dangling_reference"),
        ("claims", 1, "card_id", "dangling_reference"),
        ("claims", 1, "patient_id", "dangling_reference"),
        ("claims", 2, "card_id", "dangling_reference"),
        ("claims", 2, "patient_id", "dangling_reference"),
        ("claim_items", 1, "claim_id", "dangling_reference"),
        ("claim_items", 2, "claim_id", "dangling_reference"),
    ]
    assert res.report.quarantined == {
        "institutions": 0, "pharmacies": 0, "doctors": 0, "patients": 1, "cards": 1,
        "referrals": 0, "claims": 2, "claim_items": 2, "contacts": 0, "budgets": 0, "regions": 0,
    }
    assert res.rows["claims"] == 3 and res.rows["claim_items"] == 0 and res.rows["patients"] == 3
    qc = pd.read_csv(res.quarantine_dir / "claims.csv", dtype=str)
    assert qc[["_row", "_reason"]].values.tolist() == [
        ["1", "card_id: dangling_reference; patient_id: dangling_reference"],
        ["2", "card_id: dangling_reference; patient_id: dangling_reference"],
    ]


def test_lenient_family_contact_to_quarantined_patient_cascades(tmp_path: Path) -> None:
    t = tiny_tables()
    t["patients"][3]["birth_date"] = "not a date"  # PT0004 is quarantined
    res = load_bundle(write_bundle(tmp_path / "b", t), tmp_path / "store", lenient=True)
    contacts = EmbeddedStore(tmp_path / "store").table("contacts")
    # PT0003's family link to PT0004 and PT0004's own contacts all go
    assert contacts["patient_id"].tolist() == ["PT0003"]
    assert contacts["kind"].tolist() == ["phone"]
    qc = pd.read_csv(res.quarantine_dir / "contacts.csv", dtype=str)
    assert qc[["_row", "_reason"]].values.tolist() == [
        ["1", "value: dangling_reference"],
        ["2", "patient_id: dangling_reference"],
        ["4", "patient_id: dangling_reference"],
    ]


def test_lenient_malformed_row_goes_to_quarantine(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b", tiny_tables())
    path = bundle / "claims.csv"
    lines = path.read_text("utf-8").splitlines()
    lines[4] = "C0004,K0003"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    res = load_bundle(bundle, tmp_path / "store", lenient=True)
    assert res.report.rows_read["claims"] == 5
    assert res.report.rows_kept["claims"] == 4
    assert res.report.quarantined["claims"] == 1
    assert sorted(EmbeddedStore(tmp_path / "store").table("claims")["claim_id"]) == ["C0001", "C0002", "C0003", "C0005"]
    q = pd.read_csv(res.quarantine_dir / "claims.csv", dtype=str)
    assert q[["_row", "_reason", "_text"]].values.tolist() == [["4", "malformed_row", "C0004,K0003"]]


def test_lenient_missing_column_quarantines_the_table_with_reason(tmp_path: Path) -> None:
    t = tiny_tables()
    for r in t["contacts"]:
        del r["kind"]
    res = load_bundle(write_bundle(tmp_path / "b", t), tmp_path / "store", lenient=True)
    assert [(i.table, i.row, i.column, i.rule) for i in res.report.issue_list()] == [
        ("contacts", None, "kind", "missing_column")
    ]
    assert res.report.rows_kept["contacts"] == 0 and res.report.quarantined["contacts"] == 4
    assert res.rows["contacts"] == 0 and res.rows["claims"] == 5
    q = pd.read_csv(res.quarantine_dir / "contacts.csv", dtype=str)
    assert q["_row"].tolist() == ["1", "2", "3", "4"]
    assert set(q["_reason"]) == {"kind: missing_column"}
    # the stored (empty) table keeps the schema's columns
    assert EmbeddedStore(tmp_path / "store").columns("contacts") == ["patient_id", "kind", "value"]


def test_lenient_good_bundle_has_no_quarantine(tiny_bundle: Path, tmp_path: Path) -> None:
    res = load_bundle(tiny_bundle, tmp_path / "store", lenient=True)
    assert res.report.ok
    assert res.quarantine_dir is None
    assert not (tmp_path / "store" / "quarantine").exists()
    assert res.rows["claims"] == 5


def test_lenient_quarantine_does_not_leak_personal_data(tmp_path: Path) -> None:
    t = tiny_tables()
    t["patients"][0]["sex"] = "X"  # 张三's row is quarantined
    t["contacts"].append(dict(t["contacts"][2]))  # duplicate phone contact (key holds the phone)
    t["contacts"][3]["kind"] = "pager"  # the address row is quarantined
    bundle = write_bundle(tmp_path / "b", t)
    path = bundle / "patients.csv"  # and one malformed patient row with a name in it
    path.write_text(path.read_text("utf-8") + "PT0009,钱七,370102199901019999\n", "utf-8")
    res = load_bundle(bundle, tmp_path / "store", lenient=True)
    assert res.report.quarantined["patients"] == 2 and res.report.quarantined["contacts"] == 2
    assert_no_clear_personal_data(tmp_path / "store")
    for f in (res.quarantine_dir).iterdir():
        data = f.read_text("utf-8")
        assert "钱七" not in data and "370102199901019999" not in data
    # the rows stay findable by their row numbers
    qp = pd.read_csv(res.quarantine_dir / "patients.csv", dtype=str)
    assert sorted(qp["_row"].astype(int)) == [1, 5]


# -- encodings and file formats ---------------------------------------------------------------
def _fingerprint(bundle: Path, store: Path, **kw) -> str:
    return load_bundle(bundle, store, **kw).store_fingerprint


@pytest.fixture
def reference_fingerprint(tiny_bundle: Path, tmp_path: Path) -> str:
    return _fingerprint(tiny_bundle, tmp_path / "ref-store")


def test_gb18030_detected(tmp_path: Path, reference_fingerprint: str) -> None:
    bundle = write_bundle(tmp_path / "gb", tiny_tables(), encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        (bundle / "patients.csv").read_bytes().decode("utf-8")
    report = validate_bundle(bundle)
    assert report.ok, report.format()
    assert report.encodings["patients"] == "gb18030"
    assert report.encodings["cards"] == "utf-8"  # ASCII only
    assert "patients: 读取/read 4 [gb18030]" in report.format()
    assert _fingerprint(bundle, tmp_path / "s") == reference_fingerprint
    clear = load_bundle(bundle, tmp_path / "clear", pseudonymise=False)
    st_ = EmbeddedStore(clear.store)
    assert st_.table("patients")["name"].tolist() == ["张三", "李四", "王五", "赵六"]
    assert st_.table("institutions")["name"].tolist() == ["第一人民医院", "康宁诊所", "北京协和"]


def test_utf8_with_bom(tmp_path: Path, reference_fingerprint: str) -> None:
    bundle = write_bundle(tmp_path / "bom", tiny_tables(), encoding="utf-8-sig")
    assert (bundle / "claims.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    report = validate_bundle(bundle)
    assert report.ok, report.format()
    assert _fingerprint(bundle, tmp_path / "s") == reference_fingerprint
    assert EmbeddedStore(tmp_path / "s").columns("institutions")[0] == "institution_id"


def test_forced_gb18030(tmp_path: Path, reference_fingerprint: str) -> None:
    bundle = write_bundle(tmp_path / "gb", tiny_tables(), encoding="gb18030")
    report = validate_bundle(bundle, encoding="gb18030")
    assert report.ok
    assert set(report.encodings.values()) == {"gb18030"}
    assert _fingerprint(bundle, tmp_path / "s", encoding="gb18030") == reference_fingerprint


def test_forced_utf8_on_gb18030_file_is_an_error(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "gb", tiny_tables(), encoding="gb18030")
    with pytest.raises(BundleError, match="UTF-8"):
        validate_bundle(bundle, encoding="utf-8")
    with pytest.raises(BundleError):
        load_bundle(bundle, tmp_path / "store", encoding="utf-8")
    assert not (tmp_path / "store").exists()


def test_cli_encoding_option(tmp_path: Path, capsys) -> None:
    from graphkit.cli import main

    bundle = write_bundle(tmp_path / "gb", tiny_tables(), encoding="gb18030")
    assert main(["validate", str(bundle), "--encoding", "gb18030"]) == 0
    assert "OK: no issues" in capsys.readouterr().out


def test_csv_gz(tmp_path: Path, reference_fingerprint: str) -> None:
    plain = write_bundle(tmp_path / "plain", tiny_tables())
    gz = tmp_path / "gz"
    gz.mkdir()
    for f in plain.glob("*.csv"):
        with gzip.open(gz / (f.name + ".gz"), "wb") as fh:
            fh.write(f.read_bytes())
    assert sorted(p.name for p in locate_tables(gz).values()) == sorted(f.name + ".gz" for f in plain.glob("*.csv"))
    assert validate_bundle(gz).ok
    assert _fingerprint(gz, tmp_path / "s") == reference_fingerprint


def test_gb18030_csv_gz(tmp_path: Path, reference_fingerprint: str) -> None:
    plain = write_bundle(tmp_path / "plain", tiny_tables(), encoding="gb18030")
    gz = tmp_path / "gz"
    gz.mkdir()
    for f in plain.glob("*.csv"):
        with gzip.open(gz / (f.name + ".gz"), "wb") as fh:
            fh.write(f.read_bytes())
    assert _fingerprint(gz, tmp_path / "s") == reference_fingerprint


def typed_frame(table: str, rows: list[dict[str, str]]) -> pd.DataFrame:
    """The tiny table with native types, as a real export's Parquet would hold it."""
    df = pd.DataFrame(rows).replace({"": None})
    spec = TABLES[table]
    for col in spec.columns:
        if col.name not in df.columns:
            continue
        s = df[col.name]
        if col.type == "datetime":
            df[col.name] = pd.to_datetime(s, format="ISO8601").astype("datetime64[us]")
        elif col.type == "date":  # as date32 in Parquet
            df[col.name] = pd.to_datetime(s).dt.date.where(s.notna(), None)
        elif col.type == "decimal":
            df[col.name] = s.astype("float64")
        elif col.type == "int":
            df[col.name] = s.astype("float64").astype("Int64")
        elif col.type == "bool":
            df[col.name] = s.map({"true": True, "false": False}).astype("boolean")
        else:
            df[col.name] = s.astype("string")
    return df


def write_parquet_bundle(root: Path, tables: Tables) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        pq.write_table(pa.Table.from_pandas(typed_frame(name, rows), preserve_index=False), root / f"{name}.parquet")
    return root


def test_parquet_typed_columns(tmp_path: Path, reference_fingerprint: str) -> None:
    bundle = write_parquet_bundle(tmp_path / "pq", tiny_tables())
    schema = pq.read_schema(bundle / "claims.parquet")
    assert pa.types.is_timestamp(schema.field("start_time").type)
    assert pa.types.is_floating(schema.field("total_amount").type)
    assert pa.types.is_date32(pq.read_schema(bundle / "patients.parquet").field("birth_date").type)
    assert pa.types.is_boolean(pq.read_schema(bundle / "patients.parquet").field("low_income").type)
    report = validate_bundle(bundle)
    assert report.ok, report.format()
    assert report.encodings == {}
    assert _fingerprint(bundle, tmp_path / "s") == reference_fingerprint
    claims = EmbeddedStore(tmp_path / "s").table("claims")
    assert pd.api.types.is_datetime64_dtype(claims["start_time"])
    assert claims["total_amount"].tolist() == [200.0, 80.5, 12000.0, 90.0, 60.0]


def test_parquet_bad_values_are_reported(tmp_path: Path) -> None:
    t = tiny_tables()
    bundle = write_parquet_bundle(tmp_path / "pq", t)
    claims = typed_frame("claims", t["claims"])
    claims.loc[1, "fund_amount"] = -3.5
    claims.loc[2, "end_time"] = pd.Timestamp("2024-01-01")
    pq.write_table(pa.Table.from_pandas(claims, preserve_index=False), bundle / "claims.parquet")
    found = [(i.table, i.row, i.column, i.value, i.rule) for i in validate_bundle(bundle).issue_list()]
    assert found == [
        ("claims", 2, "fund_amount", "-3.5", "negative_amount"),
        ("claims", 3, "end_time", "2024-01-01", "end_before_start"),
    ]


def test_parquet_preferred_over_csv(tmp_path: Path) -> None:
    t = tiny_tables()
    bundle = write_bundle(tmp_path / "b", t)
    fewer = [r for r in t["claims"] if r["claim_id"] != "C0005"]
    pq.write_table(pa.Table.from_pandas(typed_frame("claims", fewer), preserve_index=False), bundle / "claims.parquet")
    assert locate_tables(bundle)["claims"].name == "claims.parquet"
    assert locate_tables(bundle)["cards"].name == "cards.csv"
    res = load_bundle(bundle, tmp_path / "store")
    assert res.rows["claims"] == 4


def test_csv_gz_preferred_over_csv(tmp_path: Path) -> None:
    t = tiny_tables()
    bundle = write_bundle(tmp_path / "b", t)
    t["claims"] = t["claims"][:2]
    other = write_bundle(tmp_path / "other", t)
    with gzip.open(bundle / "claims.csv.gz", "wb") as fh:
        fh.write((other / "claims.csv").read_bytes())
    assert locate_tables(bundle)["claims"].name == "claims.csv.gz"
    assert load_bundle(bundle, tmp_path / "store").rows["claims"] == 2


# -- mapping files -----------------------------------------------------------------------------
ZH_CLAIM_COLUMNS = {
    "claim_id": "结算单号", "card_id": "卡号", "patient_id": "参保人编号", "claim_type": "就诊类型",
    "institution_id": "机构编码", "pharmacy_id": "药店编码", "start_time": "结算时间",
    "total_amount": "总金额", "fund_amount": "统筹支付",
}
ZH_TYPES = {"outpatient": "门诊", "inpatient": "住院", "pharmacy": "药店"}

MAPPING_TOML = """
[tables]
jiesuan = "claims"

[columns.claims]
"结算单号" = "claim_id"
"卡号" = "card_id"
"参保人编号" = "patient_id"
"就诊类型" = "claim_type"
"机构编码" = "institution_id"
"药店编码" = "pharmacy_id"
"结算时间" = "start_time"
"总金额" = "total_amount"
"统筹支付" = "fund_amount"

[columns.patients]
"性别" = "sex"

[values.claims.claim_type]
"门诊" = "outpatient"
"住院" = "inpatient"
"药店" = "pharmacy"

[values.patients.sex]
"男" = "M"
"女" = "F"
"""


def chinese_export(root: Path, encoding: str = "utf-8") -> Path:
    t = tiny_tables()
    claims = [
        {ZH_CLAIM_COLUMNS.get(k, k): (ZH_TYPES[v] if k == "claim_type" else v) for k, v in r.items()}
        for r in t.pop("claims")
    ]
    t["jiesuan"] = claims
    t["patients"] = [
        {("性别" if k == "sex" else k): ({"M": "男", "F": "女"}[v] if k == "sex" else v) for k, v in r.items()}
        for r in t["patients"]
    ]
    return write_bundle(root, t, encoding=encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_mapping_file_chinese_names_and_values(tmp_path: Path, reference_fingerprint: str, encoding: str) -> None:
    bundle = chinese_export(tmp_path / "zh", encoding)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING_TOML, "utf-8")
    assert not (bundle / "claims.csv").exists() and (bundle / "jiesuan.csv").exists()
    # without the mapping the claims table is missing
    assert [(i.table, i.rule) for i in validate_bundle(bundle).issue_list()][0] == ("claims", "missing_table")
    report = validate_bundle(bundle, mapping=mapping)
    assert report.ok, report.format()
    assert locate_tables(bundle, Mapping.load(mapping))["claims"].name == "jiesuan.csv"
    res = load_bundle(bundle, tmp_path / "s", mapping=mapping)
    assert res.store_fingerprint == reference_fingerprint
    claims = EmbeddedStore(tmp_path / "s").table("claims")
    assert claims["claim_type"].tolist() == ["outpatient", "pharmacy", "inpatient", "outpatient", "outpatient"]


def test_mapping_unmapped_chinese_value_is_unknown_enum(tmp_path: Path) -> None:
    bundle = chinese_export(tmp_path / "zh")
    path = bundle / "jiesuan.csv"
    lines = path.read_text("utf-8").splitlines()
    lines[4] = lines[4].replace(",门诊,", ",急诊,")  # row 4 (C0004)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING_TOML, "utf-8")
    found = [(i.table, i.row, i.column, i.value, i.rule) for i in validate_bundle(bundle, mapping=mapping).issue_list()]
    assert found == [("claims", 4, "claim_type", "急诊", "unknown_enum")]


def test_mapping_from_dict() -> None:
    m = Mapping.from_dict({"tables": {"jiesuan": "claims"}, "values": {"claims": {"claim_type": {"门诊": "outpatient"}}}})
    assert m.tables == {"jiesuan": "claims"}
    assert m.values["claims"]["claim_type"]["门诊"] == "outpatient"


@pytest.mark.parametrize(
    "toml",
    [
        '[columns.jiesuan]\n"结算单号" = "claim_id"\n',
        '[tables]\njiesuan = "settlements"\n',
        '[values.bogus.claim_type]\n"门诊" = "outpatient"\n',
        '[renames]\na = "b"\n',
        "[tables\n",
    ],
)
def test_bad_mapping_is_an_error(tmp_path: Path, tiny_bundle: Path, toml: str, capsys) -> None:
    from graphkit.cli import main

    mapping = tmp_path / "mapping.toml"
    mapping.write_text(toml, "utf-8")
    with pytest.raises(BundleError, match="mapping file"):
        Mapping.load(mapping)
    with pytest.raises(BundleError):
        validate_bundle(tiny_bundle, mapping=mapping)
    with pytest.raises(BundleError):
        load_bundle(tiny_bundle, tmp_path / "store", mapping=mapping)
    assert not (tmp_path / "store").exists()
    assert main(["validate", str(tiny_bundle), "--mapping", str(mapping)]) == 1
    assert "mapping file" in capsys.readouterr().err


def test_missing_mapping_file_is_an_error(tmp_path: Path, tiny_bundle: Path) -> None:
    with pytest.raises(BundleError, match="not found"):
        validate_bundle(tiny_bundle, mapping=tmp_path / "nope.toml")


# -- idempotent and additive loads --------------------------------------------------------------
def test_loading_twice_is_idempotent(tiny_bundle: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = load_bundle(tiny_bundle, store)
    tables_before = {t: EmbeddedStore(store).table(t) for t in first.rows}
    second = load_bundle(tiny_bundle, store)
    assert second.store_fingerprint == first.store_fingerprint
    assert second.rows == first.rows == {
        "institutions": 3, "pharmacies": 1, "doctors": 3, "patients": 4, "cards": 4,
        "referrals": 1, "claims": 5, "claim_items": 2, "contacts": 4, "budgets": 2, "regions": 4,
    }
    assert second.bundle_fingerprint == first.bundle_fingerprint
    after = EmbeddedStore(store)
    for t, df in tables_before.items():
        pd.testing.assert_frame_equal(after.table(t), df)
    manifest = json.loads((store / "manifest.json").read_text("utf-8"))
    assert len(manifest["loads"]) == 1
    assert [p.name for p in store.iterdir() if p.name.startswith("gen-")] == [manifest["generation"]]


def test_same_content_in_two_stores_gives_same_fingerprint(tiny_bundle: Path, tmp_path: Path) -> None:
    assert _fingerprint(tiny_bundle, tmp_path / "a") == _fingerprint(tiny_bundle, tmp_path / "b")


def second_bundle() -> Tables:
    """A later export: a subset of known entities plus new ones, new claims, one updated claim."""
    t = tiny_tables()
    return {
        "institutions": [t["institutions"][0]],
        "doctors": [t["doctors"][0]],
        "patients": [
            t["patients"][0],
            {**t["patients"][0], "patient_id": "PT0005", "name": "孙八", "id_number": "370102199001015678",
             "birth_date": "1990-01-01"},
        ],
        "cards": [{"card_id": "K0005", "patient_id": "PT0005", "issued_date": "2024-01-01", "status": "active"}],
        "claims": [
            # new claim: new card and patient, institution and doctor only known from the first bundle
            {**t["claims"][3], "claim_id": "C0006", "card_id": "K0005", "patient_id": "PT0005",
             "start_time": "2024-04-01 08:00:00"},
            # an updated claim: same key, new amounts
            {**t["claims"][0], "total_amount": "250.00", "fund_amount": "200.00"},
            # a pharmacy claim on a pharmacy known only from the store
            {**t["claims"][1], "claim_id": "C0007", "start_time": "2024-04-02 10:00:00"},
        ],
    }


def test_later_bundle_adds_and_updates(tiny_bundle: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = load_bundle(tiny_bundle, store)
    b2 = write_bundle(tmp_path / "b2", second_bundle())
    # on its own the later bundle dangles; against the store it is valid
    alone = validate_bundle(b2)
    assert ("claims", 1, "institution_id", "H0002", "dangling_reference") in [
        (i.table, i.row, i.column, i.value, i.rule) for i in alone.issue_list()
    ]
    assert validate_bundle(b2, store=store).ok

    second = load_bundle(b2, store)
    assert second.store_fingerprint != first.store_fingerprint
    assert second.rows == {**first.rows, "patients": 5, "cards": 5, "claims": 7}
    st_ = EmbeddedStore(store)
    claims = st_.table("claims").set_index("claim_id")
    assert claims.loc["C0001", "total_amount"] == 250.0
    assert claims.loc["C0001", "fund_amount"] == 200.0
    assert claims.loc["C0003", "total_amount"] == 12000.0  # untouched rows stay
    assert claims.loc["C0006", "card_id"] == "K0005"
    assert list(claims.index).count("C0001") == 1
    assert sorted(st_.table("institutions")["institution_id"]) == ["H0001", "H0002", "H0003"]
    manifest = json.loads((store / "manifest.json").read_text("utf-8"))
    assert len(manifest["loads"]) == 2
    # reloading the later bundle changes nothing
    assert load_bundle(b2, store).store_fingerprint == second.store_fingerprint


def test_updated_entity_row_replaces_the_old_one(tiny_bundle: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    load_bundle(tiny_bundle, store, pseudonymise=False)
    t = tiny_tables()
    t["cards"][1]["status"] = "lost"
    t["patients"][0]["name"] = "张三丰"
    t["claim_items"] = [t["claim_items"][0]]  # C0001's items are replaced as a whole
    load_bundle(write_bundle(tmp_path / "b2", t), store, pseudonymise=False)
    st_ = EmbeddedStore(store)
    cards = st_.table("cards").set_index("card_id")
    assert cards.loc["K0002", "status"] == "lost" and len(cards) == 4
    patients = st_.table("patients").set_index("patient_id")
    assert patients.loc["PT0001", "name"] == "张三丰" and len(patients) == 4
    assert st_.table("claim_items")["item_code"].tolist() == ["X001"]


def test_reference_to_entity_from_store_counts_in_lenient_mode(tiny_bundle: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    load_bundle(tiny_bundle, store)
    t = second_bundle()
    t["claims"].append({**t["claims"][0], "claim_id": "C0008", "card_id": "K7777"})
    res = load_bundle(write_bundle(tmp_path / "b2", t), store, lenient=True)
    assert [(i.table, i.row, i.column, i.value, i.rule) for i in res.report.issue_list()] == [
        ("claims", 4, "card_id", "K7777", "dangling_reference")
    ]
    assert res.rows["claims"] == 7


# -- pseudonymisation ----------------------------------------------------------------------------
def test_no_clear_personal_data_in_store(tiny_bundle: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    res = load_bundle(tiny_bundle, store)
    assert_no_clear_personal_data(store)
    st_ = EmbeddedStore(store)
    p = Pseudonymiser(DEMO_KEY)
    patients = st_.table("patients")
    assert patients["name"].tolist() == [p.token(r["name"]) for r in TINY["patients"]]
    assert patients["id_number"].tolist() == [p.token(r["id_number"]) for r in TINY["patients"]]
    assert patients["birth_date"].astype(str).tolist()[0] == "1980-01-01"  # not personal by the schema
    contacts = st_.table("contacts").sort_values(["patient_id", "kind"]).reset_index(drop=True)
    fam = contacts[contacts["kind"] == "family"]
    assert sorted(zip(fam["patient_id"], fam["value"])) == [("PT0003", "PT0004"), ("PT0004", "PT0003")]
    other = contacts[contacts["kind"] != "family"]
    assert sorted(other["value"]) == sorted([p.token("13800000001"), p.token("历下区文化路1号")])
    manifest = json.loads((store / "manifest.json").read_text("utf-8"))
    assert manifest["pseudonymised"] is True
    assert manifest["key_id"] == p.key_id
    assert res.rows["patients"] == 4


def test_different_key_gives_different_tokens_and_refuses_mixing(
    tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_store = tmp_path / "demo"
    load_bundle(tiny_bundle, demo_store)
    demo_names = EmbeddedStore(demo_store).table("patients")["name"].tolist()

    monkeypatch.setenv("GRAPHKIT_PSEUDO_KEY", BUREAU_KEY)
    keyed_store = tmp_path / "keyed"
    load_bundle(tiny_bundle, keyed_store)
    keyed = EmbeddedStore(keyed_store)
    names = keyed.table("patients")["name"].tolist()
    assert names == [Pseudonymiser(BUREAU_KEY.encode()).token(r["name"]) for r in TINY["patients"]]
    assert set(names).isdisjoint(demo_names)
    assert keyed.manifest["key_id"] == Pseudonymiser(BUREAU_KEY.encode()).key_id
    assert_no_clear_personal_data(keyed_store)

    before = snapshot(demo_store)
    with pytest.raises(BundleError, match="another key"):
        load_bundle(tiny_bundle, demo_store)
    assert snapshot(demo_store) == before


def test_key_file(tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(b"c0ffee1234abcdef" * 2 + b"\n")
    monkeypatch.setenv("GRAPHKIT_PSEUDO_KEY_FILE", str(key_file))
    load_bundle(tiny_bundle, tmp_path / "store")
    assert EmbeddedStore(tmp_path / "store").manifest["key_id"] == Pseudonymiser(b"c0ffee1234abcdef" * 2).key_id


def test_pseudonymise_false_keeps_clear_values(tiny_bundle: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    load_bundle(tiny_bundle, store, pseudonymise=False)
    st_ = EmbeddedStore(store)
    assert st_.table("patients")["name"].tolist() == ["张三", "李四", "王五", "赵六"]
    assert st_.table("patients")["id_number"].tolist()[0] == "370102198001011234"
    assert "13800000001" in st_.table("contacts")["value"].tolist()
    assert st_.manifest["pseudonymised"] is False and st_.manifest["key_id"] is None
    before = snapshot(store)
    with pytest.raises(BundleError, match="pseudonymise"):
        load_bundle(tiny_bundle, store)  # mixing clear and pseudonymised is refused
    assert snapshot(store) == before


# -- atomicity -----------------------------------------------------------------------------------
def test_crash_during_write_keeps_previous_store(tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "store"
    first = load_bundle(tiny_bundle, store)
    counts = EmbeddedStore(store).row_counts()
    b2 = write_bundle(tmp_path / "b2", second_bundle())

    real_write = pq.ParquetWriter.write_table
    calls = {"n": 0}

    def crashing_write(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError("disk full (simulated)")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", crashing_write)
    with pytest.raises(OSError, match="simulated"):
        load_bundle(b2, store)
    assert calls["n"] == 2
    assert not (store / "gen-000002").exists()  # the half-written generation is cleaned up

    st_ = EmbeddedStore(store)
    assert st_.fingerprint == first.store_fingerprint
    assert st_.row_counts() == counts
    assert len(st_.table("claims")) == 5
    assert st_.table("claims").set_index("claim_id").loc["C0001", "total_amount"] == 200.0

    monkeypatch.setattr(pq.ParquetWriter, "write_table", real_write)
    st_.release()  # a reader still holding its generation would (rightly) keep it on disk
    second = load_bundle(b2, store)
    assert second.rows["claims"] == 7
    gens = sorted(p.name for p in store.iterdir() if p.name.startswith("gen-"))
    assert gens == [EmbeddedStore(store).manifest["generation"]]
    assert not (store / "manifest.json.tmp").exists()


def test_crash_during_first_load_then_load_works(tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "store"

    def boom(self, *args, **kwargs):
        raise OSError("crash (simulated)")

    original = pq.ParquetWriter.write_table
    monkeypatch.setattr(pq.ParquetWriter, "write_table", boom)
    with pytest.raises(OSError):
        load_bundle(tiny_bundle, store)
    assert not (store / "manifest.json").exists()
    assert not store.exists()  # the folder this load created is removed again
    monkeypatch.setattr(pq.ParquetWriter, "write_table", original)
    res = load_bundle(tiny_bundle, store)
    assert res.rows["claims"] == 5


def test_leftover_generation_folders_do_not_break_a_load(tiny_bundle: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = load_bundle(tiny_bundle, store)
    for name in ("gen-000002", "gen-000099"):
        (store / name).mkdir()
        (store / name / "claims.parquet").write_bytes(b"PAR1 half written")
    (store / "manifest.json.tmp").write_text("{ half", "utf-8")
    assert EmbeddedStore(store).fingerprint == first.store_fingerprint
    again = load_bundle(tiny_bundle, store)
    assert again.store_fingerprint == first.store_fingerprint
    assert again.rows == first.rows
    gens = sorted(p.name for p in store.iterdir() if p.name.startswith("gen-"))
    assert gens == [EmbeddedStore(store).manifest["generation"]] == ["gen-000002"]
    assert len(EmbeddedStore(store).table("claims")) == 5


# -- property test ---------------------------------------------------------------------------------
CLAIM_COLUMNS = list(TINY["claims"][0].keys())
garbage = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "NaN", "null", "-1", "1e400", "2024-13-01", "0x1F", "∞", "K0002", "C0001",
                     "pharmacy", "2100-01-01", "1899-12-31 23:59:59", "12:00", "-0", "1,5", '"', "\n", "\r\n"]),
)
cells = st.lists(
    st.tuples(st.integers(0, len(TINY["claims"]) - 1), st.sampled_from(CLAIM_COLUMNS), garbage),
    min_size=1,
    max_size=4,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=cells)
def test_garbage_cells_give_a_clean_report(edits: list[tuple[int, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = tiny_tables()
        for row, col, value in edits:
            t["claims"][row][col] = value.replace("\x00", "")
        bundle = write_bundle(root / "b", t)
        try:
            report = validate_bundle(bundle)
        except BundleError:
            return  # a clean, explained refusal (e.g. an unreadable file)
        assert isinstance(report, ValidationReport)
        for issue in report.issue_list():
            assert issue.table in TABLES and issue.rule in RULES
            assert issue.row is None or 1 <= issue.row <= 5
            assert issue.column is None or isinstance(issue.column, str)
        assert isinstance(report.format(), str)

        store = root / "store"
        if report.ok:
            res = load_bundle(bundle, store)
            assert res.rows["claims"] == 5
        else:
            with pytest.raises(BundleError):
                load_bundle(bundle, store)
            assert not store.exists()  # strict never half-writes
            res = load_bundle(bundle, root / "lenient", lenient=True)
            rep = res.report
            assert rep.rows_kept["claims"] + rep.quarantined["claims"] == 5
            assert res.rows["claims"] == rep.rows_kept["claims"]
            bad_rows = {i.row for i in rep.issue_list() if i.table == "claims" and i.row is not None}
            assert rep.quarantined["claims"] == len(bad_rows)
