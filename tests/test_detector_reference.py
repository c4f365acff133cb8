"""docs/detector-reference.md is generated from the detector registry and is not stale."""

from __future__ import annotations

from pathlib import Path

from graphkit.detectors import REGISTRY
from graphkit.detectors.reference import docstring_markdown, render_markdown
from graphkit.findings import kind_label

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "detector-reference.md"


def test_docs_detector_reference_is_generated_from_the_registry():
    assert DOC.read_text("utf-8") == render_markdown(), \
        "docs/detector-reference.md is stale: run `python -m graphkit.detectors.reference > docs/detector-reference.md`"


def test_every_detector_with_its_parameters_data_and_docstrings():
    doc = render_markdown()
    for kind, det in REGISTRY.items():
        assert f"\n## {kind}\n" in doc
        section = doc.split(f"\n## {kind}\n", 1)[1].split("\n## ", 1)[0]
        assert kind_label(kind) in section and det.doc in section
        assert ("**opt-in**" in section) == (not det.default)
        for p in det.params:
            assert f"| `{p.name}` | `{p.default!r}` | {p.type} |" in section
        for need in det.needs:
            assert f"`{need}`" in section.split("### Parameters")[0]
        for need, how in det.prefers:
            assert f"`{need}`" in section and how in section
        assert "### Method, null and benign checks" in section
    # the module docstrings' method sections, as written (not rewritten)
    assert "#### Method\n\n1. **Baskets** (projection ``co_visit_pairs``)" in doc
    assert "**Benign explanations (``evidence[\"benign_checks\"]``)**\n\n``planned_cycle`` — regularly spaced" in doc
    assert doc.count("Card detectors: ``shared_card``") == 1  # one module, two kinds: given once


def test_docstring_markdown_keeps_the_text_and_converts_the_markup():
    doc = '''First line.

    Null (calibrated on the bundle)
        Poisson against :func:`graphkit.detectors._common.surprise`
        and :mod:`.splits`.

        Second paragraph of the term.

    Notes
    -----
    * a note

    Examples
    --------
    >>> 1 + 1
    2
    '''
    assert docstring_markdown(doc) == (
        "First line.\n\n**Null (calibrated on the bundle)**\n\nPoisson against `graphkit.detectors._common.surprise`\n"
        "and `splits`.\n\nSecond paragraph of the term.\n\n#### Notes\n\n* a note")
