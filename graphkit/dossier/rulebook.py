"""The configurable rulebook behind 处理意见及依据: penalty tiers, routing, legal basis, redaction.

Examples
--------
>>> rb = Rulebook.load()
>>> h = rb.handling(60000.0, kinds=["collusion_ring"], public_staff=True, found_on="2024-07-05")
>>> h["penalty_multiple"], h["report_deadline"], [r["to_en"] for r in h["routes"]]
(4, '2024-07-09', ['police', 'discipline inspection'])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .._config import load_toml
from ..errors import GraphkitError

__all__ = ["Rulebook"]


@dataclass
class Rulebook:
    data: dict[str, Any]
    source: str

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Rulebook":
        """The given TOML rulebook, or the default one shipped with graphkit."""
        data, source = load_toml(path, "rulebook.toml", "rulebook")
        for section in ("organisation", "thresholds", "penalty_tiers", "general", "kinds", "profiles"):
            if section not in data:
                raise GraphkitError(f"rulebook {source} lacks the [{section}] section")
        return cls(data, source)

    @property
    def org(self) -> dict[str, str]:
        return self.data["organisation"]

    def profile(self, name: str) -> dict[str, str]:
        try:
            return self.data["profiles"][name]
        except KeyError:
            raise GraphkitError(f"unknown redaction profile {name!r}; known: {sorted(self.data['profiles'])}") from None

    def penalty_multiple(self, amount: float) -> int:
        for tier in self.data["penalty_tiers"]:
            if "upto" not in tier or amount <= float(tier["upto"]):
                return int(tier["multiple"])
        raise GraphkitError("rulebook penalty_tiers must end with a tier without 'upto'")

    def clauses(self, kind: str) -> str:
        return self.data["kinds"].get(kind, {}).get("clauses", self.data["general"]["basis"])

    def handling(self, amount: float, *, kinds: Iterable[str], public_staff: bool, found_on: str) -> dict[str, Any]:
        """Proposed handling: recovery, penalty, routing, upward report with its deadline."""
        kinds = list(dict.fromkeys(kinds))
        th = self.data["thresholds"]
        g = self.data["general"]
        multiple = self.penalty_multiple(amount)
        crime = any(self.data["kinds"].get(k, {}).get("crime", False) for k in kinds)
        routes = []
        if crime and amount >= float(th["police"]):
            routes.append({"to": self.org["police"], "to_en": "police", "why": "数据显示疑似骗取医保基金且金额达到移送参考额；经调查认定涉嫌犯罪的，依法移送公安机关",
                           "basis": f"{g['crime_basis']}；{g['transfer_basis']}"})
        if public_staff:
            routes.append({"to": self.org["discipline"], "to_en": "discipline inspection",
                           "why": "涉及公立医疗机构人员；经核实属于监察对象且涉嫌违纪、职务违法的，移送问题线索", "basis": "《中华人民共和国监察法》有关规定"})
        out: dict[str, Any] = {
            "recover": round(amount, 2),
            "penalty_multiple": multiple,
            "penalty_amount": round(amount * multiple, 2),
            "routes": routes,
            "report_upward": amount > float(th["report_upward"]),
            "report_to": self.org["provincial"],
            "basis": [g["basis"] + "：" + self.clauses(k) for k in kinds] + [g["agreement"]],
            "rulebook": self.source,
        }
        if out["report_upward"]:
            d = np.busday_offset(np.datetime64(found_on[:10]), int(th["report_working_days"]), roll="forward",
                                 holidays=[np.datetime64(h) for h in th.get("holidays", [])])
            out["report_deadline"] = str(d)
        return out
