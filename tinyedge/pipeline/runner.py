"""`tinyedge build` as one pipeline of stages: data -> teacher -> distilled student -> compression
steps -> int8 flatbuffer (checked) -> evaluation on the real TFLM interpreter -> firmware (code
generation, project, compile) -> stage table, report.json, budgets.

Each stage reads files and writes files in the build folder and is recorded in manifest.json; a stage
whose key (settings + upstream keys + input file hashes) is unchanged, and whose outputs are still
what it wrote, is skipped. TensorFlow is imported only by a stage that actually runs, and the firmware
is neither regenerated nor compiled when its inputs are unchanged, so a fully cached build takes
about a second. Every artifact has one writer: its stage here (report.json: `write_report`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .. import buildfiles
from ..boards import Board
from ..config import Config
from ..console import say
from ..errors import TinyedgeError
from ..fileio import make_folder, write_bytes_atomic
from ..tflite import inspect as analysis
from . import budgets, data as data_module, report
from .manifest import Manifest, file_hash, path_hash, sources_hash, stage_key

if TYPE_CHECKING:  # the firmware's modules load only when a build reaches its firmware stage
    from ..project.firmware import FirmwareResult

DATA_FILE = buildfiles.DATA
TEACHER_MODEL = buildfiles.TEACHER_MODEL
TEACHER_OUTPUTS = buildfiles.TEACHER_OUTPUTS
STUDENT_MODEL = buildfiles.STUDENT_MODEL
TFLITE = buildfiles.MODEL
TEST_DATA = buildfiles.TEST_DATA
REPORT = buildfiles.REPORT
PLOT = buildfiles.PLOT
STEP_LABELS = {"low_rank": "low-rank", "prune": "pruned", "cluster": "clustered", "qat": "QAT"}


def metric_of(task: str) -> str:
    """The figure of every stage: accuracy for classifiers, mean squared error for the rest."""
    return "accuracy" if task == "classification" else "mse"


@dataclass
class PipelineResult:
    """The figures `tinyedge build --json` prints (later issues add project, elf, flash and RAM)."""
    board: str
    runtime: str
    tflite: str
    test_data: str
    float_accuracy: float | None        # classification only (None otherwise: see float_error)
    int8_accuracy: float | None
    teacher_params: int
    student_params: int
    arena_bytes: int
    stages: list[dict]
    seconds: float
    metric: str = "accuracy"
    teacher_accuracy: float | None = 0.0
    task: str = "classification"
    metric_description: str = ""
    float_error: float | None = None    # regression and autoencoders: MSE of the float student
    int8_error: float | None = None     # ... and of TFLM's int8 outputs, dequantized
    teacher_error: float | None = None
    model_bytes: int = 0
    macs: int = 0
    input_scale: float = 0.0
    input_zero_point: int = 0
    output_scale: float = 0.0
    output_zero_point: int = 0
    build_dir: str = ""
    manifest: str = ""
    report: str = ""
    plot: str = ""
    labels: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class BuildResult:
    """One build: the model's figures, the firmware (None when the pipeline stopped before it), what
    each stage did ("ran" or "cached") and what report.json says. What `tinyedge.api.build` returns."""
    board: Board
    model: PipelineResult
    firmware: FirmwareResult | None
    stage_status: dict[str, str]
    report: dict
    seconds: float

    @property
    def build_dir(self) -> Path:
        return Path(self.model.build_dir)

    def to_json(self) -> dict:
        """What `tinyedge build --json` prints."""
        summary = self.model.to_json() | (self.firmware.to_json() if self.firmware else {})
        summary["seconds"] = self.seconds
        summary["stages_seconds"] = self.model.seconds
        summary["stage_status"] = dict(self.stage_status)
        return summary

    def table(self):
        """The stage table (rich) that `tinyedge build` prints."""
        rows = [report.StageRow(**row) for row in self.model.stages]
        return report.table(rows, f"stages ({self.report.get('title', self.board.name)})")

    def summary_lines(self) -> list[str]:
        """What `tinyedge build` prints after the stage table."""
        model, firmware, board = self.model, self.firmware, self.board
        lines = [f"int8 model: {model.tflite} ({model.model_bytes:,} bytes, TFLM arena "
                 f"{model.arena_bytes:,} bytes); test data: {model.test_data}"]
        if firmware is None:
            return lines + [f"finished in {self.seconds:.1f} s"]
        lines.append(f"runtime: {firmware.runtime} ({firmware.runtime_reason}); project: {firmware.project}")
        if firmware.compiled:
            lines.append(f"firmware: {firmware.elf}; {board.name}: flash {firmware.flash_bytes:,} of "
                         f"{board.flash_bytes:,} bytes, RAM {firmware.ram_bytes:,} of {board.ram_bytes:,} "
                         "bytes (measured in the ELF)")
        else:
            lines.append(f"{board.name}: flash about {firmware.estimated_flash_bytes:,} of "
                         f"{board.flash_bytes:,} bytes, RAM about {firmware.estimated_ram_bytes:,} of "
                         f"{board.ram_bytes:,} bytes (estimated for the {firmware.runtime} runtime before "
                         "the compile; not compiled here)")
        lines.append(f"next: {firmware.next_step}")
        lines.append(f"finished in {self.seconds:.1f} s")
        return lines


# What the firmware's code generation and project depend on besides the model and the settings: the
# templates, the firmware sources every project carries, and the Python that renders and compiles.
GENERATOR_SOURCES = ("templates", "firmware", "tinyedge/codegen", "tinyedge/project", "tinyedge/targets",
                     "tinyedge/footprint.py", "tinyedge/platformio.py")


def _firmware_record(firmware: FirmwareResult, build_dir: Path) -> dict:
    """The firmware stage's metrics, paths relative to the build folder (a copied project stays valid)."""
    data = firmware.to_json()
    data["project"] = os.path.relpath(firmware.project, build_dir)
    data["elf"] = os.path.relpath(firmware.elf, build_dir) if firmware.elf else None
    return data


def _firmware_from_record(metrics: dict, build_dir: Path) -> FirmwareResult:
    from ..project.firmware import FirmwareResult
    names = {item.name for item in dataclasses.fields(FirmwareResult)}
    values = {key: value for key, value in metrics.items() if key in names}
    values["project"] = build_dir / metrics["project"]
    values["elf"] = build_dir / metrics["elf"] if metrics.get("elf") else None
    return FirmwareResult(**values)


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


class Pipeline:
    def __init__(self, config: Config, board: Board, project_dir: Path,
                 log: Callable[[str], None] | None = None, tflm_dir: Path | None = None):
        self.config = config
        self.board = board
        self.project_dir = Path(project_dir)
        self.build_dir = buildfiles.build_dir(self.project_dir, config["project"]["build_dir"], board.name)
        self.log = log if log is not None else say
        self.manifest = Manifest(self.build_dir)
        self.tflm_dir = Path(tflm_dir).expanduser().resolve() if tflm_dir is not None else None
        self.status: dict[str, str] = {}   # stage name -> "ran" or "cached", in the order they came
        self.rows: list[report.StageRow] = []
        self._dataset: data_module.Dataset | None = None
        self._teacher_outputs: dict[str, np.ndarray] | None = None
        self.seed = int(config["data"]["seed"])

    # -- helpers -------------------------------------------------------------------------------------

    def _stage(self, name: str, settings: dict, upstream: list[str],
               outputs: list[str] | Callable[[], list[str]],
               work: Callable[[], dict]) -> tuple[str, dict, bool]:
        """Runs `work` unless the stage's key and outputs are unchanged; `outputs` may be a function
        of what `work` wrote (the firmware's files)."""
        key = stage_key(name, settings, upstream)
        record = self.manifest.cached(name, key)
        if record is not None:
            self.log(f"{name}: cached")
            self.status[name] = "cached"
            return key, record, True
        self.manifest.forget(name)
        self.log(f"{name}: started")
        started = time.perf_counter()
        metrics = work()
        seconds = time.perf_counter() - started
        written = outputs() if callable(outputs) else outputs
        record = self.manifest.record(name, key, written, metrics, seconds)
        self.status[name] = "ran"
        self.log(f"{name}: done in {seconds:.1f} s")
        return key, record, False

    def _row(self, stage: str, kind: str, record: dict, cached: bool) -> None:
        metrics = record["metrics"]
        self.rows.append(report.StageRow(stage, kind, metrics["metric"], metrics["value"],
                                         metrics["params"], metrics["model_bytes"], metrics["macs"],
                                         record["seconds"], cached))

    def dataset(self) -> data_module.Dataset:
        if self._dataset is None:
            with np.load(self.build_dir / DATA_FILE, allow_pickle=False) as stored:
                arrays = {key: stored[key] for key in stored.files}
            self._dataset = data_module.Dataset(
                arrays["x_train"], arrays["y_train"], arrays["x_val"], arrays["y_val"],
                arrays["x_test"], arrays["y_test"], str(arrays["task"]),
                [str(label) for label in arrays["labels"]], str(arrays["source"]))
        return self._dataset

    def teacher_outputs(self) -> dict[str, np.ndarray]:
        if self._teacher_outputs is None:
            with np.load(self.build_dir / TEACHER_OUTPUTS, allow_pickle=False) as stored:
                self._teacher_outputs = {key: stored[key] for key in stored.files}
        return self._teacher_outputs

    def _save_keras(self, model, name: str) -> None:
        """Keras writes in place; write beside and rename so a failure keeps the previous file."""
        target = self.build_dir / name
        partial = self.build_dir / f".partial.{name}"  # keeps the suffix that picks the format
        model.save(partial)
        partial.replace(target)

    def _float_metrics(self, model, value: float, params: int | None = None) -> dict:
        from . import kerasinfo
        dataset = self.dataset()
        count = kerasinfo.params(model) if params is None else params
        return {"metric": metric_of(dataset.task),
                "value": value, "params": count, "model_bytes": 4 * count,
                "macs": kerasinfo.macs(model)}

    def _fine_tune(self, epochs: int, learning_rate: float):
        from . import compress, training
        dataset = self.dataset()
        outputs = self.teacher_outputs()
        settings = self.config["distillation"]
        return compress.FineTune(
            dataset, training.pack(dataset, dataset.y_train, outputs["train"]),
            training.pack(dataset, dataset.y_val, outputs["val"]),
            training.distillation_loss(dataset.task, dataset.output_size, settings["alpha"],
                                       settings["temperature"]),
            training.packed_metric(dataset.task, dataset.output_size), epochs,
            settings["batch_size"], learning_rate, self.log)

    def _evaluate_keras(self, model) -> float:
        from . import training
        dataset = self.dataset()
        return training.score(dataset.task, training.predict(model, dataset.x_test), dataset.y_test)

    # -- stages --------------------------------------------------------------------------------------

    def stage_data(self) -> str:
        settings = dict(self.config["data"])
        source = settings["source"]
        task = settings["task"]
        if task == "auto":  # the default: builds cached before data.task existed stay cached
            del settings["task"]
        settings["source_hash"] = data_module.source_fingerprint(source, self.project_dir) \
            if source == data_module.BUILTIN or _resolve(self.project_dir, source).exists() else "missing"

        def work() -> dict:
            dataset = data_module.load(source, self.project_dir, settings["validation_fraction"],
                                       settings["test_fraction"], self.seed, settings["labels"],
                                       task)
            original = len(dataset.x_train)
            shifted = ""
            if settings["augment"] and data_module.can_augment(dataset.x_train):
                dataset.x_train, dataset.y_train = data_module.shifted_copies(dataset.x_train,
                                                                              dataset.y_train)
                if dataset.task == "autoencoder":  # a shifted input is reconstructed shifted
                    dataset.y_train = data_module.reconstruction_targets(dataset.x_train)
                shifted = f" ({len(dataset.x_train)} with shifted copies)"
            self._store_dataset(dataset)
            self.log(f"  data: {original} training samples{shifted}, {len(dataset.x_val)} validation, "
                     f"{len(dataset.x_test)} test; input "
                     f"{dataset.input_shape}, {dataset.task}"
                     + (f", {dataset.num_classes} classes" if dataset.num_classes else ""))
            return {"task": dataset.task, "input_shape": list(dataset.input_shape),
                    "classes": dataset.num_classes, "train": original, "val": len(dataset.x_val),
                    "test": len(dataset.x_test)}

        key, _, _ = self._stage("data", settings, [], [DATA_FILE], work)
        return key

    def _store_dataset(self, dataset: data_module.Dataset) -> None:
        import io
        buffer = io.BytesIO()
        np.savez(buffer, x_train=dataset.x_train, y_train=dataset.y_train, x_val=dataset.x_val,
                 y_val=dataset.y_val, x_test=dataset.x_test, y_test=dataset.y_test,
                 task=np.array(dataset.task), labels=np.array(dataset.labels, dtype=str),
                 source=np.array(dataset.source))
        write_bytes_atomic(self.build_dir / DATA_FILE, buffer.getvalue())
        self._dataset = dataset

    def stage_teacher(self, data_key: str) -> str:
        settings = dict(self.config["teacher"])
        user_file = settings["model"]
        if user_file:
            path = _resolve(self.project_dir, user_file)
            settings = {"model": str(path), "hash": path_hash(path) if path.exists() else "missing"}
        else:
            settings.pop("model")
            settings["batch_size"] = self.config["distillation"]["batch_size"]
        outputs = [TEACHER_OUTPUTS] if user_file else [TEACHER_OUTPUTS, TEACHER_MODEL]

        def work() -> dict:
            from . import teacher as teacher_module, training
            dataset = self.dataset()
            if user_file:
                teacher = teacher_module.load(_resolve(self.project_dir, user_file))
                teacher_module.check_fits(teacher, dataset)
            else:
                model = teacher_module.train(dataset, settings["architecture"], settings["epochs"],
                                             settings["batch_size"], 0.002, self.seed, self.log)
                teacher = teacher_module.Teacher(model, False, TEACHER_MODEL)
                self._save_keras(model, TEACHER_MODEL)
            train_out = teacher.predict(dataset.x_train)
            val_out = teacher.predict(dataset.x_val) if len(dataset.x_val) else \
                np.zeros((0, *train_out.shape[1:]), np.float32)
            test_out = teacher.predict(dataset.x_test)
            import io
            buffer = io.BytesIO()
            np.savez(buffer, train=train_out, val=val_out)
            write_bytes_atomic(self.build_dir / TEACHER_OUTPUTS, buffer.getvalue())
            self._teacher_outputs = {"train": train_out, "val": val_out}
            value = training.score(dataset.task, test_out, dataset.y_test)
            params = teacher.params
            return {"metric": metric_of(dataset.task),
                    "value": value, "params": params, "model_bytes": 4 * params,
                    "macs": teacher.macs, "source": teacher.source}

        key, record, cached = self._stage("teacher", settings, [data_key], outputs, work)
        self._row("teacher", "float", record, cached)
        return key

    def stage_student(self, teacher_key: str) -> tuple[str, dict]:
        settings = {**self.config["student"], **self.config["distillation"]}
        architecture = settings["architecture"]
        from .zoo import BUILDERS
        user_file = architecture not in BUILDERS and (
            "/" in architecture or architecture.endswith((".keras", ".h5")))
        if user_file:
            path = _resolve(self.project_dir, architecture)
            settings["hash"] = path_hash(path) if path.exists() else "missing"

        def work() -> dict:
            from . import training, zoo
            dataset = self.dataset()
            training.seed_everything(self.seed)
            if user_file:
                model = _load_user_student(_resolve(self.project_dir, architecture), dataset)
            else:
                model = zoo.build_student(architecture, dataset.input_shape, dataset.output_size,
                                          settings["width"], settings["depth"])
            tune = self._fine_tune(settings["epochs"], settings["learning_rate"])
            tune.run(model, "distill")
            self._save_keras(model, STUDENT_MODEL)
            return self._float_metrics(model, self._evaluate_keras(model))

        key, record, cached = self._stage("student", settings, [teacher_key], [STUDENT_MODEL], work)
        self._row("student", "float", record, cached)
        return key, record

    def stage_compression(self, step: str, previous_key: str, previous_file: str,
                          student_params: int) -> tuple[str, str]:
        options = self.config["compression"]
        settings = {"epochs": options["epochs"], **{k: v for k, v in options.items()
                                                    if k.startswith(step)},
                    "distillation": self.config["distillation"]}
        output = buildfiles.compression_output(step)

        def work() -> dict:
            from . import compress, training
            import tf_keras
            training.seed_everything(self.seed)
            model = tf_keras.models.load_model(self.build_dir / previous_file, compile=False)
            tune = self._fine_tune(options["epochs"], self.config["distillation"]["learning_rate"] / 3)
            params = None
            if step == "low_rank":
                model = compress.low_rank(model, options["low_rank_fraction"], tune)
            elif step == "prune":
                model = compress.prune(model, options["prune_sparsity"], tune)
            elif step == "cluster":
                model = compress.cluster(model, options["clusters"], tune)
            else:
                from . import kerasinfo
                params = kerasinfo.params(model)  # QAT adds quantizer variables, not parameters
                macs = kerasinfo.macs(model)
                model = compress.qat(model, tune)
            self._save_keras(model, output)
            metrics = self._float_metrics(model, self._evaluate_keras(model), params)
            if step == "qat":
                metrics["macs"] = macs
            if step == "prune":
                metrics["sparsity"] = compress.sparsity_of(model)
            if step == "cluster":
                metrics["max_unique_weights"] = compress.max_unique_weights(model)
            return metrics

        key, record, cached = self._stage(step, settings, [previous_key], [output], work)
        self._row(STEP_LABELS[step], "float", record, cached)
        return key, output

    def stage_int8(self, previous_key: str, previous_file: str, previous_stage: str) -> str:
        settings = dict(self.config["quantization"])
        settings["seed"] = self.seed

        def work() -> dict:
            from . import checks, quantize
            from ..tflite.model import parse
            import tf_keras
            if previous_stage == "qat":
                from .compress import load_qat
                model = load_qat(self.build_dir / previous_file)
            else:
                model = tf_keras.models.load_model(self.build_dir / previous_file, compile=False)
            calibration = quantize.representative_samples(self.dataset().x_train,
                                                          settings["representative_samples"], self.seed)
            flatbuffer = quantize.convert_int8(model, calibration)
            checks.require_int8_tflm(parse(flatbuffer, source="the int8 model"),
                                     f"the int8 model of stage '{previous_stage}'")
            write_bytes_atomic(self.build_dir / TFLITE, flatbuffer)
            return {"model_bytes": len(flatbuffer)}

        key, _, _ = self._stage("int8", settings, [previous_key], [TFLITE], work)
        return key

    def stage_tflm(self, int8_key: str, data_key: str) -> dict:
        def work() -> dict:
            from ..tflite.model import parse
            from ..tflite.tflm import TflmRunner, smallest_arena
            dataset = self.dataset()
            flatbuffer = (self.build_dir / TFLITE).read_bytes()
            arena = smallest_arena(flatbuffer)
            runner = TflmRunner(flatbuffer, arena_size=arena)
            scale, zero = runner.input.scale, runner.input.zero_point
            from ..int8_io import dequantize, quantize   # the firmware's rounding, as validate sends
            outputs = runner.run(quantize(dataset.x_test, scale, zero))
            values = dequantize(outputs, runner.output.scale, runner.output.zero_point)
            from .training import score
            value = score(dataset.task, values, dataset.y_test)
            buffer = __import__("io").BytesIO()
            np.savez(buffer, x=dataset.x_test.astype(np.float32), y=dataset.y_test)
            write_bytes_atomic(self.build_dir / TEST_DATA, buffer.getvalue())
            info = analysis.analyse(parse(flatbuffer, source=TFLITE), TFLITE, with_arena=False)
            self.log(f"  TFLM on the host: {dataset.task} {report.METRIC_NAMES[metric_of(dataset.task)]}"
                     f" {value:.5g} on {len(dataset.x_test)} test samples, arena {arena:,} bytes")
            return {"metric": metric_of(dataset.task),
                    "value": value, "params": info.params, "model_bytes": len(flatbuffer),
                    "macs": info.macs, "arena_bytes": arena,
                    "kernels": sorted({row["op"] for row in info.ops}),
                    "input_scale": runner.input.scale, "input_zero_point": runner.input.zero_point,
                    "output_scale": runner.output.scale,
                    "output_zero_point": runner.output.zero_point}

        key, record, cached = self._stage("tflm", {}, [int8_key, data_key], [TEST_DATA], work)
        self._row("int8 (TFLM)", "int8", record, cached)
        return key, record["metrics"]

    def stage_firmware(self, tflm_key: str, tflm: dict, labels: list[str]) -> FirmwareResult:
        """Code generation, the firmware project and, where the board's toolchain is here, the compile.

        Its key holds everything the project is made of (the model's bytes, the runtime settings, the
        board, the templates and firmware sources, tinyedge's version) and whether the board's
        PlatformIO platform is installed; its outputs are the project's files and the ELF, so a
        missing or damaged ELF is made again. Budgets are not in the key: they are checked against the
        recorded figures after the stage, so changing one compiles nothing."""
        from ..platformio import platform_installed, user_core_dir
        from ..resources import PACKAGE_DIR
        runtime = self.config["runtime"]
        model = self.build_dir / TFLITE
        settings = {"model": file_hash(model), "runtime": runtime["kind"], "kind": runtime["project"],
                    "arena_margin": runtime["arena_margin"], "name": self.config["project"]["name"],
                    "labels": labels, "tflm_dir": str(self.tflm_dir) if self.tflm_dir else None,
                    "board": {key: value for key, value in dataclasses.asdict(self.board).items()
                              if key != "path"},
                    "platform_installed": platform_installed(self.board.platformio.platform,
                                                             user_core_dir()),
                    "sources": sources_hash(PACKAGE_DIR.parent, GENERATOR_SOURCES)}
        project = self.build_dir / buildfiles.FIRMWARE

        def work() -> dict:
            from ..project import build_firmware
            with np.load(self.build_dir / TEST_DATA, allow_pickle=False) as stored:
                first_sample = stored["x"][0]
            built = build_firmware(self.board, model, self.build_dir, runtime=runtime["kind"],
                                   kind=runtime["project"], name=self.config["project"]["name"],
                                   labels=labels, test_sample=first_sample, tflm_dir=self.tflm_dir,
                                   arena_bytes=tflm["arena_bytes"], arena_margin=runtime["arena_margin"],
                                   console=self.log)
            self._firmware_elf = built.elf
            return _firmware_record(built, self.build_dir)

        def outputs() -> list[str]:
            files = [path for path in project.rglob("*")
                     if path.is_file() and ".pio" not in path.relative_to(project).parts]
            if self._firmware_elf is not None:
                files.append(Path(self._firmware_elf))
            return sorted(str(path.relative_to(self.build_dir)) for path in files)

        self._firmware_elf = None
        _, record, _ = self._stage("firmware", settings, [tflm_key], outputs, work)
        return _firmware_from_record(record["metrics"], self.build_dir)

    def check_footprint(self, firmware: FirmwareResult) -> None:
        """Flash and RAM against the board and the budgets: the ELF's figures when compiled, else the
        runtime's estimate (a CMake library goes into the user's own firmware, whose size tinyedge
        cannot know: nothing to check)."""
        from .. import footprint
        if firmware.compiled:
            figures = footprint.measured(firmware.runtime, firmware.flash_bytes, firmware.ram_bytes)
        elif firmware.kind == "cmake":
            return
        else:
            figures = footprint.Footprint(firmware.runtime, firmware.estimated_flash_bytes,
                                          firmware.estimated_ram_bytes, False, firmware.estimate_basis)
        budget = self.config["budgets"]
        footprint.check(figures, self.board, budget["max_flash"], budget["max_ram"], kept=firmware.project)

    def write_report(self, result: PipelineResult, firmware: FirmwareResult | None) -> dict:
        """stages.png (when its rows changed) and report.json: the one writer of both."""
        title = f"{self.config['project']['name']} on {self.board.name}"
        digest = report.rows_hash(self.rows, title)
        plot = self.build_dir / PLOT
        previous = self.manifest.data["stages"].get("plot", {})
        if previous.get("key") != digest or not plot.exists():
            report.write_plot(plot, self.rows, title)
            self.manifest.record("plot", digest, [PLOT], {}, 0.0)
            self.status["plot"] = "ran"
        else:
            self.status["plot"] = "cached"
        return report.write_build_report(self.build_dir / REPORT, title, result.to_json(), self.rows,
                                         firmware.to_json() if firmware else None)

    # -- the whole run -------------------------------------------------------------------------------

    def model_stages(self) -> tuple[PipelineResult, str, dict]:
        """Every model stage; returns the model's figures and the TFLM evaluation's key and metrics."""
        started = time.perf_counter()
        make_folder(self.build_dir)
        data_key = self.stage_data()
        budgets.require_applicable(self.config["budgets"], self.dataset().task)
        teacher_key = self.stage_teacher(data_key)
        key, student = self.stage_student(teacher_key)
        last_file, last_stage = STUDENT_MODEL, "student"
        compression = self.config["compression"]
        from .compress import STEPS
        for step in STEPS:
            if compression[step]:
                key, last_file = self.stage_compression(step, key, last_file,
                                                        student["metrics"]["params"])
                last_stage = step
        int8_key = self.stage_int8(key, last_file, last_stage)
        tflm_key, tflm = self.stage_tflm(int8_key, data_key)

        float_stage = [row for row in self.rows if row.kind == "float"][-1]
        task = self.dataset().task
        accuracy = task == "classification"
        result = PipelineResult(
            board=self.board.name, runtime=self.config["runtime"]["kind"],
            tflite=str(self.build_dir / TFLITE), test_data=str(self.build_dir / TEST_DATA),
            float_accuracy=float_stage.value if accuracy else None,
            int8_accuracy=tflm["value"] if accuracy else None,
            teacher_params=self.rows[0].params, student_params=student["metrics"]["params"],
            arena_bytes=tflm["arena_bytes"], stages=[row.to_json() for row in self.rows],
            seconds=0.0, metric=tflm["metric"], teacher_accuracy=self.rows[0].value if accuracy else None,
            task=task, metric_description=report.METRIC_DESCRIPTIONS[tflm["metric"]],
            float_error=None if accuracy else float_stage.value,
            int8_error=None if accuracy else tflm["value"],
            teacher_error=None if accuracy else self.rows[0].value,
            model_bytes=tflm["model_bytes"], macs=tflm["macs"],
            input_scale=tflm["input_scale"], input_zero_point=tflm["input_zero_point"],
            output_scale=tflm["output_scale"], output_zero_point=tflm["output_zero_point"],
            build_dir=str(self.build_dir),
            manifest=str(self.manifest.path), report=str(self.build_dir / REPORT),
            plot=str(self.build_dir / PLOT), labels=list(self.dataset().labels))
        result.seconds = round(time.perf_counter() - started, 2)
        return result, tflm_key, tflm

    def run(self, firmware: bool = True) -> BuildResult:
        """The model stages, then (unless `firmware` is False) the firmware stage; report.json and the
        manifest's description are written once whatever finished, and budgets are checked last."""
        started = time.perf_counter()
        result, tflm_key, tflm = self.model_stages()
        built: FirmwareResult | None = None
        try:
            # A model that misses its accuracy budget gets no firmware.
            budgets.check(self.config["budgets"], tflm["metric"], tflm["value"], str(self.build_dir))
            if firmware:
                labels = self.config["data"]["labels"] or result.labels
                built = self.stage_firmware(tflm_key, tflm, list(labels))
        finally:
            written = self.write_report(result, built)
            # Only now, with every artifact written, does the manifest name this run's inputs and
            # settings (an interrupted run leaves the previous run's description beside the previous
            # artifacts).
            self.manifest.set_inputs({"data.source": self.config["data"]["source"],
                                      "teacher.model": self.config["teacher"]["model"],
                                      "tflm_dir": str(self.tflm_dir) if self.tflm_dir else None},
                                     self.config.as_dict())
            self.manifest.save()
        if built is not None:
            self.check_footprint(built)
        return BuildResult(self.board, result, built, dict(self.status), written,
                           round(time.perf_counter() - started, 2))


def _load_user_student(path: Path, dataset: data_module.Dataset):
    """An untrained architecture from the user: it must be a tf_keras model (tfmot and the converter
    need one) taking the data's inputs and giving one output per class."""
    import tf_keras
    if not path.exists():
        raise TinyedgeError(f"student architecture {path} does not exist",
                            "set student.architecture to a zoo name or an existing .keras/.h5 file")
    try:
        model = tf_keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - foreign files fail in many ways
        raise TinyedgeError(f"student architecture {path.name} cannot be loaded by tf_keras "
                            f"({type(exc).__name__})",
                            "save it with tf_keras (import tf_keras; model.save('student.keras'))") from None
    shape = tuple(model.input_shape[1:])
    if shape != dataset.input_shape:
        raise TinyedgeError(f"student {path.name} takes inputs of shape {shape} but the data has "
                            f"{dataset.input_shape}", "build the student for this data")
    outputs = int(np.prod(model.output_shape[1:]))
    if outputs != dataset.output_size:
        what = {"classification": "classes", "regression": "targets",
                "autoencoder": "input values to reconstruct"}[dataset.task]
        raise TinyedgeError(f"student {path.name} gives {outputs} outputs but the data has "
                            f"{dataset.output_size} {what}",
                            "end the student with one output per class" if dataset.num_classes else
                            f"end the student with a Dense layer of {dataset.output_size} units")
    return model


def build(config: Config, board: Board, project_dir: Path, tflm_dir: Path | None = None,
          log: Callable[[str], None] | None = None, firmware: bool = True) -> BuildResult:
    """Run (or reuse from the cache) every stage of a build for one board."""
    from .nativelog import filtered_stderr
    with filtered_stderr():
        return Pipeline(config, board, project_dir, log, tflm_dir).run(firmware)


def run(config: Config, board: Board, project_dir: Path, log: Callable[[str], None] | None = None,
        tflm_dir: Path | None = None) -> PipelineResult:
    """The model stages only (no firmware): what the model tests need."""
    return build(config, board, project_dir, tflm_dir, log, firmware=False).model
