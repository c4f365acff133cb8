"""The generator's seal on a demo bundle: the SHA-256 of every table file, kept in ``truth.json``.

The built-in pseudonymisation key is public, so it may only serve data the generator made
(:func:`graphkit.pseudo.demo_key_allowed`). A ``truth.json`` alone is a marker anyone can copy
next to real tables; the seal binds it to the very bytes the generator (or
:func:`graphkit.demo.quirks.write_bundle`) wrote: a real bundle with a copied ``truth.json``, a
demo bundle with one table replaced or edited, or one with an extra table file is not sealed.

What it does not do: the generator's code is public, so someone who holds real tables and wants
to load them under the public key can compute the digests and write a ``truth.json`` of their
own. The seal stops accidents and copied markers, not a deliberate forger — who already holds
the clear data; the store's manifest records the key's fingerprint, so a store made with the
demo key is recognisable (docs/security.md).

Examples
--------
>>> import tempfile, pathlib, json
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "patients.csv").write_text("patient_id\\nP1\\n")
>>> _ = (d / "truth.json").write_text(json.dumps({"schema": "graphkit.truth/v1"}))
>>> seal_bundle(d); seal_problem(d) is None
True
>>> _ = (d / "patients.csv").write_text("patient_id\\nP2\\n")
>>> seal_problem(d)
'patients.csv: 内容与生成时不同 / differs from what the generator wrote'
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..schema import TABLES

__all__ = ["seal_bundle", "seal_problem", "table_files"]

_EXTS = ("parquet", "csv.gz", "csv")


def table_files(folder: str | Path) -> list[Path]:
    """The table files of a bundle folder (every table of the spec, any of its formats)."""
    folder = Path(folder)
    names = list(TABLES) + ([] if "regions" in TABLES else ["regions"])
    return sorted(p for n in names for e in _EXTS if (p := folder / f"{n}.{e}").is_file())


def _digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def seal_bundle(folder: str | Path) -> None:
    """Record the SHA-256 of every table file of ``folder`` in its ``truth.json`` (``seal``)."""
    folder = Path(folder)
    tpath = folder / "truth.json"
    truth = json.loads(tpath.read_text("utf-8"))
    truth["seal"] = {"algorithm": "sha256", "files": {p.name: _digest(p) for p in table_files(folder)}}
    tpath.write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")


def seal_problem(folder: str | Path) -> str | None:
    """``None`` when ``folder`` is a sealed demo bundle whose tables are the sealed bytes, else why not
    (Chinese and English)."""
    folder = Path(folder)
    tpath = folder / "truth.json"
    if not tpath.is_file():
        return "没有 truth.json，不是生成的示范数据 / no truth.json: not a generated demo bundle"
    try:
        truth = json.loads(tpath.read_text("utf-8"))
    except (OSError, ValueError):
        return "truth.json 无法读取 / truth.json cannot be read"
    if not isinstance(truth, dict) or truth.get("schema") != "graphkit.truth/v1":
        return "truth.json 不是示范城市的真值文件 / truth.json is not a demo city's truth file"
    seal = truth.get("seal")
    files = seal.get("files") if isinstance(seal, dict) else None
    if not isinstance(files, dict) or not files:
        return "truth.json 没有生成器的校验值 / truth.json carries no seal of the generator"
    present = {p.name: p for p in table_files(folder)}
    extra = sorted(set(present) - set(files))
    if extra:
        return f"{extra[0]}: 生成时没有此文件 / not written by the generator"
    for name, digest in sorted(files.items()):
        if name not in present:
            return f"{name}: 文件缺失 / missing"
        if _digest(present[name]) != digest:
            return f"{name}: 内容与生成时不同 / differs from what the generator wrote"
    return None
