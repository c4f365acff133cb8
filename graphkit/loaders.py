"""The loaders under the graphkit namespace: the public names of the top-level :mod:`loaders` package.

One implementation: ``graphkit.loaders.load_bundle`` *is* ``loaders.load_bundle`` (claims bundles
and foreign exports into the embedded store, :mod:`loaders.embedded`; validation,
:mod:`loaders.validate`). ``from loaders import …`` keeps working.

Examples
--------
>>> import loaders
>>> from graphkit.loaders import load_bundle, validate_bundle
>>> load_bundle is loaders.load_bundle and validate_bundle is loaders.validate_bundle
True
"""

from loaders import (
    Issue,
    LoadResult,
    Mapping,
    ValidationReport,
    load_bundle,
    locate_tables,
    read_bundle,
    validate_bundle,
)

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
