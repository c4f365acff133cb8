"""Vectorised helpers for the demo generator: identifiers, personal data, interval coverage,
Arrow conversion and table writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

DAY = 86_400
HOUR = 3_600
MINUTE = 60


# --------------------------------------------------------------------------------------------
# Identifiers and personal data (fixed-width strings built from digit matrices)
# --------------------------------------------------------------------------------------------
def _digits(nums: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ints as an ``(n, width)`` uint8 ASCII matrix."""
    x = np.asarray(nums, dtype=np.int64).copy()
    out = np.empty((x.size, width), dtype=np.uint8)
    for k in range(width - 1, -1, -1):
        out[:, k] = (x % 10) + 48
        x //= 10
    return out


def _matrix_to_arrow(mat: np.ndarray) -> pa.Array:
    n, w = mat.shape
    offsets = np.arange(n + 1, dtype=np.int32) * w
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(np.ascontiguousarray(mat).tobytes())
    )


def id_width(default: int, count: int) -> int:
    """Digits needed for ``count`` sequential ids, at least ``default``."""
    return max(default, len(str(max(count, 1))))


def format_ids(prefix: str, nums: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``nums`` as an Arrow string array (no Python loop)."""
    nums = np.asarray(nums, dtype=np.int64)
    pre = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    mat = np.concatenate([np.broadcast_to(pre, (nums.size, pre.size)), _digits(nums, width)], axis=1)
    return _matrix_to_arrow(mat)


def take_nullable(dictionary: pa.Array, idx: np.ndarray) -> pa.Array:
    """``dictionary[idx]`` with ``idx < 0`` giving null, as a plain string array."""
    idx = np.asarray(idx)
    ind = pa.array(idx.astype(np.int64), mask=idx < 0)
    return dictionary.take(ind)


def digits_str(nums: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded numbers as a numpy unicode array."""
    return _digits(nums, width).view(f"S{width}").ravel().astype(f"U{width}")


def id_numbers(region: np.ndarray, birth_day: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """18-digit 身份证号 with a valid GB 11643 checksum.

    ``region`` is a unicode array of 6-digit codes, ``birth_day`` days since 1970-01-01,
    ``seq`` the 3-digit sequence (odd for men, even for women).
    """
    ymd = np.datetime_as_string(np.asarray(birth_day, dtype="datetime64[D]"), unit="D")
    ymd = np.char.replace(ymd, "-", "")
    body = np.char.add(np.char.add(region.astype("U6"), ymd), digits_str(seq, 3))
    mat = body.astype("S17").view(np.uint8).reshape(-1, 17).astype(np.int64) - 48
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
    check = np.array(list("10X98765432"))[(mat * weights).sum(axis=1) % 11]
    return np.char.add(body, check)


def id_number_valid(idn: str) -> bool:
    """Checksum test for one 18-digit 身份证号 (used by tests)."""
    if len(idn) != 18 or not idn[:17].isdigit():
        return False
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(idn[:17], weights))
    return "10X98765432"[total % 11] == idn[17]


def unique_draw(rng: np.random.Generator, n: int, draw) -> np.ndarray:
    """Call ``draw(rng, k)`` until ``n`` distinct values are collected (order of first draw)."""
    vals = draw(rng, n)
    for _ in range(20):
        _, first = np.unique(vals, return_index=True)
        if first.size == vals.size:
            return vals
        dup = np.ones(vals.size, dtype=bool)
        dup[first] = False
        vals[dup] = draw(rng, int(dup.sum()))
    raise RuntimeError("could not draw unique values")


def draw_phones(rng: np.random.Generator, n: int) -> np.ndarray:
    second = rng.integers(3, 10, n)
    rest = rng.integers(0, 1_000_000_000, n)
    return digits_str(10_000_000_000 + second * 1_000_000_000 + rest, 11)


def draw_devices(rng: np.random.Generator, n: int) -> np.ndarray:
    hexd = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    mat = hexd[rng.integers(0, 16, (n, 16))]
    return mat.view("S16").ravel().astype("U16")


def draw_bank_accounts(rng: np.random.Generator, n: int, bins: tuple[str, ...]) -> np.ndarray:
    length = rng.integers(16, 20, n)
    body = rng.integers(0, 10, (n, 13)).astype(np.uint8) + 48
    binm = np.array([list(b.encode()) for b in bins], dtype=np.uint8)[rng.integers(0, len(bins), n)]
    full = np.concatenate([binm, body], axis=1).view("S19").ravel().astype("U19")
    # cut each number to its length (16-19 digits)
    out = full.copy()
    for L in (16, 17, 18):
        sel = length == L
        out[sel] = full[sel].astype(f"U{L}")
    return out


# --------------------------------------------------------------------------------------------
# Interval coverage
# --------------------------------------------------------------------------------------------
_SHIFT = np.int64(1) << np.int64(32)


def covering(ikey: np.ndarray, istart: np.ndarray, iend: np.ndarray,
             qkey: np.ndarray, qt: np.ndarray, base: int) -> np.ndarray:
    """Index of an interval ``[istart, iend)`` with the same key covering each query time.

    Intervals may overlap (the one reaching furthest is returned). ``-1`` where nothing
    covers. Times are seconds; ``base`` is subtracted so they fit in 32 bits.
    """
    out = np.full(qkey.size, -1, dtype=np.int64)
    if ikey.size == 0 or qkey.size == 0:
        return out
    order = np.lexsort((istart, ikey))
    k = ikey[order].astype(np.int64) * _SHIFT
    ks = k + (istart[order] - base)
    ke = k + (iend[order] - base)
    runmax = np.maximum.accumulate(ke)
    arg = np.maximum.accumulate(np.where(ke == runmax, np.arange(ke.size), 0))
    qk = qkey.astype(np.int64) * _SHIFT + (qt - base)
    pos = np.searchsorted(ks, qk, side="right") - 1
    ok = pos >= 0
    p = np.where(ok, pos, 0)
    hit = ok & (runmax[p] > qk)
    out[hit] = order[arg[p[hit]]]
    return out


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------
def timestamps(secs: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(secs, dtype=np.int64), type=pa.timestamp("s"), mask=null)


def dates(days: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.int32(), mask=null).cast(pa.date32())


def money(cents: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(cents, dtype=np.int64) / 100.0, type=pa.float64())


class TableWriter:
    """Write one table as parquet, csv or csv.gz, optionally in several chunks."""

    def __init__(self, out_dir: Path, name: str, fmt: str):
        self.fmt = fmt
        self.path = out_dir / f"{name}.{fmt}"
        self._pq: pq.ParquetWriter | None = None
        self._stream = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        if self.fmt == "parquet":
            if self._pq is None:
                self._pq = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            self._pq.write_table(table, row_group_size=1 << 20)
            return
        if self._stream is None:
            if self.fmt == "csv.gz":
                self._stream = pa.CompressedOutputStream(str(self.path), "gzip")
            else:
                self._stream = pa.OSFile(str(self.path), "wb")
            self._stream.write((",".join(table.column_names) + "\n").encode("utf-8"))
        pacsv.write_csv(table, self._stream,
                        pacsv.WriteOptions(include_header=False, quoting_style="needed"))

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        if self._stream is not None:
            self._stream.close()


def write_table(out_dir: Path, name: str, fmt: str, table: pa.Table) -> int:
    w = TableWriter(out_dir, name, fmt)
    w.write(table)
    w.close()
    return table.num_rows
