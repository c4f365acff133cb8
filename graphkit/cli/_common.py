"""What every subcommand module shares: the usage error, the help formatter that shows
defaults, argument types that check limits up front, store opening and audit."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, Sequence

from .._argtypes import float_at_least, int_at_least, int_between
from ..errors import GraphkitError

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["UsageError", "HelpFormatter", "float_at_least", "int_at_least", "int_between", "err", "audit", "progress_bar",
           "neo4j_args", "neo4j_conn", "wants_neo4j", "open_any_store", "close_store", "parse_params"]


class UsageError(GraphkitError):
    """The command line itself is wrong (a missing or contradictory option): exit code 2."""


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(默认 / default: X)`` to every option help
    whose default is a real value and whose text does not state one already."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (default is None or default is False or default is argparse.SUPPRESS or default == []
                or "default:" in text or "(default" in text or isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))):
            return text
        return f"{text} (默认 / default: %(default)s)"


def err(msg: str) -> None:
    print(msg, file=sys.stderr)


def audit(action: str, **details: Any) -> None:
    from ..guard.client import record

    record(action, **details)  # through the guard where one runs (actor: the OS account)


def progress_bar(desc: str, unit: str = "step"):
    """A tqdm bar on stderr (quiet when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(desc=desc, unit=unit, file=sys.stderr, disable=None, leave=False)


def parse_params(items: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """``--param kind.name=value`` items as ``{kind: {name: value}}`` (values parsed as JSON
    when they are JSON).

    >>> parse_params(["split_stay.max_gap_days=3", "card_burst.mode=hour"])
    {'split_stay': {'max_gap_days': 3}, 'card_burst': {'mode': 'hour'}}
    """
    import json

    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        try:
            lhs, value = item.split("=", 1)
            kind, name = lhs.split(".", 1)
        except ValueError:
            raise UsageError(f"--param 的格式为 kind.name=value / --param must look like kind.name=value; got {item!r}") from None
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(kind, {})[name] = parsed
    return out


def neo4j_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--neo4j", metavar="URI",
                   help="改用 Neo4j 服务器 / use a Neo4j server instead (bolt://… or neo4j://…; default: env NEO4J_URI)")
    p.add_argument("--neo4j-user", metavar="USER", help="Neo4j 用户 / user (default: env NEO4J_USER)")
    p.add_argument("--neo4j-password", metavar="PASSWORD",
                   help="Neo4j 密码 / password (default: env NEO4J_PASSWORD; prefer the environment)")
    p.add_argument("--neo4j-database", metavar="NAME",
                   help="Neo4j 数据库 / database (default: env NEO4J_DATABASE, else the server's default)")


def neo4j_conn(a: argparse.Namespace):
    from ..neo4jstore import connection_from_env

    return connection_from_env(a.neo4j, user=a.neo4j_user, password=a.neo4j_password, database=a.neo4j_database)


def wants_neo4j(a: argparse.Namespace) -> bool:
    """--neo4j given, or no --store and NEO4J_URI set."""
    return bool(getattr(a, "neo4j", None) or (not getattr(a, "store", None) and os.environ.get("NEO4J_URI")))


NEED_STORE = "请给出 --store DIR（嵌入式存储）或 --neo4j URI / give --store DIR (embedded store) or --neo4j URI"


def open_any_store(a: argparse.Namespace):
    """The store the options name: Neo4j (``--neo4j``/``NEO4J_URI``) or the embedded ``--store``."""
    from ..store import open_store

    if wants_neo4j(a):
        from ..neo4jstore import Neo4jStore

        return Neo4jStore(neo4j_conn(a))
    if not a.store:
        raise UsageError(NEED_STORE)
    from .._failpoints import failpoint

    store = open_store(a.store)  # pins the store's live generation for as long as it is used
    failpoint("reader_opened")
    return store


def close_store(store: Store) -> None:
    if getattr(store, "conn", None) is not None:
        store.conn.close()
