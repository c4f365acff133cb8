"""The ``graphkit`` command line (Chinese first, English alongside).

Exit codes: 0 ok; 1 failure (bad input, validation failed, a run error); 2 usage error (an
option missing, malformed or out of its limits). No error prints a Python traceback
(``GRAPHKIT_DEBUG=1`` shows one for an unexpected error).

Subcommands live in modules by what they do — :mod:`.bundle` (demo, generate, validate,
load, adapt), :mod:`.analysis` (scan, evaluate, explain, detectors), :mod:`.cases`
(dossier, audit, lab), :mod:`.rules` (rules), :mod:`.guard` (guard). A new group is a module with a ``register(subparsers)`` function
added to :data:`GROUPS`.

>>> p = build_parser()
>>> sorted(p._subparsers._group_actions[0].choices)[:3]
['adapt', 'audit', 'demo']
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from ..errors import GraphkitError
from ._common import HelpFormatter, UsageError, err

__all__ = ["main", "build_parser", "UsageError", "GROUPS"]

#: modules adding subcommands, in the order ``graphkit --help`` lists them
GROUPS: tuple[str, ...] = ("bundle", "analysis", "cases", "rules", "guard")

EPILOG = ("退出码 / exit codes: 0 成功 ok · 1 数据或运行错误 data or run error · 2 用法错误 usage error.\n"
          "graphkit COMMAND --help 查看各命令 / shows each command's options.")


def build_parser():
    """The full argument parser (every subcommand)."""
    import argparse
    import importlib

    p = argparse.ArgumentParser(
        prog="graphkit", formatter_class=HelpFormatter, epilog=EPILOG,
        description="医保基金监管图分析工作台 / graph workbench for medical-insurance fund supervision",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", title="命令 / commands")
    for name in GROUPS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    for parser in [p, *sub.choices.values()]:
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                action.help = "显示帮助并退出 / show this help message and exit"
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (argparse's own usage errors exit 2)."""
    parser = build_parser()
    a = parser.parse_args(argv)
    try:
        return a.func(a)
    except UsageError as exc:
        err(f"用法错误 / usage error: {exc}\n(graphkit {a.command} --help)")
        return 2
    except GraphkitError as exc:
        err(f"错误 / error: {exc}")
        return 1
    except OSError as exc:  # a path that cannot be read or written
        err(f"错误 / error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return 1
    except KeyboardInterrupt:
        err("已中断 / interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - the user sees a message, never a traceback
        if os.environ.get("GRAPHKIT_DEBUG"):
            raise
        err(f"内部错误 / internal error: {type(exc).__name__}: {exc}\n"
            "（设置 GRAPHKIT_DEBUG=1 可查看详细信息 / set GRAPHKIT_DEBUG=1 for the traceback）")
        return 1


if __name__ == "__main__":
    sys.exit(main())
