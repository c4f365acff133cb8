"""Routine fund supervision (基金监管日常工作) from the claims data: budget pace, monthly key
indicators, double-random inspection draws, review sampling, penalties and yearly ranking.

Every routine is a function returning a :class:`pandas.DataFrame` with English machine column
names (a ``*_zh`` column carries the Chinese label where useful; :data:`ZH` translates the
columns for display). Random draws (:func:`draw_inspection`, :func:`review_sample`) are
reproducible from ``seed`` and recorded in the audit log (:func:`graphkit.audit.default_log`).

Data source
-----------
Each function reads from ``source``: a :class:`~graphkit.store.Store` (``open_store(...)``)
or, for small hand-made data, a mapping ``{table name: DataFrame}`` using the bundle's
column names (missing optional tables count as empty).

Bundle extension: the optional ``budgets`` table (医保基金预算)
---------------------------------------------------------------
``budgets.csv`` / ``.csv.gz`` / ``.parquet`` in the bundle, one row per provider and year:

==============  ===========================  ================================================
column          type                         notes
==============  ===========================  ================================================
provider_type*  ``institution``/``pharmacy``
provider_id*    str                          an ``institution_id`` or a ``pharmacy_id``
year*           int                          calendar year the budget covers
amount*         decimal, non-negative        yearly fund budget (yuan)
==============  ===========================  ================================================

Primary key (provider_type, provider_id, year). The loader validates types, enum, sign and
duplicate keys like any table; whether ``provider_id`` names a known institution/pharmacy
(it refers to one table or the other depending on ``provider_type``) is checked here:
:func:`budget_pace` raises :class:`MonitoringError` listing the unknown ids.

Budget pace (序时进度)
----------------------
A claim's fund is spent in the month it is *settled*: the discharge month (``end_time``) for
inpatient stays, the start month otherwise. Months run from the month of the first claim
start to that of the last (or ``through``). In year Y, the cumulative spend from the first
reported month of Y up to month m is compared with ``amount × n / 12`` (n = reported months
of Y up to m, i.e. the month number for a bundle starting in January). Deviation =
cumulative / expected − 1; above +5 % → ``warn`` (约谈提醒/暂缓支付), above +10 % →
``refuse`` (拒付/限期整改); both thresholds are parameters.

Review sampling: which claims are manual (手工报销)
---------------------------------------------------
An optional extra claims column says so: ``manual`` (true/false, 1/0, yes/no, 是/否) or
``settlement_mode`` (``manual``, ``manual_reimbursement``, ``手工``, ``手工报销``, ``零星报销``,
``手工结算`` count as manual; any other value, e.g. ``direct``/``联网结算``, does not). With
neither column every claim at or above the threshold is taken.

Modules
-------
This package re-exports the public names of its modules: :mod:`.constants` (labels and
defaults), :mod:`.source` (reading a store or a mapping; :class:`MonitoringError`),
:mod:`.budget` (budget pace), :mod:`.indicators` (monthly indicators, focus list),
:mod:`.inspection` (double-random draws), :mod:`.review` (review sampling), :mod:`.penalties`
(penalties, yearly scores, ranking), :mod:`.notebook` (workbench helpers) and :mod:`.charts`.

Examples
--------
>>> import pandas as pd
>>> claims = pd.DataFrame({"claim_id": ["C1", "C2"], "claim_type": ["outpatient", "outpatient"],
...     "institution_id": ["H1", "H1"], "pharmacy_id": [None, None], "patient_id": ["P1", "P1"],
...     "start_time": ["2024-01-10", "2024-02-10"], "end_time": [None, None],
...     "total_amount": [1070.0, 1070.0], "fund_amount": [1070.0, 1070.0]})
>>> data = {"claims": claims, "institutions": pd.DataFrame({"institution_id": ["H1"]}),
...     "budgets": pd.DataFrame({"provider_type": ["institution"], "provider_id": ["H1"],
...                              "year": [2024], "amount": [12000.0]})}
>>> budget_pace(data)[["month", "cumulative", "expected", "level"]]
     month  cumulative  expected level
0  2024-01      1070.0    1000.0  warn
1  2024-02      2140.0    2000.0  warn
"""

from __future__ import annotations

from .budget import budget_pace, pace_alerts
from .charts import (
    plot_budget_pace,
    plot_indicators,
    plot_inspection,
    plot_penalties,
    plot_ranking,
    plot_review_sample,
)
from .constants import (
    CHRONIC_PREFIXES,
    DEFAULT_DEDUCTIONS,
    DEFAULT_RISK_WEIGHTS,
    LEVELS,
    MANUAL_MODES,
    ZH,
)
from .indicators import focus_list, monthly_indicators
from .inspection import draw_inspection, inspection_candidates
from .notebook import example_inputs, from_env
from .penalties import bottom_ranking, penalties, penalty_tiers, yearly_scores
from .review import review_sample
from .source import MonitoringError

__all__ = [
    "MonitoringError",
    "ZH",
    "LEVELS",
    "CHRONIC_PREFIXES",
    "MANUAL_MODES",
    "DEFAULT_RISK_WEIGHTS",
    "DEFAULT_DEDUCTIONS",
    "budget_pace",
    "pace_alerts",
    "monthly_indicators",
    "focus_list",
    "inspection_candidates",
    "draw_inspection",
    "review_sample",
    "penalties",
    "penalty_tiers",
    "yearly_scores",
    "bottom_ranking",
    "example_inputs",
    "from_env",
    "plot_budget_pace",
    "plot_indicators",
    "plot_inspection",
    "plot_review_sample",
    "plot_penalties",
    "plot_ranking",
]
