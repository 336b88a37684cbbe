"""The run subcommand's flags map onto Settings; replicas get distinct peering priorities."""

from __future__ import annotations

import argparse

import pytest

from ens_image_operator.commands import run


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    run.configure(parser)
    return parser.parse_args(argv)


def test_flags_override_settings_fields() -> None:
    settings = run.settings_from(
        _parse("--fast-poll-interval", "0.5", "--metrics-port", "0", "--endpoint", "http://e")
    )
    assert (settings.fast_poll_interval, settings.metrics_port, settings.endpoint) == (0.5, 0, "http://e")


def test_namespaces_are_repeatable() -> None:
    assert run.settings_from(_parse("-n", "a", "-n", "b")).namespaces == ["a", "b"]


def test_all_namespaces_overrides_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENS_OPERATOR_NAMESPACES", "x")
    assert run.settings_from(_parse("--all-namespaces")).namespaces == []


def test_unset_flags_leave_the_defaults() -> None:
    assert run.settings_from(_parse()).slow_poll_interval == 600.0


def test_derived_priorities_are_stable_and_differ_between_hosts() -> None:
    assert run.derived_priority("pod-a") == run.derived_priority("pod-a")
    assert run.derived_priority("pod-a") != run.derived_priority("pod-b")
    assert run.derived_priority("pod-a") > 0


def test_rate_limits_flag_takes_action_rates() -> None:
    settings = run.settings_from(_parse("--rate-limits", "ImportImage=5,DeleteImage=1/60"))
    assert settings.rate_limits == {"ImportImage": 5.0, "DeleteImage": pytest.approx(1 / 60)}
