"""The one seam to the database: named, parameterised Cypher files run through the driver.

Every query lives in ``cypher/`` as a file with a short header::

    // name: read_claims
    // mode: read | write | schema
    // params: ...
    // returns: ...

Queries are only ever run with parameters; their text is never built from values.
Driver errors are wrapped in :class:`Neo4jError` naming the query.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import neo4j
from neo4j.exceptions import Neo4jError as DriverNeo4jError
from neo4j.exceptions import ServiceUnavailable, SessionExpired, TransientError

from ..errors import GraphkitError

__all__ = ["CYPHER_DIR", "Query", "query", "Neo4jError", "Connection", "connection_from_env", "run_in", "fetch_in"]

CYPHER_DIR = Path(os.environ.get("GRAPHKIT_CYPHER_DIR", Path(__file__).resolve().parents[2] / "cypher"))


class Neo4jError(GraphkitError):
    """A database error, wrapped with the name of the query that raised it."""


@dataclass(frozen=True)
class Query:
    name: str
    mode: str
    text: str
    path: Path

    def statements(self) -> list[str]:
        """Schema files hold several ';'-terminated statements; others exactly one."""
        body = "\n".join(l for l in self.text.splitlines() if not l.lstrip().startswith("//"))
        return [s.strip() for s in body.split(";") if s.strip()]


@lru_cache(maxsize=None)
def query(rel: str) -> Query:
    """Load ``cypher/<rel>.cypher`` (e.g. ``"load/claims"``) and parse its header."""
    path = CYPHER_DIR / f"{rel}.cypher"
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise GraphkitError(f"Cypher file {path} not found (GRAPHKIT_CYPHER_DIR={CYPHER_DIR})") from None
    header = dict(re.findall(r"^//\s*(name|mode):\s*(\S+)", text, flags=re.M))
    if "name" not in header or "mode" not in header:
        raise GraphkitError(f"Cypher file {path} lacks its '// name:' / '// mode:' header")
    return Query(header["name"], header["mode"], text, path)


class Connection:
    """A driver plus database name; runs named queries with managed (retried) transactions."""

    def __init__(self, uri: str, user: str | None, password: str | None, database: str | None = None) -> None:
        auth = (user, password) if user is not None else None
        try:
            self.driver = neo4j.GraphDatabase.driver(uri, auth=auth)
        except (ValueError, DriverNeo4jError) as exc:
            raise Neo4jError(f"cannot open a driver for {uri}: {exc}") from None
        self.uri = uri
        self.database = database

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def session(self) -> neo4j.Session:
        return self.driver.session(database=self.database)

    def read(self, rel: str, **params: Any) -> list[dict[str, Any]]:
        """Run a read query file; return its records as dicts."""
        return self._managed(query(rel), "read", lambda tx: fetch_in(tx, rel, **params))

    def write(self, work: Callable[[neo4j.ManagedTransaction], Any], *, name: str) -> Any:
        """Run ``work(tx)`` in one managed write transaction (retried on transient errors)."""
        return self._managed(Query(name, "write", "", Path()), "write", work)

    def schema(self) -> None:
        """Create constraints and indexes (idempotent)."""
        q = query("schema")
        for stmt in q.statements():
            try:
                with self.session() as s:
                    s.run(stmt).consume()
            except DriverNeo4jError as exc:
                raise Neo4jError(f"schema statement failed: {stmt!r}: {exc}") from None

    def _managed(self, q: Query, mode: str, work: Callable) -> Any:
        try:
            with self.session() as s:
                return s.execute_read(work) if mode == "read" else s.execute_write(work)
        except (ServiceUnavailable, SessionExpired) as exc:
            raise Neo4jError(f"{q.name}: database unavailable at {self.uri}: {exc}") from None
        except DriverNeo4jError as exc:
            raise Neo4jError(f"{q.name}: {exc.code}: {exc.message}") from None


def run_in(tx: neo4j.ManagedTransaction, rel: str, **params: Any) -> None:
    """Run a write query file inside an open transaction and consume its result."""
    tx.run(query(rel).text, params).consume()


def fetch_in(tx: neo4j.ManagedTransaction, rel: str, **params: Any) -> list[dict[str, Any]]:
    """Run a query file inside an open transaction and return its records as dicts."""
    return [r.data() for r in tx.run(query(rel).text, params)]


def connection_from_env(
    uri: str | None = None, *, user: str | None = None, password: str | None = None, database: str | None = None
) -> Connection:
    """A connection from arguments or ``NEO4J_URI``/``NEO4J_USER``/``NEO4J_PASSWORD``/``NEO4J_DATABASE``."""
    uri = uri or os.environ.get("NEO4J_URI")
    if not uri:
        raise GraphkitError("no Neo4j URI: pass --neo4j URI or set NEO4J_URI")
    user = user if user is not None else os.environ.get("NEO4J_USER", os.environ.get("NEO4J_USERNAME"))
    password = password if password is not None else os.environ.get("NEO4J_PASSWORD")
    database = database or os.environ.get("NEO4J_DATABASE") or None
    return Connection(uri, user, password, database)
