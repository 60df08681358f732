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

import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from .. import buildfiles as files
from ..boards import Board
from ..config import Config
from ..console import say
from ..errors import TinyedgeError
from ..fileio import make_folder, write_bytes_atomic
from ..tflite import inspect as analysis
from . import budgets, data as data_module, firmware_stage, report
from .manifest import Manifest, path_hash, stage_key
from .results import BuildResult, PipelineResult

if TYPE_CHECKING:  # the firmware's modules load only when a build reaches its firmware stage
    from ..monitor.spec import MonitorSpec
    from ..project.firmware import FirmwareResult

STEP_LABELS = {"low_rank": "low-rank", "prune": "pruned", "cluster": "clustered", "qat": "QAT"}


def metric_of(task: str) -> str:
    """The figure of every stage: accuracy for classifiers, mean squared error for the rest."""
    return "accuracy" if task == "classification" else "mse"


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


class Pipeline:
    def __init__(self, config: Config, board: Board, project_dir: Path,
                 log: Callable[[str], None] | None = None, tflm_dir: Path | None = None,
                 layers: bool = False, build_dir: Path | None = None):
        self.config = config
        self.layers = layers   # the firmware is a layer build (--layers)
        self.board = board
        self.project_dir = Path(project_dir).resolve()
        # `build_dir`: another folder than the board's (a tune trial's <build_dir>/tune/<study>/trial-N)
        self.build_dir = Path(build_dir).resolve() if build_dir is not None else \
            files.build_dir(self.project_dir, config["project"]["build_dir"], board.name)
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
               work: Callable[[], dict], inputs: dict | None = None) -> tuple[str, dict, bool]:
        """Runs `work` unless the stage's key and outputs are unchanged; `outputs` may be a function
        of what `work` wrote (the firmware's files); `inputs` goes into the record as it is."""
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
        record = self.manifest.record(name, key, written, metrics, seconds, inputs)
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
            with np.load(self.build_dir / files.DATA, allow_pickle=False) as stored:
                arrays = {key: stored[key] for key in stored.files}
            self._dataset = data_module.Dataset(
                arrays["x_train"], arrays["y_train"], arrays["x_val"], arrays["y_val"],
                arrays["x_test"], arrays["y_test"], str(arrays["task"]),
                [str(label) for label in arrays["labels"]], str(arrays["source"]))
        return self._dataset

    def teacher_outputs(self) -> dict[str, np.ndarray]:
        if self._teacher_outputs is None:
            with np.load(self.build_dir / files.TEACHER_OUTPUTS, allow_pickle=False) as stored:
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

        key, _, _ = self._stage("data", settings, [], [files.DATA], work)
        return key

    def _store_dataset(self, dataset: data_module.Dataset) -> None:
        import io
        buffer = io.BytesIO()
        np.savez(buffer, x_train=dataset.x_train, y_train=dataset.y_train, x_val=dataset.x_val,
                 y_val=dataset.y_val, x_test=dataset.x_test, y_test=dataset.y_test,
                 task=np.array(dataset.task), labels=np.array(dataset.labels, dtype=str),
                 source=np.array(dataset.source))
        write_bytes_atomic(self.build_dir / files.DATA, buffer.getvalue())
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
        outputs = [files.TEACHER_OUTPUTS] if user_file else [files.TEACHER_OUTPUTS, files.TEACHER_MODEL]

        def work() -> dict:
            from . import teacher as teacher_module, training
            dataset = self.dataset()
            if user_file:
                teacher = teacher_module.load(_resolve(self.project_dir, user_file))
                teacher_module.check_fits(teacher, dataset)
            else:
                model = teacher_module.train(dataset, settings["architecture"], settings["epochs"],
                                             settings["batch_size"], 0.002, self.seed, self.log)
                teacher = teacher_module.Teacher(model, False, files.TEACHER_MODEL)
                self._save_keras(model, files.TEACHER_MODEL)
            train_out = teacher.predict(dataset.x_train)
            val_out = teacher.predict(dataset.x_val) if len(dataset.x_val) else \
                np.zeros((0, *train_out.shape[1:]), np.float32)
            test_out = teacher.predict(dataset.x_test)
            import io
            buffer = io.BytesIO()
            np.savez(buffer, train=train_out, val=val_out)
            write_bytes_atomic(self.build_dir / files.TEACHER_OUTPUTS, buffer.getvalue())
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
            self._save_keras(model, files.STUDENT_MODEL)
            return self._float_metrics(model, self._evaluate_keras(model))

        key, record, cached = self._stage("student", settings, [teacher_key], [files.STUDENT_MODEL], work)
        self._row("student", "float", record, cached)
        return key, record

    def stage_compression(self, step: str, previous_key: str, previous_file: str,
                          student_params: int) -> tuple[str, str]:
        options = self.config["compression"]
        settings = {"epochs": options["epochs"], **{k: v for k, v in options.items()
                                                    if k.startswith(step)},
                    "distillation": self.config["distillation"]}
        output = files.compression_output(step)

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
            write_bytes_atomic(self.build_dir / files.MODEL, flatbuffer)
            return {"model_bytes": len(flatbuffer)}

        key, _, _ = self._stage("int8", settings, [previous_key], [files.MODEL], work)
        return key

    def stage_tflm(self, int8_key: str, data_key: str) -> dict:
        def work() -> dict:
            from ..tflite.model import parse
            from ..tflite.tflm import TflmRunner, smallest_arena
            dataset = self.dataset()
            flatbuffer = (self.build_dir / files.MODEL).read_bytes()
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
            write_bytes_atomic(self.build_dir / files.TEST_DATA, buffer.getvalue())
            info = analysis.analyse(parse(flatbuffer, source=files.MODEL), files.MODEL, with_arena=False)
            self.log(f"  TFLM on the host: {dataset.task} {report.METRIC_NAMES[metric_of(dataset.task)]}"
                     f" {value:.5g} on {len(dataset.x_test)} test samples, arena {arena:,} bytes")
            return {"metric": metric_of(dataset.task),
                    "value": value, "params": info.params, "model_bytes": len(flatbuffer),
                    "macs": info.macs, "arena_bytes": arena,
                    "kernels": sorted({row["op"] for row in info.ops}),
                    "input_scale": runner.input.scale, "input_zero_point": runner.input.zero_point,
                    "output_scale": runner.output.scale,
                    "output_zero_point": runner.output.zero_point}

        key, record, cached = self._stage("tflm", {}, [int8_key, data_key], [files.TEST_DATA], work)
        self._row("int8 (TFLM)", "int8", record, cached)
        return key, record["metrics"]

    def stage_monitor(self, tflm_key: str) -> MonitorSpec:
        """[monitor] enabled: the statistics the firmware would count on the validation split (TFLM
        and the numpy mirror, tinyedge.monitor.baseline) and the spec the firmware is built with."""
        from ..monitor import baseline
        settings = {"input_samples": self.config["monitor"]["input_samples"]}

        def work() -> dict:
            dataset = self.dataset()
            computed = baseline.compute((self.build_dir / files.MODEL).read_bytes(), dataset.x_val,
                                        dataset.task, settings["input_samples"])
            baseline.write(self.build_dir, computed)
            self.log(f"  monitor baseline: {computed.spec.kind}, {computed.samples} validation samples, "
                     f"{computed.spec.examined_per_inference} of {computed.spec.input_bytes} input values "
                     "examined per inference")
            return {"kind": computed.spec.kind, "samples": computed.samples}

        self._stage("monitor", settings, [tflm_key], [files.MONITOR_BASELINE], work)
        return baseline.load_baseline(self.build_dir).spec

    def stage_firmware(self, tflm_key: str, tflm: dict, labels: list[str],
                       monitor: MonitorSpec | None = None) -> FirmwareResult:
        """Code generation, the firmware project and, where the board's toolchain is here, the compile
        (firmware_stage.py says what its key holds and what it writes)."""
        model = self.build_dir / files.MODEL
        # `monitor`: the spec the firmware counts by (None: built without the monitor)
        settings = firmware_stage.settings(self.config, self.board, model, labels, self.tflm_dir, self.layers,
                                           monitor=monitor)
        made: list = []

        def work() -> dict:
            built = firmware_stage.make(self.config, self.board, self.build_dir, labels, self.tflm_dir,
                                        tflm["arena_bytes"], self.log, self.layers, monitor=monitor)
            made.append(built)
            return firmware_stage.record_of(built, self.build_dir)

        _, record, _ = self._stage("firmware", settings, [tflm_key],
                                   lambda: firmware_stage.outputs(self.build_dir, made[0]), work,
                                   firmware_stage.traced(settings))
        return firmware_stage.from_record(record["metrics"], self.build_dir)

    def write_report(self, result: PipelineResult, firmware: FirmwareResult | None) -> dict:
        """stages.png (when its rows changed) and report.json: the one writer of both."""
        title = f"{self.config['project']['name']} on {self.board.name}"
        digest = report.rows_hash(self.rows, title)
        plot = self.build_dir / files.PLOT
        previous = self.manifest.data["stages"].get("plot", {})
        if previous.get("key") != digest or not plot.exists():
            report.write_plot(plot, self.rows, title)
            self.manifest.record("plot", digest, [files.PLOT], {}, 0.0)
            self.status["plot"] = "ran"
        else:
            self.status["plot"] = "cached"
        return report.write_build_report(self.build_dir / files.REPORT, title, result.to_json(), self.rows,
                                         firmware.to_json() if firmware else None, self.config["budgets"])

    # -- the whole run -------------------------------------------------------------------------------

    def model_stages(self) -> tuple[PipelineResult, str, dict]:
        """Every model stage; returns the model's figures and the TFLM evaluation's key and metrics."""
        started = time.perf_counter()
        make_folder(self.build_dir)
        data_key = self.stage_data()
        budgets.require_applicable(self.config["budgets"], self.dataset().task)
        teacher_key = self.stage_teacher(data_key)
        key, student = self.stage_student(teacher_key)
        last_file, last_stage = files.STUDENT_MODEL, "student"
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
            tflite=str(self.build_dir / files.MODEL), test_data=str(self.build_dir / files.TEST_DATA),
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
            manifest=str(self.manifest.path), report=str(self.build_dir / files.REPORT),
            plot=str(self.build_dir / files.PLOT), labels=list(self.dataset().labels))
        result.seconds = round(time.perf_counter() - started, 2)
        return result, tflm_key, tflm

    def run(self, firmware: bool = True) -> BuildResult:
        """The model stages, then (unless `firmware` is False) the firmware stage; report.json and the
        manifest's description are written once whatever finished, and budgets are checked last."""
        started = time.perf_counter()
        result, tflm_key, tflm = self.model_stages()
        monitor = self.stage_monitor(tflm_key) if self.config["monitor"]["enabled"] else None
        built: FirmwareResult | None = None
        try:
            # A model that misses its accuracy budget gets no firmware.
            budgets.check(self.config["budgets"], tflm["metric"], tflm["value"], str(self.build_dir))
            if firmware:
                labels = self.config["data"]["labels"] or result.labels
                built = self.stage_firmware(tflm_key, tflm, list(labels), monitor)
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
            firmware_stage.check_footprint(built, self.board, self.config["budgets"])
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
          log: Callable[[str], None] | None = None, firmware: bool = True, layers: bool = False,
          build_dir: Path | None = None) -> BuildResult:
    """Run (or reuse from the cache) every stage of a build for one board (`layers`: the firmware is a
    layer build; `build_dir`: another folder than the board's)."""
    from .nativelog import filtered_stderr
    with filtered_stderr():
        return Pipeline(config, board, project_dir, log, tflm_dir, layers, build_dir).run(firmware)


def run(config: Config, board: Board, project_dir: Path, log: Callable[[str], None] | None = None,
        tflm_dir: Path | None = None) -> PipelineResult:
    """The model stages only (no firmware): what the model tests need."""
    return build(config, board, project_dir, tflm_dir, log, firmware=False).model
