"""Legal basis by finding kind and level (``graphkit/data/legal_basis.toml``).

A dossier proposes, never decides: for a draft (level 可疑, nothing established) it lists the
candidate levels with their articles and penalty ranges; once a reviewer has signed for a level
(违规 or 骗取) it proposes that level's range. Either way the paper says the decision is the
reviewer's.

Examples
--------
>>> lb = LegalBasis.load()
>>> p = lb.proposal(["split_stay"], 10000.0)
>>> p["level"], [(o["level"], o["multiple"], o["amount"]) for o in p["options"]]
('可疑', [('违规', (1, 2), (10000.0, 20000.0)), ('骗取', (2, 5), (20000.0, 50000.0))])
>>> [a["no"] for a in p["options"][0]["articles"]]
['第三十八条']
>>> lb.proposal(["shared_card"], 3000.0, level="骗取")["options"][0]["multiple"]
(2, 5)
>>> lb.proposal(["shared_card"], 3000.0, level="违规")["options"][0]["multiple"] is None  # 第四十一条 fines 骗取 only
True
>>> r = lb.proposal(["rule_violation"], 80.0, rules=[{"rule_id": "BZ-001", "level": "违规", "deduct_amount": 85.5}])
>>> r["rules"][0]["handling"].split("：")[0], [a["no"] for a in r["rules"][0]["handling_articles"]], r["rule_totals"]["违规"]
('扣款/追回', ['第三十八条'], 85.5)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .._config import load_toml
from ..errors import GraphkitError

__all__ = ["LegalBasis", "LEVELS"]

#: levels in order of what is established: pattern only → violation → fraud
LEVELS = ("可疑", "违规", "骗取")


@dataclass
class LegalBasis:
    data: dict[str, Any]
    source: str

    @classmethod
    def load(cls, path: str | Path | None = None) -> "LegalBasis":
        """The given table, or the one shipped with graphkit; every reference is checked."""
        data, source = load_toml(path, "legal_basis.toml", "legal-basis table")
        lb = cls(data, source)
        lb.check()
        return lb

    def check(self) -> None:
        """Every row names a known source; every article a kind or level cites exists."""
        d = self.data
        for section in ("sources", "articles", "levels", "referrals", "kinds"):
            if section not in d:
                raise GraphkitError(f"legal-basis table {self.source} lacks the [{section}] section")
        rows = [("articles", k, v) for k, v in d["articles"].items()] + [("levels", k, v) for k, v in d["levels"].items()]
        rows += [("referrals", k, v) for k, v in d["referrals"].items()] + [("kinds", k, v) for k, v in d["kinds"].items()]
        for sec, key, row in rows:
            if row.get("source") not in d["sources"]:
                raise GraphkitError(f"legal-basis table {self.source}: [{sec}.{key}] needs a source from [sources]; "
                                    f"got {row.get('source')!r}")
        for key, row in d.get("rule_levels", {}).items():  # optional: needed once a case holds rule findings
            for src in [row.get("source")] + list(row.get("basis", [])):
                if src not in d["sources"]:
                    raise GraphkitError(f"legal-basis table {self.source}: [rule_levels.{key}] cites unknown source {src!r}")
            for a in row.get("articles", []):
                if a not in d["articles"]:
                    raise GraphkitError(f"legal-basis table {self.source}: [rule_levels.{key}] cites unknown article {a!r}")
        for key, row in d["kinds"].items():
            for field in ("duties", "违规", "骗取"):
                for a in row.get(field, []):
                    if a not in d["articles"]:
                        raise GraphkitError(f"legal-basis table {self.source}: [kinds.{key}] {field} cites unknown article {a!r}")

    def kind(self, kind: str) -> dict[str, Any]:
        try:
            return self.data["kinds"][kind]
        except KeyError:
            raise GraphkitError(f"legal-basis table {self.source} has no row for finding kind {kind!r}") from None

    def article(self, key: str) -> dict[str, Any]:
        return {"key": key, **self.data["articles"][key]}

    def source_title(self, key: str) -> str:
        return self.data["sources"][key]["title"]

    def rule_level(self, level: str) -> dict[str, Any]:
        """The handling a rule's 判断等级 obliges (``[rule_levels]``), with its articles and sources."""
        try:
            row = self.data["rule_levels"][level]
        except KeyError:
            raise GraphkitError(f"legal-basis table {self.source} has no [rule_levels.{level}] row "
                                "(needed for rule_violation findings)") from None
        return {"level": level, "handling": row["handling"],
                "handling_articles": [self.article(a) for a in row.get("articles", [])],
                "handling_basis": [self.source_title(b) for b in row.get("basis", [])], "verified": row.get("verified", True)}

    def proposal(self, kinds: Iterable[str], amount: float, *, level: str | None = None,
                 rules: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
        """Candidate articles and penalty ranges for ``kinds`` at ``level`` (None or 可疑: every level
        that applies to the kinds, as options for the reviewer). ``rules``: the rule findings' facts
        (``rule_id``, ``level``, ``basis``, ``deduct_amount`` …); each comes back with the handling
        its 判断等级 obliges (:meth:`rule_level`), and ``rule_totals`` sums 违规金额 per level."""
        kinds = list(dict.fromkeys(kinds))
        level = level or "可疑"
        if level not in LEVELS:
            raise GraphkitError(f"level must be one of {LEVELS}; got {level!r}")
        rows = [self.kind(k) for k in kinds]
        wanted = [level] if level != "可疑" else [lv for lv in LEVELS[1:]]
        options = []
        for lv in wanted:
            keys = list(dict.fromkeys(a for r in rows for a in r.get(lv, [])))
            if not keys:
                continue
            arts = [self.article(a) for a in keys]
            ranges = [a["multiple"] for a in arts if "multiple" in a and lv in a.get("fine_levels", LEVELS)]
            mult = (min(r[0] for r in ranges), max(r[1] for r in ranges)) if ranges else None
            options.append({
                "level": lv, "meaning": self.data["levels"][lv]["meaning"], "articles": arts, "multiple": mult,
                "amount": (round(amount * mult[0], 2), round(amount * mult[1], 2)) if mult else None,
                "base": next((a["base"] for a in arts if "base" in a), "造成损失金额"),
            })
        duties = [self.article(a) for a in dict.fromkeys(a for r in rows for a in r.get("duties", []))]
        rule_rows = [{**r, **{k: v for k, v in self.rule_level(r["level"]).items() if k != "level"}} for r in rules]
        totals: dict[str, float] = {}
        for r in rule_rows:
            totals[r["level"]] = round(totals.get(r["level"], 0.0) + float(r.get("deduct_amount") or 0.0), 2)
        return {
            "rules": rule_rows, "rule_totals": totals,
            "level": level, "level_meaning": self.data["levels"][level]["meaning"], "options": options,
            "duties": duties, "notes": [r["note"] for r in rows if r.get("note")],
            "crime": any(r.get("crime") for r in rows), "referrals": self.data["referrals"],
            "sources": {k: self.source_title(k) for k in self.data["sources"]}, "table": self.source,
            "status": self.data.get("meta", {}).get("status", ""),
        }

    def parties(self, kind: str) -> list[str]:
        """Who is a party (被反映人) for ``kind``: ``provider`` and/or ``role:<role>`` entries."""
        return list(self.kind(kind).get("parties", []))
