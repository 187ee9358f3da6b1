"""The docs stay true: every subcommand and CLI command has help and is in the README."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.commands import SUBCOMMANDS
from bot.config import Settings

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def cli_commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subparsers.choices)


@pytest.mark.parametrize("subcommand", SUBCOMMANDS, ids=lambda sub: sub.name)
def test_every_slash_subcommand_has_help_and_is_in_the_readme(subcommand: object) -> None:
    assert subcommand.summary  # type: ignore[attr-defined]
    assert f"`{subcommand.usage}`" in README.replace("\\|", "|")  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(cli_commands()))
def test_every_cli_command_has_help_and_is_in_the_readme(name: str) -> None:
    assert cli_commands()[name].description
    assert f"signal-bot {name}" in README or f"`{name}" in README


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    for field in Settings.model_fields:
        assert f"`{field.upper()}`" in README


def test_the_bundled_sources_file_parses_and_points_at_the_examples() -> None:
    document = tomllib.loads((REPO / "signal-bot.toml").read_text(encoding="utf-8"))
    (source,) = document["sources"]
    assert (REPO / source["path"]).is_dir()
    assert any((REPO / source["path"]).glob("*.txt"))


def test_procfile_names_release_web_and_worker() -> None:
    kinds = {line.split(":")[0] for line in (REPO / "Procfile").read_text().splitlines() if line}
    assert kinds == {"release", "web", "worker"}


def test_ci_runs_the_readme_test_command() -> None:
    readme_test_command = next(
        line for line in README.splitlines() if "pytest" in line and "pip install" in line
    )
    assert readme_test_command.strip() in (REPO / ".ci" / "run").read_text(encoding="utf-8")
