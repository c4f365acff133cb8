"""The JSON Schema (draft 2020-12) of ``findings.json``, generated from the findings model.

The fields and their types come from the dataclasses of :mod:`graphkit.findings` (``Finding``,
``Entity``, ``FindingsReport``), the kinds from :data:`graphkit.findings.KINDS`, the parameters of
each kind from its declaration in :data:`graphkit.detectors.REGISTRY`, the keys a scan adds from
:meth:`graphkit.scan.ScanResult.report`, and the shape of ``evidence.benign_checks`` from
:func:`graphkit.detectors._common.benign_check`. Only the descriptions are written here: a field
added to the model without one stops the generator.

``python -m graphkit.findings_schema > docs/findings.schema.json`` rewrites the committed schema;
``tests/test_findings_schema.py`` fails when it is stale and validates a real scan against it.

>>> s = findings_schema()
>>> s["$schema"], s["properties"]["schema"]["const"]
('https://json-schema.org/draft/2020-12/schema', 'graphkit.findings/v1')
>>> s["$defs"]["kind"]["enum"][:2]
['collusion_ring', 'shared_card']
>>> s["properties"]["parameters"]["properties"]["shared_card"]["properties"]["min_foreign_claims"]["minimum"]
1
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import types
import typing
from typing import Any

from .detectors import REGISTRY
from .detectors._common import BENIGN_OUTCOMES
from .findings import ENTITY_TYPES, FINDINGS_SCHEMA, KINDS, Entity, Finding, FindingsReport, kind_label
from .params import Param
from .profile import PRECISIONS, REQUIREMENTS

__all__ = ["findings_schema", "render_json", "SCAN_KEYS"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"  # findings._iso: local time, seconds, no zone

# -- descriptions (the only hand-written part; every field of the model must have one) ----------

_REPORT_DOCS = {
    "schema": "version of this contract",
    "generated_at": "when the file was written (local time, ISO 8601 without zone)",
    "data_fingerprint": "fingerprint (sha256) of the loaded bundle's content: the same data gives the same fingerprint",
    "parameters": "the parameters each detector that ran was run with (declared defaults filled in); "
                  "kinds skipped for lack of data are absent",
    "findings": "every lead, sorted by score (descending), then amount at risk, then id",
}
_FINDING_DOCS = {
    "id": "stable id: kind and a hash of the pattern's identifying key (same data → same id)",
    "kind": "the pattern found",
    "score": "higher is riskier, comparable within a kind (most kinds: surprise_score in [0, 1))",
    "amount_at_risk": "fund amount (claims.fund_amount) of the claims the pattern makes suspect",
    "period": "first and last settlement time of the claims it rests on",
    "entities": "the entities the pattern involves, each with its role in it",
    "claims": "every claim the finding rests on (sorted, distinct): the evidence an investigator opens",
    "summary": "one line, Chinese first with English alongside",
    "evidence": "detector-specific metrics; the statistical detectors write `null` (what the pattern was compared with) "
                "and `benign_checks` (the legal explanations tested), rule_violation the rule, its basis, the hit lines "
                "and `benign_checks` of the look-alikes its rule can resemble",
}
_ENTITY_DOCS = {
    "type": "entity type",
    "id": "the entity's id in the bundle (pseudonymised where the bundle's ids are personal)",
    "role": "its role in the pattern (member, organiser, venue, holder, user, …); may be empty",
}
#: the keys a scan adds to FindingsReport's (``ScanResult.report``), with their schema
SCAN_KEYS: dict[str, dict[str, Any]] = {
    "timings_seconds": {
        "description": "seconds per step of the scan (data profile, each detector, referral clusters, provider scores)",
        "type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
    "referral_clusters": {
        "description": "referral-abuse clusters: communities of the institution referral graph (Louvain) in which findings of "
                       "at least two of referral_loop, referral_concentration and split_stay co-occur",
        "type": "array", "items": {"$ref": "#/$defs/referral_cluster"}},
    "skipped": {
        "description": "kinds asked for that did not run: the data lacks what they need (why, 中文 / English)",
        "type": "object", "propertyNames": {"$ref": "#/$defs/kind"}, "additionalProperties": {"type": "string"}},
    "degraded": {
        "description": "kinds that ran without something they use when present: what they did without (中文 / English each)",
        "type": "object", "propertyNames": {"$ref": "#/$defs/kind"},
        "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    "data_profile": {
        "description": "what the data supports (graphkit.profile.data_profile; docs/data-profile.md)",
        "$ref": "#/$defs/data_profile"},
    "scan_processes": {
        "description": "how the scan ran: `workers` (processes running detectors side by side; 1 = one process) and "
                       "`peak_rss_mb`, the peak resident memory in MB of the process of each step (`scan`: the scanning "
                       "process at the end; with workers, the steps' peaks add up while they run together); with "
                       "workers also `memory_budget_mb`, each step's `estimated_peak_mb` the schedule kept within it and "
                       "`most_at_once`, the most steps that ran side by side, each worker step's `cpu_seconds` and "
                       "`in_parent`, the kinds run in the scanning process after the workers (their peak: that "
                       "process's so far), and `schedule`: per worker step its `pid`, `start_s` and `end_s` (seconds "
                       "from the pool's start) and `in_use_mb`, the memory the pool counted as in use when it started it",
        "type": "object", "properties": {"workers": {"type": "integer", "minimum": 1},
                                         "memory_budget_mb": {"type": "number", "minimum": 0},
                                         "most_at_once": {"type": "integer", "minimum": 0},
                                         "cpu_seconds": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
                                         "estimated_peak_mb": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
                                         "in_parent": {"type": "array", "items": {"type": "string"}},
                                         "schedule": {"type": "object", "additionalProperties": {
                                             "type": "object", "properties": {
                                                 "pid": {"type": "integer"}, "start_s": {"type": "number", "minimum": 0},
                                                 "end_s": {"type": "number", "minimum": 0},
                                                 "in_use_mb": {"type": "number", "minimum": 0}}}},
                                         "peak_rss_mb": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}}}},
    "rule_summary": {
        "description": "rule_violation only: per-rule hit counts and amounts, rules skipped for a missing column, "
                       "the rule pack and knowledge base used",
        "type": "object", "properties": {"totals": {"type": "object"}, "rules": {"type": "object"}},
        "required": ["totals", "rules"]},
}
_CLUSTER = {
    "cluster_id": ({"type": "string", "pattern": r"^RC-[0-9a-f]{10}$"}, "stable id from the cluster's institutions"),
    "institutions": ({"type": "array", "items": {"type": "string"}}, "institutions of the community that the findings involve"),
    "community_size": ({"type": "integer", "minimum": 1}, "institutions in the Louvain community"),
    "kinds": ({"type": "array", "items": {"$ref": "#/$defs/kind"}}, "the referral-abuse kinds found there"),
    "findings": ({"type": "array", "items": {"type": "string"}}, "ids of the member findings"),
    "findings_by_kind": ({"type": "object", "propertyNames": {"$ref": "#/$defs/kind"},
                          "additionalProperties": {"type": "integer", "minimum": 1}}, "member findings per kind"),
    "score": ({"type": "number"}, "sum of the member findings' scores"),
    "amount_at_risk": ({"type": "number"}, "sum of the member findings' amounts at risk"),
    "summary": ({"type": "string"}, "one line, Chinese first with English alongside"),
}
_BENIGN_CHECK = {
    "check": ({"type": "string"}, "name of the legal explanation tested"),
    "zh": ({"type": "string"}, "its Chinese name"),
    "outcome": ({"enum": list(BENIGN_OUTCOMES)}, "ruled_out: tested, does not explain; partial: explains part (score × factor); "
                "explains: the pattern is this legal behaviour; not_testable: the data lacks what the test needs"),
    "detail": ({"type": "string"}, "what was measured"),
    "factor": ({"type": "number", "minimum": 0, "maximum": 1}, "factor applied to the score (1 unless partial or explains)"),
}


def _hint_schema(hint: Any) -> dict[str, Any]:
    """A JSON Schema for a type hint of the model (dataclasses become ``$ref`` to ``$defs``)."""
    if hint is Any:
        return {}
    if dataclasses.is_dataclass(hint):
        return {"$ref": f"#/$defs/{hint.__name__.lower()}"}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        parts = [_hint_schema(a) for a in args if a is not type(None)]
        if type(None) in args and len(parts) == 1 and set(parts[0]) == {"type"}:
            return {"type": [parts[0]["type"], "null"]}
        return {"anyOf": parts + ([{"type": "null"}] if type(None) in args else [])}
    if origin in (list, tuple, typing.Sequence):
        return {"type": "array", "items": _hint_schema(args[0]) if args else {}}
    if origin is dict:
        return {"type": "object", "additionalProperties": _hint_schema(args[1])} if args and args[1] is not Any else {"type": "object"}
    simple = {str: "string", float: "number", int: "integer", bool: "boolean"}
    if hint in simple:
        return {"type": simple[hint]}
    raise TypeError(f"no JSON Schema for type hint {hint!r}")


def _object(cls: type, docs: dict[str, str], refine: dict[str, dict[str, Any]], *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The schema of a model dataclass as its ``to_dict`` writes it: every field, all required."""
    hints = typing.get_type_hints(cls)
    props: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        if f.name not in docs:
            raise KeyError(f"{cls.__name__}.{f.name} has no description in graphkit/findings_schema.py")
        props[f.name] = {"description": docs[f.name], **_hint_schema(hints[f.name]), **refine.get(f.name, {})}
    return {"type": "object", "properties": props, "required": list(props)}


def _table(spec: dict[str, tuple[dict[str, Any], str]], title: str) -> dict[str, Any]:
    return {"description": title, "type": "object",
            "properties": {k: {"description": d, **s} for k, (s, d) in spec.items()}, "required": list(spec)}


def _param_schema(p: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"description": p.doc, "type": {"int": "integer", "float": "number", "bool": "boolean", "str": "string"}[p.type]}
    if p.low is not None:
        out["minimum"] = p.low
    if p.high is not None:
        out["maximum"] = p.high
    if p.choices is not None:
        out["enum"] = list(p.choices)
    out["default"] = p.default
    return out


def _scan_keys() -> list[str]:
    """The keys a scan writes beyond FindingsReport's own, read from ``ScanResult.report``."""
    import pandas as pd

    from .scan import ScanResult

    empty = ScanResult([], {}, pd.DataFrame(), "", summaries={"rule_violation": {}})  # every optional key present
    own = {"schema", "generated_at", "data_fingerprint", "parameters", "findings"}
    keys = [k for k in empty.report().to_dict() if k not in own]
    missing = [k for k in keys if k not in SCAN_KEYS]
    if missing:
        raise KeyError(f"scan writes {missing} into findings.json: describe them in graphkit/findings_schema.py SCAN_KEYS")
    return keys


def findings_schema() -> dict[str, Any]:
    """The JSON Schema of ``findings.json`` (written by ``graphkit scan`` and ``graphkit rules run``)."""
    kinds = list(KINDS)
    id_pattern = "^(" + "|".join(map(re.escape, kinds)) + "):[0-9a-f]{16}$"
    finding = _object(Finding, _FINDING_DOCS, {
        "id": {"pattern": id_pattern},
        "kind": {"$ref": "#/$defs/kind"},
        "amount_at_risk": {"minimum": 0},
        "period": {"properties": {k: {"type": ["string", "null"], "pattern": TIMESTAMP} for k in ("start", "end")},
                   "required": ["start", "end"], "additionalProperties": False},
        "claims": {"uniqueItems": True},
        "evidence": {"properties": {
            "null": {"description": "what the pattern was compared with: the null model, observed and expected", "type": "object"},
            "benign_checks": {"description": "each legal explanation tested and its outcome", "type": "array",
                              "items": {"$ref": "#/$defs/benign_check"}}}},
    })
    # the detectors of graphkit.detectors compare with a null and test legal look-alikes (docs/detectors.md)
    statistical = [k for k in kinds if k in REGISTRY and REGISTRY[k].func.__module__.startswith("graphkit.detectors.")]
    finding["allOf"] = [{"if": {"properties": {"kind": {"enum": statistical}}},
                         "then": {"properties": {"evidence": {"required": ["null", "benign_checks"]}}}}]
    entity = _object(Entity, _ENTITY_DOCS, {"type": {"enum": list(ENTITY_TYPES)}})
    entity["additionalProperties"] = False
    report = _object(FindingsReport, _REPORT_DOCS, {
        "schema": {"const": FINDINGS_SCHEMA},
        "generated_at": {"pattern": TIMESTAMP},
        "parameters": {"propertyNames": {"$ref": "#/$defs/kind"}, "properties": {
            kind: {"description": f"parameters of {kind} (graphkit detectors; docs/detector-reference.md)", "type": "object",
                   "properties": {p.name: _param_schema(p) for p in REGISTRY[kind].params}, "additionalProperties": False}
            for kind in kinds if kind in REGISTRY}},
        "findings": {"items": {"$ref": "#/$defs/finding"}},
    }, skip=("extra",))
    props = dict(report["properties"])
    findings_prop = props.pop("findings")  # the file writes the scan's keys before the findings (FindingsReport.to_dict)
    props.update({k: SCAN_KEYS[k] for k in _scan_keys()})
    props["findings"] = findings_prop
    profile = {
        "type": "object",
        "properties": {
            "time_precision": {"description": "the finest unit the settlement times are known to", "enum": [*PRECISIONS, None]},
            "supports": {"description": "which requirements detectors declare the data meets", "type": "object",
                         "properties": {k: {"description": f"{zh} / {en}", "type": "boolean"} for k, (zh, en) in REQUIREMENTS.items()},
                         "required": list(REQUIREMENTS)},
        },
    }
    return {
        "$schema": DRAFT,
        "title": "graphkit findings.json",
        "description": f"{FINDINGS_SCHEMA}: the leads of a scan (docs/findings.md). Generated by "
                       "`python -m graphkit.findings_schema` from graphkit/findings.py and the detector registry; do not edit. "
                       "Fields are only added: readers should accept keys they do not know.",
        "type": "object",
        "properties": props,
        "required": report["required"],
        "$defs": {
            "kind": {"description": "a finding kind: " + "; ".join(f"{k} {kind_label(k)}" for k in kinds), "enum": kinds},
            "finding": {"description": "one lead: a suspicious pattern with the entities and claims it rests on", **finding},
            "entity": {"description": "an entity a finding involves, with its role", **entity},
            "benign_check": _table(_BENIGN_CHECK, "one legal explanation a detector tested (evidence.benign_checks)"),
            "referral_cluster": _table(_CLUSTER, "one referral-abuse cluster"),
            "data_profile": profile,
        },
    }


def render_json() -> str:
    """The schema as committed: two-space indent, Chinese unescaped, a final newline."""
    return json.dumps(findings_schema(), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_json())
