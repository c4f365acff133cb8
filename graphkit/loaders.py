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

import loaders as _loaders
from loaders import *  # noqa: F401,F403  (the one implementation)

__all__ = list(_loaders.__all__)
