"""The one findings model (``shared/spec/findings.md``): dataclasses with a JSON round trip.

``to_dict``/``from_dict`` give plain data; ``to_json``/``from_json`` the same as a JSON string
(UTF-8 text, Chinese unescaped) — the form of ``findings.json``.

Examples
--------
>>> f = Finding.create("shared_card", key=("card", "K1"), score=0.9, amount_at_risk=120.0,
...                    entities=[Entity("card", "K1", "card")], claims=["C1", "C2"],
...                    summary="一卡多人 / one card, several people")
>>> f.id == Finding.create("shared_card", key=("card", "K1")).id
True
>>> Finding.from_dict(f.to_dict()) == f
True
>>> Finding.from_json(f.to_json()) == f and json.loads(f.to_json()) == f.to_dict()
True
>>> '"summary": "一卡多人 / one card, several people"' in f.to_json()   # Chinese unescaped
True
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = [
    "Entity",
    "Finding",
    "FindingsReport",
    "FINDINGS_SCHEMA",
    "ENTITY_TYPES",
    "KINDS",
    "OPT_IN_KINDS",
    "kind_label",
    "write_findings",
    "read_findings",
]

FINDINGS_SCHEMA = "graphkit.findings/v1"
ENTITY_TYPES = ("patient", "card", "doctor", "institution", "pharmacy", "terminal")
PROVIDER_TYPES = ("doctor", "institution", "pharmacy", "terminal")

#: kind -> (中文, English) name, the minimum set of the spec
KINDS: dict[str, tuple[str, str]] = {
    "collusion_ring": ("团伙骗保/结伴就医", "collusion ring"),
    "shared_card": ("冒用/盗用医保卡", "shared or stolen card"),
    "deceased_card_use": ("死亡人员医保结算", "settlement after death"),
    "impossible_travel": ("异地不可能出行", "impossible travel"),
    "card_burst": ("集中刷卡/套现", "card-swipe burst"),
    "phantom_stay": ("挂床住院", "phantom inpatient stay"),
    "split_stay": ("分解住院", "split inpatient stay"),
    "referral_loop": ("循环转诊", "referral loop"),
    "referral_concentration": ("转诊集中/利益输送", "referral concentration"),
    "identity_ring": ("身份关联团伙", "identity ring"),
    "duplicate_claim": ("重复结算", "duplicate settlement"),
    "rule_violation": ("规则库违规", "rule-pack violation"),
    "indicator_outlier": ("监控指标异常", "monitoring-indicator outlier"),
}

#: kinds a plain scan does not run (their detectors register with ``default=False``; a test
#: keeps this in step with the registry, so the CLI can name them without importing detectors)
OPT_IN_KINDS: tuple[str, ...] = ("indicator_outlier",)


def kind_label(kind: str, lang: str = "both") -> str:
    """The label of a finding kind — the one source for CLI, notebooks, workbench and dossiers.

    ``lang``: ``"zh"``, ``"en"`` or ``"both"`` (``中文 / English``); an unknown kind is
    returned as it is.

    >>> kind_label("deceased_card_use")
    '死亡人员医保结算 / settlement after death'
    >>> kind_label("shared_card", "zh"), kind_label("nope", "en")
    ('冒用/盗用医保卡', 'nope')
    """
    if kind not in KINDS:
        return kind
    zh, en = KINDS[kind]
    return {"zh": zh, "en": en, "both": f"{zh} / {en}"}[lang]


@dataclass(frozen=True)
class Entity:
    """An entity a finding involves, with its role in the pattern."""

    type: str
    id: str
    role: str = ""

    def __post_init__(self) -> None:
        if self.type not in ENTITY_TYPES:
            raise ValueError(f"entity type must be one of {ENTITY_TYPES}; got {self.type!r}")


def _iso(ts: Any) -> str | None:
    if ts is None or (isinstance(ts, float) and np.isnan(ts)) or ts is pd.NaT:
        return None
    return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M:%S")


_PLAIN = (str, int, bool, type(None))


def _jsonable(x: Any) -> Any:
    if type(x) in _PLAIN:  # most values (ids, counts, names): no further check
        return x
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set)):
        if all(type(v) in _PLAIN for v in x):  # a list of claim ids: copied as it is
            return list(x)
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return None if np.isnan(x) else round(float(x), 6)
    if isinstance(x, float):
        return None if np.isnan(x) else round(x, 6)
    if isinstance(x, (pd.Timestamp, np.datetime64)):
        return _iso(x)
    if x is pd.NA or x is pd.NaT:
        return None
    return x


@dataclass
class Finding:
    """One lead: a suspicious pattern with the entities and claims it rests on."""

    id: str
    kind: str
    score: float
    amount_at_risk: float
    period: dict[str, str | None]
    entities: list[Entity]
    claims: list[str]
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def make_id(kind: str, key: Sequence[Any]) -> str:
        """Stable id from the kind and the pattern's identifying key (same data → same id)."""
        raw = json.dumps([kind, [str(k) for k in key]], ensure_ascii=False)
        return f"{kind}:{hashlib.sha256(raw.encode()).hexdigest()[:16]}"

    @classmethod
    def create(
        cls,
        kind: str,
        *,
        key: Sequence[Any],
        score: float = 0.0,
        amount_at_risk: float = 0.0,
        start: Any = None,
        end: Any = None,
        entities: Iterable[Entity] = (),
        claims: Iterable[str] = (),
        summary: str = "",
        evidence: dict[str, Any] | None = None,
    ) -> "Finding":
        if kind not in KINDS:
            raise ValueError(f"finding kind must be one of {list(KINDS)}; got {kind!r}")
        if not (math.isfinite(float(score)) and math.isfinite(float(amount_at_risk))):
            raise ValueError(f"a {kind} finding needs a finite score and amount; got {score!r}, {amount_at_risk!r}")
        return cls(
            id=cls.make_id(kind, key),
            kind=kind,
            score=round(float(score), 6),
            amount_at_risk=round(float(amount_at_risk), 2),
            period={"start": _iso(start), "end": _iso(end)},
            entities=list(dict.fromkeys(entities)),
            claims=sorted(set(map(str, claims))),
            summary=summary,
            evidence=_jsonable(evidence or {}),
        )

    def entity_ids(self, type: str, role: str | None = None) -> list[str]:
        """Ids of this finding's entities of one type (and role)."""
        return [e.id for e in self.entities if e.type == type and (role is None or e.role == role)]

    def to_dict(self) -> dict[str, Any]:
        """The finding as plain data: the shape of one entry of ``findings.json``."""
        d = asdict(self)
        d["entities"] = [asdict(e) for e in self.entities]
        return d

    def to_json(self, *, indent: int | None = None) -> str:
        """:meth:`to_dict` as a JSON string (Chinese unescaped; encode as UTF-8 to store it)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> "Finding":
        """The finding of a :meth:`to_json` string (or one entry of ``findings.json``)."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Finding":
        """The finding of a :meth:`to_dict` dict (missing optional keys take their defaults)."""
        return cls(
            id=d["id"],
            kind=d["kind"],
            score=float(d["score"]),
            amount_at_risk=float(d["amount_at_risk"]),
            period=dict(d.get("period") or {"start": None, "end": None}),
            entities=[Entity(e["type"], e["id"], e.get("role", "")) for e in d.get("entities", [])],
            claims=list(d.get("claims", [])),
            summary=d.get("summary", ""),
            evidence=dict(d.get("evidence", {})),
        )

    def subgraph(self, store: Store, **kwargs: Any):
        """The finding's evidence as a networkx graph (see :func:`graphkit.evidence.evidence_graph`)."""
        from .evidence import evidence_graph

        return evidence_graph(store, self, **kwargs)


@dataclass
class FindingsReport:
    """The content of ``findings.json``."""

    findings: list[Finding]
    data_fingerprint: str
    parameters: dict[str, dict[str, Any]]
    generated_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))
    schema: str = FINDINGS_SCHEMA
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data: the content of ``findings.json``."""
        return {
            "schema": self.schema,
            "generated_at": self.generated_at,
            "data_fingerprint": self.data_fingerprint,
            "parameters": _jsonable(self.parameters),
            **_jsonable(self.extra),
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """:meth:`to_dict` as a JSON string (Chinese unescaped): ``findings.json`` is this, indent 1.

        >>> r = FindingsReport([Finding.create("card_burst", key=("T1",), summary="刷卡")], "fp", {},
        ...                    generated_at="2024-05-01T00:00:00")
        >>> FindingsReport.from_json(r.to_json()) == r
        True
        >>> "刷卡" in r.to_json()
        True
        """
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> "FindingsReport":
        """The report of a :meth:`to_json` string, e.g. the text of a ``findings.json``."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FindingsReport":
        """The report of a :meth:`to_dict` dict; unknown top-level keys go to ``extra``."""
        known = {"schema", "generated_at", "data_fingerprint", "parameters", "findings"}
        return cls(
            findings=[Finding.from_dict(f) for f in d.get("findings", [])],
            data_fingerprint=d.get("data_fingerprint", ""),
            parameters=d.get("parameters", {}),
            generated_at=d.get("generated_at", ""),
            schema=d.get("schema", FINDINGS_SCHEMA),
            extra={k: v for k, v in d.items() if k not in known},
        )


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Score descending, then amount descending, then id (a total, stable order)."""
    return sorted(findings, key=lambda f: (-f.score, -f.amount_at_risk, f.id))


def write_findings(path: str | Path, report: FindingsReport) -> None:
    """Write ``findings.json`` (UTF-8, Chinese unescaped), findings sorted by score."""
    report.findings = sort_findings(report.findings)
    Path(path).write_text(report.to_json(indent=1), "utf-8")


def read_findings(path: str | Path) -> FindingsReport:
    """Read a ``findings.json`` written by :func:`write_findings` (or by another tool)."""
    return FindingsReport.from_json(Path(path).read_text("utf-8"))
