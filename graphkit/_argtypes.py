"""Argument types that check limits up front (shared by the CLI and ``graphkit lab``):
a value out of its limits is an argparse usage error (exit 2) naming the limit."""

from __future__ import annotations

import argparse
from typing import Callable

__all__ = ["float_at_least", "int_at_least", "int_between"]


def int_at_least(low: int, what: str) -> Callable[[str], int]:
    """An argparse type: an integer ``>= low``; anything else is a usage error naming the limit.

    >>> int_at_least(1000, "参保人 / patients")("1500")
    1500
    >>> int_at_least(1000, "参保人 / patients")("500")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: 参保人 / patients 至少 / must be at least 1000; got 500
    """
    return int_between(low, None, what)


def int_between(low: int, high: int | None, what: str) -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]`` (``high=None``: no upper limit)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} 须为整数 / must be an integer; got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{what} 至少 / must be at least {low}; got {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{what} 至多 / must be at most {high}; got {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in its messages
    return parse


def float_at_least(low: float, what: str) -> Callable[[str], float]:
    """An argparse type: a finite number ``>= low``; anything else is a usage error naming the limit.

    >>> float_at_least(0.0, "欺诈比例 / fraud rate")("0.02")
    0.02
    >>> float_at_least(0.0, "欺诈比例 / fraud rate")("-1")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: 欺诈比例 / fraud rate 至少 / must be at least 0.0; got -1.0
    """

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} 须为数字 / must be a number; got {text!r}") from None
        if not value >= low or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{what} 至少 / must be at least {low}; got {value}")
        return value

    parse.__name__ = "float"
    return parse
