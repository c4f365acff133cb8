"""graphkit.allocator: the heap kept in graphkit's own processes, off on request, never in an importer's."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")


def _py(code: str, **env: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    return out.stdout.strip()


@glibc
def test_keep_heap_takes_effect_once_and_can_be_turned_off() -> None:
    code = "from graphkit.allocator import keep_heap; print(keep_heap(), keep_heap())"
    assert _py(code) == "True True"
    assert _py(code, GRAPHKIT_KEEP_HEAP="0") == "False False"


def test_importing_graphkit_leaves_the_allocator_alone() -> None:
    # a service importing graphkit (and scanning in-process) keeps its allocator as it is
    code = "import graphkit, graphkit.scan, graphkit.rules, graphkit.allocator as a; print(a._KEPT)"
    assert _py(code) == "False"
