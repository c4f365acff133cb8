"""Parameters as data: declared next to each detector, checked at call time.

Examples
--------
>>> p = Param("min_claims", 2, "int", low=1, doc="minimum claims")
>>> check_params("shared_card", [p], {"min_claims": 0})
Traceback (most recent call last):
graphkit.errors.ParameterError: The 'min_claims' parameter of shared_card must be an int in [1, inf). Got 0 instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .errors import ParameterError

__all__ = ["Param", "check_params"]


@dataclass(frozen=True)
class Param:
    """A declared parameter: name, default, type ("int", "float", "bool", "str"), bounds, doc."""

    name: str
    default: Any
    type: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    doc: str = ""

    def describe(self) -> str:
        if self.choices is not None:
            return f"one of {list(self.choices)}"
        if self.type in ("int", "float"):
            lo = "-inf" if self.low is None else (int(self.low) if self.type == "int" else self.low)
            hi = "inf" if self.high is None else (int(self.high) if self.type == "int" else self.high)
            lb = "[" if self.low is not None else "("
            rb = "]" if self.high is not None else ")"
            return f"{'an' if self.type == 'int' else 'a'} {self.type} in {lb}{lo}, {hi}{rb}"
        return f"a {self.type}"

    def check(self, owner: str, value: Any) -> Any:
        ok = True
        if self.type == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif self.type == "float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
        elif self.type == "bool":
            ok = isinstance(value, bool)
        elif self.type == "str":
            ok = isinstance(value, str)
        if ok and self.type in ("int", "float"):
            ok = (self.low is None or value >= self.low) and (self.high is None or value <= self.high)
        if ok and self.choices is not None:
            ok = value in self.choices
        if not ok:
            raise ParameterError(
                f"The {self.name!r} parameter of {owner} must be {self.describe()}. Got {value!r} instead."
            )
        return value


def check_params(owner: str, declared: Sequence[Param], given: dict[str, Any]) -> dict[str, Any]:
    """Return the full parameter dict (defaults filled in) or raise :class:`ParameterError`."""
    names = {p.name for p in declared}
    unknown = sorted(set(given) - names)
    if unknown:
        raise ParameterError(f"{owner} has no parameter(s) {unknown}; its parameters are {sorted(names)}.")
    return {p.name: p.check(owner, given.get(p.name, p.default)) for p in declared}
