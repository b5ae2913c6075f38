"""Tamper-evident audit trail: every state change and API call, hash-chained, anchored.

Public surface:

* :class:`AuditRecord` (actor, operation, params, result, at) and :func:`append` (write records
  inside the caller's open transaction: the change and its record commit together or not at all);
  :func:`batch_records` folds a transaction's many like records into a few ``<op>.batch``
  records (every item in full) and :func:`unbatch` reads them back one by one;
  :func:`record_in` is the same for one record, in the shape of the domains' audit callables;
* :class:`AuditTrail` (standalone append, group-committed ``submit``/``record``, ``verify``,
  ``anchor``, ``export``), :class:`AuditWriter`;
* :func:`verify_trail` / :class:`Report` (names the first bad record), :func:`anchor`,
  :func:`export`;
* the CLI ``python -m keeper.audit verify|export|anchor``.

The storage format and the auditor's recipe (sha256sum / jq / openssl) are in ``RECIPE.md``
beside this file; the migration makes the database refuse UPDATE and DELETE on the trail.
"""

from keeper.audit.anchors import AnchorError
from keeper.audit.chain import AuditUnavailable, append, head, record_in
from keeper.audit.migrate import upgrade
from keeper.audit.records import (
    GENESIS,
    Appended,
    AuditRecord,
    AuditRecordError,
    batch_records,
    canonical_json,
    unbatch,
)
from keeper.audit.trail import AuditTrail, anchor, export, verify_trail
from keeper.audit.verify import Problem, Report
from keeper.audit.writer import AuditWriter

__all__ = [
    "GENESIS", "AnchorError", "Appended", "AuditRecord", "AuditRecordError", "AuditTrail",
    "AuditUnavailable", "AuditWriter", "Problem", "Report", "anchor", "append", "batch_records",
    "canonical_json", "export", "head", "record_in", "unbatch", "upgrade", "verify_trail",
]
