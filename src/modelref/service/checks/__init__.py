"""Review checks in the gate: verify model files and find duplicates before a human approves.

``steps`` runs on the enqueue transaction (findings, check job), ``runner`` is the ``check``
outbox handler (``fetch`` + ``probe`` do the network part, bounded and address-vetted), and
``service`` holds the reviewer's use cases (read, re-run).
"""

from modelref.service.checks.steps import (
    JOB_KIND,
    blocking_errors,
    schedule,
    summaries,
    view,
)

__all__ = ["JOB_KIND", "blocking_errors", "schedule", "summaries", "view"]
