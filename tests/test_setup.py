"""The setup step (`python3 -m tinyedge.bootstrap`) and the README's two commands."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tinyedge import bootstrap
from tinyedge.boards import Catalogue

from support import REPO


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_starts_with_two_commands_and_ci_runs_the_second():
    first, second = readme_commands()[:2]
    assert first.startswith("python3 -m tinyedge.bootstrap && ")
    assert second == "python3 -m tinyedge.bootstrap && .venv/bin/python -m pytest"
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert second in ci_lines


def test_the_readmes_test_tiers_use_registered_markers():
    """A renamed marker would leave a documented tier selecting nothing."""
    import tomllib
    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    markers = {line.split(":")[0] for line in options["markers"]}
    expressions = set(re.findall(r'-m "([^"]+)"', (REPO / "README.md").read_text()))
    assert expressions, "the README names no test tier"
    used = {word for text in expressions for word in re.findall(r"[a-z_]+", text)} - {"not", "and", "or"}
    assert used <= markers


def test_readme_main_command_names_a_real_board_and_example():
    first = readme_commands()[0]
    board = re.search(r"--board (\S+)", first).group(1)
    Catalogue.load().get(board)
    folder = re.search(r"--dir (\S+)", first).group(1)
    assert (REPO / folder / "tinyedge.toml").is_file()


def test_readme_boards_table_lists_every_board():
    text = (REPO / "README.md").read_text()
    for board in Catalogue.load().boards:
        assert f"| `{board.name}` |" in text, board.name


def _venv_installed_from_this_checkout() -> bool:
    import sysconfig
    from importlib.metadata import Distribution
    installed = Distribution.discover(name="tinyedge", path=[sysconfig.get_paths()["purelib"]])
    urls = [json.loads(d.read_text("direct_url.json") or "{}").get("url") for d in installed]
    return urls == [REPO.as_uri()]


def test_setup_is_idempotent_and_fast_when_done():
    # The environment these tests run in was made by the setup step: running it again changes nothing.
    # From a copy of the checkout the step would re-point the shared environment at the copy.
    if not _venv_installed_from_this_checkout():
        pytest.skip(f"the virtual environment's tinyedge is installed from another checkout, not {REPO}")
    env = dict(os.environ, TINYEDGE_VENV=sys.prefix)
    result = subprocess.run([sys.executable, "-m", "tinyedge.bootstrap"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[setup] Arm and AVR toolchains, clang, CMake, Arduino AVR core, QEMU, simavr, Chromium and PostgreSQL: present" in result.stdout
    assert "[setup] Python packages: up to date" in result.stdout


def test_setup_without_apt_says_what_to_install(tmp_path):
    # A PATH with no cross compiler, no QEMU and no apt-get: the step must name the packages.
    env = dict(os.environ, PATH=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "tinyedge.bootstrap"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    # The Arduino core is found by its folder, not on PATH, so it is missing only where it is not installed.
    core = [] if bootstrap.ARDUINO_AVR_CORE.is_file() else ["arduino-core-avr"]
    # So is PostgreSQL's initdb (under /usr/lib/postgresql/<major>/bin, not on PATH).
    postgresql = [] if bootstrap.postgresql_bin() else ["postgresql"]
    missing = ["gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "libstdc++-arm-none-eabi-newlib", "qemu-system-arm",
               "gcc-avr", "avr-libc", *core, "simavr", "clang", "cmake", "chromium", *postgresql]
    assert result.stderr.strip() == (
        f"[setup] error: missing {', '.join(missing)}; install them with your package manager: "
        f"{' '.join(missing)} and run this step again")


def test_debian_packages_are_detected_by_their_files():
    assert bootstrap.missing_debian_packages() == []
