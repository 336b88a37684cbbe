"""Errors from ENS: terminal ones stall the object, transient ones keep it reconciling."""

from __future__ import annotations

from ens_image_operator.ens.errors import (
    Conflict,
    CredentialsError,
    Denied,
    Invalid,
    NotFound,
    Throttled,
    Transient,
)
from ens_image_operator.reconcile.conditions import State
from ens_image_operator.reconcile.failures import (
    CredentialsProblem,
    is_terminal,
    nothing_created,
    verdict_for,
)


def test_invalid_parameter_stalls_with_the_cloud_code_and_request_id() -> None:
    verdict = verdict_for(Invalid("InvalidParameter.OSType", "bad", request_id="R-42"), doing="ImportImage")
    assert verdict.state is State.STALLED
    assert "InvalidParameter.OSType" in verdict.message and "R-42" in verdict.message


def test_access_denied_stalls_and_names_the_credentials_source() -> None:
    verdict = verdict_for(
        Denied("InvalidAccessKeyId.NotFound", request_id="R-1"), doing="ImportImage", source="Secret ns/creds"
    )
    assert (verdict.state, verdict.reason) == (State.STALLED, "AccessDenied")
    assert "Secret ns/creds" in verdict.message


def test_missing_credentials_stall_as_a_credentials_error() -> None:
    assert verdict_for(CredentialsError("InvalidCredentials"), doing="x").reason == "CredentialsError"
    assert (
        verdict_for(CredentialsProblem("Secret a/b does not exist"), doing="x").message
        == "Secret a/b does not exist"
    )


def test_not_found_stalls() -> None:
    assert verdict_for(NotFound("InvalidImageId.NotFound"), doing="x").state is State.STALLED


def test_throttling_keeps_reconciling() -> None:
    verdict = verdict_for(Throttled("Throttling.User"), doing="DescribeSelfImages")
    assert (verdict.state, verdict.reason) == (State.PROGRESSING, "Throttled")


def test_server_errors_and_conflicts_keep_reconciling() -> None:
    assert verdict_for(Transient("ServiceUnavailable"), doing="x").state is State.PROGRESSING
    assert verdict_for(Conflict("IncorrectImageStatus"), doing="x").state is State.PROGRESSING


def test_only_non_retryable_refusals_are_terminal() -> None:
    assert is_terminal(Invalid("InvalidParameter"))
    assert not is_terminal(Transient("InternalError"))
    assert not is_terminal(Conflict("IncorrectImageStatus"))


def test_an_error_answer_from_ens_means_nothing_was_created() -> None:
    assert nothing_created(Transient("ServiceUnavailable", http_status=503))
    assert nothing_created(Transient("InternalError", http_status=500))
    assert nothing_created(Invalid("InvalidParameter", http_status=400))


def test_a_lost_answer_may_hide_a_created_image() -> None:
    assert not nothing_created(Transient("ConnectionLost", maybe_applied=True))
    assert not nothing_created(Transient("Timeout", maybe_applied=True))


def test_a_gateway_timeout_or_an_answer_without_a_code_may_hide_a_created_image() -> None:
    assert not nothing_created(Transient("HTTP502", http_status=502))
    assert not nothing_created(Transient("ServiceTimeout", http_status=503))
    assert not nothing_created(Transient("HTTP500", http_status=500))
