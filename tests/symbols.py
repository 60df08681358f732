"""The global symbols that tinyedge's own object files define, and the ones that break its naming rule.

Every global symbol of the firmware and generated code carries `te_`, `tinyedge_` or (issue 14) the model's
own C prefix, the one a user chose by naming the model (issue 10: Mbed's
HAL defines `port_init`, `port_read`, `port_write`, and an unprefixed name can collide with any core or
SDK). The exceptions are names an ABI fixes: the C entry point, Arduino's sketch functions, the
Cortex-M vector handlers and the newlib system calls that the bare-metal start-up provides.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

PREFIXES = ("te_", "tinyedge_")
ABI_NAMES = frozenset({
    "main", "setup", "loop",
    # newlib's system calls and C++ start-up hooks (firmware/platform/cortex-m/syscalls.c)
    "_close", "_exit", "_fini", "_fstat", "_getpid", "_init", "_isatty", "_kill", "_lseek", "_read",
    "_sbrk", "_write", "__dso_handle",
})
VECTOR_HANDLER = re.compile(r"[A-Za-z]+_Handler")   # Reset_Handler, SysTick_Handler, ... (CMSIS names)


def defined_globals(objects: list[Path], nm: str) -> dict[str, Path]:
    """{symbol: object file} for every global symbol the objects define (weak ones included; C++ names
    demangled)."""
    found: dict[str, Path] = {}
    for obj in objects:
        listing = subprocess.run([nm, "-g", "--defined-only", "--demangle", str(obj)], capture_output=True,
                                 text=True, check=True).stdout
        for line in listing.splitlines():
            parts = line.split(maxsplit=2)
            if len(parts) == 3:
                found[parts[2].split("(")[0]] = obj   # a C++ function: its name without the arguments
    return found


def unprefixed(symbols: dict[str, Path], *models: str) -> list[str]:
    """The symbols outside the naming rule, with the object that defines each; a native model's generated
    symbols carry its own C prefix (issue 14: tinyedge.project.bundle.native_prefix of each of `models`)."""
    from tinyedge.project.bundle import native_prefix
    prefixes = PREFIXES + tuple(f"{native_prefix(model)}_" for model in models)
    # A namespaced C++ name (tflite::... instantiated by the TFLM glue) cannot collide with a C symbol.
    return sorted(f"{name} ({obj.name})" for name, obj in symbols.items()
                  if not name.startswith(prefixes) and name not in ABI_NAMES
                  and not VECTOR_HANDLER.fullmatch(name) and "::" not in name)
