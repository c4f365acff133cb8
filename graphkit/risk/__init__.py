"""Provider risk model: every institution, pharmacy and doctor ranked by explainable parts.

``score = logistic(prior + exposure + indicators + findings + network)``; see
:mod:`graphkit.risk.scores` and docs/risk-model.md.

Examples
--------
>>> from graphkit.risk import provider_risk, explain_provider   # doctest: +SKIP
>>> result = provider_risk(store, findings)                    # doctest: +SKIP
>>> result.scores.head()                                       # doctest: +SKIP
"""

from .activity import Activity, claims_activity
from .evidence import attributions, findings_evidence
from .explain import explain_provider, format_explanation
from .indicators import INDICATORS, provider_indicators
from .network import network_evidence, provider_graph
from .peers import indicator_excess, peer_levels
from .scores import DEFAULTS, RISK_COLUMNS, SCORES_COLUMNS, RiskResult, provider_risk

__all__ = [
    "Activity", "claims_activity", "attributions", "findings_evidence", "INDICATORS", "provider_indicators",
    "network_evidence", "provider_graph", "indicator_excess", "peer_levels", "DEFAULTS", "RISK_COLUMNS",
    "SCORES_COLUMNS", "RiskResult", "provider_risk", "explain_provider", "format_explanation",
]
