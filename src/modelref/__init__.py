"""modelref: the review-gated guard of the AI Horde model reference."""

from modelref.domain.categories import MODEL_REFERENCE_CATEGORY, AuditOperation
from modelref.domain.queue_models import (
    BatchSplitInfo,
    MarkAppliedResult,
    PendingBatchResult,
    PendingChangeDiff,
    PendingChangeDiffPage,
    PendingChangeRecord,
    PendingChangeStatus,
    PendingQueueFilter,
    PendingQueuePage,
    ensure_seq,
    now_ts,
)

__version__ = "0.1.0"

__all__ = [
    "MODEL_REFERENCE_CATEGORY",
    "AuditOperation",
    "BatchSplitInfo",
    "MarkAppliedResult",
    "PendingBatchResult",
    "PendingChangeDiff",
    "PendingChangeDiffPage",
    "PendingChangeRecord",
    "PendingChangeStatus",
    "PendingQueueFilter",
    "PendingQueuePage",
    "PendingQueueService",
    "__version__",
    "ensure_seq",
    "now_ts",
]


def __getattr__(name: str) -> object:
    # The service pulls in SQLAlchemy; import it only when asked for.
    if name == "PendingQueueService":
        from modelref.service.queue import PendingQueueService

        return PendingQueueService
    raise AttributeError(name)
