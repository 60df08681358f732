"""Where a firmware's flash and RAM go, from the GNU ld map file of its link and its ELF.

Flash (text + data, as tinyedge.elfsize counts it) is split into the model's weights, the model's own
code and tables, the kernels, the runtime glue (for TFLM: the interpreter), the protocol with the board's
port, and start-up, libc and the linker's fill. RAM (data + bss) is split into the arena, the model's
input/output buffers, the stack and everything else. The split is exact: every byte of every section
elfsize counts lands in one share, so the shares add up to the ELF's flash and RAM.

The map file gives each input section (object file, output section, address, size). Inside one input
section the ELF's symbols tell the weights (the arrays the generated C places with
TINYEDGE_WEIGHTS_PLACEMENT), the arena and the I/O buffers apart; the rest of it goes to its object's
share. A host build compiles every source in one compiler call, so its objects are temporary files: the
build writes beside the map which sources they were, in the order the linker loaded them
(`<map>.sources`).

Emulated boards link with -Wl,-Map (firmware/platformio-emulated); real PlatformIO boards get the same
flag in platformio.ini and the host target passes it to the host compiler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import TinyedgeError

FLASH_SHARES = (("weights", "weights"), ("model_code", "model code"), ("kernels", "kernels"),
                ("runtime", "runtime glue"), ("protocol", "protocol and port"),
                ("startup_libc", "start-up, libc, linker fill"))
RAM_SHARES = (("arena", "arena"), ("io", "I/O buffers"), ("stack", "stack"), ("other", "other"))

MAP_FILE = "firmware.map"
SOURCES_SUFFIX = ".sources"   # a host build's list of sources, in link order

PROTOCOL_OBJECTS = {"te_protocol", "te_format", "te_layers"}
GLUE_OBJECTS = {"tinyedge_runtime", "te_adapter", "tinyedge_info", "tinyedge_sample", "tinyedge_selftest",
                "te_main", "main", "tinyedge_arduino", "run_sample", "native_harness"}
# C names, or C++ names mangled in a namespace (TFLM's glue: _ZN12_GLOBAL__N_112tensor_arenaE)
ARENA_SYMBOL = re.compile(r"(^|_|\d)arena(_storage)?E?$")
IO_SYMBOL = re.compile(r"_(input|output)_storage_E?$")
WEIGHT_ARRAY = re.compile(r"(\w+)\s*\[\s*\d+\s*\]\s*TINYEDGE_WEIGHTS_PLACEMENT")


@dataclass(frozen=True)
class InputSection:
    output: str        # the output section it was placed in
    name: str          # its own name (".text.foo", "*fill*")
    address: int
    size: int
    source: str        # the object ("lib.a(member.o)"), "fill" or "linker stubs"


@dataclass
class MemoryMap:
    flash: dict[str, int]                  # share -> bytes, FLASH_SHARES' keys, in that order
    ram: dict[str, int]                    # share -> bytes, RAM_SHARES' keys
    flash_bytes: int                       # = sum(flash.values()) = ElfSize.flash_bytes
    ram_bytes: int                         # = sum(ram.values()) = ElfSize.ram_bytes
    flash_limit: int = 0                   # the board's (or budgets.max_flash when lower)
    ram_limit: int = 0
    flash_limit_name: str = ""
    ram_limit_name: str = ""
    runtime: str = "native"
    map_file: str = ""
    flash_by_object: dict[str, int] = field(default_factory=dict)   # biggest objects, for the JSON
    # Every limit the picture draws, the board's and the project's budgets (0: not set), each with its
    # name: {"flash": [{"bytes", "name", "kind": "board" | "budget"}], "ram": [...]}
    limit_lines: dict[str, list[dict]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"flash": dict(self.flash), "ram": dict(self.ram), "flash_bytes": self.flash_bytes,
                "ram_bytes": self.ram_bytes, "flash_limit": self.flash_limit, "ram_limit": self.ram_limit,
                "flash_limit_name": self.flash_limit_name, "ram_limit_name": self.ram_limit_name,
                "limit_lines": {key: [dict(line) for line in lines] for key, lines in self.limit_lines.items()},
                "runtime": self.runtime, "map_file": self.map_file,
                "labels": {key: label for key, label in (*FLASH_SHARES, *RAM_SHARES)},
                "flash_by_object": self.flash_by_object}


def limit_lines(board, max_flash: int = 0, max_ram: int = 0) -> dict[str, list[dict]]:
    """The limits the memory picture draws: the board's flash and RAM, and budgets.max_flash / max_ram
    beside them where the project sets them (a budget above the board's figure too: it is drawn and
    named, the board stays the limit)."""
    lines: dict[str, list[dict]] = {"flash": [], "ram": []}
    for key, board_bytes, budget, budget_name in (("flash", board.flash_bytes, max_flash, "budgets.max_flash"),
                                                  ("ram", board.ram_bytes, max_ram, "budgets.max_ram")):
        if board_bytes:
            what = "flash" if key == "flash" else "RAM"
            lines[key].append({"bytes": int(board_bytes), "name": f"the {what} of {board.name}", "kind": "board"})
        if budget:
            lines[key].append({"bytes": int(budget), "name": budget_name, "kind": "budget"})
    return lines


# ---- the map file --------------------------------------------------------------------------------

_HEADER = "Linker script and memory map"
_OUTPUT = re.compile(r"^(\S+)(?:\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+))?(?:\s+load address.*)?\s*$")
_INPUT = re.compile(r"^ (\S+)(?:\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)(?:\s+(.*))?)?\s*$")
_CONTINUED = re.compile(r"^\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)(?:\s+(.*))?\s*$")
_LOAD = re.compile(r"^LOAD (.+?)\s*$")


def parse_map(text: str) -> tuple[list[InputSection], list[str]]:
    """The input sections of a GNU ld map file (with the output section each went to), and the files
    the linker loaded, in order (its LOAD lines)."""
    start = text.find(_HEADER)
    if start < 0:
        raise TinyedgeError("the linker map file has no 'Linker script and memory map' part",
                            "rebuild the firmware (it links with -Wl,-Map)")
    sections: list[InputSection] = []
    loads: list[str] = []
    output = ""
    pending: str | None = None       # an input section whose address and size are on the next line
    for line in text[start + len(_HEADER):].splitlines():
        if not line.strip():
            pending = None
            continue
        if pending is not None:
            continued = _CONTINUED.match(line)
            name, pending = pending, None
            if continued:
                sections.append(InputSection(output, name, int(continued[1], 16), int(continued[2], 16),
                                             (continued[3] or "").strip() or "linker"))
                continue
        if line.startswith("LOAD "):
            loads.append(_LOAD.match(line)[1])
            continue
        if not line[0].isspace():
            if line.startswith(("OUTPUT(", "START GROUP", "END GROUP", "INPUT(")):
                continue
            matched = _OUTPUT.match(line)
            if matched and matched[1].startswith("."):
                output = matched[1]
            continue
        if line.startswith(" *(") or line.startswith("  ") and not line.startswith(" *fill*"):
            continue   # input patterns, symbols, assignments, "(size before relaxing)"
        if line.startswith(" *fill*"):
            parts = line.split()
            if len(parts) >= 3:
                sections.append(InputSection(output, "*fill*", int(parts[1], 16), int(parts[2], 16), "fill"))
            continue
        matched = _INPUT.match(line)
        if not matched:
            continue
        if matched[2] is None:
            pending = matched[1]
        else:
            sections.append(InputSection(output, matched[1], int(matched[2], 16), int(matched[3], 16),
                                         (matched[4] or "").strip() or "linker"))
    return sections, loads


# ---- shares --------------------------------------------------------------------------------------

def _object_stem(source: str) -> tuple[str, str]:
    """(stem of the object file, archive stem or "") of "dir/lib.a(member.o)" or "dir/file.o"."""
    member = re.match(r"^(.*)\((.*)\)$", source)
    if member:
        return Path(member[2]).stem, Path(member[1]).stem
    return Path(source).stem, ""


def flash_share(source: str, runtime: str) -> str:
    """The flash share of everything one object brings (weights inside it are found by symbol)."""
    if source in ("fill", "linker stubs", "linker"):
        return "startup_libc"
    stem, archive = _object_stem(source)
    if archive == "libtflm":   # TFLM's library: members are "NNNN_<source stem>.o"
        name = stem.split("_", 1)[1] if re.match(r"^\d{4}_", stem) else stem
        return "kernels" if name.startswith("arm_") or name in _TFLM_KERNELS else "runtime"
    if stem in PROTOCOL_OBJECTS or stem.startswith("port_"):
        return "protocol"
    if stem == "model_data":
        return "weights"       # the model's flatbuffer (the TFLM runtime's model; the identity's bytes)
    if stem.endswith("_model") and archive != "libc":
        return "model_code"
    if stem in GLUE_OBJECTS:
        return "runtime"
    if stem.startswith("te_"):
        return "kernels"
    return "startup_libc"


# TFLM's kernel sources (tensorflow/lite/micro/kernels/*.cc) by stem, beyond CMSIS-NN's arm_*.
_TFLM_KERNELS = {
    "conv", "conv_common", "depthwise_conv", "depthwise_conv_common", "fully_connected",
    "fully_connected_common", "softmax", "softmax_common", "pooling", "pooling_common", "add", "add_common",
    "mul", "mul_common", "reshape", "reshape_common", "quantize", "quantize_common", "dequantize",
    "dequantize_common", "elementwise", "activations", "activations_common", "logistic", "logistic_common",
    "mean", "reduce", "reduce_common", "concatenation", "pad", "strided_slice", "strided_slice_common",
    "hard_swish", "hard_swish_common", "tanh", "tanh_common", "transpose", "squeeze", "svdf", "svdf_common",
    "prelu", "prelu_common", "leaky_relu", "leaky_relu_common", "kernel_util", "transpose_conv",
    "batch_matmul", "sub", "sub_common", "maximum_minimum", "gather", "split", "unpack", "pack",
    "resize_nearest_neighbor", "space_to_depth", "depth_to_space", "floor", "round", "exp", "sqrt"}


def _symbols(elf) -> list[tuple[int, int, str]]:
    """(address, size, name) of every sized data or function symbol."""
    table = elf.get_section_by_name(".symtab")
    if table is None:
        return []
    found = []
    for symbol in table.iter_symbols():
        if symbol["st_size"] and symbol["st_info"]["type"] in ("STT_OBJECT", "STT_FUNC"):
            found.append((symbol["st_value"], symbol["st_size"], symbol.name))
    return sorted(set(found))


def weight_arrays(project: Path) -> set[str]:
    """The names of the arrays the generated model C places as weights (TINYEDGE_WEIGHTS_PLACEMENT)."""
    names: set[str] = set()
    for path in Path(project).rglob("*_model.c"):
        if ".pio" not in path.parts:
            names.update(WEIGHT_ARRAY.findall(path.read_text(errors="replace")))
    return names


def _host_sources(map_path: Path, loads: list[str]) -> dict[str, str]:
    """A host build's temporary objects -> the sources they were compiled from (see the module doc)."""
    listing = map_path.with_name(map_path.name + SOURCES_SUFFIX)
    if not listing.is_file():
        return {}
    sources = [line for line in listing.read_text().splitlines() if line.strip()]
    temporary = [load for load in loads if Path(load).suffix == ".o" and not Path(load).is_file()
                 and Path(load).name.startswith("cc")]
    if len(temporary) != len(sources):
        return {}
    return {obj: f"{Path(source).with_suffix('.o')}" for obj, source in zip(temporary, sources)}


def find_map(elf: str | Path) -> Path | None:
    """The map file a build left beside its ELF."""
    elf = Path(elf)
    for candidate in (elf.with_suffix(".map"), elf.parent / MAP_FILE):
        if candidate.is_file():
            return candidate
    return None


def read_memory_map(elf: str | Path, map_file: str | Path | None = None, *, project: str | Path | None = None,
                    runtime: str = "native", board=None, max_flash: int = 0, max_ram: int = 0) -> MemoryMap:
    """The flash and RAM shares of the firmware `elf` (its map file: `map_file`, else found beside it);
    `project` is the generated project (its model C names the weight arrays; default: the ELF's
    folders upwards); `board` and the budgets give the limits the picture draws."""
    from elftools.elf.elffile import ELFFile

    from .elfsize import _absolute_symbols, read_elf_size, section_kind

    elf = Path(elf)
    map_path = Path(map_file) if map_file is not None else find_map(elf)
    if map_path is None or not map_path.is_file():
        raise TinyedgeError(f"there is no linker map file beside {elf}",
                            "rebuild the firmware with this tinyedge (it links with -Wl,-Map)")
    sections, loads = parse_map(map_path.read_text(errors="replace"))
    renamed = _host_sources(map_path, loads)
    if project is None:
        project = next((parent for parent in elf.parents if any(parent.glob("*.ini")) or
                        (parent / "src").is_dir()), elf.parent)
    weights = weight_arrays(Path(project))
    flash = {key: 0 for key, _ in FLASH_SHARES}
    ram = {key: 0 for key, _ in RAM_SHARES}
    by_object: dict[str, int] = {}
    with elf.open("rb") as handle:
        image = ELFFile(handle)
        symbols = _symbols(image)
        heap_named = "__heap_size" in _absolute_symbols(image, ("__heap_size",))
        for section in image.iter_sections():
            kind = section_kind(section, heap_named)
            if kind is None:
                continue
            start, size = section["sh_addr"], section["sh_size"]
            inputs = [s for s in sections if s.output == section.name and start <= s.address < start + size]
            counted = 0
            for piece in inputs:
                length = min(piece.size, start + size - piece.address)
                counted += length
                source = renamed.get(piece.source, piece.source)
                _attribute(piece, length, source, kind, section.name, runtime, weights, symbols, flash, ram,
                           by_object)
            rest = size - counted
            if kind in ("text", "data"):
                flash["startup_libc"] += rest
            if kind in ("data", "bss"):
                ram["stack" if section.name == ".stack" else "other"] += rest
    size = read_elf_size(elf)
    result = MemoryMap(flash, ram, size.flash_bytes, size.ram_bytes, runtime=runtime, map_file=str(map_path),
                       flash_by_object=dict(sorted(by_object.items(), key=lambda item: -item[1])[:15]))
    if sum(flash.values()) != size.flash_bytes or sum(ram.values()) != size.ram_bytes:
        raise TinyedgeError(f"the memory map of {elf.name} does not add up to its size "
                            f"({sum(flash.values())} of {size.flash_bytes} B flash, {sum(ram.values())} of "
                            f"{size.ram_bytes} B RAM)", "this is a tinyedge bug; please report it")
    if board is not None:
        from .footprint import limits
        (result.flash_limit, result.flash_limit_name), (result.ram_limit, result.ram_limit_name) = \
            limits(board, max_flash, max_ram)
        result.limit_lines = limit_lines(board, max_flash, max_ram)
    return result


def _attribute(piece: InputSection, length: int, source: str, kind: str, output: str, runtime: str,
               weights: set[str], symbols: list[tuple[int, int, str]], flash: dict, ram: dict,
               by_object: dict) -> None:
    """Adds one input section's `length` bytes to its shares, splitting out weights, arena and I/O."""
    share = flash_share(source, runtime)
    end = piece.address + length
    special = {"weights": 0, "arena": 0, "io": 0}
    if piece.source not in ("fill", "linker stubs", "linker"):
        for address, size, name in _inside(symbols, piece.address, end):
            if name in weights and share == "model_code":
                special["weights"] += size
            elif ARENA_SYMBOL.search(name):
                special["arena"] += size
            elif IO_SYMBOL.search(name):
                special["io"] += size
    if kind in ("text", "data"):
        flash["weights"] += special["weights"]
        flash[share] += length - special["weights"]
        if share != "weights":
            by_object[Path(source).name] = by_object.get(Path(source).name, 0) + length - special["weights"]
    if kind in ("data", "bss"):
        ram["arena"] += special["arena"]
        ram["io"] += special["io"]
        ram["stack" if output == ".stack" or piece.name.startswith(".stack") else "other"] += \
            length - special["arena"] - special["io"]


def _inside(symbols: list[tuple[int, int, str]], start: int, end: int):
    """The symbols wholly inside [start, end), each address once (aliases share an address)."""
    import bisect
    index = bisect.bisect_left(symbols, (start, 0, ""))
    seen = set()
    while index < len(symbols) and symbols[index][0] < end:
        address, size, name = symbols[index]
        if address + size <= end and address not in seen:
            seen.add(address)
            yield address, size, name
        index += 1


# ---- the picture ---------------------------------------------------------------------------------

COLORS = {"weights": "#4c72b0", "model_code": "#64b5cd", "kernels": "#55a868", "runtime": "#dd8452",
          "protocol": "#8172b3", "startup_libc": "#8c8c8c",
          "arena": "#4c72b0", "io": "#64b5cd", "stack": "#c44e52", "other": "#8c8c8c"}


ROW_SPACING = 1.4


def memory_png(memory: MemoryMap | dict, title: str = "") -> bytes:
    """Two stacked bars, flash and RAM, one segment per share, against the board's limits and budgets."""
    from .validation.report import _figure, _png
    data = memory.to_json() if isinstance(memory, MemoryMap) else memory
    figure, axes = _figure(7.6, 3.6)
    rows = (("flash", data["flash"], FLASH_SHARES, data["flash_limit"], data["flash_limit_name"]),
            ("RAM", data["ram"], RAM_SHARES, data["ram_limit"], data["ram_limit_name"]))
    drawn_lines = picture_lines(data)
    for row, (name, shares, labels, limit, limit_name) in enumerate(rows):
        y = row * ROW_SPACING      # room between the bars for a budget's label under flash's bar
        left = 0
        for key, label in labels:
            value = shares.get(key, 0)
            if not value:
                continue
            axes.barh(y, value, left=left, color=COLORS[key], edgecolor="white",
                      label=f"{name}: {label} {value:,} B")
            left += value
        for line in drawn_lines[row]:   # the board's limit above the bar, a budget below it
            color = "#c44e52" if line["kind"] == "board" else "#dd8452"
            above = line["kind"] == "board"
            axes.plot([line["bytes"]] * 2, [y - 0.45, y + 0.45], color=color,
                      linestyle="--" if above else ":")
            axes.text(line["bytes"], y - 0.47 if above else y + 0.47, f"{line['name']} {line['bytes']:,} B ",
                      fontsize=7, color=color, va="bottom" if above else "top", ha="right")
        total = sum(shares.values())
        axes.text(total, y, f" {total:,} B" + (f" ({total / limit:.1%} of {limit_name} {limit:,} B)"
                                                 if limit else ""), va="center", fontsize=8)
    axes.set_yticks([0, ROW_SPACING], ["flash", "RAM"])
    axes.invert_yaxis()
    axes.set_xlabel("bytes")
    # A limit far beyond the firmware (the host's 1 GiB) stays in the labels, off the scale.
    used = max(data["flash_bytes"], data["ram_bytes"], 1)
    drawn = [line["bytes"] for lines in drawn_lines for line in lines]
    axes.set_xlim(0, max([used, *drawn]) * 1.45)
    axes.ticklabel_format(axis="x", style="plain", useOffset=False)
    axes.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3)
    axes.set_title(title or "memory map against the board's limits and budgets")
    return _png(figure)


def picture_lines(data: dict) -> tuple[list[dict], list[dict]]:
    """The limit lines memory_png draws on the flash and the RAM bar: `limit_lines` (the board's and
    the budgets), or the one limit of a map read before budgets were drawn; a limit far beyond the
    firmware (the host's 1 GiB) stays off the scale."""
    used = max(data["flash_bytes"], data["ram_bytes"], 1)
    lines = data.get("limit_lines") or {}
    chosen = []
    for key, limit, name in (("flash", data["flash_limit"], data["flash_limit_name"]),
                             ("ram", data["ram_limit"], data["ram_limit_name"])):
        row = lines.get(key) or ([{"bytes": limit, "name": name, "kind": "board"}] if limit else [])
        chosen.append([line for line in row if line["bytes"] and line["bytes"] <= 20 * used])
    return chosen[0], chosen[1]


def memory_rows(memory: MemoryMap) -> list[tuple[str, str, int, float]]:
    """(memory, share, bytes, fraction of its total) for the report's table."""
    rows = []
    for name, shares, labels, total in (("flash", memory.flash, FLASH_SHARES, memory.flash_bytes),
                                        ("RAM", memory.ram, RAM_SHARES, memory.ram_bytes)):
        for key, label in labels:
            rows.append((name, label, shares[key], shares[key] / total if total else 0.0))
    return rows


def memory_html(memory: MemoryMap | dict, image: str | None) -> str:
    """The report's memory section: the picture and a table of the shares."""
    import html
    data = memory.to_json() if isinstance(memory, MemoryMap) else memory
    labels = data["labels"]
    rows = []
    for name, shares, total, limit in (("flash", data["flash"], data["flash_bytes"], data["flash_limit"]),
                                       ("RAM", data["ram"], data["ram_bytes"], data["ram_limit"])):
        for key, value in shares.items():
            rows.append(f"<tr><td>{name}</td><td>{html.escape(labels[key])}</td><td>{value:,} B</td>"
                        f"<td>{value / total:.1%}</td></tr>" if total else "")
        rows.append(f"<tr><th>{name}</th><th>total</th><th>{total:,} B</th><th>"
                    + (f"{total / limit:.1%} of {limit:,} B" if limit else "") + "</th></tr>")
    picture = f'<figure><img src="{html.escape(image)}" alt="memory map"><figcaption>flash and RAM ' \
              f'per share against the limits</figcaption></figure>' if image else ""
    return (f"<h2>Memory map</h2>\n{picture}\n<table class=\"memory\"><tr><th>memory</th><th>share</th>"
            f"<th>bytes</th><th>of total</th></tr>\n" + "\n".join(rows) + "</table>")
