"""Loaders: claims bundles (and foreign exports) into a store.

Examples
--------
>>> from loaders import validate_bundle, load_bundle   # doctest: +SKIP
"""

from .bundle import Mapping, locate_tables, read_bundle
from .embedded import LoadResult, load_bundle
from .validate import Issue, ValidationReport, validate_bundle

__all__ = [
    "Mapping",
    "locate_tables",
    "read_bundle",
    "LoadResult",
    "load_bundle",
    "Issue",
    "ValidationReport",
    "validate_bundle",
]
