"""Export a case from the workbench: the dossier for a chosen recipient, as HTML and PDF, in the
served working folder, with links that open from the browser.

One implementation for the case builder (``03_case``) and the one view: :class:`CaseExport`
offers the redaction profiles of the rulebook (内部 internal, 公安 police, 纪检监察 discipline
inspection), a PDF option (on where headless Chromium is installed, otherwise disabled with
the reason shown), and optionally clear personal data from the original bundle. It calls
:func:`~graphkit.workbench.cases.export_case`, so the export gate applies unchanged: clear data
always goes through the guard (``export`` and ``clear_data`` permissions), every export is
recorded in the audit log. Files go to ``exports/dossiers/case-<id>/`` of the served copy
(:func:`~graphkit.workbench.workdir.dossier_dir`; ``$GRAPHKIT_OUT`` elsewhere); the links are
:func:`~graphkit.workbench.workdir.browser_url` (JupyterLab's ``files/`` route).

Examples
--------
>>> [v for _, v in profile_options()]
['internal', 'police', 'discipline']
>>> profile_options()[1][0]
'公安 police'
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable, Mapping

import ipywidgets as W

from ..dossier.rulebook import Rulebook
from .cases import export_case
from .workdir import browser_url, dossier_dir

__all__ = ["CaseExport", "export_dossier", "profile_options", "profile_note", "pdf_available", "links_html",
           "PROFILE_LABELS"]

#: recipient profiles of the rulebook: Chinese, English
PROFILE_LABELS = {"internal": ("内部", "internal"), "police": ("公安", "police"),
                  "discipline": ("纪检监察", "discipline inspection")}
_FIELDS = {"name": "姓名 name", "id_number": "证件号 ID number", "contact": "联系方式 contact"}
_RULES = {"clear": "明文 clear", "masked": "遮盖 masked", "pseudonymised": "假名 pseudonymised"}
_FILES = {"pdf": "PDF", "html": "网页 HTML", "markdown": "Markdown", "json": "JSON", "manifest": "清单 manifest",
          "audit": "审计记录 audit trail (CSV)"}


def profile_options(rulebook: Rulebook | None = None) -> list[tuple[str, str]]:
    """The rulebook's redaction profiles as dropdown options (label, name): known recipients first.

    >>> profile_options()[0]
    ('内部 internal', 'internal')
    """
    names = list((rulebook or Rulebook.load()).data["profiles"])
    order = [n for n in PROFILE_LABELS if n in names] + sorted(n for n in names if n not in PROFILE_LABELS)
    return [(" ".join(PROFILE_LABELS.get(n, (n,))), n) for n in order]


def profile_note(name: str, rulebook: Rulebook | None = None) -> str:
    """What a profile shows of each personal field, and that clear or masked values need the clear data.

    >>> profile_note("police")
    '姓名 name: 明文 clear · 证件号 ID number: 明文 clear · 联系方式 contact: 遮盖 masked（需勾选明文 / with clear data）'
    """
    rules = (rulebook or Rulebook.load()).profile(name)
    text = " · ".join(f"{_FIELDS.get(f, f)}: {_RULES.get(r, r)}" for f, r in rules.items())
    return text + ("（需勾选明文 / with clear data）" if any(r != "pseudonymised" for r in rules.values()) else "")


def pdf_available() -> bool:
    """Whether dossiers can be typeset as PDF here (headless Chromium, see :func:`graphkit.dossier.render.chromium_path`)."""
    from ..dossier.render import chromium_path

    return chromium_path() is not None


def export_dossier(wb: Any, case_id: int, *, profile: str = "internal", pdf: bool = False,
                   clear_source: str | Path | None = None, out_dir: str | Path | None = None) -> dict[str, Path]:
    """Write the case's dossier through :func:`export_case` into ``out_dir``, else the workbench's
    ``out_dir`` (``$GRAPHKIT_OUT``), else :func:`~graphkit.workbench.workdir.dossier_dir`.

    The result holds export_case's paths plus ``package:<recipient>/<paper>`` for each paper of
    the statutory packages the routing called for (PDF, or HTML without PDF).

    ``clear_source`` (the original bundle) asks for clear personal data: the guard decides and
    records it, as for ``graphkit dossier --clear``. Returns the paths of the written files.
    """
    from ..dossier import ClearSource

    clear = ClearSource(str(clear_source)) if clear_source else None
    Rulebook.load().profile(profile)  # an unknown profile fails before any work
    out = Path(out_dir) if out_dir is not None else getattr(wb, "out_dir", None) or dossier_dir()
    paths = export_case(wb.cases, case_id, wb.store, out,
                        actor=wb.user, parameters=wb.report.parameters, pdf=pdf, profile=profile, clear_source=clear)
    root = paths["html"].parent
    for doc in sorted((root / "packages").rglob("*.pdf" if pdf else "*.html")):  # the recipients' papers (routing)
        paths[f"package:{doc.relative_to(root / 'packages').as_posix()}"] = doc
    return paths


def links_html(paths: Mapping[str, Path], environ: Mapping[str, str] | None = None) -> str:
    """A list of the written files, each a link that opens in the browser where it lies in the
    served folder (else its path, with why).

    >>> links_html({"pdf": Path("/w/notebooks/exports/d/dossier.pdf")}, {"GRAPHKIT_LAB_DIR": "/w"})
    "<ul class='gk-export-links'><li>PDF: <a href='/files/exports/d/dossier.pdf' target='_blank'>dossier.pdf</a></li></ul>"
    """
    items, outside = [], False
    for key in sorted(paths, key=lambda k: list(_FILES).index(k) if k in _FILES else len(_FILES)):
        p = Path(paths[key])
        url = browser_url(p, environ)
        label = html.escape(_FILES.get(key) or ("移送材料 package " + key.split(":", 1)[1].rsplit("/", 1)[0]
                                                if key.startswith("package:") else key))
        if url is None:
            outside = True
            items.append(f"<li>{label}: <code>{html.escape(str(p))}</code></li>")
        else:
            items.append(f"<li>{label}: <a href='{html.escape(url)}' target='_blank'>{html.escape(p.name)}</a></li>")
    note = ("<div style='color:#666'>文件不在 JupyterLab 服务的文件夹内，浏览器无法直接打开 / the files lie outside the folder "
            "JupyterLab serves, so the browser cannot open them</div>") if outside else ""
    return f"<ul class='gk-export-links'>{''.join(items)}</ul>{note}"


class CaseExport(W.VBox):
    """Profile, PDF and clear-data choices, an export button and the links to what was written.

    ``case_id`` returns the case to export (``None``: none picked); ``host`` (a workbench panel)
    shows messages and errors; ``on_done`` runs after a successful export.
    """

    def __init__(self, wb: Any, case_id: Callable[[], int | None], host: Any, *,
                 on_done: Callable[[int, dict[str, Path]], None] | None = None) -> None:
        super().__init__()
        self.add_class("gk-case-export-panel")
        self.wb, self._case_id, self.host, self.on_done = wb, case_id, host, on_done
        style = {"description_width": "initial"}
        self.rulebook = Rulebook.load()
        self.profile = W.Dropdown(options=profile_options(self.rulebook), value="internal", description="对象 recipient",
                                  style=style, layout=W.Layout(width="auto"))
        self.profile.add_class("gk-export-profile")
        self.profile_info = W.HTML()
        self.can_pdf = pdf_available()
        self.pdf = W.Checkbox(value=self.can_pdf, disabled=not self.can_pdf, description="PDF", indent=False,
                              layout=W.Layout(width="auto"))
        self.pdf.add_class("gk-export-pdf")
        self.pdf_info = W.HTML("" if self.can_pdf else
                               "<span style='color:#a60'>PDF 不可用：未安装 Chromium，仅生成网页版 / PDF unavailable: Chromium "
                               "is not installed (apt-get install chromium fonts-noto-cjk); HTML only</span>")
        self.clear = W.Checkbox(value=False, description="明文个人信息 / clear personal data", indent=False,
                                layout=W.Layout(width="auto"))
        self.clear_source = W.Text(placeholder="原始数据包路径 / path of the original bundle", description="明文来源 source",
                                   style=style, layout=W.Layout(width="auto", display="none"))
        self.button = W.Button(description="生成案件材料 / Export dossier", icon="file", layout=W.Layout(width="auto"))
        self.result = W.HTML()
        self.profile.observe(lambda _c: self._show_profile(), names="value")
        self.clear.observe(lambda c: setattr(self.clear_source.layout, "display", "" if c["new"] else "none"), names="value")
        self.button.on_click(lambda _b: self.export())
        self._show_profile()
        self.children = [self.profile, self.profile_info, W.HBox([self.pdf, self.pdf_info]), self.clear, self.clear_source,
                         self.button, self.result]

    def _show_profile(self) -> None:
        self.profile_info.value = f"<div style='color:#666;font-size:90%'>{html.escape(profile_note(self.profile.value, self.rulebook))}</div>"

    def export(self) -> dict[str, Path] | None:
        """Export the picked case with the chosen options; errors become a message, never a traceback."""
        try:
            cid = self._case_id()
            if cid is None:
                raise ValueError("请先选择或新建案件 / pick or create a case first")
            if self.clear.value and not self.clear_source.value.strip():
                raise ValueError("明文导出需要原始数据包路径 / clear data needs the path of the original bundle")
            self.result.value = "<span style='color:#666'>正在生成… / exporting…</span>"
            paths = export_dossier(self.wb, int(cid), profile=self.profile.value, pdf=bool(self.pdf.value and self.can_pdf),
                                   clear_source=self.clear_source.value.strip() if self.clear.value else None)
        except Exception as exc:  # noqa: BLE001 - shown to the user, kept in the host's errors
            self.result.value = f"<span style='color:#c00'>导出失败 / export failed: {html.escape(str(exc))}</span>"
            self.host.report_error(exc)
            return None
        label = {v: k for k, v in profile_options(self.rulebook)}[self.profile.value]
        self.result.value = f"<div>已生成案件材料 / dossier written（{html.escape(label)}）:{links_html(paths)}</div>"
        if self.on_done is not None:
            self.on_done(int(cid), paths)
        self.host.say(f"已导出案件 #{cid} / exported case #{cid}（{label}）")
        return paths
