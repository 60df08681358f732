"""Flash and RAM of a firmware, read from its ELF the way arm-none-eabi-size (Berkeley format) counts.

text = code and read-only sections, data = initialised writable sections (in RAM, with their initial
values stored in flash), bss = zero-initialised and reserved sections. Flash = text + data;
RAM = data + bss. On tinyedge's emulated boards the stack and heap are reserved sections, so they are
inside bss (and reported on their own from the linker script's __stack_size / __heap_size).

One exception: a `.heap` section in an image whose linker script declares no `__heap_size` is the
rest of RAM handed to malloc (ArduinoCore-mbed's script sizes it to reach the stack), not memory the
firmware uses; it is left out of bss and reported as `heap_fill_bytes`. Without that, every Nano 33
firmware would read as using all 256 KB of its RAM.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from .errors import TinyedgeError


@dataclass(frozen=True)
class ElfSize:
    text: int
    data: int
    bss: int
    stack_bytes: int | None = None  # the reservation named by __stack_size, when the image has one
    heap_bytes: int | None = None
    heap_fill_bytes: int = 0        # a .heap section that only fills the RAM left over (see above)

    @property
    def flash_bytes(self) -> int:
        return self.text + self.data

    @property
    def ram_bytes(self) -> int:
        return self.data + self.bss


def read_elf_size(path: str | Path) -> ElfSize:
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise TinyedgeError(f"cannot read the firmware {path}: {exc.strerror}",
                            "build the firmware first") from None
    with handle:
        try:
            elf = ELFFile(handle)
            text = data = bss = heap_fill = 0
            symbols = _absolute_symbols(elf, ("__stack_size", "__heap_size"))
            for section in elf.iter_sections():
                kind = section_kind(section, "__heap_size" in symbols, counted=False)
                size = section["sh_size"]
                if kind == "text":
                    text += size
                elif kind == "data":
                    data += size
                elif kind == "heap_fill":
                    heap_fill += size
                elif kind == "bss":
                    bss += size
        except (ELFError, ValueError, KeyError) as exc:
            raise TinyedgeError(f"{path} is not a readable ELF file ({exc})",
                                "rebuild the firmware") from None
    return ElfSize(text=text, data=data, bss=bss, stack_bytes=symbols.get("__stack_size"),
                   heap_bytes=symbols.get("__heap_size"), heap_fill_bytes=heap_fill)


def section_kind(section, heap_named: bool, counted: bool = True) -> str | None:
    """"text", "data" or "bss" as GNU size's Berkeley format counts an allocated section (the same order
    of tests); "heap_fill" for a .heap that only fills the RAM left over (see above; None when `counted`,
    as it is for the memory map: in neither flash nor RAM); None for a section not in the image."""
    flags = section["sh_flags"]
    if not flags & SH_FLAGS.SHF_ALLOC:
        return None
    if flags & SH_FLAGS.SHF_EXECINSTR or not flags & SH_FLAGS.SHF_WRITE:
        return "text"
    if section["sh_type"] != "SHT_NOBITS":
        return "data"
    if section.name == ".heap" and not heap_named:
        return None if counted else "heap_fill"
    return "bss"


def _absolute_symbols(elf: ELFFile, names: tuple[str, ...]) -> dict[str, int]:
    table = elf.get_section_by_name(".symtab")
    if table is None:
        return {}
    found = {}
    for name in names:
        symbols = table.get_symbol_by_name(name)
        if symbols:
            found[name] = symbols[0]["st_value"]
    return found
