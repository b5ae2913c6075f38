"""Web console logins and sessions (own tables ``console_*``, own migrations).

Public surface: users (:func:`create_user`, :func:`disable_user`, :func:`list_users`,
:func:`get_user`, :func:`verify_password`, :class:`User`, the roles), sessions
(:class:`SessionStore`, :class:`Active`) and :func:`upgrade`. The pages live in ``api/console``.
CLI: ``python -m keeper.console add-user|disable-user|list``; demo logins:
:func:`keeper.console.demo.seed`.
"""

from keeper.console.migrate import downgrade, upgrade
from keeper.console.sessions import ABSOLUTE_HOURS, Active, SessionStore
from keeper.console.users import (
    AUDITOR,
    CLIENT,
    COMPLIANCE,
    OPS,
    SIGNER,
    STAFF_ROLES,
    TREASURY,
    ConsoleUserError,
    User,
    create_user,
    disable_user,
    get_user,
    list_users,
    verify_password,
)

__all__ = [
    "ABSOLUTE_HOURS", "AUDITOR", "CLIENT", "COMPLIANCE", "OPS", "SIGNER", "STAFF_ROLES",
    "TREASURY", "Active", "ConsoleUserError", "SessionStore", "User", "create_user",
    "disable_user", "downgrade", "get_user", "list_users", "upgrade", "verify_password",
]
