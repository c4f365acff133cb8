"""The schemas of the knowledge base (知识库) and the rule pack (规则库), and their validation.

Both files are TOML; each is checked against a JSON Schema (``jsonschema``) before anything
runs. A bad file raises :class:`RuleFileError` naming the file, the entry (item code or rule
id) and the field.

Examples
--------
>>> validate_kb({"meta": {"name": "x", "version": "1"}, "item": [{"code": "A", "name": "甲",
...     "category": "drug", "source": "s", "date": "2024-01-01", "max_days_supply": -1}]}, "kb.toml")
Traceback (most recent call last):
graphkit.rules.schema.RuleFileError: kb.toml: item 'A' field 'max_days_supply': -1 is less than the minimum of 0
"""

from __future__ import annotations

from typing import Any

from ..errors import GraphkitError

__all__ = ["RuleFileError", "KB_SCHEMA", "PACK_SCHEMA", "CATEGORIES", "LEVELS", "WINDOWS", "SETTINGS",
           "STAGES", "SHAPES", "validate_kb", "validate_pack"]


class RuleFileError(GraphkitError, ValueError):
    """A knowledge-base or rule-pack file broke its schema (file, entry and field named)."""


#: rule categories (违规类别)
CATEGORIES = ("超支付范围", "超支付标准", "重复计费", "分解计费", "串换项目", "虚记项目", "超量开药", "低标准入院",
              "过度诊疗")
#: 判断等级 → what it obliges (管理办法: 初审、复审、申诉、调查核实、违规处理)
LEVELS: dict[str, str] = {
    "可疑": "人工复核：初审、复审、机构申诉后认定 / manual review before any deduction",
    "违规": "直接扣款：明确违规，按规定拒付或追回 / direct deduction (refusal or recovery)",
}
#: time windows (时间窗)
WINDOWS = ("当次", "自然日", "自然月", "住院期间", "全周期")
#: settings (就医场景) → claim_type; 互联网诊疗 / 异地就医 cannot be told apart in a bundle v1.1
SETTINGS: dict[str, str | None] = {"门诊": "outpatient", "住院": "inpatient", "购药": "pharmacy",
                                   "互联网诊疗": None, "异地就医": None}
STAGES = ("事前", "事中", "事后")
INSURANCE = ("职工", "居民")
#: the declarative logic shapes the engine evaluates (graphkit.rules.shapes), plus "code"
SHAPES = ("price_ceiling", "peer_price", "quantity_limit", "days_supply_limit", "patient_limit",
          "indication_limit", "not_payable", "setting_limit", "code_mismatch", "pair", "count_window",
          "data_repeat", "supply_overlap", "peer_quantity", "stay_quantity", "item_time_outside",
          "split_claims", "claim_count", "code")

_STR = {"type": "string", "minLength": 1}
_STRS = {"type": "array", "items": _STR}
_NUM = {"type": "number", "minimum": 0}
_INT = {"type": "integer", "minimum": 0}

KB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["meta", "item"],
    "properties": {
        "meta": {"type": "object", "required": ["name", "version"],
                 "properties": {"name": _STR, "version": _STR, "valid_from": _STR, "region": _STR, "note": _STR}},
        "item": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["code", "name", "category", "source", "date"],
            "additionalProperties": False,
            "properties": {
                "code": _STR, "name": _STR,
                "category": {"enum": ["drug", "exam", "treatment", "material", "bed", "non_medical"]},
                "ceiling": {"type": "object", "minProperties": 1, "additionalProperties": False,
                            "properties": {k: {"type": "number", "exclusiveMinimum": 0}
                                           for k in ("all", "l1", "l2", "l3", "pharmacy")}},
                "sex": {"enum": ["M", "F"]},
                "age_min": _INT, "age_max": _INT,
                "diagnoses": _STRS,
                "max_qty_visit": _NUM, "max_qty_day": _NUM,
                "max_days_supply": _INT, "chronic_days_supply": _INT, "chronic_diagnoses": _STRS,
                "once_per": {"enum": ["day", "stay"]},
                "includes": _STRS, "exclusive_with": _STRS,
                "payable": {"type": "boolean"},
                "per_diem": {"type": "boolean"},
                "settings": {"type": "array", "items": {"enum": list(SETTINGS)}},
                "source": _STR,
                "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
            },
        }},
    },
}

PACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["pack", "rule"],
    "properties": {
        "pack": {"type": "object", "required": ["name", "version"],
                 "properties": {"name": _STR, "version": _STR, "kb": _STR, "note": _STR}},
        "rule": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["id", "name", "category", "shape", "level", "window", "settings", "stage", "basis",
                         "version"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
                "name": _STR, "name_en": _STR, "description": _STR,
                "category": {"enum": list(CATEGORIES)},
                "shape": {"enum": list(SHAPES)},
                "function": {"type": "string", "pattern": r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"},
                "params": {"type": "object"},
                "level": {"enum": list(LEVELS)},
                "window": {"enum": list(WINDOWS)},
                "settings": {"type": "array", "minItems": 1, "items": {"enum": list(SETTINGS)}},
                "stage": {"enum": list(STAGES)},
                "insurance": {"type": "array", "items": {"enum": list(INSURANCE)}},
                "institution_levels": {"type": "array", "items": {"enum": [1, 2, 3]}},
                "needs": {"type": "array", "items": {"enum": ["item_time", "days_supply", "department", "quantity",
                                                              "unit_price", "item_name", "category"]}},
                "basis": _STR,
                "version": _STR,
                "enabled": {"type": "boolean"},
            },
            "if": {"properties": {"shape": {"const": "code"}}},
            "then": {"required": ["function"]},
        }},
    },
}


def _validate(data: dict[str, Any], schema: dict[str, Any], source: str, entries: str, key: str) -> None:
    import jsonschema

    v = jsonschema.Draft202012Validator(schema)
    errs = sorted(v.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if not errs:
        return
    e = errs[0]
    path = list(e.absolute_path)
    where = ""
    if len(path) >= 2 and path[0] == entries and isinstance(path[1], int):
        entry = data[entries][path[1]]
        ident = entry.get(key) if isinstance(entry, dict) else None
        where = f" {entries} {ident!r}" if ident else f" {entries} #{path[1] + 1}"
        path = path[2:]
    elif path:
        where = f" [{path[0]}]"
        path = path[1:]
    field = e.validator == "required" and e.message.split("'")[1] or (path[0] if path else None)
    if e.validator == "additionalProperties":
        field = e.message.split("'")[1]
        msg = "unknown field"
    else:
        msg = e.message
    raise RuleFileError(f"{source}:{where}" + (f" field {field!r}" if field is not None else "") + f": {msg}")


def validate_kb(data: dict[str, Any], source: str) -> None:
    """Raise :class:`RuleFileError` unless ``data`` (a parsed KB file) fits :data:`KB_SCHEMA`;
    also refuse duplicate codes and relations to codes the catalogue does not hold."""
    _validate(data, KB_SCHEMA, source, "item", "code")
    seen: set[str] = set()
    for it in data["item"]:
        if it["code"] in seen:
            raise RuleFileError(f"{source}: item {it['code']!r} field 'code': duplicate code")
        seen.add(it["code"])
    for it in data["item"]:
        for rel in ("includes", "exclusive_with"):
            for c in it.get(rel, ()):
                if c not in seen:
                    raise RuleFileError(f"{source}: item {it['code']!r} field {rel!r}: unknown code {c!r}")
        if "age_min" in it and "age_max" in it and it["age_min"] > it["age_max"]:
            raise RuleFileError(f"{source}: item {it['code']!r} field 'age_min': {it['age_min']} > age_max {it['age_max']}")


def validate_pack(data: dict[str, Any], source: str) -> None:
    """Raise :class:`RuleFileError` unless ``data`` (a parsed rule pack) fits :data:`PACK_SCHEMA`;
    also refuse duplicate rule ids."""
    _validate(data, PACK_SCHEMA, source, "rule", "id")
    seen: set[str] = set()
    for r in data["rule"]:
        if r["id"] in seen:
            raise RuleFileError(f"{source}: rule {r['id']!r} field 'id': duplicate rule id")
        seen.add(r["id"])
