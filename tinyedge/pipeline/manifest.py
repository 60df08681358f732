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


def sources_hash(root: Path, relative: tuple[str, ...] | list[str]) -> str:
    """One hash of the files and folders `relative` under `root` (those that exist): what a stage
    made by tinyedge's own templates and sources depends on besides its settings."""
    digest = hashlib.sha256()
    for name in relative:
        path = Path(root) / name
        if path.exists():
            digest.update(name.encode())
            digest.update(path_hash(path).encode())
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

    def record(self, name: str, key: str, outputs: list[str], metrics: dict, seconds: float) -> dict:
        """Store a finished stage and write the manifest at once, so a later failure keeps it."""
        record = {"key": key,
                  "outputs": {relative: path_hash(self.build_dir / relative) for relative in outputs},
                  "metrics": metrics, "seconds": round(seconds, 2)}
        self.data["stages"][name] = record
        self.save()
        return record

    def forget(self, name: str) -> None:
        self.data["stages"].pop(name, None)

    def set_inputs(self, inputs: dict[str, Any], config: dict[str, Any]) -> None:
        self.data["tinyedge_version"] = __version__
        self.data["inputs"] = inputs
        self.data["config"] = config

    def save(self) -> None:
        write_json_atomic(self.path, self.data)
