"""The `tinyedge` command line. Each verb's work lives in tinyedge/commands/<verb>.py, imported only
when the verb runs, so `tinyedge --help` and `tinyedge boards` start without loading TensorFlow."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from . import __version__
from .errors import TinyedgeError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _run(verb: str, **options):
    module = importlib.import_module(f"tinyedge.commands.{verb}")
    return module.run(**options)


board_option = click.option("--board", "-b", metavar="NAME",
                            help="Board name or alias (see 'tinyedge boards'); default: the project's.")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print one JSON object on stdout instead of tables.")
tflm_dir_option = click.option(
    "--tflm-dir", type=click.Path(file_okay=False, path_type=Path),
    help="Local TensorFlow Lite Micro tree (create_tflm_tree.py) for the tflm runtime (default: a "
         "project's runtime.tflm_dir, else $TINYEDGE_TFLM_DIR).")
# build and validate (which builds) take the same further models, so a validation runs the firmware built.
further_models_option = click.option(
    "--model", "models", multiple=True, metavar="[NAME=]PATH",
    help="A further int8 .tflite in the same firmware (native runtime), after the project's own model and "
         "its [[model]] list; repeatable. NAME (default: the file's stem) is its C prefix and protocol name.")
# build, validate (which builds) and bench: the firmware with or without the model monitor.
monitor_option = click.option(
    "--monitor/--no-monitor", "monitor", default=None,
    help="Keep the model monitor's statistics of every inference in the firmware (te-monitor, "
         "'tinyedge monitor') or not (default: [monitor] enabled; bench: without).")
project_dir_option = click.option("--dir", "project_dir", type=click.Path(file_okay=False, path_type=Path),
                                  default=Path("."), show_default=True,
                                  help="Project folder (holds tinyedge.toml and build/).")


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="tinyedge")
def cli():
    """tinyedge: distill, int8-quantize, generate firmware for and validate a model on a
    microcontroller.

    \b
    Typical session:
      tinyedge init                        write a commented tinyedge.toml
      tinyedge build --board nano33        train, compress, quantize, check, generate, compile
      tinyedge flash --board nano33        upload the firmware
      tinyedge validate --board nano33     measure accuracy, agreement and latency on the device
    In an empty folder, 'build' runs the built-in example (scikit-learn's digits).
    """


@cli.command(context_settings=CONTEXT)
@project_dir_option
@click.option("--force", is_flag=True, help="Overwrite an existing tinyedge.toml.")
def init(project_dir: Path, force: bool):
    """Write a commented tinyedge.toml with every setting at its default."""
    _run("init", project_dir=project_dir, force=force)


@cli.command(context_settings=CONTEXT)
@json_option
def boards(as_json: bool):
    """List the supported boards and their figures (flash, RAM, core, PlatformIO names...)."""
    _run("boards", as_json=as_json)


@cli.command(context_settings=CONTEXT)
@board_option
@project_dir_option
@json_option
@click.option("--runtime", type=click.Choice(["auto", "native", "tflm"]),
              help="Inference runtime in the firmware (default: the project's, 'auto').")
@click.option("--optimize", type=click.Choice(["speed", "size"]),
              help="Native runtime: fast kernels with widened weights (speed) or int8 weights (size); "
                   "default: the project's runtime.optimize.")
@click.option("--project", "project_kind", type=click.Choice(["platformio", "arduino-library", "cmake"]),
              help="Kind of firmware project to generate (default: platformio).")
@click.option("--data", "data_source", metavar="PATH", help="Data: 'digits', an .npz or a folder.")
@click.option("--teacher", metavar="PATH", help="A trained teacher model (.keras, .h5, SavedModel).")
@click.option("--epochs", type=int, metavar="N", help="Distillation epochs.")
@further_models_option
@monitor_option
@tflm_dir_option
def build(**options):
    """Distill, compress, int8-quantize and check the model, then generate and compile the firmware.

    Artifacts go to <build_dir>/<board>/ with a manifest.json; unchanged stages are skipped."""
    _run("build", **options)


@cli.command(context_settings=CONTEXT)
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@board_option
@json_option
@click.option("--runtime", type=click.Choice(["auto", "native", "tflm"]), default="auto", show_default=True,
              help="Runtime whose footprint estimate --board shows (auto: the one build would choose).")
def inspect(**options):
    """Show a .tflite model's ops, op versions, MACs, tensors, arena and (with --board) its fit."""
    _run("inspect", **options)


@cli.command(context_settings=CONTEXT)
@click.option("--model", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The .tflite model.")
@click.option("--runtime", type=click.Choice(["native", "tflm"]), default="native", show_default=True,
              help="native: tinyedge's generated C, compiled for the host; tflm: the TFLM interpreter.")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Inputs as .npy, shape (N, *input_shape[1:]) in the model's input dtype.")
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the outputs (.npy, shape (N, *output_shape[1:])); for a model with "
                   "several outputs an .npz holding output_0, output_1, ... in the model's output order.")
def infer(**options):
    """Run a model on the host, with the native runtime or the TFLM interpreter."""
    _run("infer", **options)


@cli.command(context_settings=CONTEXT)
@board_option
@project_dir_option
@click.option("--port", metavar="PORT", help="Serial port (default: found by the board's USB ids).")
def flash(**options):
    """Upload the built firmware (PlatformIO for real boards, QEMU for emulated ones)."""
    _run("flash", **options)


@cli.command(context_settings=CONTEXT)
@board_option
@project_dir_option
@json_option
@click.option("--port", metavar="PORT", help="Serial port (default: found by the board's USB ids).")
@click.option("--samples", type=int, metavar="N", help="Test samples to send (default: all).")
@click.option("--runtime", type=click.Choice(["auto", "native", "tflm"]),
              help="Inference runtime of the firmware it builds (default: the project's, 'auto').")
@click.option("--debug", is_flag=True,
              help="Build a layer firmware and, for the first --debug-samples samples, compare every step's "
                   "output on the device with host TFLM: name the first that differs, by how much, and "
                   "whether it is TFLite's rounding (the finding goes into validation.json and the report).")
@click.option("--layers", is_flag=True,
              help="Build a layer firmware and time every step of the last sample's inference: op, layer, "
                   "output shape, MACs, time, share, time per MAC, the sum against the whole (report.html "
                   "charts it).")
@click.option("--debug-samples", type=int, metavar="K",
              help="Samples --debug compares step by step (default 1; implies --debug).")
@further_models_option
@monitor_option
@tflm_dir_option
def validate(**options):
    """Run the test data on the device over serial: accuracy, agreement with the host, latency."""
    _run("validate", **options)


@cli.command(context_settings=CONTEXT)
@board_option
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), help="The .tflite model.")
@click.option("--port", metavar="PORT", help="Serial port of a real board (default: found by its USB ids).")
@click.option("--runtime", default="native", show_default=True, metavar="native|tflm|both",
              help="Runtime(s) to measure: native, tflm, or both (also 'native,tflm'), side by side "
                   "on the same input.")
@click.option("--samples", type=int, default=8, show_default=True, metavar="N",
              help="Inputs whose outputs are compared with TFLM (the first timed; seeded random ones).")
@click.option("--layers", is_flag=True,
              help="Build a layer firmware and time every step: op, layer, output shape, MACs, time, share, "
                   "time per MAC, and the sum against the whole inference (bench.html charts it).")
@click.option("--optimize", default="speed", show_default=True, metavar="speed|size",
              help="Native runtime: fast kernels with weights widened in flash (speed), or int8 weights "
                   "widened in the inner loop, about half the weights' flash (size).")
@click.option("--cycles", is_flag=True,
              help="Emulated Cortex-M4: trace the first inference in QEMU and project its cycles from the "
                   "core's instruction timings, with 0 and the reference board's flash wait states "
                   "(docs/performance.md).")
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the firmware, bench.json and bench.html go (default: build/bench/<board>/"
                   "<model>-<runtime>[-monitor] here).")
@monitor_option
@tflm_dir_option
@json_option
def bench(**options):
    """Measure a model on a board with the native runtime, TFLM, or both side by side: instructions
    (emulated), cycles or microseconds per inference, arena, flash, RAM, and whether the output is
    bit-exact with host TFLM."""
    _run("bench", **options)


@cli.command(context_settings=CONTEXT)
@board_option
@project_dir_option
@click.option("--trials", type=int, metavar="N", help="Trials to run now (default: tune.trials); a study "
                                                      "continues, so they add to the earlier ones.")
@click.option("--workers", type=int, metavar="K", help="Worker processes here sharing the study (default: "
                                                       "tune.workers).")
@click.option("--storage", metavar="URL", help="Optuna storage (default: tune.storage, else "
                                               "sqlite:///<build folder>/tune.db); postgresql://... is "
                                               "shared by workers on many machines.")
@click.option("--study", metavar="NAME", help="Study name (default: tune.study, else <project>-<board>).")
@click.option("--promote", metavar="TRIAL|best",
              help="Make that trial's build (or the best feasible) the project's build.")
@tflm_dir_option
@json_option
def tune(**options):
    """Search for the best compressed model under the budgets: every trial built by the real pipeline
    and measured on the board (or its emulator), driven by an Optuna study that a second run continues."""
    _run("tune", **options)


@cli.command(context_settings=CONTEXT)
@board_option
@project_dir_option
@click.option("--port", metavar="PORT", help="Serial port of a real board (default: found by its USB ids).")
@click.option("--interval", type=float, metavar="S", help="Seconds between readings (default: monitor.interval).")
@click.option("--fail-on-drift", is_flag=True, help="Exit with status 3 when any statistic drifted.")
@click.option("--replay", metavar="DATA.npz|test",
              help="Stream these samples (an .npz with real-valued x; 'test': the build's test split) into "
                   "the device's inference loop, statistics reset first, readings in between.")
@click.option("--readings", type=int, metavar="N", help="Stop after N readings.")
@click.option("--duration", type=float, metavar="S", help="Stop after S seconds.")
@click.option("--reset", is_flag=True, help="Reset the device's statistics first (a replay always does).")
@json_option
def monitor(**options):
    """Read the firmware's monitor statistics (built with [monitor] enabled = true) every interval,
    judge each window against the build's baseline (PSI and chi-square, saturation, latency), append the
    readings to monitor.jsonl and write monitor.html; until Ctrl-C, --readings or --duration."""
    return _run("monitor", **options)


@cli.command(context_settings=CONTEXT)
@board_option
@click.option("--benchmark", metavar="kws01|vww01|ic01|ad01", help="The MLPerf Tiny benchmark.")
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), help="The benchmark's int8 .tflite.")
@click.option("--runtime", default="native", show_default=True, metavar="native|tflm", help="The runtime.")
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the firmware goes (default: build/mlperf/<board>/<benchmark>-<runtime> here).")
@click.option("--port", metavar="PORT", help="Serial port of a real board (default: found by its USB ids).")
@click.option("--serve", is_flag=True, help="Emulated board: boot it behind a pseudo-terminal for the official "
                                            "runner, m-lap-us in real time; until Ctrl-C.")
@tflm_dir_option
def mlperf(**options):
    """Build the firmware the official MLPerf Tiny runner drives as the reference firmware of one benchmark
    (its model id, input format, results and limits); upload it, or --serve it on an emulated board."""
    _run("mlperf", **options)


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the CLI and turns every TinyedgeError into one line on stderr; a verb may
    return its exit status (monitor --fail-on-drift: 3)."""
    try:
        status = cli.main(args=argv, prog_name="tinyedge", standalone_mode=False)
    except TinyedgeError as exc:
        click.echo(f"error: {exc.one_line()}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("error: interrupted; artifacts written so far are kept", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return status if isinstance(status, int) and not isinstance(status, bool) else 0


if __name__ == "__main__":
    sys.exit(main())
