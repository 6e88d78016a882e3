"""Rewrite docs/cli.md from the commands' --help text."""

from pathlib import Path

from brace.cli.reference import markdown

Path(__file__).with_name("cli.md").write_text(markdown())
