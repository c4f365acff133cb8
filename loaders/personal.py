"""Personal data on load: which columns are personal, and their pseudonymisation (tables,
quarantine frames, validation reports) — default-deny: on ``patients`` and ``contacts`` every
column the contract does not name is personal.

Examples
--------
>>> personal_columns("patients", ["patient_id", "name", "mobile", "sex"])
['name', 'mobile']
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graphkit._fast import arrow_strings, string_series
from graphkit.pseudo import Pseudonymiser
from graphkit.schema import PERSONAL_FIELDS, TABLES

from .validate import ValidationReport

__all__ = ["personal_columns", "pseudonymise_tables", "coarsen_birth_dates"]


def _tokens(p: Pseudonymiser, values: pd.Series) -> pa.Array:
    """Keyed tokens of a column (nulls stay null), one HMAC per distinct value."""
    arr = arrow_strings(values if isinstance(values.dtype, pd.StringDtype) else values.astype("string"))
    enc = pc.dictionary_encode(arr)
    uniq = enc.dictionary
    tokens = arrow_strings(p.series(string_series(uniq))) if len(uniq) else uniq
    return tokens.take(enc.indices)


def personal_columns(table: str, columns: Any, not_personal: Mapping[str, Iterable[str]] | None = None) -> list[str]:
    """The columns of ``table`` treated as personal: its spec personal fields and — default-deny —
    every column the spec does not name (an export's extra ``mobile`` or ``address`` on
    ``patients`` or ``contacts`` is personal unless proven otherwise) but those the mapping file
    declares non-personal (``not_personal``: table → extra columns, see :mod:`loaders.bundle`);
    internal ``_…`` columns excluded.

    >>> personal_columns("patients", ["patient_id", "name", "mobile", "_text"])
    ['name', 'mobile']
    >>> personal_columns("patients", ["patient_id", "name", "mobile", "plan"], {"patients": ["plan"]})
    ['name', 'mobile']
    >>> personal_columns("claims", ["claim_id", "note"])
    []
    """
    if table not in PERSONAL_FIELDS:
        return []
    spec = set(TABLES[table].column_names)
    clear = set((not_personal or {}).get(table, ())) - spec  # the contract's fields cannot be declared
    return [c for c in columns
            if c in PERSONAL_FIELDS[table] or (c not in spec and c not in clear and not str(c).startswith("_"))]


def coarsen_birth_dates(df: pd.DataFrame) -> None:
    """``birth_date`` of typed ``patients`` rows to the first day of its month, in place (nulls
    stay null; quarantined raw text is tokenised as a whole instead). An exact birth date with sex
    and region singles most people out (and narrows an ID number to its 3 sequence digits); ages to
    the month are all the detectors and rules need (they judge an age limit only where every day
    of the birth month gives the same verdict).

    >>> df = pd.DataFrame({"birth_date": pd.to_datetime(["1980-05-17", None]).astype("datetime64[s]")})
    >>> coarsen_birth_dates(df); df["birth_date"].astype("string").tolist()
    ['1980-05-01', <NA>]
    """
    if "birth_date" in df.columns and pd.api.types.is_datetime64_any_dtype(df["birth_date"]):  # typed rows
        b = df["birth_date"]
        df["birth_date"] = pd.Series(b.to_numpy("datetime64[M]").astype(b.dtype), index=df.index)


def pseudonymise_tables(tables: dict[str, pd.DataFrame], p: Pseudonymiser,
                        not_personal: Mapping[str, Iterable[str]] | None = None) -> None:
    """Replace personal fields by keyed tokens, in place (``contacts`` family links stay ids);
    extra columns on personal tables are personal too unless declared not (:func:`personal_columns`);
    birth dates are kept to the month (:func:`coarsen_birth_dates`)."""
    for t in PERSONAL_FIELDS:
        if t not in tables:
            continue
        df = tables[t]
        if t == "patients":
            coarsen_birth_dates(df)
        for c in personal_columns(t, list(df.columns), not_personal):
            if c not in df.columns:
                continue
            if t == "contacts" and c == "value":
                if "kind" in df.columns:
                    mask = (df["kind"] != "family").fillna(True).to_numpy(bool)
                else:  # (quarantined rows of a file without the column) tokenise everything
                    mask = np.ones(len(df), bool)
                if mask.all():
                    tokens = _tokens(p, df[c])
                else:
                    clear = df[c].astype("string")
                    tokens = pc.if_else(pa.array(mask), _tokens(p, clear.where(mask)), arrow_strings(clear))
            else:
                col = df[c] if c in PERSONAL_FIELDS[t] else df[c].astype("string")
                tokens = _tokens(p, col)
            df[c] = string_series(tokens, df.index)


def _pseudonymise_quarantine_frame(table: str, q: pd.DataFrame, p: Pseudonymiser,
                                   not_personal: Mapping[str, Iterable[str]] | None = None) -> pd.DataFrame:
    """A copy of quarantined rows with personal values replaced by tokens.

    Rows stay identifiable by their ``_row`` number; the raw text of a malformed row of a
    table holding personal fields is tokenised as a whole, and so are the birth and death dates
    of quarantined patients (with sex and region beside them, a person is findable by them).
    """
    from .report import QUASI_IDENTIFIERS

    out = {table: q.copy()}
    pseudonymise_tables(out, p, not_personal)
    if table in PERSONAL_FIELDS and "_text" in out[table].columns:
        out[table]["_text"] = p.series(out[table]["_text"].astype("string")).astype("string")
    for c in QUASI_IDENTIFIERS.get(table, ()):
        if c in out[table].columns:
            out[table][c] = string_series(_tokens(p, out[table][c].astype("string")), out[table].index)
    return out[table]


def _pseudonymise_report(report: ValidationReport, p: Pseudonymiser) -> ValidationReport:
    """The report with the personal values its issues quote replaced by tokens."""
    issues = report.issues
    if not issues.empty:
        # per distinct (table, column): does the value hold a personal field? (None = whole row)
        pairs = issues[["table", "column"]].drop_duplicates()
        personal = [
            (t, c)
            for t, c in zip(pairs["table"], pairs["column"])
            if t in PERSONAL_FIELDS
            and (c is None or pd.isna(c) or bool(set(PERSONAL_FIELDS[t]) & set(str(c).split("|"))))
        ]
        if personal:
            none = "\x1f(none)\x1f"  # stands for a null column (a whole-row issue)
            key = pd.MultiIndex.from_frame(issues[["table", "column"]].astype(object).fillna(none))
            wanted = pd.MultiIndex.from_tuples([(t, none if c is None or pd.isna(c) else c) for t, c in personal])
            mask = key.isin(wanted) & (issues["rule"] != "dangling_reference").to_numpy(bool)
            if mask.any():
                issues = issues.copy()
                vals = p.series(issues.loc[mask, "value"].astype("string"))
                issues["value"] = issues["value"].astype(object)
                issues.loc[mask, "value"] = vals.astype(object).where(vals.notna(), None).to_numpy(object)
    return dataclasses.replace(report, issues=issues)
