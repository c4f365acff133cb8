"""Rules written in code (the pack's escape hatch: ``shape = "code"``, ``function = "module:name"``).

A code rule is ``fn(sub, rule, ctx) -> hits`` exactly like a shape (see
:mod:`graphkit.rules.shapes`): ``sub`` is the item frame restricted to the rule's settings,
``hits`` a DataFrame of ``row`` and ``deduct``. ``sub`` holds every column of the frame for the
rule's lines (a declarative shape gets only the columns it reads); ``ctx.frame`` gives any column of
any line (``ctx.frame.column(name)``, ``ctx.frame.take(cols, rows)``). Read them, never modify
them: columns may be views of the frame's own. A function that sets ``fn.columns`` (a tuple of
column names) gets only those in ``sub`` — at 10M lines every column of every line is gigabytes.
Its string columns are
categoricals with sorted categories (compare them with ``==`` / ``isin`` as usual; group on
their codes for speed). A bureau's own module works the same way as long as Python can import it.

Examples
--------
>>> from graphkit.rules.library import load_pack
>>> load_pack().rule("DB-001").function
'graphkit.rules.coded:low_standard_admission'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["low_standard_admission", "drugs_only_admission"]


def _category(sub: pd.DataFrame, ctx) -> np.ndarray:
    cat = sub["category"].astype("object").to_numpy() if "category" in sub.columns else np.full(len(sub), None)
    cat = np.where(pd.isna(cat), ctx.kbcol("category", sub.index), cat).astype(str)
    # ward charges billed per day of the stay (护理费, 住院诊查费) go with the bed, not as treatments:
    # the catalogue's per_diem, or for a code it does not hold, what the data bills per day
    from .shapes_data import per_diem_codes

    per = ctx.kbcol("per_diem", sub.index)
    per = np.where(pd.isna(per), per_diem_codes(sub), per == True)  # noqa: E712
    return np.where(per.astype(bool), "bed", cat)


def _stay_shares(sub: pd.DataFrame, ctx, max_days: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    s = sub[(sub["claim_type"] == "inpatient") & (sub["los"] <= max_days)]
    cat = _category(s, ctx)
    amt = s["amount"].to_numpy()
    by = pd.DataFrame({"ci": s["ci"].to_numpy(), "cat": cat, "amt": amt})
    piv = by.pivot_table(index="ci", columns="cat", values="amt", aggfunc="sum", fill_value=0.0)
    for c in ("drug", "exam", "treatment", "material", "bed", "non_medical", "None"):
        if c not in piv.columns:
            piv[c] = 0.0
    return s, piv


def low_standard_admission(sub, rule, ctx):
    """低标准入院: inpatient stays of at most ``max_days`` days whose non-bed charges are at least
    ``min_exam_share`` exams, with at most ``treatments_max`` treatment lines — work an
    outpatient visit could have done. 违规金额 = the whole stay (every line)."""
    p = rule.params
    s, piv = _stay_shares(sub, ctx, float(p.get("max_days", 2)))
    nonbed = piv.drop(columns=["bed"]).sum(axis=1)
    share = piv["exam"] / nonbed.where(nonbed > 0, np.nan)
    ntreat = pd.Series(_category(s, ctx) == "treatment").groupby(s["ci"].to_numpy()).sum()
    ok = (share >= float(p.get("min_exam_share", 0.8))) & (ntreat.reindex(piv.index).fillna(0) <= int(p.get("treatments_max", 0)))
    flagged = piv.index[ok.fillna(False).to_numpy()]
    m = s["ci"].isin(flagged).to_numpy()
    return pd.DataFrame({"row": s.index[m].to_numpy(np.int64), "deduct": s["amount"].to_numpy()[m]})


#: the columns the shipped code rules read (``sub`` holds only these)
_STAY_COLUMNS = ("amount", "category", "ci", "claim_type", "item_code", "los", "quantity")
low_standard_admission.columns = _STAY_COLUMNS


def drugs_only_admission(sub, rule, ctx):
    """低标准入院: inpatient stays of at most ``max_days`` days billed only for drugs (and the bed):
    no exam, no treatment, no material — medication a prescription could have given.
    违规金额 = the whole stay."""
    s, piv = _stay_shares(sub, ctx, float(rule.params.get("max_days", 7)))
    other = piv[["exam", "treatment", "material", "non_medical", "None"]].sum(axis=1)
    flagged = piv.index[((piv["drug"] > 0) & (other == 0)).to_numpy()]
    m = s["ci"].isin(flagged).to_numpy()
    return pd.DataFrame({"row": s.index[m].to_numpy(np.int64), "deduct": s["amount"].to_numpy()[m]})


drugs_only_admission.columns = _STAY_COLUMNS
