"""Safe outputs: folders that are never someone else's, CSV cells a spreadsheet will not run,
Markdown that user data cannot rewrite.

- :func:`claim_output_dir` — every command that writes an output folder calls it first: a
  missing or empty folder is fine, a non-empty folder is accepted only when it is this
  command's own earlier output (recognised by its manifest or marker files), otherwise
  :class:`OutputRefused`. So ``dossier … --out STORE`` or ``generate ~/Documents`` refuse
  instead of replacing what is there.
- :func:`csv_safe` / :func:`write_csv` — a text cell that begins with ``= + - @``, tab or
  CR is prefixed with a single quote (OWASP "CSV injection"); numeric columns, and text
  cells that are plain numbers (``-12.50``), stay as they are. :func:`csv_unsafe` undoes it
  exactly (cells that already began with quotes before a trigger get one more quote).
- :func:`md_escape` — user text in generated Markdown: HTML and Markdown syntax escaped,
  line breaks flattened.

>>> csv_safe(pd.DataFrame({"id": ["=cmd|x", "-3.5", "H1"], "n": [-1, 2, 3]}))["id"].tolist()
["'=cmd|x", '-3.5', 'H1']
>>> md_escape("<script>[x](http://e)")
'&lt;script&gt;\\\\[x\\\\]\\\\(http://e\\\\)'
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from .errors import GraphkitError

__all__ = ["OutputRefused", "claim_output_dir", "csv_safe", "csv_unsafe", "read_csv", "write_csv", "md_escape", "OWN_OUTPUT"]


class OutputRefused(GraphkitError):
    """The output folder holds something that is not this command's own output."""


_TRIGGER = re.compile(r"^'*[=+\-@\t\r]")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _safe_cell(v: Any) -> Any:
    if isinstance(v, str) and _TRIGGER.match(v) and not _NUMBER.match(v):
        return "'" + v
    return v


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with formula-like text cells neutralised (a copy; numeric columns untouched)."""
    out = df.copy()
    for c in out.columns:
        s = out[c]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        st = s.astype("string")
        hit = (st.str.match(_TRIGGER.pattern) & ~st.str.fullmatch(_NUMBER.pattern)).fillna(False).to_numpy(bool)
        if hit.any():
            new = s.astype(object).copy()
            new[hit] = ("'" + st[hit]).astype(object).to_numpy()
            out[c] = new
    safe_cols = [_safe_cell(str(c)) if isinstance(c, str) else c for c in out.columns]
    out.columns = safe_cols
    return out


def csv_unsafe(df: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`csv_safe` on a frame read back (``dtype=str`` or object columns).

    >>> d = pd.DataFrame({"a": ["=1+1", "'=x", "x"]})
    >>> csv_unsafe(csv_safe(d))["a"].tolist() == d["a"].tolist()
    True
    """
    out = df.copy()
    pat = re.compile(r"^''*[=+\-@\t\r]")
    for c in out.columns:
        s = out[c]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        st = s.astype("string")
        hit = st.str.match(pat.pattern).fillna(False).to_numpy(bool)
        if hit.any():
            new = s.astype(object).copy()
            new[hit] = st[hit].str.slice(1).astype(object).to_numpy()
            out[c] = new
    out.columns = [c[1:] if isinstance(c, str) and pat.match(c) else c for c in out.columns]
    return out


def read_csv(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """``pd.read_csv`` of a file written by :func:`write_csv`, cells as they were before neutralising."""
    return csv_unsafe(pd.read_csv(path, **kwargs))


def write_csv(df: pd.DataFrame, path: str | Path, **kwargs: Any) -> None:
    """``df.to_csv(path, index=False, ...)`` with :func:`csv_safe` cells."""
    kwargs.setdefault("index", False)
    csv_safe(df).to_csv(path, **kwargs)


#: what can make text into a link, image, code, table cell or emphasis (intraword ``_`` is literal)
_MD_SPECIAL = re.compile(r"([\\`*\[\]()!|])")


def md_escape(text: Any) -> str:
    """User text safe inside a Markdown line: ``& < >`` as entities, Markdown syntax backslashed,
    line breaks and other control characters as spaces."""
    s = "" if text is None else str(text)
    s = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", s)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


# -- output folders -------------------------------------------------------------------------
def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_dossier(d: Path) -> bool:
    m = _json(d / "manifest.json")
    if not m or m.get("schema") != "graphkit.dossier-manifest/v1" or not isinstance(m.get("files"), dict):
        return False
    listed = set(m["files"]) | {"manifest.json", "manifest.sig"}
    present = {str(p.relative_to(d)) for p in d.rglob("*") if p.is_file()}
    return present <= listed  # nothing the dossier did not write itself


def _is_store(d: Path) -> bool:
    m = _json(d / "manifest.json")
    if m is not None:
        return m.get("format") == "graphkit.store/v1"
    if (d / "manifest.json").exists():
        return False
    # leftovers of a first load that crashed before its manifest: generations, quarantine, lock
    return all(p.name.startswith("gen-") or p.name in {"quarantine", ".lock", "manifest.json.tmp"} for p in d.iterdir())


def _is_scan(d: Path) -> bool:
    f = _json(d / "findings.json")
    return f is not None and "findings" in f and ("schema" in f or "data_fingerprint" in f or "parameters" in f)


_BUNDLE_EXT = (".csv", ".csv.gz", ".parquet", ".tsv", ".txt")


def _is_bundle(d: Path) -> bool:
    """Only table files of the bundle spec, truth.json and mapping/readme files (a generated or adapted bundle)."""
    from .schema import TABLES

    for p in d.iterdir():
        if p.is_dir():
            return False
        name = p.name
        if name in {"truth.json", "mapping.toml", "README.md", "README.txt"} or name.endswith(".toml"):
            continue
        if not any(name == f"{t}{ext}" for t in TABLES for ext in _BUNDLE_EXT):
            return False
    return True


def _is_demo(d: Path) -> bool:
    names = {p.name for p in d.iterdir()}
    allowed = {"bundle", "store", "dossier", "findings.json", "scores.csv", "evaluation.json", "cases.sqlite"}
    return names <= allowed and (not (d / "store").exists() or _is_store(d / "store")) \
        and (not (d / "bundle").exists() or _is_bundle(d / "bundle"))


#: how each kind of output recognises its own earlier folder
OWN_OUTPUT: dict[str, tuple[str, str, Callable[[Path], bool]]] = {
    "dossier": ("案件材料", "dossier", _is_dossier),
    "store": ("存储", "store", _is_store),
    "scan": ("扫描结果", "scan output (findings.json)", _is_scan),
    "bundle": ("数据包", "claims bundle", _is_bundle),
    "demo": ("示范输出", "demo output", _is_demo),
}


def claim_output_dir(path: str | Path, kind: str) -> Path:
    """Check that ``path`` may receive an output of ``kind``; return it as a Path (not created).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "notes.txt").write_text("mine")
    >>> claim_output_dir(d, "dossier")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    graphkit.outputs.OutputRefused: 输出目录非空且不是案件材料，拒绝写入 / ... is not empty and is not a dossier; refusing ...
    """
    out = Path(path)
    zh, en, is_own = OWN_OUTPUT[kind]
    if out.exists() and not out.is_dir():
        raise OutputRefused(f"{out} 是文件而不是目录 / is a file, not a folder")
    if not out.exists() or not any(out.iterdir()) or is_own(out):
        return out
    raise OutputRefused(f"输出目录非空且不是{zh}，拒绝写入 / {out} is not empty and is not a {en}; refusing to write "
                        "into it (choose an empty or new folder) — 请选择空目录或新目录")
