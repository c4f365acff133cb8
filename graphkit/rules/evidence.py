"""The item lines a ``rule_violation`` finding lists, dated: one reading for the workbench and
the dossier.

A finding's ``evidence["items"]`` holds its dearest violating lines (claim, code, name,
quantity, unit price, days supply, amount, 违规金额) but no date; the date is the line's
``item_time`` where the data has one (the first line of that code on the claim), else the
claim's settlement day.

Examples
--------
>>> import pandas as pd
>>> ev = {"items": [{"claim_id": "C1", "item_code": "A", "item_name": "甲", "quantity": 2.0, "unit_price": 5.0,
...                  "amount": 10.0, "deduct": 4.0}]}
>>> claims = pd.DataFrame({"claim_id": ["C1"], "start_time": pd.to_datetime(["2024-01-05 09:00"])})
>>> hit_lines(ev, claims).loc[0, ["date", "item_code"]].tolist()
['2024-01-05', 'A']
>>> items = pd.DataFrame({"claim_id": ["C1"], "item_code": ["A"], "item_time": pd.to_datetime(["2024-01-07"])})
>>> hit_lines(ev, claims, items).loc[0, "date"]
'2024-01-07'
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

__all__ = ["LINE_COLUMNS", "hit_lines"]

#: the columns of :func:`hit_lines`
LINE_COLUMNS = ["claim_id", "date", "item_code", "item_name", "quantity", "unit_price", "amount", "deduct"]


def hit_lines(evidence: Mapping[str, Any], claims: pd.DataFrame, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """The listed violating lines of a rule finding's ``evidence`` with their date (columns
    :data:`LINE_COLUMNS`, the dearest first as the finding lists them).

    ``claims``: ``claim_id``, ``start_time`` of (at least) the lines' claims; ``items``: the
    claims' item lines (``claim_id``, ``item_code`` and any of ``item_name``, ``item_time``), or None.
    """
    lines = pd.DataFrame(list(evidence.get("items") or []))
    if lines.empty:
        return pd.DataFrame(columns=LINE_COLUMNS)
    for c in LINE_COLUMNS:
        if c not in lines.columns:
            lines[c] = None
    lines["claim_id"] = lines["claim_id"].astype(str)
    st = claims.assign(claim_id=claims["claim_id"].astype(str)).drop_duplicates("claim_id").set_index("claim_id")["start_time"]
    date = pd.to_datetime(lines["claim_id"].map(st), errors="coerce")
    if items is not None and len(items) and {"claim_id", "item_code"} <= set(items.columns):
        its = items.assign(claim_id=items["claim_id"].astype(str), item_code=items["item_code"].astype(str))
        first = its.drop_duplicates(["claim_id", "item_code"]).set_index(["claim_id", "item_code"])
        key = pd.MultiIndex.from_arrays([lines["claim_id"], lines["item_code"].astype(str)])
        if "item_time" in first.columns:
            t = pd.to_datetime(pd.Series(first["item_time"].reindex(key).to_numpy(), index=lines.index), errors="coerce")
            date = t.where(t.notna(), date)
        if "item_name" in first.columns:
            name = pd.Series(first["item_name"].reindex(key).to_numpy(), index=lines.index)
            lines["item_name"] = lines["item_name"].where(lines["item_name"].notna(), name)
    lines["date"] = date.dt.strftime("%Y-%m-%d")
    return lines[LINE_COLUMNS].reset_index(drop=True)
