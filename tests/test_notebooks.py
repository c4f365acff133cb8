"""Every workbench notebook runs headless (nbclient) against a small demo store, without error.

After a notebook's own cells, a few check cells are appended (to the copy being run, not
to the committed file): they drive the widgets like a user would and fail on any error a
callback routed to a widget's ``output``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from graphkit.workbench.lab import NOTEBOOKS
from graphkit.workbench.testing import make_demo, workbench_env

nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NAMES = ["00_workbench.ipynb", "01_triage.ipynb", "02_explore.ipynb", "03_case.ipynb"]

CHECKS = {
    "00_workbench.ipynb": [
        "fid = view.leads_list.options[1][1]\n"
        "view.leads_list.value = fid\n"
        "assert view.lead == fid and view.graph.nodes and view.claims_pick.options\n"
        "view.graph.selected = [view.graph.nodes[0]['id']]\n"
        "view.add_button.click()\n"
        "assert not view.errors, view.errors",
    ],
    "01_triage.ipynb": [
        "assert len(queue.rows) > 0, 'no leads shown'\n"
        "assert queue.table.value.count('<tr>') == min(len(queue.rows), queue.limit) + 1\n"
        "queue.min_score.value = 0.5\n"
        "queue.open_button.click()\n"
        "assert wb.current_lead == queue.pick.value\n"
        "assert not queue.errors, queue.errors\n"
        "assert risk.pick.value and '业务量暴露' in risk.view.value\n"
        "risk.kind.value = 'pharmacy'\n"
        "assert risk.pick.value[0] == 'pharmacy' and not risk.errors, risk.errors",
    ],
    "02_explore.ipynb": [
        "assert explorer.lead.value == wb.current_lead\n"
        "assert explorer.graph_shown.number_of_nodes() > 0 and 'vis.Network' in explorer.page\n"
        "explorer.expand_button.click()\n"
        "explorer.tabs.selected_index = 3\n"
        "assert 'gk-profile' in explorer.profile.value\n"
        "assert not explorer.errors, explorer.errors",
    ],
    "03_case.ipynb": [
        "cases.new_title.value = 'nbclient 测试案件'\n"
        "cases.new_button.click()\n"
        "cases.status_pick.value = 'confirmed'\n"
        "cases.save_button.click()\n"
        "cases.export_button.click()\n"
        "assert not cases.errors, cases.errors\n"
        "assert wb.cases.get(cases.case.value).status == 'confirmed'",
    ],
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict[str, Path]:
    return make_demo(tmp_path_factory.mktemp("nb-demo") / "city", patients=3000)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_thin_and_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code"
    for c in code:
        assert c.outputs == [] and c.execution_count is None, f"{name} was committed with outputs"
        assert len(c.source.splitlines()) <= 6, f"{name}: keep notebook cells thin; logic belongs in graphkit.workbench"
    assert "Workbench.from_env()" in "".join(c.source for c in code)
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_every_notebook_runs_headless(demo, tmp_path, monkeypatch):
    for k, v in workbench_env(demo, user="nbclient", cases=tmp_path / "cases.sqlite").items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GRAPHKIT_OUT", str(tmp_path / "dossiers"))
    monkeypatch.setenv("GRAPHKIT_AUDIT_LOG", str(tmp_path / "audit.jsonl"))  # dossier exports log here, not in $HOME
    for name in NAMES:  # in order: triage opens the lead the explorer and the case builder start from
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        for src in CHECKS[name]:
            nb.cells.append(nbformat.v4.new_code_cell(src))
        client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                         resources={"metadata": {"path": str(NOTEBOOKS)}})
        client.execute()  # raises CellExecutionError on any error
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                assert out.output_type != "error", f"{name}: {out.get('ename')}: {out.get('evalue')}"
                if out.output_type == "stream" and out.name == "stderr":
                    assert "Traceback" not in out.text and "错误" not in out.text, f"{name}: {out.text}"
        widget_outputs = [o for c in nb.cells for o in c.get("outputs", [])
                          if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        assert widget_outputs, f"{name} displayed no widget"
    assert list((tmp_path / "dossiers").glob("case-*/dossier.html")), "03_case did not export a dossier"
