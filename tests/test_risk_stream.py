"""The risk model's streamed reads give exactly what whole-table reads give (issue #15: ≤ 2 GB at 10M).

Planted stores with several Parquet row groups, claims and items out of claim-id order, ids
missing from their tables, null ids and orphan items: every per-claim array, indicator and
score must not depend on how the tables are cut into batches, and must equal the plain
whole-table computation written out here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from graphkit.findings import Entity, Finding
from graphkit.risk import activity as A
from graphkit.risk import indicators as I
from graphkit.risk import network as N
from graphkit.risk import provider_risk
from graphkit.risk.scores import _terminal_volume
from graphkit.store import embedded
from graphkit.store.embedded import EmbeddedStore


def _store(tmp_path, monkeypatch, *, n: int = 300, seed: int = 0) -> EmbeddedStore:
    """A small city written in row groups of 40 rows, claims shuffled (row-group id ranges overlap)."""
    monkeypatch.setattr(embedded, "ROW_GROUP_ROWS", 40)
    rng = np.random.default_rng(seed)
    inst = pd.DataFrame({"institution_id": ["H1", "H2", "H3"], "name": ["甲", "乙", "丙"], "level": [1, 2, 3],
                         "ownership": "private", "kind": "clinic", "region": ["R1", "R1", "R2"]})
    phar = pd.DataFrame({"pharmacy_id": ["Y1", "Y2"], "name": ["药1", "药2"], "chain": None, "region": "R1"})
    docs = pd.DataFrame({"doctor_id": ["D1", "D2", "D3"], "institution_id": ["H1", "H2", "H3"], "department": "全科", "name": None})
    pats = pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(40)], "sex": np.where(np.arange(40) % 2, "F", "M"),
                         "region": np.where(np.arange(40) % 3, "R1", "R2"),
                         "birth_date": pd.to_datetime("1950-01-01") + pd.to_timedelta(np.arange(40) * 400, "D"),
                         "death_date": pd.to_datetime(["2024-03-01"] + [None] * 39)})
    # providers: known institutions and pharmacies, plus ids missing from the tables (H9, Y9)
    prov = rng.choice(["H1", "H2", "H3", "H9", "Y1", "Y2", "Y9", None], size=n)
    is_ph = np.array([p is not None and p.startswith("Y") for p in prov])
    doc = rng.choice(["D1", "D2", "D3", "D9", "D8", None], size=n)
    pid = rng.choice([f"P{i:03d}" for i in range(40)] + ["P900", "P901", None], size=n)
    start = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 120 * 86400, size=n), "s")
    claims = pd.DataFrame({
        "claim_id": [f"C{i:05d}" for i in range(n)], "patient_id": pid,
        "claim_type": rng.choice(["outpatient", "inpatient", "pharmacy", "other", None], size=n),
        "institution_id": np.where(is_ph, None, prov), "pharmacy_id": np.where(is_ph, prov, None),
        "doctor_id": np.where(is_ph, None, doc), "start_time": start.where(rng.random(n) > 0.05),
        "end_time": (start + pd.to_timedelta(rng.integers(0, 9, size=n), "D")).where(rng.random(n) > 0.5),
        "diagnosis_code": rng.choice(["J06.9", "O80", "N40.0", "P07.3", None], size=n),
        "total_amount": rng.lognormal(5, 1, size=n).round(2), "fund_amount": rng.lognormal(4.5, 1, size=n).round(2),
        "terminal_id": rng.choice(["T1", "T2", "T3", None], size=n),
    }).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    claims.loc[3, "fund_amount"] = np.nan
    m = 3 * n
    items = pd.DataFrame({
        "claim_id": rng.choice(list(claims["claim_id"]) + ["C99999"], size=m),  # one orphan id
        "item_code": "X", "category": rng.choice(["drug", "material", "exam", "service", None], size=m),
        "amount": rng.lognormal(3, 1, size=m).round(2),
    })
    EmbeddedStore.write(tmp_path / "s", {"institutions": inst, "pharmacies": phar, "doctors": docs,
                                         "patients": pats, "claims": claims, "claim_items": items})
    return EmbeddedStore(tmp_path / "s")


def _arrays(act: A.Activity) -> dict[str, np.ndarray]:
    return {f: getattr(act, f) for f in ("prov", "doc", "pat", "ctype", "day", "sec", "los", "fund", "total", "dx")}


def test_activity_does_not_depend_on_batches(tmp_path, monkeypatch):
    st = _store(tmp_path, monkeypatch)
    assert st.table_file("claims") and __import__("pyarrow.parquet").parquet.ParquetFile(
        st.table_file("claims")).metadata.num_row_groups > 5
    whole = A.claims_activity(st, batch_rows=10**9)
    for batch, lookup in ((1, 1), (7, 5), (40, 100)):
        monkeypatch.setattr(A, "PATIENT_LOOKUP_ROWS", lookup)
        act = A.claims_activity(EmbeddedStore(st.path), batch_rows=batch)
        for f, x in _arrays(whole).items():
            y = getattr(act, f)
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), f
        pd.testing.assert_frame_equal(act.entities, whole.entities)
        assert list(act.dx_codes) == list(whole.dx_codes) and act.notes == whole.notes
        assert act.patients["patient_id"].tolist() == whole.patients["patient_id"].tolist()


def test_activity_equals_whole_column_reading(tmp_path, monkeypatch):
    """Ids missing from their tables become entity rows after the known ones (institutions, then
    pharmacies, then doctors, each in order of first appearance); unknown patients likewise."""
    st = _store(tmp_path, monkeypatch)
    act = A.claims_activity(st, batch_rows=13)
    c = st.table("claims")
    ent = act.entities
    extra = ent.iloc[8:][["entity_type", "entity_id"]].values.tolist()  # 3 + 2 + 3 known entities
    first = lambda s: list(pd.unique(s.dropna()))  # noqa: E731
    assert extra == ([["institution", x] for x in first(c["institution_id"]) if x == "H9"]
                     + [["pharmacy", x] for x in first(c["pharmacy_id"]) if x == "Y9"]
                     + [["doctor", x] for x in first(c["doctor_id"]) if x in ("D8", "D9")])
    key = ent["entity_type"] + "/" + ent["entity_id"]
    row = pd.Series(np.arange(len(ent)), index=key)
    want_prov = np.where(c["institution_id"].notna(), ("institution/" + c["institution_id"]).map(row),
                         ("pharmacy/" + c["pharmacy_id"]).map(row))
    assert np.array_equal(act.prov, np.nan_to_num(want_prov.astype(float), nan=-1).astype(int))
    want_doc = ("doctor/" + c["doctor_id"]).map(row)
    assert np.array_equal(act.doc, want_doc.fillna(-1).astype(int).to_numpy())
    # unknown patients (a null id is one more) appended in order of first appearance
    known = act.patients["patient_id"].iloc[:40]
    new = pd.unique(c["patient_id"][~c["patient_id"].isin(known)].astype(str))
    assert act.patients["patient_id"].iloc[40:].fillna("<null>").tolist() == pd.Series(new).fillna("<null>").tolist()
    assert len(new) == 3
    ppos = pd.Series(np.arange(len(act.patients)), index=act.patients["patient_id"].fillna("<null>"))
    assert np.array_equal(act.pat, c["patient_id"].astype(object).fillna("<null>").map(ppos).to_numpy())
    assert np.array_equal(act.fund, c["fund_amount"].fillna(0.0).to_numpy())


def test_item_shares_do_not_depend_on_batches(tmp_path, monkeypatch):
    st = _store(tmp_path, monkeypatch)
    act = A.claims_activity(st)
    whole, notes = I.provider_indicators(st, act)
    monkeypatch.setattr(A, "BATCH_ROWS", 7)
    monkeypatch.setattr(I, "PAIR_CHUNK", 5)
    cut, notes2 = I.provider_indicators(EmbeddedStore(st.path), act)
    pd.testing.assert_frame_equal(whole, cut, check_exact=True)
    assert notes == notes2
    # the drug share, written out with pandas over the whole items table
    items = st.table("claim_items")
    claims = st.table("claims", ["claim_id"])
    row = pd.Series(np.arange(len(claims)), index=claims["claim_id"].astype(str))
    items = items[items["claim_id"].isin(row.index)]
    r = items["claim_id"].map(row).to_numpy()
    tot = np.bincount(r, weights=items["amount"].to_numpy(), minlength=act.n_claims)
    drug = np.bincount(r, weights=np.where(items["category"].eq("drug").fillna(False), items["amount"], 0.0), minlength=act.n_claims)
    base = tot > 0
    share = np.where(base, drug / np.where(base, tot, 1.0), np.nan)
    got = whole[whole["indicator"] == "drug_share"].set_index("row")
    for e in got.index[:5]:
        sel = base & ((act.prov == e) | (act.doc == e))
        want = np.nansum(share[sel & (act.prov == e)]) + np.nansum(share[sel & (act.doc == e)])
        assert got.loc[e, "sum"] == pytest.approx(want, rel=1e-12)


def test_scores_do_not_depend_on_batches(tmp_path, monkeypatch):
    st = _store(tmp_path, monkeypatch)
    c = st.table("claims", ["claim_id", "institution_id", "terminal_id"])
    fs = [Finding(id="f1", kind="phantom_stay", score=0.8, amount_at_risk=100.0, period={"start": None, "end": None},
                  entities=[Entity("institution", "H2"), Entity("terminal", "T1")],
                  claims=c.loc[c["institution_id"] == "H2", "claim_id"].head(15).tolist(), summary="x")]
    whole = provider_risk(st, fs).scores
    monkeypatch.setattr(A, "BATCH_ROWS", 11)
    monkeypatch.setattr(A, "PATIENT_LOOKUP_ROWS", 30)
    monkeypatch.setattr(I, "PAIR_CHUNK", 9)
    monkeypatch.setattr(N, "COUNT_CHUNK", 9)
    cut = provider_risk(EmbeddedStore(st.path), fs).scores
    pd.testing.assert_frame_equal(whole, cut, check_exact=True)
    assert "terminal" in set(whole["entity_type"])


def test_terminal_volume_equals_group_by(tmp_path, monkeypatch):
    st = _store(tmp_path, monkeypatch)
    act = A.claims_activity(st)
    monkeypatch.setattr(I, "PAIR_CHUNK", 4)
    got = _terminal_volume(st, ["T1", "T3", "T7"], act)
    c = st.table("claims", ["terminal_id", "fund_amount", "patient_id"])
    c = c[c["terminal_id"].isin(["T1", "T3", "T7"])]
    g = c.groupby(c["terminal_id"].astype(str))
    want = pd.DataFrame({"claims": g.size().astype(float), "fund_total": g["fund_amount"].sum(),
                         "patients": g["patient_id"].nunique().astype(float)}).reindex(["T1", "T3", "T7"]).fillna(0.0)
    assert got["entity_id"].tolist() == ["T1", "T3", "T7"] and set(got["entity_type"]) == {"terminal"}
    for col in ("claims", "fund_total", "patients"):
        assert got[col].tolist() == want[col].tolist(), col


def test_claims_by_id_reads_only_wanted_rows(tmp_path, monkeypatch):
    st = _store(tmp_path, monkeypatch)
    whole = st.table("claims")
    ids = whole["claim_id"].sample(37, random_state=1).tolist() + ["C77777", "nope"]
    got = st.claims_by_id(ids, ["fund_amount", "patient_id", "self_amount"])
    want = whole[whole["claim_id"].isin(ids)][["claim_id", "fund_amount", "patient_id"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(got[["claim_id", "fund_amount", "patient_id"]], want)
    assert got["self_amount"].isna().all() and len(st.claims_by_id(["zzz"], ["fund_amount"])) == 0
    items = st.items_by_claim(ids[:5], ["amount"])
    allit = st.table("claim_items", ["claim_id", "amount"])
    pd.testing.assert_frame_equal(items, allit[allit["claim_id"].isin(ids[:5])].reset_index(drop=True))


def test_iter_table_batches_in_stored_order(tmp_path, monkeypatch):
    st = _store(tmp_path, monkeypatch)
    whole = st.table("claims", ["claim_id"])["claim_id"].tolist()
    for b in (1, 39, 40, 41, 1000):
        parts = [t.column("claim_id").to_pylist() for t in st.iter_table("claims", ["claim_id"], batch_rows=b)]
        assert sum(parts, []) == whole and all(len(p) == b for p in parts[:-1]) and 0 < len(parts[-1]) <= b


@pytest.mark.parametrize("chunk", [1, 3, 1 << 21])
def test_count_matrix_equals_one_entry_per_claim(chunk, monkeypatch):
    monkeypatch.setattr(N, "COUNT_CHUNK", chunk)
    rng = np.random.default_rng(chunk)
    r = rng.integers(-1, 30, 2000).astype(np.int32)
    c = rng.integers(-1, 50, 2000).astype(np.int32)
    ok = (r >= 0) & (c >= 0)
    want = sparse.csr_matrix((np.ones(int(ok.sum())), (r[ok], c[ok])), shape=(30, 50))
    got = N.count_matrix(r, c, (30, 50))
    assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.data, want.data) and got.indices.dtype == want.indices.dtype
