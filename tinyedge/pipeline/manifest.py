"""manifest.json of a build folder: what made every artifact, and the cache of unchanged stages.

A stage's key is the hash of its settings, the keys of the stages it reads and the content hashes of
the user files it reads. A stage is skipped when its key is unchanged and its outputs are still there
with the content hashes recorded when they were written.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .. import __version__
from ..buildfiles import MANIFEST
from ..fileio import write_json_atomic


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def path_hash(path: Path) -> str:
    """Content hash of a file or of every file under a folder (a SavedModel)."""
    if path.is_file():
        return file_hash(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file_hash(file).encode())
    return digest.hexdigest()


def sources_hash(paths: list[Path]) -> str:
    """One hash of the source files under `paths` (files or folders; Python's bytecode caches left out,
    they come and go with imports): what a stage made by tinyedge's own templates and code depends on
    besides its settings."""
    digest = hashlib.sha256()
    for root in map(Path, paths):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(str(file.relative_to(root.parent)).encode())
            digest.update(file_hash(file).encode())
    return digest.hexdigest()


def stage_key(name: str, settings: dict[str, Any], upstream: list[str]) -> str:
    text = json.dumps({"stage": name, "tinyedge": __version__, "settings": settings,
                       "upstream": upstream}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Manifest:
    def __init__(self, build_dir: Path):
        self.build_dir = build_dir
        self.path = build_dir / MANIFEST
        self.data: dict[str, Any] = {"tinyedge_version": __version__, "inputs": {}, "config": {},
                                     "stages": {}}
        if self.path.exists():
            try:
                old = json.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(old, dict) and isinstance(old.get("stages"), dict):
                    # The previous run's description stays until this run has written everything.
                    self.data.update({key: old[key] for key in ("tinyedge_version", "inputs", "config")
                                      if key in old})
                    self.data["stages"] = old["stages"]
            except (OSError, ValueError):
                pass  # an unreadable manifest only means nothing is cached

    def cached(self, name: str, key: str) -> dict | None:
        """The stage's record when it can be reused, else None."""
        record = self.data["stages"].get(name)
        if not isinstance(record, dict) or record.get("key") != key:
            return None
        for relative, digest in record.get("outputs", {}).items():
            path = self.build_dir / relative
            if not path.exists() or path_hash(path) != digest:
                return None
        return record

    def record(self, name: str, key: str, outputs: list[str], metrics: dict, seconds: float,
               inputs: dict[str, Any] | None = None) -> dict:
        """Store a finished stage and write the manifest at once, so a later failure keeps it.
        `inputs` (content hashes and settings) says what the stage was made from."""
        record = {"key": key,
                  "outputs": {relative: path_hash(self.build_dir / relative) for relative in outputs},
                  "metrics": metrics, "seconds": round(seconds, 2)}
        if inputs is not None:
            record["inputs"] = inputs
        self.data["stages"][name] = record
        self.save()
        return record

    def record_measurement(self, name: str, inputs: dict[str, Any], upstream: list[str],
                           outputs: list[str], metrics: dict, seconds: float) -> dict:
        """A step that measures (flash, validate) runs every time it is asked for, so nothing is
        skipped by its key; its record names what it measured (`inputs`: content hashes, the port)
        and what it wrote, so its files trace back to the firmware and model they measured."""
        return self.record(name, stage_key(name, inputs, upstream), outputs, metrics, seconds, inputs)

    def forget(self, name: str) -> None:
        self.data["stages"].pop(name, None)

    def set_inputs(self, inputs: dict[str, Any], config: dict[str, Any]) -> None:
        self.data["tinyedge_version"] = __version__
        self.data["inputs"] = inputs
        self.data["config"] = config

    def save(self) -> None:
        write_json_atomic(self.path, self.data)
