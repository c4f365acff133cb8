"""Who is acting: the operating-system account, never a name from the environment.

The acting user is the account the kernel runs the process as (``pwd.getpwuid(os.geteuid())``).
``GRAPHKIT_USER`` is only a *display name* (how a person likes to be called in a case note); it is
recorded beside the account and never decides a permission. Under JupyterHub each user's server
runs as that user's own OS account (a spawner with system users), so the account is the hub user;
``JUPYTERHUB_USER`` is not trusted either (any process can set it).

Examples
--------
>>> import os, pwd
>>> os_account() == pwd.getpwuid(os.geteuid()).pw_name
True
>>> display_name({"GRAPHKIT_USER": "张伟"}), display_name({})
('张伟', None)
"""

from __future__ import annotations

import os
import pwd
from typing import Mapping

__all__ = ["os_account", "account_of_uid", "display_name", "actor_label"]


def account_of_uid(uid: int) -> str:
    """The login name of ``uid`` (``uid:N`` when the account has no passwd entry).

    >>> account_of_uid(0)
    'root'
    """
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def os_account() -> str:
    """The OS account of this process (effective uid)."""
    return account_of_uid(os.geteuid())


def display_name(env: Mapping[str, str] | None = None) -> str | None:
    """``GRAPHKIT_USER`` if set: a display name only, recorded next to the account."""
    env = os.environ if env is None else env
    name = (env.get("GRAPHKIT_USER") or "").strip()
    return name[:200] or None


def actor_label(account: str, display: str | None) -> str:
    """How an actor is shown: the account, with a differing display name in brackets.

    >>> actor_label("ana", "zhang.wei"), actor_label("ana", "ana"), actor_label("ana", None)
    ('ana (display: zhang.wei)', 'ana', 'ana')
    """
    return f"{account} (display: {display})" if display and display != account else account
