"""Names, not codes, in the workbench: regions, providers, claim types, audit actions,
monitoring tables (no ``<NA>``/NaN, shares as %), the penalty chart's tier order, and a
mistyped claim id answered with a message, not a traceback."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from graphkit import monitoring as M
from graphkit.workbench import labels
from graphkit.workbench.data import Workbench
from graphkit.workbench.testing import make_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo(tmp_path_factory.mktemp("wb-labels") / "city", patients=1000)


@pytest.fixture
def wb(demo, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHKIT_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    return Workbench.open(demo["store"], demo["findings"], user="tester", cases=tmp_path / "cases.sqlite")


def _cells(html: str) -> list[str]:
    return re.findall(r"<td[^>]*>([^<]*)</td>", html)


def test_pretty_table_names_columns_and_values_and_hides_missing():
    df = pd.DataFrame({"tier": ["≤10,000", ">100,000"], "lower": [0.0, 100000.0], "upper": [10000.0, np.inf],
                       "reason": ["random_inpatient", "manual_large"], "manual": pd.array([pd.NA, True], dtype="boolean"),
                       "deviation": [0.169248, np.nan], "claim_type": ["inpatient", "pharmacy"]})
    t = labels.pretty_table(df)
    assert list(t.frame.columns) == ["金额档次 tier", "下限(不含) lower", "上限(含) upper", "抽取原因 reason",
                                     "手工报销 manual", "超序时进度 deviation", "类型 claim_type"]
    assert t.frame.iloc[0].tolist() == ["≤10,000", "0", "10,000", "随机抽查住院 random_inpatient", "—", "16.9%", "住院 inpatient"]
    assert t.frame.iloc[1].tolist() == [">100,000", "100,000", "∞", "大额手工报销 manual_large", "是 yes", "—", "药店 pharmacy"]
    page = t._repr_html_()
    assert "NaN" not in page and "&lt;NA&gt;" not in page and "0.169" not in page


def test_penalty_tiers_table_has_no_raw_headers():
    t = labels.pretty_table(M.penalty_tiers())
    assert [c.split()[-1] for c in t.frame.columns] == ["tier", "lower", "upper", "multiple"]
    assert all(" " in c for c in t.frame.columns)  # every header has its Chinese name


def test_penalty_chart_tiers_in_amount_order():
    pen = pd.DataFrame({"tier": ["≤50,000", "≤10,000", ">100,000", "≤10,000"], "amount": [20000.0, 5000.0, 2e5, 3000.0],
                        "penalty_amount": [1.0, 2.0, 3.0, 4.0]})
    fig = M.plot_penalties(pen)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["≤10,000", "≤50,000", ">100,000"]


def test_region_and_provider_names_in_the_leads_table(wb):
    leads = wb.named_leads(wb.leads)
    codes = {r for rs in wb.leads["regions"] for r in rs.split(";") if r}
    assert codes and all(wb.region_names.get(c) for c in codes)  # the demo city's regions are national codes
    for raw, shown in zip(wb.leads["regions"], leads["regions"]):
        assert shown == ";".join(f"{wb.region_names[c]} {c}" for c in raw.split(";") if c)
    assert not leads["providers"].str.contains(r"(?:^|;)(?:institution|pharmacy):", regex=True).any()
    from graphkit.workbench.widgets import LeadsQueue

    q = LeadsQueue(wb)
    assert "institution:" not in q.table.value and "pharmacy:" not in q.table.value
    region_opts = [lab for lab, v in q.region.options if v]
    assert region_opts and all(lab == f"{wb.region_names[v]} {v}" for lab, v in q.region.options if v)


def test_case_audit_and_claims_show_names_and_a_typo_gets_a_message(wb):
    from graphkit.workbench.widgets import CaseBuilder, EvidenceExplorer

    cb = CaseBuilder(wb)
    cb.new_title.value = "测试"
    cb.new_button.click()
    cb.status_pick.value = "reviewing"
    cb.save_button.click()
    cells = _cells(cb.audit.value)
    assert "修改 update" in cells and "状态 status" in cells and "核查中 reviewing" in cells
    assert "update" not in cells and "status" not in cells
    cb.claim_ids.value = "C-NO-SUCH"
    cb.add_claims_button.click()
    assert len(cb.errors) == 1 and "Traceback" not in "".join(o["text"] for o in cb.output.outputs)
    assert "没有这些结算单号" in cb.status.value and "C-NO-SUCH" in cb.status.value and "not in the data" in cb.status.value
    ex = EvidenceExplorer(wb, lead=str(wb.leads["id"].iloc[0]))
    cells = _cells(ex.claims.value)
    assert not any(c in ("inpatient", "outpatient", "pharmacy") for c in cells)
    assert not any(c.startswith(("institution:", "pharmacy:")) for c in cells)
