"""How a failed cloud call shows on the object: Stalled (terminal) or Reconciling (will retry)."""

from __future__ import annotations

from ens_image_operator.ens.errors import (
    Conflict,
    CredentialsError,
    Denied,
    EnsError,
    Invalid,
    NotFound,
    Throttled,
    Transient,
)
from ens_image_operator.reconcile.conditions import State, Verdict

# Stalled reasons that are not the user's spec's fault: retried periodically without a spec change.
RECHECKED_STALL_REASONS = frozenset({"CredentialsError", "AccessDenied"})


class CredentialsProblem(Exception):
    """The credentials for an object could not be loaded (missing or malformed Secret)."""


def is_terminal(error: EnsError) -> bool:
    """Whether retrying the same request cannot help until something changes."""
    return not error.retryable and not isinstance(error, Conflict) and type(error) is not EnsError


def verdict_for(error: Exception, *, doing: str, source: str = "") -> Verdict:
    """The verdict for an error raised while ``doing`` something (e.g. 'ImportImage')."""
    where = f" (credentials: {source})" if source else ""
    if isinstance(error, CredentialsProblem):
        return Verdict(State.STALLED, "CredentialsError", str(error))
    if isinstance(error, CredentialsError):
        return Verdict(State.STALLED, "CredentialsError", f"{doing}: {error}{where}")
    if isinstance(error, Denied):
        return Verdict(State.STALLED, "AccessDenied", f"{doing} was refused: {error}{where}")
    if isinstance(error, Invalid):
        return Verdict(State.STALLED, "InvalidParameter", f"{doing} was refused: {error}")
    if isinstance(error, NotFound):
        return Verdict(State.STALLED, "NotFound", f"{doing}: {error}")
    if isinstance(error, Throttled):
        return Verdict(State.PROGRESSING, "Throttled", f"{doing} was throttled, retrying: {error}")
    if isinstance(error, Transient | Conflict):
        return Verdict(State.PROGRESSING, "Retrying", f"{doing} failed, retrying: {error}")
    if isinstance(error, EnsError):
        return Verdict(State.PROGRESSING, "Retrying", f"{doing} failed, retrying: {error}")
    return Verdict(State.PROGRESSING, "Retrying", f"{doing} failed, retrying: {type(error).__name__}")
