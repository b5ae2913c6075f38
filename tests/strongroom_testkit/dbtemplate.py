"""Migrated-database templates: migrate once per session, give each test a copy.

Migrating every domain (``keeper.schema.upgrade_all``: ~20 Alembic histories) costs 0.3-1 s per
fresh database, and most fixtures need a fresh, fully migrated one per test. :func:`migrate_fresh`
gives the same result from a template migrated for real once per test session (per backend, per
PostgreSQL cluster, per set of domains):

    from strongroom_testkit.dbtemplate import migrate_fresh
    url = database("flows")      # a new, empty database (SQLite file or PostgreSQL database)
    migrate_fresh(url)           # instead of upgrade_all(url): every domain at its heads

- SQLite: the template file is copied to the (not yet existing or empty) target path.
- PostgreSQL: the (empty) target database is re-created with ``CREATE DATABASE ... TEMPLATE``.

A target that already holds anything (a file with content, a database with tables) is migrated
for real with the same Alembic calls (``upgrade_all`` is idempotent, so the result is what the
caller asked for either way). The template is made in this process by the real migrations, never
cached across sessions, so a changed migration is always what the tests see.
``tests/keeper/test_schema.py`` tests the migrations themselves and keeps migrating for real.

The suite's backend is ONE decision, made here: :func:`fresh_url` is where every test that needs
a product database gets one: a SQLite file by default, a new database in the session's
PostgreSQL cluster when pytest runs with ``--db=postgresql`` (tests/conftest.py calls
:func:`set_backend`).
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import re
import shutil
import sqlite3
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url

from keeper.schema import SCHEMA_MODULES, upgrade_all

_SQLITE_TEMPLATES: dict[tuple[str, ...], Path] = {}
_PG_TEMPLATES: dict[tuple[str, int, tuple[str, ...]], str] = {}
_TEMP_DIR: Path | None = None
BACKENDS = ("sqlite", "postgresql")
_BACKEND = ["sqlite"]


def _upgrade(url: str, modules: tuple[str, ...]) -> None:
    """The real migrations: ``upgrade_all`` for every domain, else each module's ``SCHEMA`` to
    its heads, in ``modules`` order."""
    if modules == tuple(SCHEMA_MODULES):
        upgrade_all(url)
        return
    for mod in modules:
        importlib.import_module(mod).SCHEMA.upgrade(url)


def _temp_dir() -> Path:
    global _TEMP_DIR
    if _TEMP_DIR is None:
        _TEMP_DIR = Path(tempfile.mkdtemp(prefix="strongroom-dbtemplate-"))
        atexit.register(shutil.rmtree, _TEMP_DIR, True)
    return _TEMP_DIR


def _key(modules: tuple[str, ...]) -> str:
    return hashlib.sha256("\n".join(modules).encode()).hexdigest()[:12]


def _sqlite_template(modules: tuple[str, ...]) -> Path:
    path = _SQLITE_TEMPLATES.get(modules)
    if path is None:
        path = _temp_dir() / f"template-{_key(modules)}.db"
        _upgrade(f"sqlite:///{path}", modules)
        with sqlite3.connect(path) as conn:  # everything in the main file, no WAL left behind
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        _SQLITE_TEMPLATES[modules] = path
    return path


def _sqlite_fresh(url: URL, modules: tuple[str, ...]) -> bool:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return False
    target = Path(database)
    if (target.exists() and target.stat().st_size > 0) or Path(f"{target}-wal").exists():
        return False
    shutil.copyfile(_sqlite_template(modules), target)
    return True


def _pg_admin(url: URL) -> object:
    import psycopg

    return psycopg.connect(host=url.host, port=url.port or 5432, user=url.username,
                           password=url.password, dbname="postgres", autocommit=True)


def _pg_template(url: URL, modules: tuple[str, ...]) -> str:
    """The name of this session's template database of ``modules`` in ``url``'s cluster."""
    from psycopg import sql

    key = (url.host or "", url.port or 5432, modules)
    template = _PG_TEMPLATES.get(key)
    if template is None:
        template = f"sr_template_{_key(modules)}_{uuid.uuid4().hex[:8]}"
        with _pg_admin(url) as admin:  # type: ignore[attr-defined]
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template)))
        _upgrade(url.set(database=template).render_as_string(hide_password=False), modules)
        _PG_TEMPLATES[key] = template
    return template


def _pg_create(url: URL, name: str, modules: tuple[str, ...]) -> None:
    from psycopg import sql

    template = _pg_template(url, modules)
    with _pg_admin(url) as admin:  # type: ignore[attr-defined]
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)))


def _pg_fresh(url: URL, modules: tuple[str, ...]) -> bool:
    import psycopg
    from psycopg import sql

    name = url.database
    if not name:
        return False
    with psycopg.connect(host=url.host, port=url.port or 5432, user=url.username,
                         password=url.password, dbname=name, autocommit=True) as conn:
        used = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_toast%'").fetchone()
    if used is None or used[0]:
        return False
    _pg_template(url, modules)  # made before the target is dropped
    with _pg_admin(url) as admin:  # type: ignore[attr-defined]
        try:  # never under a caller's open connection: then it is migrated for real
            admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.ObjectInUse:
            return False
    _pg_create(url, name, modules)
    return True


def create_migrated(server_url: str, name: str, modules: tuple[str, ...] | None = None) -> str:
    """CREATE DATABASE ``name`` in the PostgreSQL server of ``server_url`` as a copy of this
    session's template (``modules`` at their heads; default every domain) and return its URL:
    what ``create_database`` then :func:`migrate_fresh` give, without making an empty database
    first."""
    wanted = tuple(SCHEMA_MODULES if modules is None else modules)
    url = make_url(server_url)
    _pg_create(url, name, wanted)
    return url.set(database=name).render_as_string(hide_password=False)


def migrate_fresh(engine_url: str | Engine, modules: tuple[str, ...] | None = None) -> None:
    """Migrate the database at ``engine_url`` (URL or Engine) to the heads of ``modules`` (the
    ``<package>.migrate`` modules; default: every one in ``keeper.schema.SCHEMA_MODULES``), as
    ``upgrade_all`` does, by copying a template migrated once per session when the database is
    new and empty; otherwise by migrating it for real."""
    wanted = tuple(SCHEMA_MODULES if modules is None else modules)
    text = (engine_url.url.render_as_string(hide_password=False)
            if isinstance(engine_url, Engine) else engine_url)
    url = make_url(text)
    backend = url.get_backend_name()
    copied = (_sqlite_fresh(url, wanted) if backend == "sqlite"
              else _pg_fresh(url, wanted) if backend == "postgresql" else False)
    if not copied:
        _upgrade(text, wanted)


def set_backend(name: str) -> None:
    """Choose where :func:`fresh_url` puts product databases: ``sqlite`` or ``postgresql``."""
    if name not in BACKENDS:
        raise ValueError(f"unknown test database backend {name!r} (one of {', '.join(BACKENDS)})")
    _BACKEND[0] = name


def backend() -> str:
    """The backend :func:`fresh_url` uses this session (``sqlite`` unless ``--db=postgresql``)."""
    return _BACKEND[0]


def fresh_url(path: str | Path, migrated: bool = False,
              modules: tuple[str, ...] | None = None) -> str:
    """The URL of a new, empty product database: SQLite's file at ``path`` by default; in the
    PostgreSQL mode a new database in the session's cluster named after ``path``'s stem plus a
    unique suffix (``path`` is then unused). ``migrated``: ``modules`` (default every domain)
    already at their heads, copied from this session's template (:func:`migrate_fresh`)."""
    target = Path(path)
    if backend() == "sqlite":
        url = f"sqlite:///{target}"
        if migrated:
            migrate_fresh(url, modules)
        return url
    from strongroom_testkit.postgres import shared_cluster

    cluster = shared_cluster()
    name = f"{re.sub(r'[^a-z0-9_]', '_', target.stem.lower())[:40]}_{uuid.uuid4().hex[:12]}"
    if migrated:
        return create_migrated(cluster.url(), name, modules)
    return cluster.create_database(name)


def read_only_engine(url: str) -> Engine:
    """An engine that can read ``url`` but never write it: SQLite's file opened ``mode=ro``;
    on PostgreSQL every transaction ``READ ONLY`` (a write fails)."""
    from sqlalchemy import create_engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return create_engine(f"sqlite:///file:{parsed.database}?mode=ro&uri=true")
    return create_engine(url, connect_args={"options": "-c default_transaction_read_only=on"})


def copy_database(url: str, path: str | Path) -> str:
    """A copy of the database at ``url`` (no connection may be open on it): SQLite's file copied
    to ``path``; on PostgreSQL a new database made with ``CREATE DATABASE ... TEMPLATE``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        with sqlite3.connect(parsed.database or "") as conn:  # everything in the main file
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        shutil.copyfile(parsed.database or "", path)
        return f"sqlite:///{path}"
    from psycopg import sql

    name = f"{re.sub(r'[^a-z0-9_]', '_', Path(path).stem.lower())[:40]}_{uuid.uuid4().hex[:12]}"
    with _pg_admin(parsed) as admin:  # type: ignore[attr-defined]
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(parsed.database or "")))
    return parsed.set(database=name).render_as_string(hide_password=False)
