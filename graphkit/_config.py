"""Configuration files (TOML): a given path, or a default shipped in ``graphkit/data/``."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import GraphkitError

__all__ = ["load_toml"]


def load_toml(path: str | Path | None, default: str, what: str) -> tuple[dict[str, Any], str]:
    """(data, source) of the TOML file at ``path``, or of ``graphkit/data/<default>`` when None."""
    if path is None:
        text = resources.files("graphkit").joinpath(f"data/{default}").read_text("utf-8")
        source = f"graphkit/data/{default} (default)"
    else:
        try:
            text = Path(path).read_text("utf-8")
        except FileNotFoundError:
            raise GraphkitError(f"{what} {path} not found") from None
        source = str(path)
    try:
        return tomllib.loads(text), source
    except tomllib.TOMLDecodeError as exc:
        raise GraphkitError(f"{what} {source} is not valid TOML: {exc}") from None
