"""The process's memory: give freed memory back to the system between stages, and keep the C
allocator's large blocks in its heap while a stage runs.

glibc serves every block above its mmap threshold (at most 32 MB) from a fresh ``mmap`` and unmaps
it on ``free``; a 10M-row numpy temporary then costs the kernel zeroing 50,000 new pages each time
it is made. The item rules and the detectors make thousands of them: on 26.5M item lines a third of
the rule pack's CPU was the kernel's (115 of 280 s). :func:`keep_heap` makes glibc take those blocks
from its heap and keep freed ones there for the next (``M_MMAP_MAX = 0``, no automatic trim);
:func:`release_memory` still hands the free heap back (``malloc_trim``) where a stage ends, so the
next process or stage gets it. Measured on four of the heaviest rules at 26.5M lines: 129 → 97 s
wall, 57 → 31 s system time, the same peak (docs/rules.md, *Speed*).

Only a process graphkit starts for itself calls :func:`keep_heap`: the scan's ``rule_violation``
worker (the other steps gained 0–12 % of CPU and held 5–18 % more memory with it, so they do not);
a program importing graphkit keeps its allocator as it is. ``GRAPHKIT_KEEP_HEAP=0`` turns it off.
Not glibc (musl, macOS): nothing changes.

>>> release_memory()
>>> isinstance(keep_heap(), bool)
True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any

__all__ = ["release_memory", "release_arrow", "keep_heap"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_LIBC: Any = None
_KEPT = False


def _libc() -> Any:
    global _LIBC
    if _LIBC is None:
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            lib.malloc_trim.argtypes = [ctypes.c_size_t]
            lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            _LIBC = lib
        except (OSError, AttributeError):  # not glibc
            _LIBC = False
    return _LIBC


def release_arrow() -> None:
    """Hand the memory Arrow's allocator has freed back to the system. Its default allocator
    (mimalloc) keeps it otherwise: reading and converting one 12.5M-row string column left
    ≈ 0.5 GB resident after every reference to it was gone. Called by the embedded store after
    each read; cheap when there is nothing to hand back."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def release_memory() -> None:
    """Hand freed memory back to the system, so that the arrays allocated next do not stack on
    top of it: what Arrow's allocator keeps from streamed batches, and (glibc) the free heap the C
    allocator keeps after many numpy/pandas temporaries."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    lib = _libc()
    if lib:
        lib.malloc_trim(0)


def keep_heap() -> bool:
    """Have glibc serve large blocks from its heap and keep freed ones for reuse (see the module
    docstring); once per process. True when it is in effect."""
    global _KEPT
    if _KEPT:
        return True
    if os.environ.get("GRAPHKIT_KEEP_HEAP", "1").strip() in ("0", "false", "no", "off"):
        return False
    lib = _libc()
    if not lib:
        return False
    _KEPT = bool(lib.mallopt(_M_MMAP_MAX, 0)) and bool(lib.mallopt(_M_TRIM_THRESHOLD, 2**30))
    return _KEPT
