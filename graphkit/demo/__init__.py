"""Synthetic demo data for the workbench: a realistic "demo city" claims bundle with planted
fraud and a ground-truth file (``truth.json``), in families of variants (structure, legal
look-alikes, export quirks: :mod:`graphkit.demo.config`, :mod:`graphkit.demo.quirks`).

Examples
--------
>>> import tempfile
>>> from graphkit.demo import generate_city
>>> summary = generate_city(tempfile.mkdtemp(), patients=1500, seed=0, months=6)
>>> summary["rows"]["patients"]
1500
"""

from .city import FORMATS, TRUTH_SCHEMA, generate_city
from .config import VARIANTS, CityConfig, FraudShape

__all__ = ["generate_city", "FORMATS", "TRUTH_SCHEMA", "VARIANTS", "CityConfig", "FraudShape"]
