"""``graphkit guard serve|status`` and the CLI's calls into the guard (kept out of ``cli.py``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_guard_parser", "authorise_keep_personal"]


def add_guard_parser(sub: Any) -> None:
    """Register ``graphkit guard``."""
    gd = sub.add_parser("guard", help="守护进程：密钥、明文与审计日志 / the guard: key, clear data, audit log",
                        description="graphkit guard serve --config guard.toml: run the guard as the service account (it holds "
                                    "the pseudonymisation key, the signing key and the audit log; callers are identified by "
                                    "the kernel). graphkit guard status: who the guard says you are and what you may do.")
    gd.add_argument("action", choices=["serve", "status"], help="启动 serve（以服务账户运行）或 状态 status / run the guard (as its service account) or show its status")
    gd.add_argument("--config", metavar="TOML", help="守护进程配置（serve）/ guard.toml for serve: socket, roles, audit_log, key_file, signing_key, socket_mode (default: none)")
    gd.add_argument("--socket", metavar="PATH", help="守护进程套接字（status）/ status: the guard's socket (default: GRAPHKIT_GUARD or /run/graphkit/guard.sock)")
    gd.set_defaults(func=cmd_guard)


def cmd_guard(a: argparse.Namespace) -> int:
    from ..errors import GraphkitError
    from .client import GuardClient
    from .server import Guard, GuardConfig

    if a.action == "serve":
        if not a.config:
            raise GraphkitError("graphkit guard serve needs --config guard.toml (see docs/security.md)")
        Guard(GuardConfig.load(a.config)).serve_forever()
        return 0
    with GuardClient(a.socket) as c:
        st = c.call("status")
    print(f"守护进程 / guard {c.path} (pid {st['guard_pid']})")
    print(f"  账户 / OS account: {st['account']} (uid {st['uid']})  角色 / role: {st['role']}")
    print(f"  权限 / permissions: {', '.join(st['permissions']) or '-'}")
    print(f"  假名化密钥 / key id: {st['key_id']}  签名密钥 / signing key: {st['signer_key_id'] or '-'}")
    return 0


def authorise_keep_personal(bundle: str, target: str, reason: str | None) -> dict[str, Any]:
    """``load --keep-personal``: the guard checks ``clear_data`` for the OS account and records the
    reason *before* the load starts (no roles file or user name unlocks it)."""
    from ..errors import GraphkitError
    from .client import require_guard

    if not reason or len(reason.strip()) < 4:
        raise GraphkitError("--keep-personal 需要 --reason 说明理由 / --keep-personal needs --reason TEXT (why clear data is kept)")
    with require_guard("保留明文加载 / a load with --keep-personal") as c:
        return c.call("keep_personal", bundle=str(Path(bundle).resolve()), store=str(target), reason=reason)["entry"]

