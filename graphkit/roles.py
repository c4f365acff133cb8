"""Roles decide who may export dossiers and see clear personal data.

The role file is ``GRAPHKIT_ROLES`` or the default ``graphkit/data/roles.toml`` (roles
investigator, analyst, auditor; unknown users get ``default_role``). The acting user is
:func:`graphkit.audit.current_actor`.

Examples
--------
>>> r = Roles.load()
>>> r.allows("someone", "export"), r.allows("someone", "clear_data")
(True, False)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._config import load_toml
from .errors import GraphkitError

__all__ = ["Roles", "PermissionDenied", "require"]


class PermissionDenied(GraphkitError):
    """The acting user's role does not allow this."""


@dataclass
class Roles:
    data: dict[str, Any]
    source: str

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Roles":
        data, source = load_toml(path or os.environ.get("GRAPHKIT_ROLES"), "roles.toml", "roles file")
        if "roles" not in data or data.get("default_role") not in data["roles"]:
            raise GraphkitError(f"roles file {source} needs [roles.*] and a default_role naming one of them")
        for user, role in data.get("users", {}).items():
            if role not in data["roles"]:
                raise GraphkitError(f"roles file {source}: user {user!r} has unknown role {role!r}")
        return cls(data, source)

    def role(self, user: str) -> str:
        return self.data.get("users", {}).get(user, self.data["default_role"])

    def allows(self, user: str, permission: str) -> bool:
        return permission in self.data["roles"][self.role(user)].get("permissions", [])


def require(user: str, permission: str, *, what: str) -> None:
    """Raise :class:`PermissionDenied` unless ``user``'s role has ``permission``."""
    roles = Roles.load()
    if not roles.allows(user, permission):
        role = roles.role(user)
        zh = roles.data["roles"][role].get("zh", role)
        raise PermissionDenied(
            f"无权限 / permission denied: {user} ({zh} {role}) may not {what} (needs '{permission}'; roles: {roles.source})"
        )
