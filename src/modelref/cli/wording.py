"""Error messages as a terminal user should read them.

The service layer and the HTTP API keep upstream's verbatim strings (http-api.md §11), some of
which speak HTTP ("Use PUT to update existing models."). The CLI shows the same error with the
command to use instead, and one wording for a missing change whichever route produced it, so
local and remote mode print the same line.
"""

from __future__ import annotations

import re

#: (pattern, replacement) applied in order to the one-line message.
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\s*Use PUT to update existing models\.?"),
        " Propose an edit with `modelref queue submit --update` instead.",
    ),
    (
        re.compile(r"\s*Use POST to create new models\.?"),
        " Propose a new model with `modelref queue submit --create` instead.",
    ),
    (
        re.compile(r"Model name in the path must match the payload when queuing updates\.?"),
        "--model must match the record's name in the payload",
    ),
    # upstream has three wordings for one error; the CLI prints the one that names the id
    (re.compile(r"\bChange (\d+) does not exist\."), r"Change \1 not found."),
    (re.compile(r"\bChange (\d+) not found(?!\.)"), r"Change \1 not found."),
)


def for_cli(message: str, change_id: int | None = None) -> str:
    """``message`` with HTTP-specific hints replaced by CLI ones.

    ``change_id``: the one change the command is about, which upstream's bare
    ``Change not found`` (``GET /changes/{id}``) leaves out.
    """
    if change_id is not None and message.strip() == "Change not found":
        return f"Change {change_id} not found."
    for pattern, replacement in _REWRITES:
        message = pattern.sub(replacement, message)
    return message
