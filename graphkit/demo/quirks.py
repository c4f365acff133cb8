"""Export quirks: post-process a written claims bundle the way real settlement exports differ.

Each quirk is one function ``quirk(bundle, arg=None)`` that changes a :class:`Bundle` in
memory (tables and ``truth.json``); :func:`apply_quirks` reads a bundle folder once, applies
quirks in order and writes it back. Quirks are independent of the city's structure and
compose freely (``["ids_numeric", "dates_only", "csv_gb18030"]``). Identifier renames are
applied to ``truth.json`` too, so a renamed bundle is still evaluated against its truth.

========================  ==================================================================
quirk                     what the export looks like afterwards
========================  ==================================================================
``dates_only``            every time at 00:00:00 (start/end/referral times)
``date_strings``          times written as dates (``2024-03-05``), no time of day at all
``hour_only``             times truncated to the hour
``no_terminals``          no ``claims.terminal_id`` column
``no_pharmacy_doctors``   no doctor on pharmacy claims
``drop_doctors:F``        no doctor on a fraction F of all claims (default 0.3)
``foreign_regions``       the bureau's own region codes (``JN-LX``) and a ``regions`` table
``foreign_regions_bare``  the bureau's own region codes, no ``regions`` table
``regions_table``         a ``regions`` table for the national 6-digit codes
``no_coordinates``        no ``lat``/``lon`` on institutions and pharmacies
``ids_numeric``           every id a plain number without prefix (``1``, ``2`` … per table)
``ids_zeros``             every id a 12-digit number with leading zeros
``ids_uuid``              every id a UUID-like string
``no_card_kind``          no ``cards.kind`` (e-vouchers look like cards)
``foreign_item_codes``    the bureau's own item codes and names (``LX3F2A91C0``), none in the
                          catalogue; same code → same new code, everything else kept
``no_items`` / ``no_contacts``  the optional table left out
``parquet`` / ``csv`` / ``csv_gz`` / ``csv_gb18030``  file format (and encoding) of the tables
========================  ==================================================================

Examples
--------
>>> import json, tempfile, pathlib
>>> from graphkit.demo import generate_city
>>> from graphkit.demo.quirks import apply_quirks, read_bundle
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> _ = generate_city(out, patients=1500, seed=2, months=2)
>>> _ = apply_quirks(out, ["dates_only", "ids_numeric"])
>>> b = read_bundle(out)
>>> int(b.tables["claims"]["start_time"].to_pandas().dt.hour.max())
0
>>> claim = b.truth["instances"][0]["claims"][0]
>>> claim.isdigit() and claim in set(b.tables["claims"]["claim_id"].to_pylist())
True
"""

from __future__ import annotations

import io
import json
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from graphkit.schema import TABLES

from . import _vocab as V

__all__ = ["Bundle", "QUIRKS", "apply_quirks", "read_bundle", "write_bundle", "FOREIGN_CODES"]

#: The bureau's own region codes for the demo geography (city-district pinyin initials).
FOREIGN_CODES: dict[str, str] = {
    "370102": "JN-LX", "370103": "JN-SZ", "370104": "JN-HY", "370105": "JN-TQ", "370112": "JN-LC",
    "370113": "JN-CQ", "370114": "JN-ZQ", "370124": "JN-PY", "370115": "JN-JY", "370116": "JN-LW",
    "370117": "JN-GC", "370126": "JN-SH", "370202": "QD-SN", "370203": "QD-SB", "370211": "QD-HD",
    "370212": "QD-LS", "110105": "BJ-CY", "310101": "SH-HP", "440106": "GZ-TH",
}
_CITY_CODES = {"济南市": ("370100", "JN"), "青岛市": ("370200", "QD"), "北京市": ("110100", "BJ"),
               "上海市": ("310100", "SH"), "广州市": ("440100", "GZ")}
#: id columns per entity type: (table, column[, filter column, filter value])
ID_COLUMNS: dict[str, tuple[tuple[str, ...], ...]] = {
    "patient": (("patients", "patient_id"), ("cards", "patient_id"), ("claims", "patient_id"),
                ("referrals", "patient_id"), ("contacts", "patient_id"), ("contacts", "value", "kind", "family")),
    "card": (("cards", "card_id"), ("claims", "card_id")),
    "institution": (("institutions", "institution_id"), ("doctors", "institution_id"), ("claims", "institution_id"),
                    ("referrals", "from_institution_id"), ("referrals", "to_institution_id"),
                    ("budgets", "provider_id", "provider_type", "institution")),
    "pharmacy": (("pharmacies", "pharmacy_id"), ("claims", "pharmacy_id"),
                 ("budgets", "provider_id", "provider_type", "pharmacy")),
    "doctor": (("doctors", "doctor_id"), ("claims", "doctor_id"), ("referrals", "from_doctor_id")),
    "claim": (("claims", "claim_id"), ("claim_items", "claim_id")),
    "referral": (("referrals", "referral_id"), ("claims", "referral_id")),
    "terminal": (("claims", "terminal_id"),),
}
_TIME_COLUMNS = (("claims", "start_time"), ("claims", "end_time"), ("referrals", "referred_at"),
                 ("claim_items", "item_time"))


@dataclass
class Bundle:
    """A claims bundle in memory: tables, truth and how they are to be written."""

    tables: dict[str, pa.Table]
    truth: dict[str, Any] | None
    fmt: str = "parquet"
    encoding: str = "utf-8"
    applied: list[str] = field(default_factory=list)

    def set_column(self, table: str, name: str, values: pa.Array | pa.ChunkedArray) -> None:
        t = self.tables[table]
        self.tables[table] = t.set_column(t.schema.get_field_index(name), name, values)

    def drop_column(self, table: str, name: str) -> None:
        if table in self.tables and name in self.tables[table].column_names:
            self.tables[table] = self.tables[table].drop_columns([name])


# ----------------------------------------------------------------------------------------------
# reading and writing
# ----------------------------------------------------------------------------------------------
_ARROW = {"str": pa.string(), "int": pa.int64(), "bool": pa.bool_(), "date": pa.date32(),
          "datetime": pa.timestamp("ms"), "decimal": pa.float64(), "float": pa.float64()}


def _table_names() -> list[str]:
    return list(TABLES) + ([] if "regions" in TABLES else ["regions"])


def read_bundle(folder: str | Path) -> Bundle:
    """Read a bundle written by the demo generator (or by :func:`write_bundle`)."""
    folder = Path(folder)
    tables: dict[str, pa.Table] = {}
    fmt, encoding = "parquet", "utf-8"
    for name in _table_names():
        for ext in ("parquet", "csv.gz", "csv"):
            path = folder / f"{name}.{ext}"
            if not path.exists():
                continue
            if ext == "parquet":
                tables[name] = pq.read_table(path)
            else:
                spec = TABLES.get(name)
                types = {c.name: _ARROW[c.type] for c in spec.columns} if spec else {}
                types.update({c: pa.float64() for c in ("lat", "lon")})
                raw = path.read_bytes()
                if ext == "csv.gz":
                    import gzip
                    raw = gzip.decompress(raw)
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    raw, encoding = raw.decode("gb18030").encode("utf-8"), "gb18030"
                head = [h.strip('"\r') for h in raw.split(b"\n", 1)[0].decode("utf-8").lstrip("\ufeff").split(",")]
                tables[name] = pacsv.read_csv(io.BytesIO(raw), convert_options=pacsv.ConvertOptions(
                    column_types={k: v for k, v in types.items() if k in head}, strings_can_be_null=True))
            fmt = ext
            break
    tpath = folder / "truth.json"
    truth = json.loads(tpath.read_text("utf-8")) if tpath.exists() else None
    return Bundle(tables, truth, fmt, encoding)


def write_bundle(b: Bundle, folder: str | Path) -> dict[str, int]:
    """Write ``b`` (replacing every table file of the folder) and its truth; returns row counts."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in _table_names():
        for ext in ("parquet", "csv.gz", "csv"):
            (folder / f"{name}.{ext}").unlink(missing_ok=True)
    rows = {}
    for name, t in b.tables.items():
        path = folder / f"{name}.{b.fmt}"
        if b.fmt == "parquet":
            pq.write_table(t, path, compression="zstd")
        else:
            for i, f in enumerate(t.schema):  # whole seconds, as the generator writes them
                if pa.types.is_timestamp(f.type):
                    t = t.set_column(i, f.name, t.column(i).cast(pa.timestamp("s")))
            buf = io.BytesIO()
            pacsv.write_csv(t, buf, pacsv.WriteOptions(quoting_style="needed"))
            data = buf.getvalue()
            if b.encoding != "utf-8":
                data = data.decode("utf-8").encode(b.encoding)
            if b.fmt == "csv.gz":
                import gzip
                data = gzip.compress(data, mtime=0)
            path.write_bytes(data)
        rows[name] = t.num_rows
    if b.truth is not None:
        b.truth.setdefault("variant", {}).setdefault("quirks_applied", [])
        b.truth["variant"]["quirks_applied"] += [q for q in b.applied if q not in b.truth["variant"]["quirks_applied"]]
        (folder / "truth.json").write_text(json.dumps(b.truth, ensure_ascii=False, indent=1), encoding="utf-8")
        from .seal import seal_bundle

        seal_bundle(folder)  # the tables changed: the generator's seal follows them
    return rows


def apply_quirks(folder: str | Path, quirks: Sequence[str], out: str | Path | None = None) -> dict[str, Any]:
    """Apply ``quirks`` (names, ``name:arg`` for an argument) to the bundle in ``folder``.

    Writes to ``out`` (default: in place) and returns ``{"rows": ..., "quirks": [...]}``.
    """
    b = read_bundle(folder)
    for q in quirks:
        name, _, arg = q.partition(":")
        if name not in QUIRKS:
            raise ValueError(f"unknown quirk {name!r}; known: {', '.join(QUIRKS)}")
        QUIRKS[name](b, arg or None)
        b.applied.append(q)
    rows = write_bundle(b, out if out is not None else folder)
    return {"rows": rows, "quirks": list(quirks)}


# ----------------------------------------------------------------------------------------------
# times
# ----------------------------------------------------------------------------------------------
def _times(b: Bundle, fn: Callable[[pa.ChunkedArray], pa.Array]) -> None:
    for table, col in _TIME_COLUMNS:
        if table in b.tables and col in b.tables[table].column_names:
            b.set_column(table, col, fn(b.tables[table][col].cast(pa.timestamp("s"))))


def dates_only(b: Bundle, arg: str | None = None) -> None:
    """Every time at 00:00:00 (the export kept only the date)."""
    _times(b, lambda c: pc.floor_temporal(c, unit="day"))


def date_strings(b: Bundle, arg: str | None = None) -> None:
    """Times written as ``YYYY-MM-DD`` strings (no time of day at all)."""
    _times(b, lambda c: pc.strftime(c, format="%Y-%m-%d"))


def hour_only(b: Bundle, arg: str | None = None) -> None:
    """Times truncated to the hour."""
    _times(b, lambda c: pc.floor_temporal(c, unit="hour"))


# ----------------------------------------------------------------------------------------------
# missing columns and tables
# ----------------------------------------------------------------------------------------------
def no_terminals(b: Bundle, arg: str | None = None) -> None:
    """No terminal (POS device) ids."""
    b.drop_column("claims", "terminal_id")


def no_pharmacy_doctors(b: Bundle, arg: str | None = None) -> None:
    """No prescribing doctor on pharmacy claims."""
    c = b.tables["claims"]
    ph = pc.equal(c["claim_type"], "pharmacy")
    b.set_column("claims", "doctor_id", pc.if_else(ph, pa.scalar(None, pa.string()), c["doctor_id"]))


def drop_doctors(b: Bundle, arg: str | None = None) -> None:
    """No doctor on a fraction (``arg``, default 0.3) of all claims, chosen by claim id."""
    frac = float(arg) if arg else 0.3
    c = b.tables["claims"]
    u = np.array([zlib.crc32(x.encode()) for x in c["claim_id"].to_pylist()], dtype=np.int64) / 2**32
    b.set_column("claims", "doctor_id", pc.if_else(pa.array(u < frac), pa.scalar(None, pa.string()), c["doctor_id"]))


def no_coordinates(b: Bundle, arg: str | None = None) -> None:
    """No provider coordinates."""
    for t in ("institutions", "pharmacies"):
        b.drop_column(t, "lat")
        b.drop_column(t, "lon")


def no_card_kind(b: Bundle, arg: str | None = None) -> None:
    """No ``cards.kind``: an e-voucher cannot be told from a physical card."""
    b.drop_column("cards", "kind")


def no_items(b: Bundle, arg: str | None = None) -> None:
    """No claim items (费用明细)."""
    b.tables.pop("claim_items", None)


def no_contacts(b: Bundle, arg: str | None = None) -> None:
    """No contacts table."""
    b.tables.pop("contacts", None)


# ----------------------------------------------------------------------------------------------
# regions
# ----------------------------------------------------------------------------------------------
def _region_rows(foreign: bool) -> pa.Table:
    rows = V.REGIONS + V.OUTER_REGIONS
    code = [FOREIGN_CODES[r[0]] if foreign else r[0] for r in rows]
    parent = [_CITY_CODES[r[2]][1 if foreign else 0] for r in rows]
    return pa.table({"region_code": code, "name": [r[1] for r in rows], "parent_code": parent,
                     "lat": [float(r[4]) for r in rows], "lon": [float(r[5]) for r in rows]})


def _recode_regions(b: Bundle) -> None:
    old = pa.array(list(FOREIGN_CODES))
    new = pa.array(list(FOREIGN_CODES.values()))
    for t in ("institutions", "pharmacies", "patients"):
        if t in b.tables and "region" in b.tables[t].column_names:
            col = b.tables[t]["region"]
            idx = pc.index_in(col, value_set=old)
            b.set_column(t, "region", pc.if_else(pc.is_null(idx), col, new.take(idx)))


def foreign_regions(b: Bundle, arg: str | None = None) -> None:
    """The bureau's own region codes (``JN-LX`` …) with a ``regions`` table placing them."""
    _recode_regions(b)
    b.tables["regions"] = _region_rows(foreign=True)


def foreign_regions_bare(b: Bundle, arg: str | None = None) -> None:
    """The bureau's own region codes and nothing that places them."""
    _recode_regions(b)
    b.tables.pop("regions", None)


def regions_table(b: Bundle, arg: str | None = None) -> None:
    """A ``regions`` table for the national codes used by the bundle."""
    b.tables["regions"] = _region_rows(foreign=False)


# ----------------------------------------------------------------------------------------------
# identifiers
# ----------------------------------------------------------------------------------------------
def _new_ids(style: str, typ: str, old: list[str]) -> list[str]:
    if style == "numeric":
        return [str(k + 1) for k in range(len(old))]
    if style == "zeros":
        return [f"{k + 1:012d}" for k in range(len(old))]
    ns = uuid.UUID("6f1c2a52-8f3e-4c0b-9d7e-2b5a0c1e9f44")
    return [str(uuid.uuid5(ns, f"{typ}:{x}")) for x in old]


def _id_maps(b: Bundle, style: str) -> dict[str, tuple[pa.Array, pa.Array]]:
    maps = {}
    for typ, cols in ID_COLUMNS.items():
        table, col = cols[0][0], cols[0][1]
        if table not in b.tables or col not in b.tables[table].column_names:
            continue
        vals = b.tables[table][col]
        old = pc.unique(vals.drop_null()) if typ == "terminal" else vals.combine_chunks()
        old = old.sort() if typ == "terminal" else old
        maps[typ] = (old, pa.array(_new_ids(style, typ, old.to_pylist()), type=pa.string()))
    return maps


def _rename_ids(b: Bundle, style: str) -> None:
    maps = _id_maps(b, style)
    for typ, cols in ID_COLUMNS.items():
        if typ not in maps:
            continue
        old, new = maps[typ]
        for spec in cols:
            table, col = spec[0], spec[1]
            if table not in b.tables or col not in b.tables[table].column_names:
                continue
            vals = b.tables[table][col]
            mapped = new.take(pc.index_in(vals, value_set=old))
            if len(spec) == 4:
                mapped = pc.if_else(pc.equal(b.tables[table][spec[2]], spec[3]), mapped, vals)
            b.set_column(table, col, mapped)
    if b.truth is not None:
        lookup = {t: dict(zip(o.to_pylist(), n.to_pylist())) for t, (o, n) in maps.items()}
        _rename_truth(b.truth, lookup)


def _rename_truth(truth: dict, lk: dict[str, dict[str, str]]) -> None:
    def m(typ: str, x):
        return lk.get(typ, {}).get(x, x) if isinstance(x, str) else x

    def fix(rec: dict) -> None:
        for e in rec.get("entities", []):
            e["id"] = m(e["type"], e["id"])
        for k in ("claims", "context_claims"):
            if k in rec:
                rec[k] = [m("claim", c) for c in rec[k]]
        if "referrals" in rec:
            rec["referrals"] = [m("referral", r) for r in rec["referrals"]]
        key = rec.get("key")
        if isinstance(key, dict):
            if key.get("type") in lk and "id" in key:
                key["id"] = m(key["type"], key["id"])
            for k, typ in (("institutions", "institution"), ("doctors", "doctor"), ("patients", "patient")):
                if k in key:
                    key[k] = [m(typ, x) for x in key[k]]
            if key.get("type") == "institutions" and "ids" in key:
                key["ids"] = [m("institution", x) for x in key["ids"]]

    for rec in truth.get("instances", []) + truth.get("hard_negatives", []):
        fix(rec)
    for row in truth.get("monitoring", {}).get("over_pace", []):
        row["provider_id"] = m(row["provider_type"], row["provider_id"])
    for rec in truth.get("provider_fraud", []):  # over-billing providers (graphkit.demo.overbilling)
        rec["entity"]["id"] = m(rec["entity"]["type"], rec["entity"]["id"])
        for mode in rec.get("modes", {}).values():
            mode["claims"] = [m("claim", c) for c in mode["claims"]]


def ids_numeric(b: Bundle, arg: str | None = None) -> None:
    """Every id a plain number without prefix (each table counts from 1)."""
    _rename_ids(b, "numeric")


def ids_zeros(b: Bundle, arg: str | None = None) -> None:
    """Every id a 12-digit number with leading zeros."""
    _rename_ids(b, "zeros")


def ids_uuid(b: Bundle, arg: str | None = None) -> None:
    """Every id a UUID-like string."""
    _rename_ids(b, "uuid")


# ----------------------------------------------------------------------------------------------
# item codes
# ----------------------------------------------------------------------------------------------
def _local_names(old: list[str], prefix: str, width: int) -> list[str]:
    """A stable local name per value (a hash of it, so two bundles agree), one-to-one: a
    colliding hash takes the next free number."""
    out: list[str] = []
    seen: set[str] = set()
    for x in old:
        h = zlib.crc32(("graphkit-local:" + x).encode("utf-8"))
        while (n := f"{prefix}{h % 16 ** width:0{width}X}") in seen:
            h += 1
        seen.add(n)
        out.append(n)
    return out


def _remap(col: pa.ChunkedArray, prefix: str, width: int) -> pa.Array:
    old = pc.unique(col.drop_null()).sort()
    new = pa.array(_local_names([str(x) for x in old.to_pylist()], prefix, width), type=pa.string())
    return new.take(pc.index_in(col, value_set=old))


def foreign_item_codes(b: Bundle, arg: str | None = None) -> None:
    """The bureau's own item codes and names: every ``item_code`` becomes ``LX`` + 8 hex digits
    and every ``item_name`` ``本地项目`` + 6 hex digits (the same value always the same new one,
    distinct values distinct), so no catalogue entry matches; category, quantities, prices,
    days supply and item times are kept.

    >>> b = Bundle({"claim_items": pa.table({"item_code": ["A1", "B2", "A1"], "item_name": ["甲", "乙", "甲"]})}, None)
    >>> foreign_item_codes(b)
    >>> codes = b.tables["claim_items"]["item_code"].to_pylist()
    >>> codes[0] == codes[2] != codes[1] and codes[0].startswith("LX")
    True
    """
    if "claim_items" not in b.tables:
        return
    t = b.tables["claim_items"]
    b.set_column("claim_items", "item_code", _remap(t["item_code"], "LX", 8))
    if "item_name" in t.column_names:
        b.set_column("claim_items", "item_name", _remap(t["item_name"], "本地项目", 6))


# ----------------------------------------------------------------------------------------------
# formats
# ----------------------------------------------------------------------------------------------
def _format(fmt: str, encoding: str = "utf-8") -> Callable[[Bundle, str | None], None]:
    def set_format(b: Bundle, arg: str | None = None) -> None:
        b.fmt, b.encoding = fmt, encoding
    set_format.__doc__ = f"Tables written as {fmt} ({encoding})."
    return set_format


QUIRKS: dict[str, Callable[[Bundle, str | None], None]] = {
    "dates_only": dates_only, "date_strings": date_strings, "hour_only": hour_only,
    "no_terminals": no_terminals, "no_pharmacy_doctors": no_pharmacy_doctors, "drop_doctors": drop_doctors,
    "foreign_regions": foreign_regions, "foreign_regions_bare": foreign_regions_bare, "regions_table": regions_table,
    "no_coordinates": no_coordinates, "ids_numeric": ids_numeric, "ids_zeros": ids_zeros, "ids_uuid": ids_uuid,
    "no_card_kind": no_card_kind, "foreign_item_codes": foreign_item_codes, "no_items": no_items, "no_contacts": no_contacts,
    "parquet": _format("parquet"), "csv": _format("csv"), "csv_gz": _format("csv.gz"),
    "csv_gb18030": _format("csv", "gb18030"),
}
