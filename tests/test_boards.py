"""The board catalogue: the built-in files are valid, and every mistake in a board file is reported
through the real entry point as one line naming the file and the key."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tinyedge.boards import BOARDS_DIR, Catalogue

from support import run_tinyedge

REQUIRED_BOARDS = {"nano33", "pico", "esp32s3", "nucleo-l4r5zi", "nucleo-f746zg", "portenta-h7",
                   "teensy41", "emu-m4", "emu-m7", "emu-m3", "emu-m55", "host"}
EMU_MACHINES = {"emu-m4": "mps2-an386", "emu-m7": "mps2-an500", "emu-m3": "mps2-an385",
                "emu-m55": "mps3-an547"}

VALID = (BOARDS_DIR / "emu-m4.toml").read_text()


def _bad_board(tmp_path: Path, old: str, new: str, name: str = "custom") -> Path:
    """A board file that differs from a valid one by one edit; returns its folder."""
    text = VALID.replace('name = "emu-m4"', f'name = "{name}"').replace(
        'aliases = ["mps2-an386"]', "aliases = []")
    assert old in text, old
    (tmp_path / f"{name}.toml").write_text(text.replace(old, new, 1))
    return tmp_path


def _boards_error(folder: Path) -> str:
    result = run_tinyedge("boards", env={"TINYEDGE_BOARDS_PATH": str(folder)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    return lines[0]


def test_every_required_board_is_in_the_catalogue():
    catalogue = Catalogue.load()
    assert REQUIRED_BOARDS <= set(catalogue.names())
    assert catalogue.get("nano33ble").name == "nano33"
    for name, machine in EMU_MACHINES.items():
        board = catalogue.get(name)
        assert board.kind == "emulated" and board.qemu.machine == machine
    host = catalogue.get("host")
    assert host.kind == "host" and host.qemu is None and host.gcc_flags() == []


def test_boards_json_lists_every_board_with_every_field():
    result = run_tinyedge("boards", "--json")
    assert result.returncode == 0, result.stderr
    boards = json.loads(result.stdout)
    files = sorted(path.stem for path in BOARDS_DIR.glob("*.toml"))
    assert sorted(b["name"] for b in boards) == files
    for board in boards:
        for key in ("name", "aliases", "title", "mcu", "core", "fpu", "dsp", "clock_hz", "flash_bytes",
                    "ram_bytes", "timer", "timer_unit", "kind", "platformio", "serial", "qemu"):
            assert key in board, (board["name"], key)
        for key in ("platform", "board", "framework", "upload_protocol"):
            assert key in board["platformio"], (board["name"], key)
        for key in ("baud", "usb_ids", "reset"):
            assert key in board["serial"], (board["name"], key)
        assert board["flash_bytes"] > 0 and board["ram_bytes"] > 0 and board["clock_hz"] > 0
        assert (board["qemu"] is not None) == (board["kind"] == "emulated")
        assert board["timer_unit"] == {"emulated": "instructions", "host": "us"}.get(
            board["kind"], {"dwt": "cycles", "micros": "us"}.get(board["timer"]))
        if board["kind"] == "platformio":
            assert board["serial"]["usb_ids"], board["name"]
            assert board["platformio"]["framework"], board["name"]


def test_boards_table_names_every_board():
    result = run_tinyedge("boards")
    assert result.returncode == 0, result.stderr
    for name in Catalogue.load().names():
        assert name in result.stdout


def test_nano33_uses_the_1200_baud_touch_and_arduino_ids():
    board = Catalogue.load().get("nano33")
    assert board.serial.reset == "1200bps-touch"
    assert board.platformio.platform == "nordicnrf52" and board.platformio.board == "nano33ble"
    assert all(usb_id.startswith("2341:") for usb_id in board.serial.usb_ids)


@pytest.mark.parametrize("old,new,message", [
    ('timer = "systick"', 'timer = "systick"\nclok_hz = 1',
     "error: custom.toml: key 'clok_hz' is not a board setting (did you mean 'clock_hz'?)"),
    ('vendor = "QEMU"\n', "",
     "error: custom.toml: key 'vendor' is missing"),
    ('machine = "mps2-an386"\n', "",
     "error: custom.toml: key 'qemu.machine' is missing"),
    ("clock_hz = 25000000", "clock_hz = 0",
     "error: custom.toml: key 'clock_hz' is 0; it must be greater than 0"),
    ("flash_bytes = 4194304", 'flash_bytes = "4 MB"',
     "error: custom.toml: key 'flash_bytes' must be a whole number, not '4 MB'"),
    ('fpu = "fpv4-sp-d16"', 'fpu = "fpv5-d16"',
     "error: custom.toml: key 'fpu' is 'fpv5-d16', which a cortex-m4f cannot have "
     "(possible: fpv4-sp-d16)"),
    ('core = "cortex-m4f"', 'core = "cortex-m9"',
     "error: custom.toml: key 'core' is 'cortex-m9'; expected one of"),
    ('timer = "systick"', 'timer = "rtc"',
     "error: custom.toml: key 'timer' is 'rtc'; expected one of dwt, micros, systick"),
    ("usb_ids = []", 'usb_ids = ["2341-805A"]',
     "error: custom.toml: key 'serial.usb_ids' has '2341-805A'; write 'vvvv:pppp' in lower-case hex"),
    ("baud = 115200", "baud = -9600",
     "error: custom.toml: key 'serial.baud' is -9600; it must be greater than 0"),
    ('kind = "emulated"', 'kind = "platformio"',
     "error: custom.toml: key 'qemu' is only for emulated boards"),
    ('kind = "emulated"', 'kind = "fpga"',
     "error: custom.toml: key 'kind' is 'fpga'; expected one of platformio, emulated, host"),
    ('kind = "emulated"', 'kind = "emulated"\nemulated = false',
     "error: custom.toml: key 'emulated' is false but kind is 'emulated'; keep only kind"),
    ("dsp = true", "dsp = yes", "error: custom.toml is not valid TOML"),
    ('upload_protocol = "qemu"', 'upload_protocol = "qemu"\nspeed = 1',
     "error: custom.toml: key 'platformio.speed' is not a board setting"),
])
def test_bad_board_file_is_one_line_naming_file_and_key(tmp_path, old, new, message):
    line = _bad_board(tmp_path, old, new)
    assert _boards_error(line).startswith(message)


def test_dsp_on_a_core_without_it(tmp_path):
    folder = _bad_board(tmp_path, 'core = "cortex-m4f"\nfpu = "fpv4-sp-d16"',
                        'core = "cortex-m3"\nfpu = "none"')
    assert _boards_error(folder).startswith(
        "error: custom.toml: key 'dsp' is true, but a cortex-m3 has no DSP extension")


def test_real_board_needs_usb_ids_and_framework(tmp_path):
    text = VALID.replace('name = "emu-m4"', 'name = "custom"').replace('aliases = ["mps2-an386"]',
                                                                      "aliases = []")
    text = text.replace('kind = "emulated"', 'kind = "platformio"').split("[qemu]")[0]
    (tmp_path / "custom.toml").write_text(text)
    assert _boards_error(tmp_path).startswith(
        "error: custom.toml: key 'platformio.framework' is missing; a real board needs its framework")
    (tmp_path / "custom.toml").write_text(text.replace('board = "mps2-an386"',
                                                       'board = "mps2-an386"\nframework = "arduino"'))
    assert _boards_error(tmp_path).startswith(
        "error: custom.toml: key 'serial.usb_ids' is empty; a real board needs the USB ids of its port")


@pytest.mark.parametrize("old,new,message", [
    ('timer = "systick"', 'timer = "dwt"',
     "error: custom.toml: key 'timer' is 'dwt', which an emulated board cannot time with (kind 'emulated': systick)"),
    ('core = "cortex-m4f"\nfpu = "fpv4-sp-d16"\ndsp = true', 'core = "host"\nfpu = "none"\ndsp = false',
     "error: custom.toml: key 'core' is 'host', but an emulated board is not the host "
     "(only kind = \"host\" has core = \"host\")"),
])
def test_a_board_kind_fixes_its_timer_and_core(tmp_path, old, new, message):
    assert _boards_error(_bad_board(tmp_path, old, new)) == message + f" (fix {tmp_path / 'custom.toml'})"


def test_older_board_files_with_emulated_true_still_read_as_emulated(tmp_path):
    _bad_board(tmp_path, 'kind = "emulated"', "emulated = true")
    board = Catalogue.load([tmp_path]).get("custom")
    assert board.kind == "emulated" and board.qemu.machine == "mps2-an386"


def test_name_must_match_file(tmp_path):
    (tmp_path / "other.toml").write_text(VALID.replace('name = "emu-m4"', 'name = "mine"').replace(
        'aliases = ["mps2-an386"]', "aliases = []"))
    assert _boards_error(tmp_path).startswith(
        "error: other.toml: key 'name' is 'mine' but the file is other.toml; they must agree")


def test_alias_used_twice(tmp_path):
    (tmp_path / "custom.toml").write_text(VALID.replace('name = "emu-m4"', 'name = "custom"'))
    assert _boards_error(tmp_path) == (
        "error: board name 'mps2-an386' is used by both custom.toml and emu-m4.toml "
        "(give each board a unique name and aliases)")


def test_missing_board_folder(tmp_path):
    assert _boards_error(tmp_path / "nowhere").startswith(
        f"error: board folder {tmp_path / 'nowhere'} does not exist")


def test_a_valid_custom_board_joins_the_catalogue(tmp_path):
    _bad_board(tmp_path, 'title = "Emulated Cortex-M4F (QEMU mps2-an386)"', 'title = "My board"')
    result = run_tinyedge("boards", "--json", env={"TINYEDGE_BOARDS_PATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "custom" in [board["name"] for board in json.loads(result.stdout)]


def test_unknown_board_suggests_the_nearest():
    from tinyedge.errors import TinyedgeError
    with pytest.raises(TinyedgeError) as info:
        Catalogue.load().get("nano3")
    assert info.value.one_line() == ("unknown board 'nano3' (did you mean 'nano33'?) "
                                     "('tinyedge boards' lists the boards)")


def test_every_board_file_parses_as_toml_and_lists_sources():
    for path in BOARDS_DIR.glob("*.toml"):
        assert tomllib.loads(path.read_text())["sources"], path


def test_gcc_flags_per_core():
    catalogue = Catalogue.load()
    assert catalogue.get("emu-m4").gcc_flags() == [
        "-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]
    assert catalogue.get("emu-m3").gcc_flags() == ["-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"]
    assert catalogue.get("emu-m7").gcc_flags() == [
        "-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"]
