"""The settings object: environment variables with one prefix, defaults a user can rely on."""

import pytest

from ens_image_operator.settings import Settings


def test_defaults_point_at_the_real_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENS_OPERATOR_ENDPOINT", raising=False)
    settings = Settings()
    assert settings.endpoint == "https://ens.aliyuncs.com"
    assert settings.default_secret_name == "ens-credentials"
    assert settings.namespaces == []


def test_environment_overrides_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENS_OPERATOR_ENDPOINT", "http://127.0.0.1:9100")
    monkeypatch.setenv("ENS_OPERATOR_QPS", "2.5")
    settings = Settings()
    assert settings.endpoint == "http://127.0.0.1:9100"
    assert settings.qps == 2.5


def test_namespaces_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENS_OPERATOR_NAMESPACES", "team-a, team-b,")
    assert Settings().namespaces == ["team-a", "team-b"]


def test_a_wrong_type_is_rejected_with_the_field_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENS_OPERATOR_QPS", "fast")
    with pytest.raises(ValueError, match="qps"):
        Settings()
