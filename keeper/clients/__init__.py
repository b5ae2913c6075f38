"""Clients of the custody service and their API keys (own tables ``clients_*``, own migrations).

Public surface: the client/key service (:func:`create_client`, :func:`issue_key`,
:func:`revoke_key`, :func:`authenticate`, ...), the read services the customer API calls
(:func:`balances`, :func:`statement`, :func:`deposit_instructions`), client profiles
(:func:`get_profile`, :func:`get_profiles`, :func:`set_profile`, :func:`suspend_client`,
:func:`client_for_bank_customer`, :func:`effective_limits`, ...), :func:`upgrade` (Alembic,
version table ``clients_alembic_version``) and the errors. CLI: ``python -m keeper.clients``.
"""

from keeper.clients.deposits import DepositInstructions, deposit_instructions
from keeper.clients.errors import (
    ClientsError,
    DepositsUnavailable,
    DuplicateBankCustomer,
    InvalidProfile,
    InvalidScope,
    InvalidStatusChange,
    ProfileConflict,
    UnknownClient,
    UnknownKey,
)
from keeper.clients.migrate import database_not_ready, downgrade, upgrade
from keeper.clients.portfolio import (
    AssetBalance,
    InvalidCursor,
    TransactionFilter,
    TransactionPage,
    balances,
    monthly_statements,
    pending_deposits,
    statement,
    statement_pdf,
    transaction,
    transactions,
)
from keeper.clients.profile import (
    ClientProfile,
    Limits,
    client_for_bank_customer,
    close_client,
    effective_limits,
    get_profile,
    get_profiles,
    list_profiles,
    reactivate_client,
    set_profile,
    set_status,
    suspend_client,
)
from keeper.clients.service import (
    CLIENT_READ,
    COREBANKING,
    CUSTOMER_TRADE,
    DEFAULT_SCOPES,
    OPS,
    PARTNER,
    SCOPES,
    SIGNER,
    ApiKeyInfo,
    Client,
    IssuedKey,
    Principal,
    authenticate,
    create_client,
    get_client,
    issue_key,
    key_digest,
    list_clients,
    list_keys,
    revoke_key,
    visible_client,
)

__all__ = [
    "CLIENT_READ", "COREBANKING", "CUSTOMER_TRADE", "OPS", "PARTNER", "SIGNER",
    "DEFAULT_SCOPES", "SCOPES", "ApiKeyInfo", "AssetBalance", "Client", "ClientsError", "database_not_ready",
    "DepositInstructions", "DepositsUnavailable", "InvalidScope", "IssuedKey",
    "Principal", "UnknownClient", "UnknownKey", "authenticate", "balances", "create_client",
    "deposit_instructions", "downgrade", "get_client", "issue_key", "key_digest", "list_clients",
    "list_keys", "revoke_key", "statement", "upgrade", "visible_client",
    # profiles
    "ClientProfile", "DuplicateBankCustomer", "InvalidProfile", "InvalidStatusChange", "Limits",
    "ProfileConflict", "client_for_bank_customer", "close_client", "effective_limits",
    "get_profile", "get_profiles", "list_profiles", "reactivate_client", "set_profile", "set_status",
    "suspend_client",
    # customer reads
    "InvalidCursor", "TransactionFilter", "TransactionPage", "monthly_statements",
    "pending_deposits", "statement_pdf", "transaction", "transactions",
]
