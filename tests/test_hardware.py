"""On a real board named on the command line (`pytest -m hardware --board nano33 --port /dev/ttyACM0`):
the README's real-board path on the built-in example, build, flash and validate, where the device's
every int8 output must equal the host TFLM interpreter's. Skipped, saying so, without --board/--port."""

from __future__ import annotations

import json
import shutil

import pytest

from support import REPO, run_tinyedge

pytestmark = [pytest.mark.hardware, pytest.mark.slow]


@pytest.fixture(scope="module")
def flashed_digits(real_board, tmp_path_factory):
    board, port = real_board
    folder = tmp_path_factory.mktemp("digits-on-board")
    shutil.copy(REPO / "examples" / "digits" / "tinyedge.toml", folder / "tinyedge.toml")
    for verb, *extra in (("build",), ("flash", "--port", port)):
        run = run_tinyedge(verb, "--board", board, "--dir", str(folder), *extra, timeout=3600)
        assert run.returncode == 0, f"tinyedge {verb}: {run.stderr[-3000:]}"
    return board, port, folder


def test_validate_on_the_board_agrees_with_host_tflm_on_every_output(flashed_digits):
    board, port, folder = flashed_digits
    run = run_tinyedge("validate", "--board", board, "--port", port, "--dir", str(folder), "--json",
                       timeout=3600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["complete"] is True and result["samples"] == result["test_samples"] > 0
    assert result["agreement"] == 1.0 and result["disagreeing_samples"] == []
    assert result["device_accuracy"] == result["host_accuracy"]
    assert result["latency"]["median"] > 0
