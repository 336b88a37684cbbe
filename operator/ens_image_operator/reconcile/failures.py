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
RECHECKED_STALL_REASONS = frozenset(
    {"CredentialsError", "AccessDenied", "AlreadyManaged", "ImageNameInUse", "AdoptionNotAllowed"}
)


class CredentialsProblem(Exception):
    """The credentials for an object could not be loaded (missing or malformed Secret)."""


def is_terminal(error: EnsError) -> bool:
    """Whether retrying the same request cannot help until something changes."""
    return not error.retryable and not isinstance(error, Conflict) and type(error) is not EnsError


# Answers that come from a gateway which may have passed the request on before giving up.
_UNSURE_CODES = frozenset({"ServiceTimeout", "UnknownError"})
_UNSURE_HTTP = frozenset({502, 504})


def nothing_created(error: EnsError) -> bool:
    """Whether a failed non-idempotent call certainly had no effect: ENS refused it with an answer.

    Refusals (terminal errors, throttling, 500/503 with an error code) come before the operation;
    a lost connection, a timeout, a gateway timeout or an answer without a code may hide a success.
    """
    if is_terminal(error) or isinstance(error, Throttled):
        return True
    if error.maybe_applied or error.http_status is None or error.http_status < 400:
        return False
    answered_with_code = not error.code.startswith("HTTP")  # classify() names code-less answers HTTPnnn
    return answered_with_code and error.http_status not in _UNSURE_HTTP and error.code not in _UNSURE_CODES


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
