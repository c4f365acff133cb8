"""graphkit — find fraud patterns in medical-insurance settlement graphs (医保基金监管).

Examples
--------
>>> import graphkit
>>> {"shared_card", "deceased_card_use", "impossible_travel"} <= set(graphkit.REGISTRY)
True
"""

from .detectors import REGISTRY, run_detector
from .detectors.cards import deceased_card_uses, shared_cards
from .detectors.travel import impossible_travels
from .errors import BundleError, GraphkitError, ParameterError, StoreError
from .findings import KINDS, Entity, Finding, FindingsReport, read_findings, write_findings
from .scan import ScanResult, provider_scores, scan, write_scan
from .store import EmbeddedStore, Store, open_store

__version__ = "0.1.0"

__all__ = [
    "REGISTRY",
    "run_detector",
    "shared_cards",
    "deceased_card_uses",
    "impossible_travels",
    "GraphkitError",
    "BundleError",
    "ParameterError",
    "StoreError",
    "KINDS",
    "Entity",
    "Finding",
    "FindingsReport",
    "read_findings",
    "write_findings",
    "ScanResult",
    "scan",
    "provider_scores",
    "write_scan",
    "Store",
    "EmbeddedStore",
    "open_store",
]
