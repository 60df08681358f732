"""Data for the pipeline: the built-in digits example, an .npz file or a folder of class subfolders.

Everything here is numpy only (no TensorFlow), so a fully cached build can load the data cheaply. Every
problem with user data is a one-line TinyedgeError naming the file, the array and the way out.
"""

from __future__ import annotations

import hashlib
import zipfile
from importlib import metadata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import TinyedgeError

BUILTIN = "digits"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm")
SAMPLE_SUFFIXES = (".npy", ".csv", *IMAGE_SUFFIXES)
NPZ_REQUIRED = ("x_train", "y_train", "x_test", "y_test")
NPZ_OPTIONAL = ("x_val", "y_val")
NPZ_INPUTS = ("x_train", "x_test")          # all an autoencoder needs: it learns its own input
TASKS = ("auto", "classification", "regression", "autoencoder")


@dataclass
class Dataset:
    """Splits in the model's input shape (float32, batch axis first) with their targets.

    Classification targets are int64 labels 0..num_classes-1; regression targets are float32;
    autoencoder targets are the inputs themselves, flattened to (samples, features) float32."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str                       # "classification", "regression" or "autoencoder"
    labels: list[str] = field(default_factory=list)
    source: str = BUILTIN

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.labels) if self.task == "classification" else 0

    @property
    def output_size(self) -> int:
        if self.task == "classification":
            return self.num_classes
        return int(np.prod(self.y_train.shape[1:])) if self.y_train.ndim > 1 else 1

    def fingerprint(self) -> str:
        """Content hash of every split: the cache key of the stages that train on it."""
        digest = hashlib.sha256()
        for array in (self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test):
            digest.update(str((array.shape, array.dtype.str)).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(repr((self.task, self.labels)).encode())
        return digest.hexdigest()


def _split(x: np.ndarray, y: np.ndarray, fraction: float, seed: int, stratify: bool):
    """Deterministic (optionally stratified) split; returns (kept_x, kept_y, held_x, held_y)."""
    from sklearn.model_selection import train_test_split
    if fraction <= 0:
        return x, y, x[:0], y[:0]
    kept_x, held_x, kept_y, held_y = train_test_split(
        x, y, test_size=fraction, random_state=seed, stratify=y if stratify else None)
    return kept_x, kept_y, held_x, held_y


def load_digits(validation_fraction: float, test_fraction: float, seed: int) -> Dataset:
    """scikit-learn's 8x8 digits (shipped inside the package): pixels 0..16 scaled to 0..1."""
    from sklearn.datasets import load_digits as sklearn_digits
    bunch = sklearn_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[..., np.newaxis]
    y = bunch.target.astype(np.int64)
    train_x, train_y, test_x, test_y = _split(x, y, test_fraction, seed, stratify=True)
    train_x, train_y, val_x, val_y = _split(train_x, train_y, validation_fraction, seed, stratify=True)
    return Dataset(train_x, train_y, val_x, val_y, test_x, test_y, "classification",
                   [str(d) for d in range(10)], BUILTIN)


def _targets(name: str, where: str, y: np.ndarray, count: int) -> np.ndarray:
    if y.shape[0] != count:
        raise TinyedgeError(f"{where}: '{name}' has {y.shape[0]} entries but its inputs have {count}",
                            "every input needs exactly one target")
    if y.dtype.kind not in "iuf b":
        raise TinyedgeError(f"{where}: '{name}' has dtype {y.dtype}; targets must be numbers",
                            "store integer class labels or float regression targets")
    return y


def _inputs(name: str, where: str, x: np.ndarray) -> np.ndarray:
    if x.dtype.kind not in "iuf":
        raise TinyedgeError(f"{where}: '{name}' has dtype {x.dtype}; inputs must be numbers",
                            "store inputs as float or integer arrays")
    if x.ndim < 2 or x.shape[0] == 0:
        raise TinyedgeError(f"{where}: '{name}' has shape {x.shape}; expected (samples, features...) "
                            "with at least one sample", "put the sample axis first")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise TinyedgeError(f"{where}: '{name}' holds NaN or infinite values", "clean the data")
    return x


def _classification(ys: dict[str, np.ndarray], where: str) -> bool:
    """Integer-valued 1-D targets are class labels; anything else is regression."""
    return all(y.ndim == 1 and (y.dtype.kind in "iub" or
                                (y.size and np.all(np.equal(np.mod(y, 1), 0)))) for y in ys.values())


def _task_of(ys: dict[str, np.ndarray], where: str, task: str) -> str:
    """The task the targets allow: 'auto' picks it; an explicit classification needs class labels."""
    labels_like = _classification(ys, where)
    if task == "auto":
        return "classification" if labels_like else "regression"
    if task == "classification" and not labels_like:
        raise TinyedgeError(f"{where}: data.task is \"classification\" but the targets are not integer "
                            "class labels (1-D, whole numbers)",
                            "store labels 0..N-1, or set data.task to \"regression\" or \"auto\"")
    return task


def reconstruction_targets(x: np.ndarray) -> np.ndarray:
    """What an autoencoder learns to output: its input, flattened (every zoo model ends in a Dense)."""
    return np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float32)


def _check_labels(ys: dict[str, np.ndarray], where: str) -> list[str]:
    for name, y in ys.items():
        if y.size and y.min() < 0:
            raise TinyedgeError(f"{where}: '{name}' has a negative label ({int(y.min())})",
                                "labels are class numbers 0..N-1")
    train = ys["y_train"].astype(np.int64)
    classes = int(max(int(y.max()) for y in ys.values() if y.size)) + 1
    counts = np.bincount(train, minlength=classes)
    empty = [str(c) for c in range(classes) if counts[c] == 0]
    if classes < 2:
        raise TinyedgeError(f"{where}: the training labels hold a single class",
                            "a classifier needs at least two classes")
    if empty:
        raise TinyedgeError(f"{where}: class {', '.join(empty)} has no training sample "
                            f"(labels run 0..{classes - 1})", "add samples or renumber the labels")
    return [str(c) for c in range(classes)]


def load_npz(path: Path, validation_fraction: float, seed: int, task: str = "auto") -> Dataset:
    """task 'auto' follows the targets; 'classification' and 'regression' insist on their kind of
    target; 'autoencoder' needs only the inputs (any y_* arrays are left out)."""
    where = path.name
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise TinyedgeError(f"data file {path} does not exist", "check data.source") from None
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        # numpy's own text for a file that is no archive advises unpickling it: never pass that on.
        reason = "not an .npz or .npy array file" if isinstance(exc, ValueError) else str(exc)
        raise TinyedgeError(f"{where} is not a readable .npz archive ({reason})",
                            "save the data with numpy.savez") from None
    with archive:
        keys = set(archive.files)
        autoencoder = task == "autoencoder"
        if autoencoder:
            keys -= {"y_train", "y_val", "y_test"}
        required = NPZ_INPUTS if autoencoder else NPZ_REQUIRED
        missing = [key for key in required if key not in keys]
        if missing:
            if autoencoder:
                needs = f"an autoencoder's .npz needs {', '.join(NPZ_INPUTS)} (and optionally x_val)"
            else:
                needs = f"an .npz needs {', '.join(NPZ_REQUIRED)} (and optionally x_val, y_val)"
                if not any(key.startswith("y_") for key in keys):
                    needs += "; inputs alone suit data.task = \"autoencoder\""
            raise TinyedgeError(f"{where} lacks {', '.join(repr(k) for k in missing)} (it has "
                                f"{', '.join(sorted(keys)) or 'no arrays'})", needs)
        if not autoencoder and ("x_val" in keys) != ("y_val" in keys):
            raise TinyedgeError(f"{where} has only one of 'x_val' and 'y_val'", "give both or neither")
        try:
            arrays = {key: archive[key] for key in (*NPZ_REQUIRED, *NPZ_OPTIONAL) if key in keys}
        except ValueError as exc:
            raise TinyedgeError(f"{where}: an array cannot be read ({exc})",
                                "save plain numeric arrays (no Python objects)") from None
    xs = {key: _inputs(key, where, arrays[key]) for key in arrays if key.startswith("x_")}
    shapes = {key: x.shape[1:] for key, x in xs.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{key} {(None, *shape)}" for key, shape in shapes.items())
        raise TinyedgeError(f"{where}: the input arrays disagree in sample shape ({listed})",
                            "every x_* array needs the same shape after the sample axis")
    if xs["x_train"].ndim == 3:  # (N, H, W) images: give them the channel axis convolutions expect
        xs = {key: x[..., np.newaxis] for key, x in xs.items()}
    if autoencoder:
        ys = {"y" + key[1:]: reconstruction_targets(x) for key, x in xs.items()}
        labels = []
    else:
        ys = {key: _targets(key, where, arrays[key], xs["x" + key[1:]].shape[0])
              for key in arrays if key.startswith("y_")}
        task = _task_of(ys, where, task)
        if task == "classification":
            ys = {key: y.astype(np.int64) for key, y in ys.items()}
            labels = _check_labels(ys, where)
        else:
            ys = {key: y.astype(np.float32) for key, y in ys.items()}
            labels = []
    x_train, y_train = xs["x_train"], ys["y_train"]
    if "x_val" in xs:
        x_val, y_val = xs["x_val"], ys["y_val"]
    else:
        x_train, y_train, x_val, y_val = _split(x_train, y_train, validation_fraction, seed,
                                                stratify=False)
    return Dataset(x_train, y_train, x_val, y_val, xs["x_test"], ys["y_test"], task, labels,
                   str(path))


def _read_sample(path: Path) -> np.ndarray:
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False).astype(np.float32)
        if suffix == ".csv":
            return np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=1)
        from PIL import Image
        with Image.open(path) as image:
            array = np.asarray(image.convert("L" if image.mode in ("1", "L", "P", "I;16") else "RGB"))
        return array.astype(np.float32) / 255.0
    except Exception as exc:  # every reader fails in its own way on a damaged file
        reason = "not an .npy array file" if suffix == ".npy" and isinstance(exc, ValueError) else \
            f"{type(exc).__name__}: {exc}"
        raise TinyedgeError(f"sample {path} cannot be read ({reason})",
                            "remove or replace the file") from None


def load_folder(folder: Path, validation_fraction: float, test_fraction: float, seed: int) -> Dataset:
    """One subfolder per class (sorted names are the labels), one sample per file."""
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise TinyedgeError(f"data folder {folder} has {len(classes)} class subfolder(s)",
                            "put each class's samples in its own subfolder (at least two classes)")
    samples, labels = [], []
    for label, class_dir in enumerate(classes):
        files = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in SAMPLE_SUFFIXES)
        if not files:
            raise TinyedgeError(f"class folder {class_dir} is empty",
                                f"add samples ({', '.join(SAMPLE_SUFFIXES)}) or remove the folder")
        for path in files:
            samples.append((path, _read_sample(path)))
            labels.append(label)
    first_path, first = samples[0]
    for path, sample in samples:
        if sample.shape != first.shape:
            raise TinyedgeError(f"sample {path} has shape {sample.shape} but {first_path} has "
                                f"{first.shape}", "every sample needs the same shape")
    x = np.stack([sample for _, sample in samples])
    if x.ndim == 3:
        x = x[..., np.newaxis]
    y = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(y)
    stratify = bool(counts.min() >= 2)
    train_x, train_y, test_x, test_y = _split(x, y, test_fraction, seed, stratify)
    train_x, train_y, val_x, val_y = _split(train_x, train_y, validation_fraction, seed,
                                            stratify and validation_fraction > 0)
    return Dataset(train_x, train_y, val_x, val_y, test_x, test_y, "classification",
                   [p.name for p in classes], str(folder))


def as_task(dataset: Dataset, task: str) -> Dataset:
    """Labelled data (the digits, a folder of classes) under an explicit data.task: class numbers
    as float targets for 'regression', the inputs themselves for 'autoencoder'."""
    if task in ("auto", dataset.task):
        return dataset
    if task == "autoencoder":
        return Dataset(dataset.x_train, reconstruction_targets(dataset.x_train), dataset.x_val,
                       reconstruction_targets(dataset.x_val), dataset.x_test,
                       reconstruction_targets(dataset.x_test), "autoencoder", [], dataset.source)
    if task == "regression":
        return Dataset(dataset.x_train, dataset.y_train.astype(np.float32), dataset.x_val,
                       dataset.y_val.astype(np.float32), dataset.x_test,
                       dataset.y_test.astype(np.float32), "regression", [], dataset.source)
    raise TinyedgeError(f"data.task is \"{task}\" but {dataset.source} is {dataset.task} data",
                        "set data.task to \"auto\"")


def load(source: str, base: Path, validation_fraction: float, test_fraction: float, seed: int,
         labels: list[str] | None = None, task: str = "auto") -> Dataset:
    """Load data.source ('digits', an .npz or a folder, relative to the project folder) for data.task."""
    if task not in TASKS:
        raise TinyedgeError(f"unknown data.task '{task}'", f"choose one of {', '.join(TASKS)}")
    if source == BUILTIN:
        dataset = as_task(load_digits(validation_fraction, test_fraction, seed), task)
    else:
        path = (base / source) if not Path(source).is_absolute() else Path(source)
        if path.is_dir():
            dataset = as_task(load_folder(path, validation_fraction, test_fraction, seed), task)
        elif path.suffix.lower() == ".npz":
            dataset = load_npz(path, validation_fraction, seed, task)
        elif not path.exists():
            raise TinyedgeError(f"data source {path} does not exist",
                                "set data.source to 'digits', an .npz file or a folder")
        else:
            raise TinyedgeError(f"data source {path} is neither an .npz file nor a folder",
                                "set data.source to 'digits', an .npz file or a folder of classes")
    if labels:
        if dataset.task != "classification" or len(labels) != dataset.num_classes:
            raise TinyedgeError(f"data.labels names {len(labels)} classes but the data has "
                                f"{dataset.num_classes}", "list one name per class, in label order")
        dataset.labels = list(labels)
    if len(dataset.x_val) == 0:  # training needs a validation split for its progress lines
        dataset.x_val, dataset.y_val = dataset.x_test[:0], dataset.y_test[:0]
    return dataset


def source_fingerprint(source: str, base: Path) -> str:
    """Cheap content hash of the data source, for the cache check before loading anything."""
    digest = hashlib.sha256(source.encode())
    if source == BUILTIN:  # the data ships inside scikit-learn: its version pins the contents
        digest.update(f"scikit-learn-{metadata.version('scikit-learn')}".encode())
        return digest.hexdigest()
    path = (base / source) if not Path(source).is_absolute() else Path(source)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def can_augment(x: np.ndarray) -> bool:
    """One-pixel shifts make sense for images (N, H, W, C) of at least 8x8."""
    return x.ndim == 4 and x.shape[1] >= 8 and x.shape[2] >= 8


def shifted_copies(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The samples plus four copies shifted by one pixel (right, left, down, up; zeros fill in):
    handwriting is not centred exactly, and this is the cheapest way to teach that."""
    copies = [x]
    for axis, step in ((2, 1), (2, -1), (1, 1), (1, -1)):
        shifted = np.roll(x, step, axis=axis)
        edge = [slice(None)] * x.ndim
        edge[axis] = 0 if step > 0 else -1
        shifted[tuple(edge)] = 0
        copies.append(shifted)
    return np.concatenate(copies), np.concatenate([y] * len(copies))
