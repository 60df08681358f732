"""The device side, driven over pipes: every MLPerf Tiny base command and each of its error lines,
answered byte for byte as the reference firmware (mlcommons/tiny benchmark/api/internally_implemented.cpp)
answers them, and tinyedge's te- commands. Transcripts are compared whole; only the microsecond
values of m-lap-us lines vary and are replaced by N."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from .conftest import (INPUT_BYTES, MODEL_NAME, MODEL_SHA256, OUTPUT_BYTES, PROTOCOL, REPO,
                       dequantized_text, reference_model)

BOOT = "m-timestamp-mode-performance\r\nm-lap-us-N\r\nm-init-done\r\nm-ready\r\n"
HELP = (
    "ULPMark for tinyML Firmware V0.0.1\r\n"
    "\r\n"
    "help         : Print this information\r\n"
    "name         : Print the name of the device\r\n"
    "timestsamp   : Generate a timetsamp\r\n"
    "db SUBCMD    : Manipulate a generic byte buffer\r\n"
    "  load N     : Allocate N bytes and set load counter\r\n"
    "  db HH[HH]* : Load 8-bit hex byte(s) until N bytes\r\n"
    "  print [N=16] [offset=0]\r\n"
    "             : Print N bytes at offset as hex\r\n"
    "infer N [W=0]: Load input, execute N inferences after W warmup loops\r\n"
    "results      : Return the result fp32 vector\r\n"
    "m-ready\r\n"
)
READY = "m-ready\r\n"
LAP = re.compile(r"m-lap-us-(\d+)\r\n")


class Device:
    """Raw access to the firmware: send text, get back the exact bytes up to each m-ready."""

    def __init__(self, transport):
        self.transport = transport
        self.laps: list[int] = []
        self.boot = self._normalise(transport.read_until(b"m-ready\r\n", 5))

    def send(self, *commands: str) -> str:
        """Each command is sent with its `%`; returns every reply, concatenated."""
        replies = []
        for command in commands:
            self.transport.write((command + "%").encode("latin-1"), 5)
            replies.append(self._normalise(self.transport.read_until(b"m-ready\r\n", 10)))
        return "".join(replies)

    def _normalise(self, raw: bytes) -> str:
        text = raw.decode("latin-1")
        self.laps += [int(value) for value in LAP.findall(text)]
        return LAP.sub("m-lap-us-N\r\n", text)

    def load(self, sample: bytes) -> None:
        self.send(f"db load {len(sample)}", *(f"db {sample[i:i + 31].hex()}" for i in range(0, len(sample), 31)))


@pytest.fixture
def device(host_firmware):
    with host_firmware.start() as transport:
        yield Device(transport)


def sample(seed: int) -> bytes:
    return np.random.default_rng(seed).integers(-128, 128, INPUT_BYTES, dtype=np.int8).tobytes()


def test_boot_lines(device):
    assert device.boot == BOOT


def test_name_profile_timestamp_help(device):
    assert device.send("name") == "m-name-dut-[tinyedge]\r\n" + READY
    assert device.send("profile") == (
        "m-profile-[ULPMark for tinyML Firmware V0.0.1]\r\n" f"m-model-[{MODEL_NAME}]\r\n" + READY)
    assert device.send("timestamp") == "m-lap-us-N\r\n" + READY
    assert device.send("help") == HELP
    assert device.laps == sorted(device.laps)  # boot stamp, then the timestamp command's


def test_tokens_split_on_spaces_like_strtok(device):
    assert device.send("   name   extra words") == "m-name-dut-[tinyedge]\r\n" + READY
    # Only spaces separate tokens: a tab or a line end is part of the command word.
    assert device.send("name\n") == "e-[Unknown command: name\n]\r\n" + READY
    assert device.send("NAME") == "e-[Unknown command: NAME]\r\n" + READY


def test_unknown_and_empty_commands(device):
    assert device.send("foo bar") == "e-[Unknown command: foo]\r\n" + READY
    assert device.send("") == "e-[Unknown command: ]\r\n" + READY
    assert device.send("   ") == "e-[Unknown command: ]\r\n" + READY


def test_commands_longer_than_80_characters_keep_their_first_80(device):
    assert device.send("x" * 100) == f"e-[Unknown command: {'x' * 80}]\r\n" + READY
    # The cut falls inside the padding, so the command is still `name`.
    assert device.send("name" + " " * 76 + "garbage") == "m-name-dut-[tinyedge]\r\n" + READY
    # After an overflow the next command starts from an empty buffer.
    assert device.send("name") == "m-name-dut-[tinyedge]\r\n" + READY


def test_bytes_split_across_writes_form_one_command(device):
    for piece in (b"na", b"m", b"e%"):
        device.transport.write(piece, 5)
    assert device.transport.read_until(b"m-ready\r\n", 5) == b"m-name-dut-[tinyedge]\r\nm-ready\r\n"


def test_db_errors(device):
    assert device.send("db") == "e-[Command 'db' requires a subcommand]\r\n" + READY
    assert device.send("db load") == "e-[Command 'db load' requires the # of bytes]\r\n" + READY
    assert device.send("db load 0") == "e-[Command 'db load' must be >0 bytes]\r\n" + READY
    assert device.send("db load abc") == "e-[Command 'db load' must be >0 bytes]\r\n" + READY
    # The reference prints this one without a prefix and with "\n" only.
    assert device.send(f"db load {INPUT_BYTES + 1}") == (
        f"Supplied buffer size {INPUT_BYTES + 1} exceeds maximum of {INPUT_BYTES}\n" + READY)
    assert device.send("db load -3") == f"Supplied buffer size -3 exceeds maximum of {INPUT_BYTES}\n" + READY
    assert device.send("db 012") == "e-[Insufficent number of hex digits]\r\n" + READY
    assert device.send("db 0g") == "e-[Invalid hex digit '0g']\r\n" + READY
    # A misspelt subcommand is taken for hex digits, as in the reference.
    assert device.send("db LOAD 5") == "e-[Invalid hex digit 'LO']\r\n" + READY


def test_db_load_and_print(device):
    assert device.send("db load 11") == "m-[Expecting 11 bytes]\r\n" + READY
    assert device.send("db 00010203") == READY
    assert device.send("db 0405A0FF") == READY       # upper case digits are fine
    # Bytes before a bad digit are kept: 0x7f lands, then the pair "zz" stops the command.
    assert device.send("db 7fzz01") == "e-[Invalid hex digit 'zz']\r\n" + READY
    # The load completes at byte 11; the reference disregards the rest of the digits.
    assert device.send("db 10111213") == "m-load-done\r\n" + READY
    # Eight bytes a row; a short last row is followed by an empty line, as in the reference.
    assert device.send("db print") == (
        "m-buffer-00-01-02-03-04-05-a0-ff\r\n" "m-buffer-7f-10-11\r\n" "\r\n" + READY)
    # Past the announced count, further bytes change nothing and print nothing.
    assert device.send("db 2223") == READY
    assert device.send("db print 4 2") == (
        "m-buffer-00-01-02-03-04-05-a0-ff\r\n" "m-buffer-7f-10-11\r\n" "\r\n" + READY)


def test_db_print_of_whole_rows_has_no_empty_line(device):
    device.send("db load 16")
    assert device.send("db " + bytes(range(16)).hex()) == "m-load-done\r\n" + READY
    assert device.send("db print") == (
        "m-buffer-00-01-02-03-04-05-06-07\r\n" "m-buffer-08-09-0a-0b-0c-0d-0e-0f\r\n" + READY)


def test_db_load_resets_the_count_and_a_refused_load_empties_it(device):
    device.send("db load 2", "db 0102")
    assert device.send("db load 3") == "m-[Expecting 3 bytes]\r\n" + READY
    assert device.send("db 0a0b0c") == "m-load-done\r\n" + READY
    assert device.send("db load 0") == "e-[Command 'db load' must be >0 bytes]\r\n" + READY
    assert device.send("db print") == READY


def test_infer_argument_errors(device):
    assert device.send("infer 0") == "e-[Inference iterations must be >0]\r\n" + READY
    assert device.send("infer -2 1") == "e-[Inference iterations must be >0]\r\n" + READY
    assert device.send("infer x") == "e-[Inference iterations must be >0]\r\n" + READY
    assert device.send("infer 1 -1") == "e-[Inference warmup must be >=0]\r\n" + READY


def test_infer_needs_a_complete_input(device):
    assert device.send("infer 1 0") == f"e-[Input db has 0 bytes, expected {INPUT_BYTES}]\r\n" + READY
    device.send("db load 70", "db 0102")
    assert device.send("infer 1 0") == f"e-[Input db has 2 bytes, expected {INPUT_BYTES}]\r\n" + READY


def test_infer_sequence_and_results(device):
    data = sample(1)
    device.load(data)
    expected = dequantized_text(reference_model(data))
    assert device.send("infer 2 3") == (
        "m-warmup-start-3\r\n" "m-warmup-done\r\n" "m-infer-start-2\r\n" "m-lap-us-N\r\n" "m-lap-us-N\r\n"
        "m-infer-done\r\n" f"m-results-[{expected}]\r\n" + READY)
    assert device.send("results") == f"m-results-[{expected}]\r\n" + READY
    # Without arguments: one inference after ten warm-ups; with N only, still ten warm-ups.
    assert device.send("infer").startswith("m-warmup-start-10\r\nm-warmup-done\r\nm-infer-start-1\r\n")
    assert device.send("infer 3").startswith("m-warmup-start-10\r\nm-warmup-done\r\nm-infer-start-3\r\n")


def test_results_before_any_inference_print_the_empty_output(device):
    zeros = dequantized_text(bytes(OUTPUT_BYTES))
    assert zeros == ",".join(["0.117"] * OUTPUT_BYTES)
    assert device.send("results") == f"m-results-[{zeros}]\r\n" + READY


def test_tinyedge_commands(device):
    assert device.send("te-model") == (
        f"m-te-model-[{MODEL_NAME},{MODEL_SHA256[:16]}]\r\n" f"m-te-io-[{INPUT_BYTES},{OUTPUT_BYTES}]\r\n" + READY)
    assert device.send("te-output") == "e-[te-output: no inference has run yet]\r\n" + READY
    assert device.send("te-ticks") == "e-[te-ticks: no inference has run yet]\r\n" + READY
    data = sample(2)
    device.load(data)
    device.send("infer 4 0")
    assert device.send("te-output") == f"m-te-output-[{reference_model(data).hex()}]\r\n" + READY
    ticks = device.send("te-ticks")
    match = re.fullmatch(r"m-te-ticks-(\d+)\r\nm-te-count-4\r\nm-te-unit-us\r\n"
                         r"m-te-ticks-per-second-1000000\r\nm-ready\r\n", ticks)
    assert match, ticks
    assert int(match.group(1)) <= device.laps[-1] - device.laps[-2]  # measured inside the two stamps
    assert device.send("te-help") == (
        "te-models    : List the models in this firmware (the first is selected at boot)\r\n"
        "te-select M  : Select model M; every command then acts on it\r\n"
        "te-model     : Print the model's name, SHA-256 prefix, input and output bytes\r\n"
        "te-output    : Print the last inference's int8 output as hex\r\n"
        "te-ticks     : Print the last timed inferences' duration in timer ticks\r\n" + READY)

    assert device.send("te-models") == "m-te-models-[protocol-test]\r\n" + READY
    assert device.send("te-select protocol-test") == "m-te-selected-[protocol-test]\r\n" + READY
    assert device.send("te-select nothere") == (
        "e-[te-select: unknown model 'nothere'; the firmware has protocol-test]\r\n" + READY)


def test_outputs_are_bit_exact_for_many_inputs(device):
    for seed in range(20):
        data = sample(100 + seed)
        device.load(data)
        expected = reference_model(data)
        assert f"m-results-[{dequantized_text(expected)}]" in device.send("infer 1 0")
        assert device.send("te-output") == f"m-te-output-[{expected.hex()}]\r\n" + READY


def test_fixed3_formatting_matches_printf(host_firmware):
    result = subprocess.run([str(host_firmware.format_check)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
    assert result.stdout.endswith(", 0 mismatches\n")


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
@pytest.mark.emulated
def test_protocol_compiles_for_cortex_m_without_warnings(tmp_path):
    for cpu in (["-mcpu=cortex-m0plus", "-mfloat-abi=soft"], ["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16",
                                                             "-mfloat-abi=hard"]):
        for source in ("te_protocol.c", "te_format.c"):
            result = subprocess.run(
                ["arm-none-eabi-gcc", *cpu, "-mthumb", "-std=c99", "-Os", "-Wall", "-Wextra", "-Werror",
                 "-pedantic", "-Wconversion", f"-I{REPO / 'firmware' / 'port'}", f"-I{PROTOCOL}", "-c",
                 str(PROTOCOL / source), "-o", str(tmp_path / (source + ".o"))],
                capture_output=True, text=True)
            assert result.returncode == 0, result.stderr
