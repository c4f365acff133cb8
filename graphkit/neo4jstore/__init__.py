"""Neo4j as a first-class store: the graph model, the Bolt loader and the store interface.

This is the only package that imports the ``neo4j`` driver. Every query it runs is a
parameterised file in ``cypher/``.

Examples
--------
>>> from graphkit.neo4jstore import connection_from_env, load_bundle_neo4j, Neo4jStore  # doctest: +SKIP
>>> with connection_from_env("bolt://127.0.0.1:7687", user="neo4j", password="...") as conn:  # doctest: +SKIP
...     load_bundle_neo4j("bundle", conn)
...     findings = graphkit.scan(Neo4jStore(conn)).findings
"""

from ..extras import require_extra

require_extra("neo4j", "neo4j", part="graphkit.neo4jstore (Neo4j 图数据库 / graph database)")

from .loader import Neo4jLoadResult, load_bundle_neo4j  # noqa: E402
from .runner import Connection, Neo4jError, connection_from_env  # noqa: E402
from .store import SERVER_SIDE, Neo4jStore  # noqa: E402

__all__ = ["Connection", "Neo4jError", "connection_from_env", "Neo4jLoadResult", "load_bundle_neo4j", "Neo4jStore", "SERVER_SIDE"]
