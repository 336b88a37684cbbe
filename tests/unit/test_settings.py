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


def test_rate_limits_default_to_no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENS_OPERATOR_RATE_LIMITS", raising=False)
    assert Settings().rate_limits == {}


def test_rate_limits_are_read_as_action_equals_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENS_OPERATOR_RATE_LIMITS", "ImportImage=5, CreateImage=1/60,")
    assert Settings().rate_limits == {"ImportImage": 5.0, "CreateImage": pytest.approx(1 / 60)}


def test_rate_limits_are_read_as_json_as_the_chart_renders_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENS_OPERATOR_RATE_LIMITS", '{"ImportImage": 5, "DescribeSelfImages": 20.5}')
    assert Settings().rate_limits == {"ImportImage": 5.0, "DescribeSelfImages": 20.5}


@pytest.mark.parametrize("text", ["ImportImage=0", "ImportImage", "ImportImage=fast", "=5", "A=1/0", "[1]"])
def test_bad_rate_limits_are_rejected_with_the_field_name(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("ENS_OPERATOR_RATE_LIMITS", text)
    with pytest.raises(ValueError, match="rate_limits"):
        Settings()
