"""What validation and flashing read from a build folder (<project>/<build_dir>/<board>/): the int8
model and its identity, the test split, the stage report and the firmware (project and ELF).

A validation that builds first gets its BuildFolder from the build itself (tinyedge.api.folder_of);
`load_build_folder` is for verbs that use an earlier build (flash) and reads report.json through its
owner, tinyedge.pipeline.report."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import buildfiles
from ..boards import Board
from ..project.sanitize import model_names
from ..device.protocol import ModelIdentity
from ..errors import TinyedgeError

MODEL_FILE = buildfiles.MODEL
TEST_DATA_FILE = buildfiles.TEST_DATA
DATA_FILE = buildfiles.DATA
FIRMWARE_FOLDER = buildfiles.FIRMWARE


@dataclass(frozen=True)
class BuildFolder:
    board: Board
    path: Path
    model_name: str                 # the project's name, as the firmware prints it (te-model)
    model_bytes: bytes
    report: dict                    # report.json of the build ({} when absent)

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def identity(self) -> ModelIdentity:
        """What the firmware must carry: the model's protocol name and the SHA-256 of model.tflite."""
        return ModelIdentity(model_names(self.model_name).protocol, hashlib.sha256(self.model_bytes).hexdigest())

    @property
    def firmware(self) -> dict:
        """What `tinyedge build` recorded of the firmware (project, elf, flash_bytes, ram_bytes...)."""
        recorded = self.report.get("firmware")
        return recorded if isinstance(recorded, dict) else {}

    @property
    def budgets(self) -> dict[str, int]:
        """The project's flash and RAM budgets as the build recorded them (budgets.max_flash, max_ram;
        0: not set, or a build before they were recorded)."""
        recorded = self.report.get("budgets")
        recorded = recorded if isinstance(recorded, dict) else {}
        return {key: int(recorded.get(key) or 0) for key in ("max_flash", "max_ram")}

    @property
    def firmware_project(self) -> Path:
        project = self.firmware.get("project")   # the stage records it relative to the build folder
        return self.path / project if project else self.path / FIRMWARE_FOLDER

    @property
    def elf(self) -> Path | None:
        """The compiled firmware: the ELF the build recorded, else PlatformIO's default place for it
        (a real board's project compiled with `pio run` on another machine and copied back)."""
        recorded = self.firmware.get("elf")
        candidates = [self.path / recorded] if recorded else []   # absolute, or relative to the folder
        candidates.append(self.firmware_project / ".pio" / "build" / self.board.name / "firmware.elf")
        return next((path for path in candidates if path.is_file()), None)

    def require_elf(self) -> Path:
        elf = self.elf
        if elf is None:
            raise TinyedgeError(f"the build folder {self.path} has no compiled firmware for {self.board.name}",
                                f"run 'tinyedge build --board {self.board.name}' first")
        return elf

    def test_split(self) -> tuple[np.ndarray, np.ndarray]:
        """(x float inputs, y labels) of the build's test split."""
        path = self.path / TEST_DATA_FILE
        if not path.is_file():
            raise TinyedgeError(f"the build folder {self.path} has no {TEST_DATA_FILE}",
                                f"run 'tinyedge build --board {self.board.name}' first")
        try:
            with np.load(path, allow_pickle=False) as stored:
                return np.asarray(stored["x"]), np.asarray(stored["y"])
        except (OSError, ValueError, KeyError) as error:
            raise TinyedgeError(f"{path} cannot be read ({type(error).__name__}: {error})",
                                f"run 'tinyedge build --board {self.board.name}' again") from None

    def labels(self, classes: int) -> list[str]:
        """Class names from the build's data, else the class numbers."""
        path = self.path / DATA_FILE
        try:
            with np.load(path, allow_pickle=False) as stored:
                names = [str(label) for label in stored["labels"]]
        except (OSError, ValueError, KeyError):
            names = []
        return names if len(names) == classes else [str(index) for index in range(classes)]

    @property
    def stages(self) -> list[dict]:
        return list(self.report.get("stages") or [])

    @property
    def metric(self) -> str:
        return str(self.report.get("metric") or "accuracy")


def load_build_folder(board: Board, path: Path, model_name: str) -> BuildFolder:
    """The build folder at `path`; a TinyedgeError naming the command to run when there is none."""
    path = Path(path)
    model = path / MODEL_FILE
    if not model.is_file():
        raise TinyedgeError(f"no build for {board.name} in {path.parent.parent} (no {path / MODEL_FILE})",
                            f"run 'tinyedge build --board {board.name}' first")
    from ..pipeline.report import read_build_report
    return BuildFolder(board=board, path=path, model_name=model_name, model_bytes=model.read_bytes(),
                       report=read_build_report(path / buildfiles.REPORT))
