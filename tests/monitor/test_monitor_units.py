"""The monitor's host side without a device: the spec's definitions on the MLPerf Tiny models, the
numpy mirror against counts written out element by element, the te-monitor reply's parsing, PSI and the
chi-square test against their formulas, and the reading loop on a scripted device (windows, a merged
tail, a reset, a device that drops mid-run, latency against validation.json)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from support import SHARED
from tinyedge.device.errors import DeviceCrashed, DeviceError
from tinyedge.errors import TinyedgeError
from tinyedge.monitor import drift
from tinyedge.monitor.baseline import Baseline
from tinyedge.monitor.session import Log, Monitor, Options, Replay, read_log
from tinyedge.monitor.snapshot import MonitorSnapshot
from tinyedge.monitor.spec import MonitorSpec, input_stride, spec_for
from tinyedge.monitor.stats import stats_of

MODELS = SHARED / "models" / "mlperf-tiny"


def _model(name: str) -> Path:
    path = MODELS / name
    if not path.is_file():
        pytest.skip(f"{path} is not here (the shared MLPerf Tiny models)")
    return path


# ---- spec ------------------------------------------------------------------------------------------

def test_the_input_stride_is_coprime_with_the_channels_so_every_channel_is_examined():
    assert input_stride(3072, 3, 256) == 13          # ceil(3072/256) = 12 shares 3 with RGB
    assert input_stride(27648, 3, 256) == 109        # 108 too
    assert input_stride(490, 1, 256) == 2 and input_stride(64, 1, 256) == 1
    stride = input_stride(3072, 3, 256)
    assert {index % 3 for index in range(0, 3072, stride)} == {0, 1, 2}
    with pytest.raises(TinyedgeError, match="input_samples"):
        input_stride(64, 1, 0)


def test_the_spec_of_mlperf_tiny_models():
    image = spec_for(_model("pretrainedResnet_quant.tflite"))
    assert image.kind == "classifier" and image.input_bytes == 3072 and image.classes == 10
    assert image.input_stride == 13 and image.examined_per_inference == math.ceil(3072 / 13)
    # A softmax output (scale 1/256, zero point -128): the first code at or above each tenth.
    values = [(q + 128) / 256 for q in image.confidence_edges]
    assert all(k / 10 <= v < k / 10 + 1 / 256 for k, v in zip(range(1, 10), values))
    anomaly = spec_for(_model("ad01_int8.tflite"))
    assert anomaly.kind == "autoencoder" and anomaly.input_bytes == anomaly.output_bytes == 640
    assert anomaly.error_multiplier == round(256 * anomaly.output_scale / anomaly.input_scale)
    assert anomaly.error_edges == (0, *(4 ** k for k in range(1, 15)))
    assert MonitorSpec.from_json(json.loads(json.dumps(anomaly.to_json()))) == anomaly
    with pytest.raises(TinyedgeError, match="kind 'other'"):
        MonitorSpec.from_json({**image.to_json(), "kind": "other"})


def test_a_baseline_places_the_edges_a_quantization_does_not_fix():
    path = _model("ad01_int8.tflite")
    rng = np.random.default_rng(1)
    inputs = rng.integers(-128, 128, (40, 640)).astype(np.int8)
    outputs = rng.integers(-128, 128, (40, 640)).astype(np.int8)
    spec = spec_for(path, baseline=(inputs, outputs))
    errors = sorted(_error(spec, x, y) for x, y in zip(inputs, outputs))
    assert list(spec.error_edges) == [int(np.quantile(errors, k / 16, method="lower")) for k in range(1, 16)]
    regression = spec_for(path, baseline=(inputs, outputs), task="regression")
    lo, hi = int(outputs.min()), int(outputs.max())
    assert regression.kind == "regression"
    assert list(regression.output_edges) == [lo + math.ceil((hi - lo) * k / 16) for k in range(1, 16)]


def _error(spec: MonitorSpec, x, y) -> int:
    """E of one inference, element by element in Python integers."""
    total = 0
    for a, b in zip(x.tolist(), y.tolist()):
        d = (a - spec.input_zero_point) * 256 - (b - spec.output_zero_point) * spec.error_multiplier
        total += d * d
    return min(total, 2 ** 64 - 1)


# ---- the numpy mirror against counting one value at a time -----------------------------------------

def _bin(value: int, edges) -> int:
    return sum(1 for edge in edges if value >= edge)


def _count_by_hand(spec: MonitorSpec, inputs, outputs) -> dict:
    counts = {"input_histogram": [0] * 16, "low": 0, "high": 0, "sum": 0, "squares": 0, "values": 0,
              "class": [0] * max(spec.classes, 1), "confidence": [0] * 10, "output": [0] * 16}
    for x, y in zip(inputs.tolist(), outputs.tolist()):
        for index in range(0, spec.input_bytes, spec.input_stride):
            v = x[index]
            counts["values"] += 1
            counts["low"] += v == -128
            counts["high"] += v == 127
            counts["sum"] += v
            counts["squares"] += v * v
            counts["input_histogram"][(v + 128) // 16] += 1
        if spec.kind == "classifier":
            top = y.index(max(y))
            counts["class"][min(top, spec.classes - 1)] += 1
            counts["confidence"][_bin(y[top], spec.confidence_edges)] += 1
        elif spec.kind == "regression":
            for v in y:
                counts["output"][_bin(v, spec.output_edges)] += 1
        else:
            counts["output"][_bin(_error(spec, np.array(x), np.array(y)), spec.error_edges)] += 1
    return counts


@pytest.mark.parametrize("model, task", [("pretrainedResnet_quant.tflite", None), ("ad01_int8.tflite", None),
                                         ("ad01_int8.tflite", "regression")])
def test_the_mirror_counts_as_one_value_at_a_time(model, task):
    rng = np.random.default_rng(7)
    probe = spec_for(_model(model), task=task)
    inputs = rng.integers(-128, 128, (12, probe.input_bytes)).astype(np.int8)
    inputs[0, :] = -128
    inputs[1, :] = 127
    outputs = rng.integers(-128, 128, (12, probe.output_bytes)).astype(np.int8)
    spec = spec_for(_model(model), baseline=(inputs, outputs), task=task)
    stats = stats_of(spec, inputs, outputs)
    hand = _count_by_hand(spec, inputs, outputs)
    assert stats.count == 12 and stats.input_values == hand["values"] == 12 * spec.examined_per_inference
    assert (stats.input_low, stats.input_high) == (hand["low"], hand["high"])
    assert (stats.input_sum, stats.input_sum_squares) == (hand["sum"], hand["squares"])
    assert list(stats.input_histogram) == hand["input_histogram"]
    if spec.kind == "classifier":
        assert list(stats.class_histogram) == hand["class"]
        assert list(stats.confidence_histogram) == hand["confidence"]
    elif spec.kind == "regression":
        assert list(stats.output_histogram) == hand["output"] and sum(hand["output"]) == 12 * spec.output_bytes
    else:
        assert list(stats.error_histogram) == hand["output"]
        assert stats.error_sum == sum(_error(spec, x, y) for x, y in zip(inputs, outputs))


def test_an_argmax_beyond_64_classes_counts_in_the_last_bin():
    spec = MonitorSpec("classifier", 4, 100, 0, -128, 1.0, 1 / 256, 1, classes=64,
                       confidence_edges=(-102, -76, -51, -25, 0, 26, 52, 77, 103))
    outputs = np.full((3, 100), -128, np.int8)
    outputs[0, 5] = outputs[1, 70] = outputs[2, 99] = 100
    stats = stats_of(spec, np.zeros((3, 4), np.int8), outputs)
    assert stats.class_histogram[5] == 1 and stats.class_histogram[63] == 2


# ---- the te-monitor reply ------------------------------------------------------------------------

def _reply(count=5, kind="classifier", classes=3) -> list[str]:
    bins = ",".join(["1"] * 16)
    lines = [f"m-te-monitor-kind-{kind}", f"m-te-monitor-count-{count}", "m-te-monitor-latency-[7,9,40,8]",
             f"m-te-monitor-latency-histogram-[{bins}]", "m-te-monitor-input-[20,2,1,-300,9000]",
             f"m-te-monitor-input-histogram-[{bins}]"]
    if kind == "classifier":
        lines += [f"m-te-monitor-class-histogram-[{','.join(['2'] * classes)}]",
                  "m-te-monitor-confidence-histogram-[0,1,2,3,4,5,6,7,8,9]"]
    else:
        lines += [f"m-te-monitor-error-histogram-[{bins}]", "m-te-monitor-error-sum-123456789012"]
    return lines


def test_the_reply_parses_into_a_snapshot_and_back():
    snapshot = MonitorSnapshot.parse(_reply())
    assert snapshot.count == 5 and snapshot.input_sum == -300 and snapshot.latency_reference == 8
    assert snapshot.class_histogram == (2, 2, 2) and snapshot.saturated_share == 3 / 20
    assert snapshot.latency_mean == 8.0
    assert MonitorSnapshot.from_json(json.loads(json.dumps(snapshot.to_json()))) == snapshot
    error = MonitorSnapshot.parse(_reply(kind="autoencoder"))
    assert error.error_sum == 123456789012 and error.histograms().keys() == {"input_histogram", "error_histogram"}


@pytest.mark.parametrize("lines, message", [
    (_reply()[:1], "without its kind and count"),
    ([line for line in _reply() if "confidence" not in line], "without its confidence_histogram"),
    (_reply()[:6] + ["m-te-monitor-input-histogram-[1,2]"] + _reply()[6:], "2 bins of input_histogram"),
    (["m-te-monitor-kind-classifier", "m-te-monitor-count-x"], "does not parse"),
])
def test_a_damaged_reply_is_one_line(lines, message):
    with pytest.raises(TinyedgeError, match=message) as error:
        MonitorSnapshot.parse(lines)
    assert "\n" not in error.value.one_line() and "[monitor] enabled = true" in error.value.one_line()


def test_a_window_is_the_difference_of_two_readings():
    early, late = MonitorSnapshot.parse(_reply(count=5)), MonitorSnapshot.parse(_reply(count=9))
    window = late.minus(early)
    assert window.count == 4 and window.input_histogram == (0,) * 16
    with pytest.raises(TinyedgeError, match="reset in between"):
        early.minus(late)


# ---- PSI and chi-square ----------------------------------------------------------------------------

def test_psi_and_the_chi_square_test_against_their_formulas():
    from scipy.stats import chi2
    base, window = [50, 30, 20, 0], [20, 30, 40, 10]
    p = np.maximum(np.array(base) / 100, 1e-4)
    q = np.maximum(np.array(window) / 100, 1e-4)
    assert drift.psi(base, window) == pytest.approx(float(np.sum((q - p) * np.log(q / p))))
    assert drift.psi(base, base) == 0.0
    table = np.array([base, window], float)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    found, p_value = drift.chi_square(base, window)
    assert found == pytest.approx(statistic) and p_value == pytest.approx(chi2.sf(statistic, 3))
    assert drift.chi_square([5, 0], [3, 0]) == (0.0, 1.0)   # one bin in use: no evidence


def _snapshot(count, histogram, classes=(0, 0), low=0, latency=0) -> MonitorSnapshot:
    return MonitorSnapshot("classifier", count=count, input_values=count * 4, input_low=low,
                           input_histogram=tuple(histogram), class_histogram=tuple(classes),
                           confidence_histogram=(count,) + (0,) * 9, latency_sum=latency * count)


def test_drift_needs_both_the_psi_threshold_and_a_small_p_value():
    baseline = _snapshot(1000, [250] * 4 + [0] * 12, (500, 500))
    thresholds = drift.Thresholds(min_samples=1)
    shifted = _snapshot(100, [100, 0, 0, 0] + [0] * 12, (50, 50))
    assert drift.judge(shifted, baseline, thresholds).drifted == ["input_histogram"]
    # The same shares in a window of 4: PSI is as large, the test gives no evidence.
    tiny = _snapshot(1, [1, 0, 0, 0] + [0] * 12, (1, 0))
    assert drift.psi(baseline.input_histogram, tiny.input_histogram) >= 0.25
    assert drift.judge(tiny, baseline, thresholds).drift is False
    saturated = _snapshot(100, [25] * 4 + [0] * 12, (50, 50), low=100)
    judgement = drift.judge(saturated, baseline, thresholds)
    assert judgement.drifted == ["saturation"]
    slow = _snapshot(100, [25] * 4 + [0] * 12, (50, 50), latency=1300)
    assert drift.judge(slow, baseline, thresholds, validation_latency=1000.0).drifted == ["latency"]
    assert drift.judge(slow, baseline, thresholds, validation_latency=1250.0).drift is False


# ---- the reading loop on a scripted device ---------------------------------------------------------

SPEC = MonitorSpec("classifier", 4, 2, 0, -128, 1.0, 1 / 256, 1, classes=2,
                   confidence_edges=(-102, -76, -51, -25, 0, 26, 52, 77, 103))


class ScriptedClient:
    """Answers te-monitor with the next scripted snapshot (an exception instance is raised instead)."""

    def __init__(self, readings):
        self.readings = list(readings)
        self.resets = 0
        self.loaded = []
        self.infer_timeout = 1.0

    def monitor(self):
        item = self.readings.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def monitor_reset(self):
        self.resets += 1

    def ticks(self):
        raise DeviceError("no te-ticks here")

    def load(self, data):
        self.loaded.append(data)

    def infer(self, count, warmups):
        assert (count, warmups) == (1, 0)


class ScriptedSession:
    def __init__(self, client):
        self.client = client

    def open(self):
        return self.client

    def close(self):
        pass


def _monitor(tmp_path, readings, options=None, build_dir=None, end_reason=None, min_samples=10):
    baseline = Baseline(SPEC, _snapshot(1000, [250] * 4 + [0] * 12, (500, 500)), "validation", 1000)
    client = ScriptedClient(readings)
    log = Log(tmp_path / "monitor.jsonl")
    lines: list[str] = []
    monitor = Monitor(baseline, ScriptedSession(client), drift.Thresholds(min_samples=min_samples),
                      options or Options(interval=0.0, readings=len([r for r in readings
                                                                     if isinstance(r, MonitorSnapshot)])),
                      log, say=lines.append, end_reason=end_reason, build_dir=build_dir)
    run = monitor.execute("scripted", "test")
    log.close()
    return run, client, lines


def _calm(count):   # the baseline's shares, `count` inferences
    return _snapshot(count, [count] * 4 + [0] * 12, (count // 2, count - count // 2))


def test_windows_are_judged_once_they_hold_min_samples_and_a_small_tail_merges(tmp_path):
    run, _, lines = _monitor(tmp_path, [_calm(4), _calm(12), _calm(20), _calm(36), _calm(40)])
    # 4 (waits), 12 (judged: 12), 20 (waits: 8), 36 (judged: 24), 40 (tail of 4, merged into 24 -> 28)
    assert [j.inferences for j in run.judgements] == [12, 28]
    assert run.drift is False and run.total is not None and run.total.inferences == 40
    records = read_log(tmp_path / "monitor.jsonl")
    assert [r["type"] for r in records] == ["start", *["reading"] * 5, "merged", "end"]
    assert [r["pending"] for r in records if r["type"] == "reading"] == [4, 0, 8, 0, 4]
    assert "waits for 10" in lines[0] and "no drift" in lines[1]


def test_a_count_that_goes_backwards_is_a_reset_and_counting_starts_again(tmp_path):
    run, _, lines = _monitor(tmp_path, [_calm(30), _calm(50), _calm(5), _calm(25)])
    records = read_log(tmp_path / "monitor.jsonl")
    resets = [r for r in records if r["type"] == "reset"]
    assert len(resets) == 1 and resets[0]["before"] == 50 and resets[0]["after"] == 5
    assert run.resets == 1 and any("was reset" in line for line in lines)
    # 30, then 20; after the reset the device's own 25 (the inferences before it are lost)
    assert [j.inferences for j in run.judgements] == [30, 20, 25]
    assert run.total.inferences == 75


def test_a_device_that_crashes_mid_run_keeps_the_readings(tmp_path):
    crash = DeviceCrashed("the firmware crashed during 'te-monitor': e-[hardfault pc=0x00000000]")
    run, _, _ = _monitor(tmp_path, [_calm(20), _calm(40), crash, _calm(60)],
                         options=Options(interval=0.0, readings=4))
    assert run.end.startswith("the firmware crashed") and not run.interrupted
    assert len(run.readings) == 2 and run.total.inferences == 40
    records = read_log(tmp_path / "monitor.jsonl")
    assert records[-1]["type"] == "end" and records[-1]["reason"] == run.end and records[-1]["readings"] == 2


def test_the_far_ends_own_end_is_the_reason(tmp_path):
    from tinyedge.device.errors import DeviceDisconnected
    dropped = DeviceDisconnected("the link closed")
    run, _, _ = _monitor(tmp_path, [_calm(20), dropped], options=Options(interval=0.0, readings=3),
                         end_reason=lambda wait: "the emulator died with signal 9")
    assert run.end == "the emulator died with signal 9"


def test_a_replay_resets_then_loads_every_sample_and_reads_at_the_end(tmp_path):
    samples = np.arange(12, dtype=np.int8).reshape(3, 4)
    run, client, _ = _monitor(tmp_path, [_calm(3)], options=Options(
        interval=3600.0, replay=Replay(samples, "three samples")))
    assert client.resets == 1 and client.loaded == [row.tobytes() for row in samples]
    assert len(run.readings) == 1 and run.replayed == 3
    records = read_log(tmp_path / "monitor.jsonl")
    assert records[0]["replay"] == {"source": "three samples", "samples": 3}
    assert [r["type"] for r in records][-2:] == ["too_small", "end"]   # 3 < 10 and no window before


def test_latency_is_judged_against_validation_json_when_there_is_one(tmp_path):
    (tmp_path / "validation.json").write_text(json.dumps({"latency": {"mean": 1000.0}}))
    slow = MonitorSnapshot("classifier", count=20, input_values=80, input_histogram=(20,) * 4 + (0,) * 12,
                           class_histogram=(10, 10), confidence_histogram=(20,) + (0,) * 9, latency_sum=20 * 1500,
                           latency_min=1400, latency_max=1600, latency_reference=1500)
    run, _, _ = _monitor(tmp_path, [slow], build_dir=tmp_path)
    assert run.drifted == ["latency"]
    finding = next(f for f in run.judgements[0].findings if f.statistic == "latency")
    assert finding.value == 1500.0 and finding.baseline == 1000.0


def test_ctrl_c_ends_the_run_cleanly_with_the_readings_kept(tmp_path):
    run, _, _ = _monitor(tmp_path, [_calm(20), _calm(40), KeyboardInterrupt()],
                         options=Options(interval=0.0, readings=5))
    assert run.interrupted and run.end == "interrupted" and len(run.readings) == 2
    records = read_log(tmp_path / "monitor.jsonl")
    assert records[-1]["type"] == "end" and records[-1]["reason"] == "interrupted"
    assert records[-1]["inferences"] == 40 == run.total.inferences
