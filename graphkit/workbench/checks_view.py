"""What a lead was compared with and which legal explanations were tested, as HTML for the workbench.

Pure shaping (tested without a browser): :func:`checks_html` turns a finding's ``evidence``
(``null`` and ``benign_checks``, see :mod:`graphkit.detectors._common`) into a small table.

Examples
--------
>>> html = checks_html({"null": {"method": "Poisson tail vs the city's rate"},
...                     "benign_checks": [{"check": "care_home", "zh": "养老机构集中结算", "outcome": "ruled_out",
...                                        "detail": "no care home among the users", "factor": 1.0}]})
>>> "养老机构集中结算" in html and "已排除" in html and "Poisson" in html
True
>>> checks_html({})
''
"""

from __future__ import annotations

import html as _html
from typing import Any, Mapping

__all__ = ["checks_html", "OUTCOME_STYLE"]

#: outcome -> (中文 / English label, colour)
OUTCOME_STYLE: dict[str, tuple[str, str]] = {
    "ruled_out": ("已排除 / ruled out", "#2e7d32"),
    "partial": ("部分解释 / partly explains", "#ef6c00"),
    "explains": ("可解释 / explains", "#c62828"),
    "not_testable": ("数据不足 / not testable", "#757575"),
}


def checks_html(evidence: Mapping[str, Any]) -> str:
    """The null and the benign checks of one finding's ``evidence`` (empty string when it has neither)."""
    e = _html.escape
    parts = []
    null = evidence.get("null")
    if isinstance(null, Mapping) and null.get("method"):
        parts.append(f"<div class='gk-null'><b>比较基准 / compared with:</b> {e(str(null['method']))}</div>")
    rows = []
    for c in evidence.get("benign_checks") or []:
        label, colour = OUTCOME_STYLE.get(c.get("outcome", ""), (c.get("outcome", ""), "#000"))
        factor = c.get("factor", 1.0)
        rows.append(f"<tr><td>{e(c.get('zh', ''))} <code>{e(c.get('check', ''))}</code></td>"
                    f"<td style='color:{colour}'>{e(label)}</td><td>{e(c.get('detail', ''))}</td>"
                    f"<td style='text-align:right'>{'' if factor == 1.0 else f'×{factor:g}'}</td></tr>")
    if rows:
        parts.append("<table class='gk-checks'><tr><th>合法情形 / legal explanation</th><th>结论 / outcome</th>"
                     "<th>依据 / detail</th><th>评分系数 / factor</th></tr>" + "".join(rows) + "</table>")
    return "".join(parts)
