"""ENS error answers are sorted into what a caller should do about them."""

from __future__ import annotations

import json

import pytest

from ens_image_operator.ens.errors import (
    Conflict,
    Denied,
    EnsError,
    Invalid,
    NotFound,
    Throttled,
    Transient,
    classify,
)


def body(code: str, message: str = "msg", request_id: str = "RID-1") -> bytes:
    return json.dumps({"RequestId": request_id, "Code": code, "Message": message}).encode()


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "Throttling.User", Throttled),
        (400, "Throttling.Api", Throttled),
        (400, "Throttling", Throttled),
        (503, "ServiceUnavailable", Transient),
        (500, "InternalError", Transient),
        (502, "SomethingNew", Transient),
        (404, "ImageId.NotFound", NotFound),
        (400, "InvalidImage.NotFound", NotFound),
        (400, "InvalidParameter", Invalid),
        (400, "InvalidParameter.ImageName", Invalid),
        (400, "MissingParameter", Invalid),
        (400, "OssPrefix.Malformed", Invalid),
        (400, "ImageNotSupported", Invalid),
        (403, "NoPermission", Denied),
        (403, "Forbidden.RAM", Denied),
        (404, "InvalidAccessKeyId.NotFound", Denied),
        (400, "SignatureDoesNotMatch", Denied),
        (400, "InvalidTimeStamp.Expired", Denied),
        (400, "IncorrectImageStatus", Conflict),
        (400, "OperationDenied.ImageInUse", Conflict),
    ],
)
def test_code_maps_to_the_error_kind(status: int, code: str, kind: type[EnsError]) -> None:
    error = classify(status, body(code), {})
    assert type(error) is kind
    assert error.code == code


@pytest.mark.parametrize(
    ("kind", "retryable"),
    [
        (Throttled, True),
        (Transient, True),
        (NotFound, False),
        (Invalid, False),
        (Denied, False),
        (Conflict, False),
    ],
)
def test_only_throttling_and_transient_errors_are_retryable(kind: type[EnsError], retryable: bool) -> None:
    assert kind("X").retryable is retryable


def test_error_keeps_request_id_message_and_status() -> None:
    error = classify(404, body("ImageId.NotFound", "The image does not exist.", "REQ-42"), {})
    assert (error.request_id, error.message, error.http_status) == (
        "REQ-42",
        "The image does not exist.",
        404,
    )


def test_str_contains_code_and_request_id() -> None:
    text = str(classify(400, body("InvalidParameter", "bad", "REQ-7"), {}))
    assert "InvalidParameter" in text
    assert "REQ-7" in text


def test_str_says_when_there_is_no_request_id() -> None:
    assert "RequestId: -" in str(EnsError("Timeout", "slow"))


def test_retry_after_header_is_read_as_milliseconds() -> None:
    error = classify(400, body("Throttling.User"), {"x-acs-retry-after": "1500"})
    assert error.retry_after == 1.5


def test_any_error_with_retry_after_is_throttling_as_in_the_sdk() -> None:
    error = classify(400, body("SomeLimit"), {"x-acs-retry-after": "200"})
    assert isinstance(error, Throttled)


def test_http_429_without_code_is_throttling() -> None:
    assert isinstance(classify(429, b"", {}), Throttled)


def test_non_json_5xx_body_is_transient_with_http_code() -> None:
    error = classify(502, b"<html>bad gateway</html>", {})
    assert isinstance(error, Transient)
    assert error.code == "HTTP502"


def test_lower_case_body_keys_are_understood() -> None:
    error = classify(400, json.dumps({"code": "MissingParameter", "requestId": "r-1"}), {})
    assert (type(error), error.request_id) == (Invalid, "r-1")


def test_str_is_one_line_even_when_the_message_is_not() -> None:
    error = classify(
        400, body("SignatureDoesNotMatch", "server string to sign is:\nACS3-HMAC-SHA256\nabc"), {}
    )
    assert "\n" not in str(error)
    assert error.message.count("\n") == 2
