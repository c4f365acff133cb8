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

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..detectors import register
from ..findings import Finding
from ..params import Param
from .engine import rule_findings, run_rules

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["RuleFindings", "rule_violation", "fits_memory", "available_gb", "BYTES_PER_LINE", "HEADROOM"]

#: peak resident bytes of the rule pack per item line (frame, a rule's working arrays, the hits,
#: the findings and their benign checks; claim context included): the whole detector on a
#: 12.56M-claim city, 42.15M item lines, peaked at 5.80 GB (138 B a line with the lean shapes of
#: 2026-12-07; docs/rules.md, *Speed*) — with a quarter for cities with more claims per line (the
#: 11.7M-claim, 26.5M-line city measured 201 B a line when the 42M-line one measured 200)
BYTES_PER_LINE = 170
#: the share of the available memory the estimate may take: the rest is for the scan's other
#: processes and the estimate's own error (it is measured on one city)
HEADROOM = 0.8


def available_gb() -> float:
    """Memory this process may still take (GB): ``$GRAPHKIT_RULES_MEMORY_GB`` when set, else the
    kernel's ``MemAvailable``, bounded by a cgroup v2 limit (containers); half the physical
    memory where neither can be read."""
    env = os.environ.get("GRAPHKIT_RULES_MEMORY_GB", "").strip()
    if env:
        try:
            return float(env)
        except ValueError:
            from ..errors import ParameterError

            raise ParameterError(f"GRAPHKIT_RULES_MEMORY_GB={env!r} 不是数字 / is not a number of GB") from None
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024 / 2**30
    except OSError:
        pass
    if avail is None:
        from ..scan_pool import _memory_gb

        avail = _memory_gb() / 2
    try:
        lim = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if lim != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
            avail = min(avail, (int(lim) - used) / 2**30)
    except (OSError, ValueError):
        pass
    return avail


def fits_memory(store: Store) -> str | None:
    """Why the rule pack cannot run here: its estimated peak (item lines × :data:`BYTES_PER_LINE`)
    above :data:`HEADROOM` of :func:`available_gb`; None when it fits. A scan then skips it and says so instead of
    being killed halfway (every other kind's findings would be lost with it).

    >>> import tempfile, pandas as pd
    >>> from graphkit.store import EmbeddedStore
    >>> d = tempfile.mkdtemp()
    >>> EmbeddedStore.write(d, {"claim_items": pd.DataFrame({"claim_id": ["C1"], "item_code": ["X"], "amount": [1.0]})})
    >>> fits_memory(EmbeddedStore(d)) is None
    True
    """
    lines = int(store.row_counts().get("claim_items", 0) or 0)
    need = lines * BYTES_PER_LINE / 2**30
    have = available_gb()
    if need <= HEADROOM * have:
        return None
    return (f"费用明细 {lines:,} 行，规则库约需 {need:.1f} GB 内存，超过本机可用 {have:.1f} GB 的 {HEADROOM:.0%}；"
            f"请单独或在内存更大的机器上运行 graphkit rules run（或设置 GRAPHKIT_RULES_MEMORY_GB）/ {lines:,} item "
            f"lines: the rule pack needs ≈ {need:.1f} GB, more than {HEADROOM:.0%} of the {have:.1f} GB available — "
            f"run `graphkit rules run` alone or on a machine with more memory (or set GRAPHKIT_RULES_MEMORY_GB)")


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
        Param("max_provider_share", 0.5, "float", low=0.0, high=1.0,
              doc="a rule broken at more than this share of the providers billing in its settings is common "
                  "practice (a catalogue that does not fit, or policy): summary only, no leads; 1: always leads"),
    ],
    needs=("items",),
    default=True,
    fits=fits_memory,
)
def rule_violation(store: Store, *, pack: str = "", kb: str = "", max_items: int = 30,
                   benign_weight: float = 0.2, max_provider_share: float = 0.5) -> list[Finding]:
    """规则库违规 / rule-pack violations: item lines breaking a rule of the pack (price ceilings,
    payment scope, duplicate and split billing, swapped and phantom items, over-prescribing,
    admissions without indication), grouped per provider × rule × month."""
    run = run_rules(store, pack or None, kb=kb or None, drop_common=max_provider_share)
    out = RuleFindings(rule_findings(run, max_items=max_items, store=store, benign_weight=benign_weight,
                                     max_provider_share=max_provider_share))
    out.summary = {"totals": run.totals(), "rules": run.summary,
                   "pack": {"name": run.pack.name, "version": run.pack.version, "source": run.pack.source},
                   "kb": {"name": run.pack.kb.name, "version": run.pack.kb.version, "source": run.pack.kb.source}}
    return out
