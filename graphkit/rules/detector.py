"""The ``rule_violation`` detector: the rule pack (两库) as one kind of the scan.

It needs claim items; without them the scan skips it and says why. The per-rule summary
(hit counts, 违规金额, rules skipped for a missing column) travels on the returned list as
``.summary`` and lands in ``findings.json`` under ``rule_summary``.

No null model: a rule is a rule. Benign checks (:mod:`graphkit.rules.benign`): the legal
look-alikes a rule's shape can resemble — a newborn settled on a parent's card, a care home's
batch, a course of treatment sessions, a chronic patient's monthly refill — are tested from the
data on every hit line and recorded in ``evidence.benign_checks``; a finding they explain keeps
``benign_weight`` of its score (partly: in proportion to the 违规金额 explained).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..detectors import register
from ..findings import Finding
from ..params import Param
from .engine import rule_findings, run_rules

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["RuleFindings", "rule_violation"]


class RuleFindings(list):
    """A list of findings that also carries the run's per-rule ``summary``."""

    summary: dict[str, Any]


@register(
    "rule_violation",
    [
        Param("pack", "", "str", doc="rule pack file (TOML); empty: the shipped pack"),
        Param("kb", "", "str", doc="knowledge-base file (TOML); empty: the one the pack names"),
        Param("max_items", 30, "int", low=1, high=10_000, doc="item lines listed in a finding's evidence"),
        Param("benign_weight", 0.2, "float", low=0.0, high=1.0,
              doc="score factor of a finding a legal look-alike fully explains (newborn, care home, sessions, refill)"),
    ],
    needs=("items",),
    # opt-in until its precision is measured on planted violations and its cost at 10M claims
    # (docs/rules.md): `graphkit scan --kinds …,rule_violation` or `graphkit rules run`
    default=False,
)
def rule_violation(store: Store, *, pack: str = "", kb: str = "", max_items: int = 30,
                   benign_weight: float = 0.2) -> list[Finding]:
    """规则库违规 / rule-pack violations: item lines breaking a rule of the pack (price ceilings,
    payment scope, duplicate and split billing, swapped and phantom items, over-prescribing,
    admissions without indication), grouped per provider × rule × month."""
    run = run_rules(store, pack or None, kb=kb or None)
    out = RuleFindings(rule_findings(run, max_items=max_items, store=store, benign_weight=benign_weight))
    out.summary = {"totals": run.totals(), "rules": run.summary,
                   "pack": {"name": run.pack.name, "version": run.pack.version, "source": run.pack.source},
                   "kb": {"name": run.pack.kb.name, "version": run.pack.kb.version, "source": run.pack.kb.source}}
    return out
