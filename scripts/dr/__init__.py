"""Disaster recovery tooling: local PostgreSQL clusters (primary, standby, restores from base
backup + archived WAL), the failover drill, and SQLite online backups.

- :mod:`scripts.dr.pgcluster`: init/start/stop/status/promote a cluster under ``.data/pg/<name>``;
- :mod:`scripts.dr.drill`: kill the primary site under load, promote the standby, measure RPO/RTO;
- :mod:`scripts.dr.sqlite_backup`: online backup API copies of the SQLite databases, and restore.
"""
