"""Core banking (ATLAS, spec 004 §8.2): the interface the keeper uses and its HTTP client.

* :class:`CoreBankingService` (a Protocol extending :class:`keeper.recon.CoreBanking`) and its
  values (:class:`Customer`, :class:`Posting`, :class:`GLPosted`);
* errors: :class:`CoreBankingError` > :class:`CoreBankingUnavailableError` (retry later, same
  key), :class:`CoreBankingRejectedError` > :class:`InsufficientFundsError` (nothing applied);
* :class:`AtlasClient` (the platform's key) and :class:`AtlasOpsClient` (the bank staff's key,
  for the local service's onboarding, wires and failure injection);
* the wire format (:mod:`.wire`): spec JSON, amounts as decimal strings of integer cents.

The local service is :mod:`scripts.services.atlas`; a bank points :class:`AtlasClient` (or its
own adapter of the same Protocol) at its real core banking.
"""

from keeper.integrations.corebanking.client import AtlasClient
from keeper.integrations.corebanking.configured import ATLAS_KEY_FILE, atlas_from_settings
from keeper.integrations.corebanking.interface import (
    CoreBankingError,
    CoreBankingRejectedError,
    CoreBankingService,
    CoreBankingUnavailableError,
    Customer,
    GLPosted,
    InsufficientFundsError,
    Posting,
)
from keeper.integrations.corebanking.ops import AtlasOpsClient
from keeper.integrations.corebanking.wire import (
    Faults,
    GLBatch,
    GLEntry,
    NotifyDeposit,
    NotifyDepositAnswer,
    cents,
)

__all__ = [
    "ATLAS_KEY_FILE", "AtlasClient", "AtlasOpsClient", "atlas_from_settings", "CoreBankingError",
    "CoreBankingRejectedError",
    "CoreBankingService", "CoreBankingUnavailableError", "Customer", "Faults", "GLBatch", "GLEntry",
    "GLPosted", "InsufficientFundsError", "NotifyDeposit", "NotifyDepositAnswer", "Posting", "cents",
]
