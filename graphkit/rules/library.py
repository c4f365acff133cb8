"""Load the knowledge base (知识库) and rule pack (规则库) files: TOML, validated, versioned.

The defaults ship in ``graphkit/data/rules/`` (``kb/items.toml``, ``packs/national.toml``); a
bureau passes its own files instead. Nothing runs unless both files are valid.

Examples
--------
>>> pack = load_pack()
>>> len(pack.rules) >= 25 and pack.kb.version
'2024.1'
>>> pack.rule("FW-001").level, pack.rule("FW-001").obligation.split("：")[0]
('违规', '直接扣款')
>>> pack.kb.items.loc["XG03DAH011", "sex"]
'F'
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .schema import LEVELS, SETTINGS, RuleFileError, validate_kb, validate_pack

__all__ = ["KnowledgeBase", "Rule", "RulePack", "load_kb", "load_pack", "DEFAULT_PACK", "DEFAULT_KB"]

DEFAULT_PACK = "data/rules/packs/national.toml"
DEFAULT_KB = "data/rules/kb/items.toml"

#: KB columns (one row per item code) and their defaults
_KB_COLUMNS: dict[str, Any] = {
    "name": None, "category": None, "ceil_all": np.nan, "ceil_l1": np.nan, "ceil_l2": np.nan, "ceil_l3": np.nan,
    "ceil_pharmacy": np.nan, "sex": None, "age_min": np.nan, "age_max": np.nan, "diagnoses": (),
    "max_qty_visit": np.nan, "max_qty_day": np.nan, "max_days_supply": np.nan, "chronic_days_supply": np.nan,
    "chronic_diagnoses": (), "once_per": None, "includes": (), "exclusive_with": (), "payable": True, "per_diem": False,
    "settings": (), "source": None, "date": None,
}


@dataclass
class KnowledgeBase:
    """The item catalogue: ``items`` indexed by code (columns of ``_KB_COLUMNS``)."""

    items: pd.DataFrame
    name: str
    version: str
    source: str
    meta: dict[str, Any] = field(default_factory=dict)

    def pairs(self, relation: str) -> pd.DataFrame:
        """(main, other) code pairs of ``includes`` or ``exclusive_with`` (exclusive pairs both ways).

        >>> load_kb().pairs("includes").head(2).values.tolist()
        [['110900003', '120100001'], ['120600001', 'C01020001']]
        """
        rows = [(code, o) for code, lst in self.items[relation].items() for o in lst]
        if relation == "exclusive_with":
            rows += [(o, c) for c, o in rows]
        return pd.DataFrame(sorted(set(rows)), columns=["main", "other"], dtype="string")


@dataclass(frozen=True)
class Rule:
    """One rule of the pack (fields of :data:`graphkit.rules.schema.PACK_SCHEMA`)."""

    id: str
    name: str
    category: str
    shape: str
    level: str
    window: str
    settings: tuple[str, ...]
    stage: str
    basis: str
    version: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    name_en: str = ""
    description: str = ""
    function: str | None = None
    insurance: tuple[str, ...] = ()
    institution_levels: tuple[int, ...] = ()
    needs: tuple[str, ...] = ()
    enabled: bool = True

    @property
    def obligation(self) -> str:
        """What the 判断等级 obliges (可疑 → manual review; 违规 → direct deduction)."""
        return LEVELS[self.level]

    @property
    def claim_types(self) -> tuple[str, ...]:
        """The claim types the settings map to (互联网诊疗 / 异地就医 map to none)."""
        return tuple(dict.fromkeys(t for s in self.settings if (t := SETTINGS[s]) is not None))

    def describe(self) -> dict[str, Any]:
        """The rule's metadata for findings and reports."""
        return {"rule_id": self.id, "rule_name": self.name, "rule_name_en": self.name_en, "category": self.category,
                "description": self.description,
                "level": self.level, "obligation": self.obligation, "window": self.window,
                "settings": list(self.settings), "stage": self.stage, "basis": self.basis,
                "rule_version": self.version, "shape": self.shape, "params": dict(self.params)}


@dataclass
class RulePack:
    """A rule pack with the knowledge base it refers to."""

    rules: list[Rule]
    kb: KnowledgeBase
    name: str
    version: str
    source: str

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(f"no rule {rule_id!r} in {self.source}")


def _read(path: str | Path | None, default: str, what: str) -> tuple[dict[str, Any], str, Path | None]:
    if path is None:
        ref = resources.files("graphkit").joinpath(default)
        text, source, base = ref.read_text("utf-8"), f"graphkit/{default}", Path(str(ref)).parent
    else:
        p = Path(path)
        try:
            text = p.read_text("utf-8")
        except FileNotFoundError:
            raise RuleFileError(f"{what} {p} not found") from None
        except UnicodeDecodeError as exc:
            raise RuleFileError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        source, base = str(p), p.parent
    try:
        return tomllib.loads(text), source, base
    except tomllib.TOMLDecodeError as exc:
        raise RuleFileError(f"{source}: not valid TOML: {exc}") from None


def load_kb(path: str | Path | None = None) -> KnowledgeBase:
    """Load and validate a knowledge-base file (default: the shipped demo-city catalogue)."""
    data, source, _ = _read(path, DEFAULT_KB, "knowledge base")
    validate_kb(data, source)
    rows = []
    for it in data["item"]:
        r = {k: v for k, v in _KB_COLUMNS.items()}
        for k, v in it.items():
            if k == "ceiling":
                for lvl, price in v.items():
                    r[f"ceil_{lvl}"] = float(price)
            elif isinstance(v, list):
                r[k] = tuple(v)
            else:
                r[k] = v
        r["code"] = it["code"]
        rows.append(r)
    items = pd.DataFrame(rows).set_index("code")
    for c in ("ceil_all", "ceil_l1", "ceil_l2", "ceil_l3", "ceil_pharmacy", "age_min", "age_max", "max_qty_visit",
              "max_qty_day", "max_days_supply", "chronic_days_supply"):
        items[c] = items[c].astype("float64")
    meta = data["meta"]
    return KnowledgeBase(items, meta["name"], str(meta["version"]), source, dict(meta))


def load_pack(path: str | Path | None = None, *, kb: str | Path | KnowledgeBase | None = None) -> RulePack:
    """Load and validate a rule pack and its knowledge base (``kb`` overrides the pack's own
    ``kb`` entry, which is relative to the pack file). ``code`` rules are resolved now, so a
    missing function is an error before anything runs."""
    data, source, base = _read(path, DEFAULT_PACK, "rule pack")
    validate_pack(data, source)
    if not isinstance(kb, KnowledgeBase):
        if kb is None and "kb" in data["pack"]:
            kb = (base / data["pack"]["kb"]) if path is not None else None
            if path is not None and not Path(kb).exists():
                raise RuleFileError(f"{source}: [pack] field 'kb': knowledge base {kb} not found")
        kb = load_kb(kb)
    rules = []
    for r in data["rule"]:
        rule = Rule(
            id=r["id"], name=r["name"], category=r["category"], shape=r["shape"], level=r["level"],
            window=r["window"], settings=tuple(r["settings"]), stage=r["stage"], basis=r["basis"],
            version=str(r["version"]), params=dict(r.get("params", {})), name_en=r.get("name_en", ""),
            description=r.get("description", ""), function=r.get("function"),
            insurance=tuple(r.get("insurance", ())), institution_levels=tuple(r.get("institution_levels", ())),
            needs=tuple(r.get("needs", ())), enabled=bool(r.get("enabled", True)))
        from .shapes import check_rule

        check_rule(rule, source)
        rules.append(rule)
    meta = data["pack"]
    return RulePack(rules, kb, meta["name"], str(meta["version"]), source)
