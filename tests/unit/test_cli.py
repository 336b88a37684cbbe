"""The console script lists its subcommands, finds the kit's through entry points, rejects unknown ones."""

import sys
from importlib.metadata import EntryPoint
from types import ModuleType

import pytest

from ens_image_operator import cli


def _only_entry_points(monkeypatch: pytest.MonkeyPatch, *points: EntryPoint) -> None:
    def fake(*, group: str) -> tuple[EntryPoint, ...]:
        return tuple(point for point in points if point.group == group)

    monkeypatch.setattr(cli, "entry_points", fake)


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for name in [*cli.COMMANDS, *cli.plugin_commands()]:
        assert name in out


def test_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["frobnicate"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_the_operator_itself_has_only_run_crds_and_images() -> None:
    assert set(cli.COMMANDS) == {"run", "crds", "images"}


def test_the_installed_kit_declares_demo_emulator_and_sandbox() -> None:
    assert cli.plugin_commands() == {
        "demo": "ens_image_kit.commands.demo",
        "emulator": "ens_image_kit.commands.emulator",
        "sandbox": "ens_image_kit.commands.sandbox",
    }


def test_a_plugin_command_is_run_from_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = ModuleType("fake_plugin")
    plugin.HELP = "say hello"  # type: ignore[attr-defined]
    plugin.configure = lambda parser: parser.add_argument("--who", default="world")  # type: ignore[attr-defined]
    plugin.main = lambda args: 7 if args.who == "ens" else 1  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_plugin", plugin)
    _only_entry_points(monkeypatch, EntryPoint("hello", "fake_plugin", cli.ENTRY_POINT_GROUP))
    assert cli.main(["hello", "--who", "ens"]) == 7


def test_a_plugin_that_cannot_be_imported_does_not_break_the_help(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _only_entry_points(monkeypatch, EntryPoint("demo", "no_such_module.demo", cli.ENTRY_POINT_GROUP))
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    assert "cannot be loaded" in capsys.readouterr().out


def test_a_built_in_command_wins_over_a_plugin_of_the_same_name(monkeypatch: pytest.MonkeyPatch) -> None:
    _only_entry_points(monkeypatch, EntryPoint("run", "somewhere.else", cli.ENTRY_POINT_GROUP))
    assert cli.plugin_commands() == {}


@pytest.mark.parametrize("name", ["demo", "emulator", "sandbox"])
def test_a_kit_command_without_the_kit_says_how_to_get_it_in_one_line(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _only_entry_points(monkeypatch)
    assert cli.main([name]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "local kit" in err
    assert "make demo" in err
    assert "pip install -e operator/kit" in err
