"""The rule base (两库): a versioned knowledge base (知识库) and rule pack (规则库) for
item-level violations, evaluated vectorised over claims × claim items.

Examples
--------
>>> from graphkit.rules import load_pack
>>> pack = load_pack()
>>> sorted({r.category for r in pack.rules}) == sorted(set(CATEGORIES) - {"过度诊疗"})
True
"""

from __future__ import annotations

from .engine import RuleRun, rule_findings, run_rules
from .library import KnowledgeBase, Rule, RulePack, load_kb, load_pack
from .schema import CATEGORIES, LEVELS, RuleFileError

__all__ = ["KnowledgeBase", "Rule", "RulePack", "RuleRun", "RuleFileError", "CATEGORIES", "LEVELS", "load_kb",
           "load_pack", "run_rules", "rule_findings"]
