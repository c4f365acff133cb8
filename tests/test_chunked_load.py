"""Chunked (memory-bounded) loading: a bundle streamed in small chunks gives exactly the store,
the report and the quarantine of a whole-table load; row numbers stay global; duplicates and
references are found across chunks; upserts and unsorted bundles stay sorted and bounded.

The end of the module re-runs every test of ``test_validation`` and ``test_load`` with
two-row chunks (see ``_two_row_chunks``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import loaders.validate as validate_mod
from conftest import tiny_tables, write_bundle
from graphkit._fast import KeySet, string_hash
from graphkit.errors import BundleError
from graphkit.schema import TABLES
from graphkit.store.embedded import EmbeddedStore, table_fingerprint
from loaders import load_bundle, validate_bundle
from loaders.bundle import TableReader
from loaders.embedded import merge_sorted, ready_bundle
from loaders.validate import Sink, prepare_bundle, stream_bundle

from test_load import _no_env_key, snapshot  # noqa: F401  (autouse fixture: no pseudonymisation key from the environment)

ROOT = Path(__file__).resolve().parents[1]


def assert_same_store(a: Path, b: Path) -> None:
    """Same fingerprint, same tables (content and row order), same columns."""
    sa, sb = EmbeddedStore(a), EmbeddedStore(b)
    assert sa.fingerprint == sb.fingerprint
    assert sa.row_counts() == sb.row_counts()
    for t in sa.row_counts():
        assert sa.manifest["tables"][t]["fingerprint"] == sb.manifest["tables"][t]["fingerprint"], t
        pd.testing.assert_frame_equal(sa.table(t), sb.table(t), obj=t)


def issues(report) -> list[tuple]:
    return [(i.table, i.row, i.column, i.value, i.rule) for i in report.issue_list()]


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> dict[str, Path]:
    from graphkit.demo import generate_city

    root = tmp_path_factory.mktemp("city")
    out = {}
    for fmt in ("parquet", "csv"):
        generate_city(root / fmt, patients=1000, seed=0, months=2, fmt=fmt)
        out[fmt] = root / fmt
    return out


# -- chunked equals whole ----------------------------------------------------------------------
@pytest.mark.parametrize("chunk_rows", [1, 2, 3])
def test_tiny_bundle_chunked_equals_whole(tiny_bundle: Path, tmp_path: Path, chunk_rows: int) -> None:
    whole = load_bundle(tiny_bundle, tmp_path / "whole", chunk_rows=0)
    chunked = load_bundle(tiny_bundle, tmp_path / "chunked", chunk_rows=chunk_rows)
    assert chunked.store_fingerprint == whole.store_fingerprint
    assert chunked.bundle_fingerprint == whole.bundle_fingerprint
    assert_same_store(tmp_path / "whole", tmp_path / "chunked")
    # and the in-memory preparation the Neo4j loader writes from has the same content
    ready = ready_bundle(tiny_bundle, known_keys={}, mapping=None, encoding=None, lenient=False, key=None,
                         pseudonymise=True, allow_demo_key=None)
    assert ready.fingerprint == chunked.bundle_fingerprint
    st = EmbeddedStore(tmp_path / "chunked")
    for t, df in ready.prepared.tables.items():
        assert table_fingerprint(df) == st.manifest["tables"][t]["fingerprint"], t


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_demo_city_chunked_equals_whole(city: dict[str, Path], tmp_path: Path, fmt: str) -> None:
    whole = load_bundle(city[fmt], tmp_path / "whole", chunk_rows=0)
    chunked = load_bundle(city[fmt], tmp_path / "chunked", chunk_rows=997)
    assert whole.rows["claims"] > 3 * 997 and whole.rows["claim_items"] > 6 * 997  # really several chunks
    assert chunked.store_fingerprint == whole.store_fingerprint
    assert_same_store(tmp_path / "whole", tmp_path / "chunked")
    st = EmbeddedStore(tmp_path / "chunked")
    # written chunk by chunk: one row group per chunk; and kept in key order
    assert pq.ParquetFile(st.table_file("claims")).num_row_groups >= 3
    items = st.table("claim_items")
    assert items.equals(items.sort_values(["claim_id", "item_code"], kind="stable").reset_index(drop=True))
    # Parquet and CSV exports of the same city give the same tables (extra columns keep their own types)
    if fmt == "csv":
        load_bundle(city["parquet"], tmp_path / "pq", chunk_rows=997)
        pq_st = EmbeddedStore(tmp_path / "pq")
        for t in ("claims", "claim_items", "patients", "cards", "contacts"):
            assert pq_st.manifest["tables"][t]["fingerprint"] == st.manifest["tables"][t]["fingerprint"], t


def test_unsorted_bundle_is_merged_into_key_order(city: dict[str, Path], tmp_path: Path) -> None:
    """Shuffled claims and items: every chunk starts a new sorted run; the k-way merge gives the
    same store as the sorted export."""
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    for f in city["parquet"].iterdir():
        if f.name in ("claims.parquet", "claim_items.parquet"):
            t = pq.read_table(f)
            order = np.random.default_rng(7).permutation(t.num_rows)
            pq.write_table(t.take(pa.array(order)), shuffled / f.name)
        else:
            (shuffled / f.name).write_bytes(f.read_bytes())
    ref = load_bundle(city["parquet"], tmp_path / "ref", chunk_rows=0)
    whole = load_bundle(shuffled, tmp_path / "whole", chunk_rows=0)
    res = load_bundle(shuffled, tmp_path / "store", chunk_rows=1500)
    assert res.store_fingerprint == whole.store_fingerprint == ref.store_fingerprint
    assert_same_store(tmp_path / "whole", tmp_path / "store")  # (equal items of a claim keep bundle order)
    pd.testing.assert_frame_equal(EmbeddedStore(tmp_path / "store").table("claims"), EmbeddedStore(tmp_path / "ref").table("claims"))
    assert not list((tmp_path / "store" / EmbeddedStore(tmp_path / "store").manifest["generation"]).glob(".*run*"))


def test_chunks_are_bounded(city: dict[str, Path]) -> None:
    class Sizes(Sink):
        def __init__(self) -> None:
            self.sizes: dict[str, list[int]] = {}

        def begin(self, table, columns, source_types) -> None:
            self.sizes[table] = []

        def chunk(self, chunk) -> None:
            self.sizes[chunk.table].append(len(chunk.frame))

    sink = Sizes()
    report = stream_bundle(city["csv"], chunk_rows=500, sink=sink)
    assert report.ok
    for t, sizes in sink.sizes.items():
        assert max(sizes) <= 500, t
        assert sum(sizes) == report.rows_kept[t]
    assert len(sink.sizes["claim_items"]) >= report.rows_kept["claim_items"] // 500


def test_chunk_boundaries_keep_a_claims_items_together(city: dict[str, Path]) -> None:
    reader = TableReader(city["csv"] / "claim_items.csv", "claim_items")
    seen: set[str] = set()
    rows = 0
    for raw in reader.chunks(101, reader.encodings[0], hold_back="claim_id"):
        ids = set(raw.frame["claim_id"])
        assert not ids & seen  # no claim continues in a later chunk
        seen |= ids
        assert raw.row_numbers.tolist() == list(range(rows + 1, rows + len(raw.frame) + 1))
        rows += len(raw.frame)
    assert rows == len(pd.read_csv(city["csv"] / "claim_items.csv", dtype=str))


def test_gb18030_found_in_a_later_chunk_restarts_the_table(
    city: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that is plain ASCII for its first chunks and GB18030 further down is re-read as GB18030."""
    import loaders.bundle as bundle_mod

    monkeypatch.setattr(bundle_mod, "CSV_BLOCK_BYTES", 1 << 14)  # the bad bytes come blocks after the start
    bundle = tmp_path / "gb"
    bundle.mkdir()
    for f in city["csv"].iterdir():
        (bundle / f.name).write_bytes(f.read_bytes())
    claims = pd.read_csv(bundle / "claims.csv", dtype=str, keep_default_na=False)
    claims["department"] = ""
    claims.loc[len(claims) - 5, "department"] = "内科"  # the only non-ASCII text, near the end
    claims.to_csv(bundle / "claims.csv", index=False, encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        (bundle / "claims.csv").read_bytes().decode("utf-8")
    class Starts(Sink):
        def __init__(self) -> None:
            self.starts: list[str] = []
            self.rows = 0

        def begin(self, table, columns, source_types) -> None:
            self.starts.append(table)
            self.rows = 0 if table == "claims" else self.rows

        def chunk(self, chunk) -> None:
            self.rows += len(chunk.frame) if chunk.table == "claims" else 0

    starts = Starts()
    stream_bundle(bundle, chunk_rows=500, sink=starts)
    assert starts.starts.count("claims") == 2 and starts.rows == len(claims)  # UTF-8 first, then again in GB18030
    whole = load_bundle(bundle, tmp_path / "whole", chunk_rows=0)
    res = load_bundle(bundle, tmp_path / "chunked", chunk_rows=500)
    assert res.report.encodings["claims"] == "gb18030" and res.report.rows_kept["claims"] == len(claims)
    assert_same_store(tmp_path / "whole", tmp_path / "chunked")
    stored = EmbeddedStore(tmp_path / "chunked").table("claims")
    assert stored["department"].dropna().tolist() == ["内科"]


# -- errors in later chunks --------------------------------------------------------------------
def test_bad_value_in_a_later_chunk_has_its_global_row_and_writes_nothing(tmp_path: Path) -> None:
    t = tiny_tables()
    t["claims"][4]["total_amount"] = "12,5"  # row 5: in the third chunk of two rows
    bundle = write_bundle(tmp_path / "b", t)
    with pytest.raises(BundleError) as exc:
        load_bundle(bundle, tmp_path / "store", chunk_rows=2)
    assert [(i.table, i.row, i.column, i.value, i.rule) for i in exc.value.issues] == [
        ("claims", 5, "total_amount", "12,5", "bad_number")
    ]
    assert not (tmp_path / "store").exists()
    # into an existing store: left byte for byte
    store = tmp_path / "existing"
    load_bundle(write_bundle(tmp_path / "good", tiny_tables()), store)
    before = snapshot(store)
    with pytest.raises(BundleError):
        load_bundle(bundle, store, chunk_rows=2)
    assert snapshot(store) == before


def test_bad_row_late_in_a_parquet_city(city: dict[str, Path], tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    bundle.mkdir()
    for f in city["parquet"].iterdir():
        (bundle / f.name).write_bytes(f.read_bytes())
    claims = pq.read_table(bundle / "claims.parquet").to_pandas()
    row = len(claims) - 3  # 0-based
    claims.loc[row, "card_id"] = "K-NOWHERE"
    claims.loc[row - 1000, "start_time"] = pd.Timestamp("1850-01-01")
    pq.write_table(pa.Table.from_pandas(claims, preserve_index=False), bundle / "claims.parquet")
    found = issues(validate_bundle(bundle, chunk_rows=700))
    assert found == [
        ("claims", row - 1000 + 1, "start_time", "1850-01-01", "out_of_range"),
        ("claims", row + 1, "card_id", "K-NOWHERE", "dangling_reference"),
    ]
    assert found == issues(validate_bundle(bundle, chunk_rows=0))
    with pytest.raises(BundleError):
        load_bundle(bundle, tmp_path / "store", chunk_rows=700)
    assert not (tmp_path / "store").exists()


def test_duplicate_claim_ids_in_different_chunks(tmp_path: Path) -> None:
    t = tiny_tables()
    t["claims"][4]["claim_id"] = "C0001"  # row 5 (third chunk) repeats row 1 (first chunk)
    t["claims"][3]["claim_id"] = " C0002 "  # row 4 repeats row 2 once stripped
    bundle = write_bundle(tmp_path / "b", t)
    expected = [
        ("claims", 4, "claim_id", "C0002", "duplicate_key"),
        ("claims", 5, "claim_id", "C0001", "duplicate_key"),
    ]
    for rows in (1, 2, 3, 0):
        assert issues(validate_bundle(bundle, chunk_rows=rows)) == expected, rows
    with pytest.raises(BundleError):
        load_bundle(bundle, tmp_path / "store", chunk_rows=2)


def test_duplicates_across_chunks_of_an_unsorted_city(city: dict[str, Path], tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    bundle.mkdir()
    for f in city["parquet"].iterdir():
        (bundle / f.name).write_bytes(f.read_bytes())
    claims = pq.read_table(bundle / "claims.parquet").to_pandas()
    claims = claims.iloc[np.random.default_rng(1).permutation(len(claims))].reset_index(drop=True)
    claims.loc[len(claims) - 1, "claim_id"] = claims.loc[0, "claim_id"]  # last row repeats the first
    pq.write_table(pa.Table.from_pandas(claims, preserve_index=False), bundle / "claims.parquet")
    (bundle / "claim_items.parquet").unlink()
    found = issues(validate_bundle(bundle, chunk_rows=400))
    assert found == [("claims", len(claims), "claim_id", claims.loc[0, "claim_id"], "duplicate_key")]
    assert found == issues(validate_bundle(bundle, chunk_rows=0))


def test_keyset_confirms_hash_hits_on_the_real_key() -> None:
    ks = KeySet()
    # three keys, two of them sharing a (forced) hash: a hash hit alone is not membership
    ks.add(pa.array(["b", "a", "c"]), np.array([7, 7, 9], np.uint64))
    assert not ks.sorted
    probe = ks._probe  # the hash-index path (what big unsorted key sets use)
    real = string_hash(pa.array(["a", "b", "c", "z"]))
    assert probe(pa.array(["a", "b", "c", "z"])).tolist() == [-1, -1, -1, -1]  # real hashes ≠ forced ones
    ks2 = KeySet()
    ks2.add(pa.array(["b", "a", "c"]), np.array([real[1], real[0], real[2]], np.uint64))
    assert ks2._probe(pa.array(["a", "b", "c", "z", None])).tolist() == [1, 0, 2, -1, -1]
    import graphkit._fast as fast

    colliding = KeySet()
    colliding.add(pa.array(["b", "a", "c"]), np.array([5, 5, 6], np.uint64))
    orig = fast.string_hash
    try:
        fast.string_hash = lambda v, unique=False: np.array([5 if x in ("a", "b", "q") else 6 for x in v.to_pylist()], np.uint64)
        # "q" hashes like "a" and "b" but is neither; "a" is found past the other key with its hash
        assert colliding._probe(pa.array(["a", "q", "b", "c"])).tolist() == [1, -1, 0, 2]
    finally:
        fast.string_hash = orig


# -- lenient mode across chunks ----------------------------------------------------------------
def _lenient_bundle(tmp_path: Path) -> Path:
    t = tiny_tables()
    t["patients"][0]["sex"] = "X"  # PT0001 (chunk 1) → its card, claims and items cascade
    t["cards"][3]["status"] = "stolen"  # K0004 (chunk 2)
    t["claims"][4]["claim_id"] = "C0003"  # a duplicate in the last chunk
    t["claim_items"].append({**t["claim_items"][1], "claim_id": "C0005", "amount": "-1"})
    bundle = write_bundle(tmp_path / "b", t)
    path = bundle / "claims.csv"
    path.write_text(path.read_text("utf-8") + "C0009,K0003\n", "utf-8")  # a malformed last row
    return bundle


def test_lenient_quarantine_across_chunks_equals_whole(tmp_path: Path) -> None:
    bundle = _lenient_bundle(tmp_path)
    whole = load_bundle(bundle, tmp_path / "whole", lenient=True, chunk_rows=0)
    for rows in (1, 2):
        res = load_bundle(bundle, tmp_path / f"c{rows}", lenient=True, chunk_rows=rows)
        assert issues(res.report) == issues(whole.report)
        assert res.report.quarantined == whole.report.quarantined
        assert res.store_fingerprint == whole.store_fingerprint
        assert_same_store(tmp_path / "whole", tmp_path / f"c{rows}")
        assert res.quarantine_dir is not None
        assert snapshot(res.quarantine_dir) == snapshot(whole.quarantine_dir)
    rep = whole.report
    assert rep.quarantined["claims"] == 4  # C0001, C0002 (card of PT0001), the duplicate, the malformed row
    q = pd.read_csv(whole.quarantine_dir / "claims.csv", dtype=str, keep_default_na=False)
    assert q["_row"].tolist() == ["1", "2", "5", "6"]
    assert q["_reason"].tolist()[-2:] == ["claim_id: duplicate_key", "malformed_row"]
    assert q["_text"].tolist()[-1] == "C0009,K0003"
    assert rep.rows_kept["claims"] + rep.quarantined["claims"] == rep.rows_read["claims"] == 6


def test_lenient_quarantine_matches_the_in_memory_preparation(tmp_path: Path) -> None:
    """The quarantine files written chunk by chunk hold what ``prepare_bundle`` sets aside."""
    from graphkit.pseudo import DEMO_KEY, Pseudonymiser

    bundle = _lenient_bundle(tmp_path)
    res = load_bundle(bundle, tmp_path / "s", lenient=True, chunk_rows=1)
    prepared = prepare_bundle(bundle, lenient=True, chunk_rows=0)
    assert issues(prepared.report) == issues(res.report)
    p = Pseudonymiser(DEMO_KEY)
    from loaders.personal import _pseudonymise_quarantine_frame

    for t, q in prepared.quarantine.items():
        q = _pseudonymise_quarantine_frame(t, q, p)  # what a quarantine file holds of those rows
        got = pd.read_csv(res.quarantine_dir / f"{t}.csv", dtype=str, keep_default_na=False)
        want = q.astype(object).where(q.notna(), "").astype(str)
        assert got.columns.tolist() == want.columns.tolist(), t
        assert got.values.tolist() == want.values.tolist(), t


# -- upserts -----------------------------------------------------------------------------------
def _split_city(src: Path, dst: Path, lo: float, hi: float, bump: bool) -> Path:
    """A bundle with the claims (and their items) whose position is in [lo, hi) of the city."""
    dst.mkdir()
    for f in src.iterdir():
        if f.suffix == ".parquet" and f.stem not in ("claims", "claim_items"):
            (dst / f.name).write_bytes(f.read_bytes())
    claims = pq.read_table(src / "claims.parquet").to_pandas()
    part = claims.iloc[int(lo * len(claims)):int(hi * len(claims))].copy()
    if bump:
        part["fund_amount"] = (part["fund_amount"] * 0.5).round(2)
    pq.write_table(pa.Table.from_pandas(part, preserve_index=False), dst / "claims.parquet")
    items = pq.read_table(src / "claim_items.parquet").to_pandas()
    items = items[items["claim_id"].isin(part["claim_id"])]
    if bump:
        items = items.groupby("claim_id", sort=False).head(1)  # a claim's items are replaced as a whole
    pq.write_table(pa.Table.from_pandas(items, preserve_index=False), dst / "claim_items.parquet")
    return dst


def test_upsert_across_chunks(city: dict[str, Path], tmp_path: Path) -> None:
    first = _split_city(city["parquet"], tmp_path / "first", 0.0, 0.6, bump=False)
    second = _split_city(city["parquet"], tmp_path / "second", 0.4, 1.0, bump=True)
    for name, rows in (("whole", 0), ("chunked", 300)):
        load_bundle(first, tmp_path / name, chunk_rows=rows)
        res = load_bundle(second, tmp_path / name, chunk_rows=rows)
        assert res.rows["claims"] == len(pq.read_table(city["parquet"] / "claims.parquet"))
    assert_same_store(tmp_path / "whole", tmp_path / "chunked")
    st = EmbeddedStore(tmp_path / "chunked")
    claims = st.table("claims")
    assert claims["claim_id"].is_monotonic_increasing and claims["claim_id"].is_unique
    new = pq.read_table(second / "claims.parquet").to_pandas().set_index("claim_id")
    got = claims.set_index("claim_id").loc[new.index, "fund_amount"]
    assert np.allclose(got.to_numpy(), new["fund_amount"].to_numpy())  # the later bundle wins
    items = st.table("claim_items")
    counts = items[items["claim_id"].isin(new.index)].groupby("claim_id").size()
    assert (counts == 1).all()  # its items replaced those of the first bundle
    # the stored fingerprint is the content's, however it was written
    for t in ("claims", "claim_items"):
        assert table_fingerprint(st.table(t)) == st.manifest["tables"][t]["fingerprint"]
    # reloading the later bundle changes nothing
    assert load_bundle(second, tmp_path / "chunked", chunk_rows=300).store_fingerprint == st.fingerprint


def test_upsert_refers_to_claims_only_in_the_store(city: dict[str, Path], tmp_path: Path) -> None:
    """Items of a later bundle may belong to claims loaded before (looked up chunk by chunk)."""
    store = tmp_path / "store"
    load_bundle(city["parquet"], store, chunk_rows=500)
    later = tmp_path / "later"
    later.mkdir()
    for f in city["parquet"].iterdir():
        if f.name != "claims.parquet":
            (later / f.name).write_bytes(f.read_bytes())
    pq.write_table(pq.read_table(city["parquet"] / "claims.parquet").slice(0, 10), later / "claims.parquet")
    items = pq.read_table(later / "claim_items.parquet").to_pandas()  # mostly items of claims in the store
    # a row of a claim with several items: the claim's other items replace its stored ones, so the
    # store holds one item fewer (a claim with a single item would keep its stored item instead)
    sizes = items.groupby("claim_id")["claim_id"].transform("size")
    row = int(items.index[sizes >= 2][-1])
    items.loc[row, "claim_id"] = "C-UNKNOWN"
    pq.write_table(pa.Table.from_pandas(items, preserve_index=False), later / "claim_items.parquet")
    res = load_bundle(later, store, lenient=True, chunk_rows=500)
    assert issues(res.report) == [("claim_items", row + 1, "claim_id", "C-UNKNOWN", "dangling_reference")]
    assert res.rows["claim_items"] == len(items) - 1


# -- CLI and crash safety ----------------------------------------------------------------------
def test_cli_chunk_rows(tiny_bundle: Path, tmp_path: Path, capsys) -> None:
    from graphkit.cli import main

    assert main(["load", str(tiny_bundle), "--store", str(tmp_path / "a"), "--chunk-rows", "2"]) == 0
    assert "claims: 5" in capsys.readouterr().out
    load_bundle(tiny_bundle, tmp_path / "b", chunk_rows=0)
    assert_same_store(tmp_path / "a", tmp_path / "b")


@pytest.mark.parametrize("point", ["store_after_table:claims", "store_before_manifest"])
def test_chunked_load_killed_keeps_previous_store(tiny_bundle: Path, tmp_path: Path, point: str) -> None:
    store = tmp_path / "store"
    first = load_bundle(tiny_bundle, store)
    t = tiny_tables()
    t["claims"].append({**t["claims"][1], "claim_id": "C0099"})
    later = write_bundle(tmp_path / "later", t)
    env = {**os.environ, "GRAPHKIT_FAILPOINT": point}
    rc = subprocess.run([sys.executable, "-m", "graphkit.cli", "load", str(later), "--store", str(store),
                         "--chunk-rows", "2"], cwd=ROOT, env=env, capture_output=True, timeout=300).returncode
    assert rc == 137
    st = EmbeddedStore(store)
    assert st.fingerprint == first.store_fingerprint and st.row_counts()["claims"] == 5
    st.release()  # a reader still holding the old generation would keep it on disk
    res = load_bundle(later, store, chunk_rows=2)
    assert res.rows["claims"] == 6
    assert sorted(p.name for p in store.glob("gen-*")) == [EmbeddedStore(store).manifest["generation"]]


# -- merge helper ------------------------------------------------------------------------------
def test_merge_sorted_is_stable_and_handles_long_equal_runs() -> None:
    a = iter([pa.table({"k": ["a", "b"], "s": [0, 0]}), pa.table({"k": ["b", "b"], "s": [0, 0]}), pa.table({"k": ["c"], "s": [0]})])
    b = iter([pa.table({"k": ["b"], "s": [1]}), pa.table({"k": ["b", "d"], "s": [1, 1]})])
    out = pa.concat_tables(list(merge_sorted([a, b], ["k"])))
    assert out.column("k").to_pylist() == ["a", "b", "b", "b", "b", "b", "c", "d"]
    assert out.column("s").to_pylist() == [0, 0, 0, 0, 1, 1, 0, 1]  # equal keys: the earlier stream first


# -- every validation and load test again, in two-row chunks -------------------------------------
from test_load import *  # noqa: E402,F401,F403
from test_validation import *  # noqa: E402,F401,F403


@pytest.fixture(autouse=True)
def _two_row_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every load and validation in this module streams two-row chunks unless it says otherwise."""
    monkeypatch.setattr(validate_mod, "DEFAULT_CHUNK_ROWS", 2)


def test_two_row_chunks_are_in_force(tiny_bundle: Path) -> None:
    class Count(Sink):
        sizes: list[int] = []

        def chunk(self, chunk) -> None:
            self.sizes.append(len(chunk.frame))

    sink = Count()
    stream_bundle(tiny_bundle, sink=sink)
    assert max(sink.sizes) == 2 and len(sink.sizes) > len(TABLES)
    assert json.dumps(sorted(set(sink.sizes))) == "[1, 2]"
