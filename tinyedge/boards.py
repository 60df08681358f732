"""The board catalogue: one TOML file per board under boards/, validated on load.

Adding a board is adding one file. Every mistake in a file (unknown key, missing key, impossible value)
is a TinyedgeError that names the file and the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import TinyedgeError
from .resources import BOARDS_DIR
from .suggest import did_you_mean

CORES = ("cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m4f", "cortex-m7", "cortex-m33",
         "cortex-m55", "xtensa-lx7", "host")
FPUS = ("none", "fpv4-sp-d16", "fpv5-sp-d16", "fpv5-d16", "xtensa-sp")
# Which FPUs each core can carry; "none" is always possible except where the core name implies one.
CORE_FPUS = {
    "cortex-m0plus": ("none",),
    "cortex-m3": ("none",),
    "cortex-m4": ("none",),
    "cortex-m4f": ("fpv4-sp-d16",),
    "cortex-m7": ("none", "fpv5-sp-d16", "fpv5-d16"),
    "cortex-m33": ("none", "fpv5-sp-d16"),
    "cortex-m55": ("none", "fpv5-d16"),
    "xtensa-lx7": ("none", "xtensa-sp"),
    "host": ("none",),     # the machine tinyedge runs on: its C compiler decides
}
# Cores that can never have the Arm DSP extension (SMLAD and friends).
CORES_WITHOUT_DSP = ("cortex-m0plus", "cortex-m3", "xtensa-lx7", "host")
BOARDS_PATH_VARIABLE = "TINYEDGE_BOARDS_PATH"
TIMERS = ("dwt", "micros", "systick", "monotonic")
RESETS = ("none", "1200bps-touch")
USB_ID = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{4}$")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")

# How a board is driven (tinyedge.targets has one Target per kind), and what its file must then say.
# `emulated = true` in older files reads as kind = "emulated".
KINDS = ("platformio", "emulated", "host")


@dataclass(frozen=True)
class KindRules:
    qemu: bool            # a [qemu] table is required (True) or refused (False)
    framework: bool       # platformio.framework is required
    usb_ids: bool         # serial.usb_ids may not be empty (the port is found by them)
    timers: tuple[str, ...]  # what its firmware's port can time with
    host_core: bool       # core = "host" (the machine tinyedge runs on) and only then
    what: str             # "a real board", for the messages


KIND_RULES = {
    "platformio": KindRules(qemu=False, framework=True, usb_ids=True, timers=("dwt", "micros"),
                            host_core=False, what="a real board"),
    "emulated": KindRules(qemu=True, framework=False, usb_ids=False, timers=("systick",), host_core=False,
                          what="an emulated board"),
    "host": KindRules(qemu=False, framework=False, usb_ids=False, timers=("monotonic",), host_core=True,
                      what="the host"),
}

# key -> (type, required). Nested tables are described by their own dicts.
TOP_KEYS = {
    "name": (str, True),
    "aliases": (list, False),
    "title": (str, True),
    "vendor": (str, True),
    "mcu": (str, True),
    "core": (str, True),
    "fpu": (str, True),
    "dsp": (bool, True),
    "helium": (bool, False),
    "clock_hz": (int, True),
    "flash_bytes": (int, True),
    "ram_bytes": (int, True),
    "timer": (str, True),
    "kind": (str, False),
    "emulated": (bool, False),
    "sources": (list, True),
    "notes": (str, False),
    "platformio": (dict, True),
    "serial": (dict, True),
    "qemu": (dict, False),
}
PLATFORMIO_KEYS = {
    "platform": (str, True),
    "board": (str, True),
    "framework": (str, False),
    "upload_protocol": (str, True),
}
SERIAL_KEYS = {
    "baud": (int, True),
    "usb_ids": (list, True),
    "reset": (str, False),
}
QEMU_KEYS = {
    "machine": (str, True),
    "cpu": (str, True),
}


@dataclass(frozen=True)
class PlatformIO:
    platform: str
    board: str
    upload_protocol: str
    framework: str = ""


@dataclass(frozen=True)
class SerialLink:
    baud: int
    usb_ids: tuple[str, ...]
    reset: str = "none"


@dataclass(frozen=True)
class Qemu:
    machine: str
    cpu: str


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    vendor: str
    mcu: str
    core: str
    fpu: str
    dsp: bool
    clock_hz: int
    flash_bytes: int
    ram_bytes: int
    timer: str
    sources: tuple[str, ...]
    platformio: PlatformIO
    serial: SerialLink
    aliases: tuple[str, ...] = ()
    helium: bool = False
    kind: str = "platformio"           # KINDS: which tinyedge.targets Target drives it
    notes: str = ""
    qemu: Qemu | None = None
    path: Path | None = field(default=None, compare=False)

    @property
    def is_arm(self) -> bool:
        return self.core.startswith("cortex-")

    def gcc_flags(self) -> list[str]:
        """arm-none-eabi-gcc code generation flags for this core (empty for non-Arm cores)."""
        if not self.is_arm:
            return []
        cpu = "cortex-m4" if self.core == "cortex-m4f" else self.core
        flags = [f"-mcpu={cpu}", "-mthumb"]
        if self.fpu == "none":
            flags.append("-mfloat-abi=soft")
        elif self.core == "cortex-m55":
            flags.append("-mfloat-abi=hard")  # gcc picks the FPU and MVE from -mcpu
        else:
            flags += [f"-mfpu={self.fpu}", "-mfloat-abi=hard"]
        return flags

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("path")
        from .targets import for_board  # the unit is the target's (an emulator counts instructions)
        data["timer_unit"] = for_board(self).timer_unit
        return data


def _fail(path: Path, key: str, problem: str) -> TinyedgeError:
    return TinyedgeError(f"{path.name}: key '{key}' {problem}", f"fix {path}")


def _check_table(path: Path, prefix: str, table: dict, schema: dict) -> None:
    for key in table:
        if key not in schema:
            hint = did_you_mean(key, schema)
            raise _fail(path, prefix + key, f"is not a board setting{hint}")
    for key, (kind, required) in schema.items():
        if key not in table:
            if required:
                raise _fail(path, prefix + key, "is missing")
            continue
        value = table[key]
        # bool is an int in Python; a board figure written as true/false is still wrong.
        wrong_bool = kind is int and isinstance(value, bool)
        if not isinstance(value, kind) or wrong_bool:
            raise _fail(path, prefix + key, f"must be a {_type_name(kind)}, not {value!r}")


def _type_name(kind: type) -> str:
    return {str: "string", int: "whole number", bool: "true/false", list: "list",
            dict: "table"}[kind]


def _check_choice(path: Path, key: str, value: str, choices) -> None:
    if value not in choices:
        raise _fail(path, key, f"is '{value}'; expected one of {', '.join(choices)}")


def parse_board(path: Path) -> Board:
    """Load and validate one board file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TinyedgeError(f"{path.name} is not valid TOML: {exc}", f"fix {path}") from None
    _check_table(path, "", raw, TOP_KEYS)
    _check_table(path, "platformio.", raw["platformio"], PLATFORMIO_KEYS)
    _check_table(path, "serial.", raw["serial"], SERIAL_KEYS)
    if "qemu" in raw:
        _check_table(path, "qemu.", raw["qemu"], QEMU_KEYS)

    name = raw["name"]
    if name != path.stem:
        raise _fail(path, "name", f"is '{name}' but the file is {path.name}; they must agree")
    for alias in [name, *raw.get("aliases", [])]:
        if not isinstance(alias, str) or not NAME.match(alias):
            raise _fail(path, "aliases" if alias != name else "name",
                        f"has '{alias}'; names are lower-case letters, digits and '-'")
    _check_choice(path, "core", raw["core"], CORES)
    _check_choice(path, "fpu", raw["fpu"], FPUS)
    if raw["fpu"] not in CORE_FPUS[raw["core"]]:
        raise _fail(path, "fpu", f"is '{raw['fpu']}', which a {raw['core']} cannot have "
                                 f"(possible: {', '.join(CORE_FPUS[raw['core']])})")
    if raw["dsp"] and raw["core"] in CORES_WITHOUT_DSP:
        raise _fail(path, "dsp", f"is true, but a {raw['core']} has no DSP extension")
    if raw.get("helium", False) and raw["core"] != "cortex-m55":
        raise _fail(path, "helium", f"is true, but only a cortex-m55 has Helium (MVE)")
    for key in ("clock_hz", "flash_bytes", "ram_bytes"):
        if raw[key] <= 0:
            raise _fail(path, key, f"is {raw[key]}; it must be greater than 0")
    _check_choice(path, "timer", raw["timer"], TIMERS)
    if raw["timer"] == "dwt" and raw["core"] not in ("cortex-m3", "cortex-m4", "cortex-m4f",
                                                     "cortex-m7", "cortex-m33", "cortex-m55"):
        raise _fail(path, "timer", f"is 'dwt', but a {raw['core']} has no DWT cycle counter")
    if not raw["sources"] or not all(isinstance(s, str) and s for s in raw["sources"]):
        raise _fail(path, "sources", "must list where the figures come from")

    serial = raw["serial"]
    if serial["baud"] <= 0:
        raise _fail(path, "serial.baud", f"is {serial['baud']}; it must be greater than 0")
    for usb_id in serial["usb_ids"]:
        if not isinstance(usb_id, str) or not USB_ID.match(usb_id):
            raise _fail(path, "serial.usb_ids", f"has {usb_id!r}; write 'vvvv:pppp' in lower-case hex")
    _check_choice(path, "serial.reset", serial.get("reset", "none"), RESETS)

    kind = _kind(path, raw)
    rules = KIND_RULES[kind]
    if rules.qemu and "qemu" not in raw:
        raise _fail(path, "qemu", f"is missing; {rules.what} needs its QEMU machine")
    if not rules.qemu and "qemu" in raw:
        raise _fail(path, "qemu", 'is only for emulated boards (set kind = "emulated" or remove it)')
    if rules.framework and not raw["platformio"].get("framework"):
        raise _fail(path, "platformio.framework", f"is missing; {rules.what} needs its framework")
    if rules.usb_ids and not serial["usb_ids"]:
        raise _fail(path, "serial.usb_ids", f"is empty; {rules.what} needs the USB ids of its port")
    if raw["timer"] not in rules.timers:
        raise _fail(path, "timer", f"is '{raw['timer']}', which {rules.what} cannot time with "
                                   f"(kind '{kind}': {', '.join(rules.timers)})")
    if (raw["core"] == "host") != rules.host_core:
        raise _fail(path, "core", f"is '{raw['core']}', but {rules.what} "
                                  + ("runs on the host (core = \"host\")" if rules.host_core else
                                     "is not the host (only kind = \"host\" has core = \"host\")"))

    return Board(
        name=name,
        aliases=tuple(raw.get("aliases", [])),
        title=raw["title"],
        vendor=raw["vendor"],
        mcu=raw["mcu"],
        core=raw["core"],
        fpu=raw["fpu"],
        dsp=raw["dsp"],
        helium=raw.get("helium", False),
        clock_hz=raw["clock_hz"],
        flash_bytes=raw["flash_bytes"],
        ram_bytes=raw["ram_bytes"],
        timer=raw["timer"],
        kind=kind,
        sources=tuple(raw["sources"]),
        notes=raw.get("notes", ""),
        platformio=PlatformIO(**raw["platformio"]),
        serial=SerialLink(baud=serial["baud"], usb_ids=tuple(serial["usb_ids"]),
                          reset=serial.get("reset", "none")),
        qemu=Qemu(**raw["qemu"]) if "qemu" in raw else None,
        path=path,
    )


def _kind(path: Path, raw: dict) -> str:
    """kind = "platformio" | "emulated" | "host"; the older `emulated = true` means "emulated"."""
    legacy = raw.get("emulated")
    kind = raw.get("kind", "emulated" if legacy else "platformio")
    _check_choice(path, "kind", kind, KINDS)
    if legacy is not None and legacy != (kind == "emulated"):
        raise _fail(path, "emulated", f"is {str(legacy).lower()} but kind is '{kind}'; keep only kind")
    return kind


class Catalogue:
    """All boards of a folder, looked up by name or alias."""

    def __init__(self, boards: list[Board]):
        self.boards = sorted(boards, key=lambda b: (KINDS.index(b.kind), b.name))
        self._by_name: dict[str, Board] = {}
        for board in self.boards:
            for key in (board.name, *board.aliases):
                if key in self._by_name:
                    other = self._by_name[key]
                    raise TinyedgeError(
                        f"board name '{key}' is used by both {other.path.name} and {board.path.name}",
                        "give each board a unique name and aliases")
                self._by_name[key] = board

    @classmethod
    def load(cls, folders: list[Path] | None = None) -> "Catalogue":
        """The built-in boards plus those in the folders of $TINYEDGE_BOARDS_PATH (like PlatformIO's
        custom boards folder), unless folders are given."""
        if folders is None:
            extra = os.environ.get(BOARDS_PATH_VARIABLE, "")
            folders = [BOARDS_DIR] + [Path(p) for p in extra.split(os.pathsep) if p]
        files = []
        for folder in folders:
            if not Path(folder).is_dir():
                raise TinyedgeError(f"board folder {folder} does not exist",
                                    f"fix {BOARDS_PATH_VARIABLE}")
            files += sorted(Path(folder).glob("*.toml"))
        if not files:
            raise TinyedgeError(f"no board files in {', '.join(map(str, folders))}",
                                "reinstall tinyedge or add boards/*.toml")
        return cls([parse_board(path) for path in files])

    def get(self, name: str) -> Board:
        try:
            return self._by_name[name]
        except KeyError:
            hint = did_you_mean(name, self._by_name)
            raise TinyedgeError(f"unknown board '{name}'{hint}",
                                "'tinyedge boards' lists the boards") from None

    def names(self) -> list[str]:
        return [board.name for board in self.boards]
