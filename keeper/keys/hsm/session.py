"""PKCS#11 sessions and the one login per token this process holds.

PKCS#11 login state belongs to the application and token, not to a session, and closing a
logged-in session logs the whole application out (``C_Logout``), invalidating every other
session's private-key handles. So this process logs in once per token through a dedicated
login session that it keeps open, and every working session is opened without a PIN:
closing it never logs anyone out, and no session is leaked by a refused second login.

Every PKCS#11 call runs inside ``using(config)``, one lock per loaded module: python-pkcs11
calls ``C_Initialize(NULL)``, which tells the module the application will not call it from
several threads at once, and SoftHSM2 then runs without its own locks (concurrent signers
on one token crashed the process). The same lock keeps ``reset_module`` (``C_Finalize`` +
``C_Initialize`` after a token dropped out) away from calls in flight.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pkcs11
from pkcs11.exceptions import NoSuchKey, UserAlreadyLoggedIn

from keeper.keys.hsm.config import HsmConfig
from keeper.keys.hsm.module import load_module, reinitialize_module

log = logging.getLogger(__name__)

_LOGINS: dict[tuple[str, str | None, str], Any] = {}
_LOGIN_LOCK = threading.Lock()


_GUARDS: dict[tuple[str, str | None], threading.RLock] = {}
#: per module: how many times it was reinitialised; older session handles are void (and
#: their numbers may already name other sessions, so they must never be closed)
_GENERATIONS: dict[tuple[str, str | None], int] = {}


def _module_key(config: HsmConfig) -> tuple[str, str | None]:
    return str(config.module), str(config.conf) if config.conf else None


def _login_key(config: HsmConfig) -> tuple[str, str | None, str]:
    return (*_module_key(config), config.token_label)


def _guard(config: HsmConfig) -> threading.RLock:
    with _LOGIN_LOCK:
        return _GUARDS.setdefault(_module_key(config), threading.RLock())


def using(config: HsmConfig) -> threading.RLock:
    """The lock to hold around every PKCS#11 call on the module of ``config`` (reentrant)."""
    return _guard(config)


def generation(config: HsmConfig) -> int:
    """How many times the module of ``config`` was reinitialised in this process."""
    return _GENERATIONS.get(_module_key(config), 0)


def _close_quietly(session: Any) -> None:
    try:
        session.close()
    except pkcs11.PKCS11Error:
        log.debug("closing a session on an unavailable or logged-out token")


def open_session(config: HsmConfig, rw: bool = False) -> Any:
    """Open a session on the configured token, logged in through this process's one login.

    Call inside ``using(config)``. The PIN is read only when this process has no login on
    the token yet. Closing the returned session never logs the application out.
    """
    token = load_module(config).get_token(token_label=config.token_label)
    key = _login_key(config)
    with _LOGIN_LOCK:
        if key not in _LOGINS:
            try:
                _LOGINS[key] = token.open(user_pin=config.pin.read().reveal())
            except UserAlreadyLoggedIn:  # logged in outside this registry: share that login
                _LOGINS[key] = token.open()
    return token.open(rw=rw)


def forget_login(config: HsmConfig) -> None:
    """Close this process's login session on the token; the next ``open_session`` logs in."""
    with _LOGIN_LOCK:
        session = _LOGINS.pop(_login_key(config), None)
    if session is not None:
        _close_quietly(session)


def reset_module(config: HsmConfig) -> None:
    """Reinitialise the module of ``config`` (after a token dropped out) and forget its logins.

    ``C_Finalize`` closes every session of that module; their owners reconnect.
    """
    with using(config):
        with _LOGIN_LOCK:
            for key in [k for k in _LOGINS if k[:2] == _module_key(config)]:
                del _LOGINS[key]
        _GENERATIONS[_module_key(config)] = generation(config) + 1
        reinitialize_module(config)


def open_with_key(config: HsmConfig, object_class: Any, label: str, rw: bool = False) -> tuple[
    Any, Any
]:
    """``(session, key)`` for the object ``label`` of ``object_class``.

    Private and secret objects are invisible without a login: when the key is not found,
    the login may have been lost (e.g. the token logged everyone out), so this logs in
    afresh once before ``NoSuchKey`` is believed.
    """
    for attempt in (0, 1):
        session = open_session(config, rw=rw)
        try:
            return session, session.get_key(object_class=object_class, label=label)
        except NoSuchKey:
            _close_quietly(session)
            if attempt:
                raise
            forget_login(config)
        except Exception:
            _close_quietly(session)
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def set_initial_pins(config: HsmConfig, one_time_so_pin: str) -> None:
    """Replace a freshly initialised token's one-time SO PIN and set its user PIN.

    The real PINs come from ``config.so_pin`` / ``config.pin`` and travel only over PKCS#11.
    """
    if config.so_pin is None:
        raise ValueError("set_initial_pins needs config.so_pin")
    token = load_module(config).get_token(token_label=config.token_label)
    with token.open(rw=True, so_pin=one_time_so_pin) as session:
        session.set_pin(one_time_so_pin, config.so_pin.read().reveal())
        session.init_pin(config.pin.read().reveal())
