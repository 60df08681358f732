"""An installed tinyedge works without the checkout (issue 10): the wheel built from the checkout
carries boards/, templates/ and firmware/; installed into a fresh virtual environment it lists the
boards, writes a project file, builds the built-in example for emu-m4 and validates it in QEMU from an
empty folder outside the checkout; and the firmware project it generates names no path of the
installation and builds after being copied elsewhere.

The fresh environment gets only the wheel from pip (`--no-deps`); its third-party dependencies are the
pinned ones the setup step installed, reached through a .pth line, so the test needs no download.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from support import REPO

IGNORED = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache",
                                 ".pio")


def _run(command: list, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment holding tinyedge from its wheel; returns its bin/ folder."""
    if shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None:
        pytest.skip("arm-none-eabi-gcc and qemu-system-arm are needed (the setup step installs them)")
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=IGNORED)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
          "-w", root / "dist", source], cwd=root)
    wheel = next((root / "dist").glob("tinyedge-*.whl"))
    fresh = root / "venv"
    venv.EnvBuilder(with_pip=False).create(fresh)
    fresh_site = Path(sysconfig.get_path("purelib", vars={"base": str(fresh), "platbase": str(fresh)}))
    (fresh_site / "tinyedge-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run([sys.executable, "-m", "pip", "--python", fresh / "bin" / "python", "install", "--no-deps",
          "--quiet", wheel], cwd=root)
    return fresh / "bin"


def test_the_installed_package_is_the_wheel_with_its_data(installed, tmp_path):
    printed = _run([installed / "python", "-c", "import tinyedge.resources as r; print(r.BOARDS_DIR)"],
                   cwd=tmp_path).stdout.strip()
    assert printed.startswith(str(installed.parent)) and printed.endswith("tinyedge/_share/boards")


@pytest.mark.slow
@pytest.mark.emulated
def test_boards_init_build_and_validate_from_an_empty_folder(installed, tmp_path):
    work = tmp_path / "empty folder"
    work.mkdir()
    boards = _run([installed / "tinyedge", "boards"], cwd=work).stdout
    assert "nano33" in boards and "emu-m4" in boards
    _run([installed / "tinyedge", "init"], cwd=work)
    project_file = work / "tinyedge.toml"
    text = project_file.read_text()
    assert "[budgets]" in text
    # Fewer epochs keep the test short; the model is the built-in example all the same.
    assert "\nepochs = 15\n" in text and "\nepochs = 40\n" in text
    project_file.write_text(text.replace("\nepochs = 15\n", "\nepochs = 2\n").replace("\nepochs = 40\n",
                                                                                   "\nepochs = 3\n"))
    _run([installed / "tinyedge", "build", "--board", "emu-m4"], cwd=work)
    validation = json.loads(_run([installed / "tinyedge", "validate", "--board", "emu-m4", "--samples", "40",
                                  "--json"], cwd=work).stdout)
    assert validation["agreement"] == 1.0 and validation["samples"] == 40

    # The generated project is self-contained: no path of the installation or of the checkout in it,
    # and it builds after being moved.
    project = work / "build" / "emu-m4" / "firmware"
    moved = tmp_path / "elsewhere" / "firmware"
    shutil.copytree(project, moved, ignore=shutil.ignore_patterns(".pio"))
    for path in moved.rglob("*"):
        if path.is_file():
            content = path.read_text(encoding="utf-8", errors="replace")
            for forbidden in (str(REPO), str(installed.parent), str(work)):
                assert forbidden not in content, f"{path.relative_to(moved)} names {forbidden}"
    from tinyedge.platformio import run_build
    built = run_build(moved, "emu-m4", progress=None)
    assert built.elf.is_file() and built.flash_bytes > 0
