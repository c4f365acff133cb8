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
           "STAGES", "SHAPES", "SHAPE_WORDS", "validate_kb", "validate_pack"]


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
          "split_claims", "claim_count", "unit_repeat", "peer_value", "rare_attribute", "code")
#: each shape's logic in words (中文 / English), for the workbench and dossiers (docs/rules.md, Shapes)
SHAPE_WORDS: dict[str, str] = {
    "price_ceiling": "单价高于知识库中本级别机构的价格上限 / unit price above the catalogue ceiling for the level",
    "peer_price": "单价远高于同级机构同一项目的价格（Q3 + 3·IQR 且高于中位数 5%） / unit price far above what "
                  "peers of the level bill for the code",
    "quantity_limit": "每次就诊或每人每日数量超过知识库上限 / units per visit or per person-day above the catalogue maximum",
    "days_supply_limit": "处方天数超过规定（登记慢病按长处方上限） / days supply above the maximum (chronic: the long-"
                         "prescription maximum)",
    "patient_limit": "参保人性别或年龄不符合项目限定 / the person's sex or age outside the item's limit",
    "indication_limit": "诊断不在项目限定的适应症范围内 / diagnosis outside the item's indications",
    "not_payable": "项目不属于医保基金支付范围 / item outside the fund's payment scope",
    "setting_limit": "项目在其不予支付的就医类型中结算 / item billed in a setting that does not pay it",
    "code_mismatch": "结算名称或类别与目录编码不符 / billed name or category differs from the catalogue's for the code",
    "pair": "主项目含次项目或互斥项目在同一时间窗内同时收费 / an included or exclusive item billed with its pair in "
            "the window",
    "count_window": "限次项目在时间窗内超过允许次数 / a limited item billed more often than allowed in the window",
    "data_repeat": "全市几乎从不同日重复的项目同日重复收费 / a code almost never billed twice a person-day, billed so",
    "supply_overlap": "同一参保人同一药品在上次用药期未满时再开 / the same drug again before the last supply ran out",
    "peer_quantity": "参保人当月用量远超全市同药患者 / a person-month's quantity far above the city's for the code",
    "stay_quantity": "按日计价项目天数超过住院天数 / per-day items billed for more days than the stay",
    "item_time_outside": "收费时间不在就诊日或住院期间 / item date outside the visit or the stay",
    "split_claims": "同一项目同日在同一机构拆分为多次结算 / one code split over several claims of a person in a day",
    "claim_count": "同一参保人同日在同一机构多次结算 / several claims of one person at one provider in a day",
    "unit_repeat": "全市几乎从不超过每人每日（每次住院）一个单位的项目超量收费 / a code almost never billed for more "
                   "than one unit a person-day (a stay), billed for more",
    "peer_value": "天数、日剂量或单次数量远超该项目的常见值（99% 分位数的倍数） / days supply, daily dose or units per "
                  "visit far above the code's usual (a multiple of its 99th percentile)",
    "rare_attribute": "项目以其几乎从不出现的名称、类别、就医类型、性别、年龄段或诊断类别结算 / a code billed with a name, "
                      "category, setting, sex, age band or diagnosis category its other lines (almost) never have",
    "code": "由规则包指定的函数判断 / judged by the function the pack names",
}

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
