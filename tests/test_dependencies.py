"""A fresh machine installs the versions the tests were run with.

pyproject.toml keeps the package's ranges open; constraints.txt (refreshed by
`bash .ci/lock`) pins one exact version of every dependency, test extra included, and
the README's test command and CI install through it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)", re.MULTILINE)
TEST_COMMAND = "pip install -c constraints.txt -e '.[test,ray]' && pytest"


def pins() -> dict[str, str]:
    text = (ROOT / "constraints.txt").read_text()
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def declared() -> list[Requirement]:
    project = PYPROJECT["project"]
    extras = project["optional-dependencies"]
    names = [*project["dependencies"], *extras["test"], *extras["ray"]]
    return [Requirement(line) for line in names]


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_every_declared_dependency_is_pinned_inside_its_range(requirement: Requirement) -> None:
    version = pins().get(canonicalize_name(requirement.name))
    assert version is not None, f"{requirement.name} has no pin in constraints.txt (.ci/lock)"
    assert requirement.specifier.contains(version, prereleases=True), (
        f"constraints.txt pins {requirement.name}=={version}, outside {requirement}"
    )


def test_upper_bounds_say_why() -> None:
    """An upper bound is kept only where brace relies on a behaviour, and says which."""
    lines = (ROOT / "pyproject.toml").read_text().splitlines()
    for number, line in enumerate(lines):
        if re.search(r'^\s*"[^"]*<[^=][^"]*",', line):
            comment = lines[number - 1].strip()
            assert comment.startswith("#"), f"pyproject.toml: {line.strip()} has no reason above it"


def test_the_readme_and_ci_run_the_same_locked_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"```bash\n{TEST_COMMAND}\n```" in readme
    assert f"\n{TEST_COMMAND}\n" in ci
