"""``graphkit guard``: the privileged process that holds the key, the signing key and the audit log.

See :mod:`graphkit.guard.server` (the process), :mod:`graphkit.guard.client` (callers),
:mod:`graphkit.guard.protocol` (wire format, peer credentials) and ``docs/security.md``.
"""

from .client import (GuardClient, GuardDenied, GuardPseudonymiser, GuardRefused, GuardUnavailable, guard_socket,
                     pseudonymiser_for, record, require_guard)
from .server import Guard, GuardConfig, GuardSetupError, check_admin_file

__all__ = ["Guard", "GuardConfig", "GuardSetupError", "check_admin_file", "GuardClient", "GuardDenied", "GuardRefused",
           "GuardUnavailable", "GuardPseudonymiser", "guard_socket", "pseudonymiser_for", "record", "require_guard"]
