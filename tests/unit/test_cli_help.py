"""``eegsnn COMMAND --help`` reads as paragraphs at any terminal width: the prose of a
command's docstring is reflowed (:func:`eegsnn.cli.reflow_help`), its example commands keep
their lines and fit 80 columns."""

from __future__ import annotations

import itertools

import pytest
from typer.testing import CliRunner

from eegsnn.cli import app, reflow_help

COMMANDS = ("info", "encode", "train", "evaluate", "export", "mnist", "report", "plot",
            "manifest create", "manifest verify")


def test_reflow_help_joins_prose_and_keeps_examples():
    doc = """First line.

    A paragraph of prose
    broken over three
    lines.

      eegsnn train -c a.yaml \\\\
          --set x=1

    Last.
    \f
    hidden
    line"""
    assert reflow_help(doc) == ("First line.\n\nA paragraph of prose broken over three lines."
                                "\n\n  eegsnn train -c a.yaml \\\\\n      --set x=1\n\nLast."
                                "\f\nhidden\nline")


def test_reflow_help_keeps_lists_and_marked_paragraphs():
    doc = "Title.\n\nSteps:\n- read\n- encode\n\n\n\b\nkeep these\nlines\n\nExamples:\n  a\n  b"
    assert reflow_help(doc) == ("Title.\n\nSteps:\n- read\n- encode\n\nkeep these\nlines\n\n"
                                "Examples:\n  a\n  b")


def test_help_examples_fit_80_columns():
    """Example commands keep their lines, so each must fit an 80-column terminal: Rich
    prints it after one space of margin."""
    def walk(typer_app):
        yield from typer_app.registered_commands
        for group in typer_app.registered_groups:
            yield from walk(group.typer_instance)

    for info in walk(app):
        for para in info.help.split("\n\n"):
            for line in para.split("\n"):
                if line[:1].isspace():
                    assert len(line) <= 78, f"{info.name}: example too wide: {line!r}"


def _help_lines(cmd: str, columns: int, monkeypatch) -> list[str]:
    import typer.rich_utils

    # typer reads TERMINAL_WIDTH once, at import: a width set in the environment wins
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", columns)
    result = CliRunner().invoke(app, [*cmd.split(), "--help"], env={"COLUMNS": str(columns)},
                                terminal_width=columns)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    end = next((i for i, line in enumerate(lines) if line.lstrip().startswith("\u256d")),
               len(lines))
    return [line.rstrip() for line in lines[:end]]  # the text above the option boxes


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_prose_wraps_at_the_terminal_width(cmd, monkeypatch):
    """At 80 columns no line of the help text breaks early, mid-sentence: a line followed by
    another line of the same paragraph is one that the next word would not fit on (Rich
    wraps whole paragraphs at word boundaries), unless it is an example command continued
    with a backslash."""
    lines = _help_lines(cmd, 80, monkeypatch)
    assert all(len(line) <= 80 for line in lines)
    for line, following in itertools.pairwise(lines):
        if line.strip() and following.strip() and not line.endswith("\\"):
            next_word = following.split()[0]
            assert len(line) + 1 + len(next_word) > 77, (
                f"{cmd} --help: line broken early: {line!r} before {following!r}")
