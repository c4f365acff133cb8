"""The per-table checks of validation: typing every column of a chunk, required values,
duplicates across chunks, references against the keys of earlier tables (and of the store),
and the cross-column rules; bad rows are flagged (strict) or quarantined (lenient)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graphkit._fast import NULL_HASH, KeySet, arrow_strings, string_hash
from graphkit.schema import TABLE_ORDER, TABLES, Table
from graphkit.store.embedded import DTYPES

from .bundle import RawTable
from .columns import (
    _MAX_TS,
    _MIN_TS,
    AMOUNT_COLUMNS,
    _bad_ids,
    _excess_decimals,
    _normalise_enum,
    _shown,
    _strings,
    _typed_column,
)
from .known import KnownKeys
from .report import _Collector

__all__ = ["Chunk"]


@dataclass
class Chunk:
    """One validated slice of a table, in bundle order, as handed to a :class:`Sink`."""

    table: str
    frame: pd.DataFrame  # the typed rows that passed
    hashes: dict[str, np.ndarray]  # fingerprint hashes (``column_hash``) already known for columns of ``frame``
    quarantine: pd.DataFrame | None = None  # lenient: the raw rows set aside, with ``_row`` and ``_reason``


#: tables each table's rows refer to (its references, family contacts, budgets' providers)
_REFERS_TO: dict[str, set[str]] = {
    t: {r.table for r in TABLES[t].references}
    | ({"patients"} if t == "contacts" else set())
    | ({"institutions", "pharmacies"} if t == "budgets" else set())
    for t in TABLE_ORDER
}


class _Engine:
    def __init__(self, lenient: bool, known: KnownKeys, wants_hashes: bool) -> None:
        self.lenient = lenient
        self.known = known
        self.wants_hashes = wants_hashes
        self.ref_sets: dict[str, KeySet] = {}
        #: birth day (datetime64[D], NaT unknown) of each key of ``ref_sets["patients"]``, by position
        self.birth_days: np.ndarray | None = None


def _composite(out: pd.DataFrame, cols: tuple[str, ...]) -> pa.Array:
    """One unambiguous string per multi-column key (length-prefixed parts)."""
    colon = pa.scalar(":", pa.large_string())
    parts: list[Any] = []
    for c in cols:
        a = arrow_strings(_strings(out[c]))
        parts += [pc.cast(pc.utf8_length(a), pa.large_string()), colon, a]
    return pc.binary_join_element_wise(*parts, pa.scalar("", pa.large_string()))


class _TableCheck:
    """Validation state of one table while its chunks stream through."""

    def __init__(self, spec: Table, columns: list[str], engine: "_Engine") -> None:
        self.spec, self.engine = spec, engine
        self.issues = _Collector()
        self.missing = [c for c in spec.required_columns if c not in columns]
        for c in self.missing:
            self.issues.add(spec.name, [np.nan], c, None, "missing_column")  # table-level: no row number
        self.fallback = "; ".join(f"{c}: missing_column" for c in self.missing)
        pk = spec.primary_key
        self.all_keys = KeySet() if pk else None  # every typed key: duplicates; strict references
        self.kept_keys = KeySet() if (engine.lenient and len(pk) == 1) else self.all_keys  # what references may use
        self.rows_read = 0
        self.rows_kept = 0
        self.malformed: list[tuple[int | None, str]] = []
        #: patients: the birth day of each key added to ``kept_keys``, in the order added
        self.birth_days: list[np.ndarray] = []

    # -- duplicate primary keys, across chunks ----------------------------------------
    def _duplicates(self, out: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """(duplicate mask, fingerprint hash of a single-column key or None)."""
        pk = self.spec.primary_key
        n = len(out)
        notnull = out[list(pk)].notna().all(axis=1).to_numpy()
        keys = arrow_strings(out[pk[0]]) if len(pk) == 1 else _composite(out, pk)
        nn = keys if notnull.all() else keys.filter(pa.array(notnull))
        ks = self.all_keys
        assert ks is not None
        inc = len(nn) < 2 or bool(pc.all(pc.less(nn[:-1], nn[1:])).as_py())
        dup_nn = np.zeros(len(nn), bool)
        if len(nn) and not (inc and ks.strict and (ks.last is None or nn[0].as_py() > ks.last)):
            codes = np.asarray(pc.dictionary_encode(nn).indices.to_numpy(zero_copy_only=False))
            first = np.unique(codes, return_index=True)[1]
            dup_nn[:] = True
            dup_nn[first] = False  # later occurrences within the chunk
            if len(ks):
                dup_nn |= ks.contains(nn)  # occurrences in earlier chunks
        h_nn = string_hash(nn, unique=inc) if (len(pk) == 1 and self.engine.wants_hashes) else None
        ks.add(nn, h_nn)
        if self.spec.name == "patients" and self.kept_keys is ks:
            self.birth_days.append(out["birth_date"].to_numpy("datetime64[D]")[notnull])
        dup = np.zeros(n, bool)
        dup[notnull] = dup_nn
        h_all = None
        if h_nn is not None:
            h_all = h_nn if notnull.all() else np.full(n, NULL_HASH, np.uint64)
            if not notnull.all():
                h_all[notnull] = h_nn
        return dup, h_all

    # -- references to earlier tables and to the store --------------------------------
    def _resolve(self, table: str, values: pd.Series, want_hash: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """(found mask, fingerprint hash of each value or None) against the keys ``table`` allows."""
        vals = arrow_strings(values)
        found = np.zeros(len(vals), bool)
        hashes = np.full(len(vals), NULL_HASH, np.uint64) if want_hash else None
        for ks in (self.engine.ref_sets.get(table), self.engine.known.get(table)):
            if ks is None or len(ks) == 0:
                continue
            todo = ~found & np.asarray(vals.is_valid().to_numpy(zero_copy_only=False), bool)
            if not todo.any():
                break
            sub = vals if todo.all() else vals.filter(pa.array(todo))
            pos = ks.lookup(sub)
            hit = pos >= 0
            idx = np.flatnonzero(todo)[hit]
            found[idx] = True
            if hashes is not None:
                hashes[idx] = ks.hashes()[pos[hit]]
        return found, hashes

    def process(self, raw: RawTable) -> Chunk:
        spec, issues, t = self.spec, self.issues, self.spec.name
        start = len(issues.parts)
        df, rows = raw.frame, raw.row_numbers
        n = len(df)
        self.rows_read += n + len(raw.malformed)
        for number, text in raw.malformed:
            issues.add(t, [np.nan if number is None else number], None, [text[:200]], "malformed_row")
        self.malformed += raw.malformed
        if self.missing:  # every row is unusable; keep the schema's typed columns (nothing of it is stored)
            empty = pd.DataFrame({c.name: pd.Series([], dtype=DTYPES[c.type]) for c in spec.columns})
            return Chunk(t, empty, {}, self._quarantine(df, rows, np.ones(n, bool), start))
        hashes: dict[str, np.ndarray] = {}
        out, bad = _check_rows(df, rows, spec, issues, self, hashes)
        want = self.engine.wants_hashes
        for ref in spec.references:
            col = out[ref.column]
            found, h = self._resolve(ref.table, col, want)
            self._flag(rows, ref.column, col, col.notna().to_numpy() & ~found, bad)
            if h is not None:
                hashes[ref.column] = h
        if t == "claims":
            self._before_birth(out, rows, bad)
        if t == "contacts":  # a family link's value is another patient
            fam = (out["kind"] == "family").fillna(False).to_numpy(bool)
            if fam.any():
                dangling = np.zeros(n, bool)
                found, _ = self._resolve("patients", out["value"][fam], False)
                dangling[fam] = ~found  # (an empty family value is reported here too, as before)
                self._flag(rows, "value", out["value"], dangling, bad)
        if t == "budgets":  # a budget names an institution or a pharmacy, depending on provider_type
            dangling = np.zeros(n, bool)
            for ptype, table in (("institution", "institutions"), ("pharmacy", "pharmacies")):
                mine = (out["provider_type"] == ptype).fillna(False).to_numpy(bool)
                if mine.any():
                    found, _ = self._resolve(table, out["provider_id"], False)
                    dangling |= mine & out["provider_id"].notna().to_numpy() & ~found
            self._flag(rows, "provider_id", out["provider_id"], dangling, bad)
        keep = ~bad
        if self.kept_keys is not None and self.kept_keys is not self.all_keys:
            pk = spec.primary_key[0]
            kept_keys = out[pk][keep]
            h = hashes.get(pk)
            self.kept_keys.add(arrow_strings(kept_keys), None if h is None else h[keep])
            if t == "patients":
                self.birth_days.append(out["birth_date"].to_numpy("datetime64[D]")[keep])
        if keep.all():
            frame = out
        else:
            frame = out.loc[keep].reset_index(drop=True)
            hashes = {c: h[keep] for c, h in hashes.items()}
        self.rows_kept += len(frame)
        return Chunk(t, frame, hashes, self._quarantine(df, rows, bad, start) if self.engine.lenient else None)

    def _before_birth(self, out: pd.DataFrame, rows: np.ndarray, bad: np.ndarray) -> None:
        """Claims that start on a day before their person's birth date (the person's row of this
        bundle; a person already in the store is not checked). The birth date is not shown: it
        is personal."""
        ks, born = self.engine.ref_sets.get("patients"), self.engine.birth_days
        if ks is None or born is None or not len(ks) or not len(out):
            return
        pos = ks.lookup(out["patient_id"])
        birth = np.append(born, np.datetime64("NaT", "D"))[np.where(pos >= 0, pos, born.size)]
        early = (out["start_time"].to_numpy("datetime64[D]") < birth) & ~bad  # NaT on either side: False
        if early.any():
            self.issues.add(self.spec.name, rows[early], "start_time",
                            out["start_time"][early].astype("string").to_numpy(), "claim_before_birth")
            bad |= early

    def _flag(self, rows: np.ndarray, column: str, values: pd.Series, dangling: np.ndarray, bad: np.ndarray) -> None:
        if dangling.any():
            self.issues.add(self.spec.name, rows[dangling], column, values[dangling].to_numpy(object), "dangling_reference")
            bad |= dangling

    def _quarantine(self, df: pd.DataFrame, rows: np.ndarray, mask: np.ndarray, start: int) -> pd.DataFrame | None:
        """The raw rows of this chunk set aside, with their row numbers and reasons."""
        if not self.engine.lenient or not mask.any():
            return None
        q = df.loc[mask].copy()
        q.insert(0, "_row", rows[mask])
        parts = self.issues.parts[start:]
        reasons = pd.concat(parts, ignore_index=True) if parts else None
        if reasons is not None and len(reasons):
            reasons = reasons.sort_values("row", kind="stable").dropna(subset=["row"])
        if reasons is not None and len(reasons):
            text = reasons["column"].fillna("-").astype(str) + ": " + reasons["rule"].astype(str)
            by_row = text.groupby(reasons["row"].astype("int64").to_numpy(), sort=False).agg("; ".join)
        else:
            by_row = pd.Series(dtype="object")
        q.insert(1, "_reason", pd.Series(q["_row"]).map(by_row).astype(object).fillna(self.fallback or "dangling_reference").to_numpy())
        return q.reset_index(drop=True)

    def malformed_frame(self) -> pd.DataFrame | None:
        if not self.malformed:
            return None
        return pd.DataFrame(
            {"_row": [m for m, _ in self.malformed], "_reason": "malformed_row", "_text": [x for _, x in self.malformed]}
        )


def _check_rows(
    df: pd.DataFrame, rows: np.ndarray, spec: Table, issues: _Collector, check: _TableCheck, hashes: dict[str, np.ndarray]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Type one chunk and flag its row-level problems. Returns (typed frame, bad-row mask)."""
    n = len(df)
    bad = np.zeros(n, bool)
    out: dict[str, pd.Series] = {}
    id_columns = set(spec.primary_key) | {r.column for r in spec.references} | {c.name for c in spec.columns if c.name.endswith("_id")}
    for col in spec.columns:
        if col.name not in df.columns:
            out[col.name] = pd.Series(index=df.index, dtype=DTYPES[col.type])  # all null (NaN/NaT/NA)
            continue
        s = df[col.name]
        extra: dict[str, Any] = {}
        typed, bad_type, rule = _typed_column(s, col.type, extra)
        if bad_type.any():
            issues.add(spec.name, rows[bad_type], col.name, s[bad_type].astype("string").to_numpy(), rule)
            bad |= bad_type
        if col.name in AMOUNT_COLUMNS and "unrounded" in extra:
            fen = _excess_decimals(extra["unrounded"]) & ~bad_type
            if fen.any():
                issues.add(spec.name, rows[fen], col.name, s[fen].astype("string").to_numpy(), "too_many_decimals")
                bad |= fen
        if col.type == "str" and (col.name in id_columns) and len(s):
            weird = _bad_ids(typed)
            if weird.any():
                issues.add(spec.name, rows[weird], col.name, _shown(typed[weird]), "bad_id")
                bad |= weird
        if col.type in ("date", "datetime"):  # reported alongside unparseable values, not instead
            rng = ((typed < _MIN_TS) | (typed >= _MAX_TS)).fillna(False).to_numpy(bool)
            if rng.any():
                issues.add(spec.name, rows[rng], col.name, s[rng].astype("string").to_numpy(), "out_of_range")
                bad |= rng
        if col.enum is not None:
            typed = _normalise_enum(typed, col.enum)
            unk = typed.notna().to_numpy() & ~typed.isin(col.enum).fillna(False).to_numpy(bool)
            if unk.any():
                issues.add(spec.name, rows[unk], col.name, s[unk].astype("string").to_numpy(), "unknown_enum")
                bad |= unk
        if col.int_values is not None:
            notin = typed.notna().to_numpy() & ~typed.isin(col.int_values).fillna(False).to_numpy(bool) & ~bad_type
            if notin.any():
                issues.add(spec.name, rows[notin], col.name, s[notin].astype("string").to_numpy(), "bad_int")
                bad |= notin
        if col.bounds is not None:
            lo, hi = col.bounds
            oob = ((typed < lo) | (typed > hi)).fillna(False).to_numpy(bool) & ~bad_type
            if oob.any():
                issues.add(spec.name, rows[oob], col.name, s[oob].astype("string").to_numpy(), "out_of_bounds")
                bad |= oob
        if col.non_negative:
            neg = (typed < 0).fillna(False).to_numpy(bool)
            if neg.any():
                issues.add(spec.name, rows[neg], col.name, s[neg].astype("string").to_numpy(), "negative_amount")
                bad |= neg
        if col.required:
            null = typed.isna().to_numpy() & ~bad_type
            if null.any():
                issues.add(spec.name, rows[null], col.name, [None] * int(null.sum()), "required_null")
                bad |= null
        out[col.name] = typed
    for c in df.columns:
        if c not in spec.column_names:  # extra columns are kept as they are
            out[c] = df[c]
    out_df = pd.DataFrame(out, index=df.index)
    # primary key uniqueness (within the chunk and against earlier chunks)
    if spec.primary_key:
        keys = list(spec.primary_key)
        dup, h = check._duplicates(out_df)
        if h is not None:
            hashes[keys[0]] = h
        if dup.any():
            vals = out_df.loc[dup, keys].astype("string").agg("|".join, axis=1)
            issues.add(spec.name, rows[dup], "|".join(keys), vals.to_numpy(), "duplicate_key")
            bad |= dup
    if spec.name == "patients":
        dbb = (out_df["death_date"] < out_df["birth_date"]).fillna(False).to_numpy(bool) & ~bad
        if dbb.any():
            vals = (out_df.loc[dbb, "death_date"].dt.strftime("%Y-%m-%d") + " < birth_date "
                    + out_df.loc[dbb, "birth_date"].dt.strftime("%Y-%m-%d"))
            issues.add(spec.name, rows[dbb], "death_date", vals.to_numpy(), "death_before_birth")
            bad |= dbb
        future = (out_df["birth_date"] > pd.Timestamp.now().normalize()).fillna(False).to_numpy(bool) & ~bad
        if future.any():
            issues.add(spec.name, rows[future], "birth_date", df.loc[future, "birth_date"].astype("string").to_numpy(), "birth_in_future")
            bad |= future
    if spec.name == "claims":
        paid = out_df["fund_amount"] + out_df["self_amount"].fillna(0.0)
        over = (paid > out_df["total_amount"] + 0.01 + 1e-9).fillna(False).to_numpy(bool) & ~bad
        if over.any():
            o = out_df.loc[over]
            vals = ("fund " + o["fund_amount"].map("{:.2f}".format) + " + self " + o["self_amount"].fillna(0.0).map("{:.2f}".format)
                    + " > total " + o["total_amount"].map("{:.2f}".format))
            issues.add(spec.name, rows[over], "fund_amount", vals.to_numpy(), "fund_above_total")
            bad |= over
        ebs = (out_df["end_time"] < out_df["start_time"]).fillna(False).to_numpy(bool)
        if ebs.any():
            issues.add(spec.name, rows[ebs], "end_time", df.loc[ebs, "end_time"].astype("string").to_numpy(), "end_before_start")
            bad |= ebs
        has_i = out_df["institution_id"].notna().to_numpy()
        has_p = out_df["pharmacy_id"].notna().to_numpy()
        ctype = out_df["claim_type"]
        is_ph = (ctype == "pharmacy").fillna(False).to_numpy(bool)
        is_med = ctype.isin(["outpatient", "inpatient"]).fillna(False).to_numpy(bool)
        mism = (has_i & has_p) | (is_ph & ~has_p) | (is_med & ~has_i) | (is_ph & has_i) | (is_med & has_p)
        mism &= ~bad
        if mism.any():
            vals = (
                out_df.loc[mism, "claim_type"].astype("string").fillna("")
                + ": institution_id="
                + out_df.loc[mism, "institution_id"].astype("string").fillna("")
                + ", pharmacy_id="
                + out_df.loc[mism, "pharmacy_id"].astype("string").fillna("")
            )
            issues.add(spec.name, rows[mism], "institution_id|pharmacy_id", vals.to_numpy(), "provider_mismatch")
            bad |= mism
    return out_df, bad
