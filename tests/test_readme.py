"""CI runs exactly the README's test command, and the test tiers the README names are the markers
pytest knows (a renamed marker would leave a documented command selecting nothing)."""

from __future__ import annotations

import re
import tomllib

from support import REPO


def _readme_commands() -> list[str]:
    section = REPO.joinpath("README.md").read_text().split("## Two commands", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines()]


def test_ci_runs_the_readmes_test_command():
    readme = _readme_commands()
    assert len(readme) == 2 and readme[1].endswith("-m pytest")
    ci = [line.strip() for line in REPO.joinpath(".ci", "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith(("#", "set ", "cd ", "echo ", "start="))]
    assert ci == [readme[1]]


def test_the_readmes_test_tiers_use_registered_markers():
    markers = {line.split(":")[0] for line in
               tomllib.loads(REPO.joinpath("pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]}
    documented = set(re.findall(r'-m "([^"]+)"', REPO.joinpath("README.md").read_text()))
    assert documented, "the README names no test tier"
    used = {word for expression in documented for word in re.findall(r"[a-z_]+", expression)} - {"not", "and", "or"}
    assert used <= markers
