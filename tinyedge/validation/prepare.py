"""From the command line's options to a build folder with a compiled firmware: the project's settings,
the board, and (for `validate`) the build itself, run through the same code as `tinyedge build`."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import config as config_module
from ..boards import Board, Catalogue
from .buildinfo import BuildFolder, load_build_folder


@dataclass(frozen=True)
class Target:
    config: config_module.Config
    board: Board
    project_dir: Path

    @property
    def build_dir(self) -> Path:
        return self.project_dir / self.config.get("project.build_dir") / self.board.name

    @property
    def model_name(self) -> str:
        return str(self.config.get("project.name"))

    def load(self) -> BuildFolder:
        return load_build_folder(self.board, self.build_dir, self.model_name)


def resolve(board: str | None, project_dir: Path) -> Target:
    project_dir = Path(project_dir).resolve()
    config = config_module.find_and_load(project_dir).with_overrides({"project.board": board})
    return Target(config, Catalogue.load().get(config.get("project.board")), project_dir)


def run_build(target: Target) -> BuildFolder:
    """`tinyedge build --board B --dir D`: every stage is reused when nothing changed, and the firmware
    is compiled where the toolchain is here; its output goes to stderr."""
    from ..commands import build

    print(f"validate: building {target.config.get('project.name')} for {target.board.name} "
          "(unchanged stages are reused)", file=sys.stderr, flush=True)
    with contextlib.redirect_stdout(sys.stderr):  # stdout is kept for validate's own output
        build.run(board=target.board.name, project_dir=target.project_dir)
    return target.load()
