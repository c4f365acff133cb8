"""graphkit — find fraud patterns in medical-insurance settlement graphs (医保基金监管).

The library's public surface is this namespace (docs/api.md): load a bundle, open a store, scan
it, explain a provider's score, write a dossier, and read or write findings as JSON.

- data: :func:`generate_city` (a demo bundle), :func:`load_bundle`, :func:`validate_bundle`
  (:mod:`graphkit.loaders`), :func:`open_store`, :class:`Store`, :class:`EmbeddedStore`,
  :class:`Neo4jStore` (extra ``[neo4j]``);
- analysis: :func:`scan` → :class:`ScanResult`, :func:`write_scan`, :data:`REGISTRY`,
  :func:`run_detector`, :func:`provider_scores`, :func:`provider_risk` and :func:`explain`
  (``graphkit.risk.explain_provider``), :func:`format_explanation`;
- findings: :class:`Finding`, :class:`Entity`, :class:`FindingsReport`, :data:`KINDS`,
  :func:`kind_label`, :func:`read_findings`, :func:`write_findings`;
- cases: :func:`write_dossier`, :func:`verify_dossier`;
- errors: :class:`GraphkitError` and its kinds, :class:`MissingExtra`.

The names of the loaders, the risk model, the demo city, dossiers and Neo4j are imported on first
use, so ``import graphkit`` does not load them (nor the ``neo4j`` driver). Without the ``[neo4j]``
extra, ``graphkit.Neo4jStore`` raises :class:`MissingExtra` naming it (and is left out of
``__all__``, so ``from graphkit import *`` works on the core install).

Examples
--------
>>> import graphkit
>>> {"shared_card", "deceased_card_use", "impossible_travel"} <= set(graphkit.REGISTRY)
True
>>> graphkit.explain is graphkit.risk.explain_provider
True
>>> from graphkit import load_bundle, generate_city, write_dossier, Finding
>>> load_bundle.__module__, write_dossier.__module__
('loaders.embedded', 'graphkit.dossier')
"""

from importlib import import_module
from importlib.util import find_spec
from typing import Any

from .detectors import REGISTRY, run_detector
from .detectors.cards import deceased_card_uses, shared_cards
from .detectors.travel import impossible_travels
from .errors import BundleError, GraphkitError, ParameterError, StoreError
from .extras import MissingExtra
from .findings import (
    FINDINGS_SCHEMA,
    KINDS,
    Entity,
    Finding,
    FindingsReport,
    kind_label,
    read_findings,
    write_findings,
)
from .scan import ScanResult, provider_scores, scan, write_scan
from .store import EmbeddedStore, Store, open_store

__version__ = "0.1.0"

#: name -> (module, attribute), imported on first access (module ``__getattr__``)
_LAZY: dict[str, tuple[str, str]] = {
    "load_bundle": ("graphkit.loaders", "load_bundle"),
    "validate_bundle": ("graphkit.loaders", "validate_bundle"),
    "LoadResult": ("graphkit.loaders", "LoadResult"),
    "ValidationReport": ("graphkit.loaders", "ValidationReport"),
    "generate_city": ("graphkit.demo", "generate_city"),
    "provider_risk": ("graphkit.risk", "provider_risk"),
    "RiskResult": ("graphkit.risk", "RiskResult"),
    "explain": ("graphkit.risk", "explain_provider"),
    "format_explanation": ("graphkit.risk", "format_explanation"),
    "write_dossier": ("graphkit.dossier", "write_dossier"),
    "verify_dossier": ("graphkit.dossier", "verify_dossier"),
    "Neo4jStore": ("graphkit.neo4jstore", "Neo4jStore"),
}

__all__ = [
    # data
    "generate_city",
    "load_bundle",
    "validate_bundle",
    "LoadResult",
    "ValidationReport",
    "open_store",
    "Store",
    "EmbeddedStore",
    # analysis
    "scan",
    "ScanResult",
    "write_scan",
    "REGISTRY",
    "run_detector",
    "shared_cards",
    "deceased_card_uses",
    "impossible_travels",
    "provider_scores",
    "provider_risk",
    "RiskResult",
    "explain",
    "format_explanation",
    # findings
    "KINDS",
    "FINDINGS_SCHEMA",
    "Entity",
    "Finding",
    "FindingsReport",
    "kind_label",
    "read_findings",
    "write_findings",
    # cases
    "write_dossier",
    "verify_dossier",
    # errors
    "GraphkitError",
    "BundleError",
    "ParameterError",
    "StoreError",
    "MissingExtra",
]
if find_spec("neo4j") is not None:  # the [neo4j] extra: a star import must not fail without it
    __all__.append("Neo4jStore")


def __getattr__(name: str) -> Any:
    """Import a lazy public name on first access (then it is an ordinary module attribute)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'graphkit' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = getattr(import_module(module), attr)  # graphkit.neo4jstore raises MissingExtra without [neo4j]
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
