"""The library's exception tree: one root, messages that state the value and the rule."""

from __future__ import annotations

__all__ = ["GraphkitError", "ParameterError", "StoreError", "BundleError"]


class GraphkitError(Exception):
    """Root of every error graphkit and its loaders raise on purpose."""


class ParameterError(GraphkitError, ValueError):
    """A detector or function parameter broke its declared constraint."""


class StoreError(GraphkitError):
    """A store is missing, corrupt, or of an unsupported schema version."""


class BundleError(GraphkitError):
    """A claims bundle could not be read or failed validation.

    ``issues`` holds the individual problems (table, row, column, value, rule) when known.
    """

    def __init__(self, message: str, issues: "list | None" = None) -> None:
        super().__init__(message)
        self.issues = issues or []
