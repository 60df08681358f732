"""TFLM from a local tree (as create_tflm_tree.py writes it), compiled once per (tree, core, compiler,
flags) into a static library in the user's cache and linked by every firmware of that core.

    library = ensure_library(tree, board)      # ~/.cache/tinyedge/tflm/<key>/libtflm.a

Why a library: the tree holds ~300 sources, and compiling them in every firmware project costs minutes
on a small machine; the linker takes only the kernels the model's op resolver registers. Why a cache
key over the tree's contents: a tree edited in place gets a new library, never a stale one.

The CMSIS-NN kernels come in with -DCMSIS_NN (the tree holds the CMSIS-NN versions of the kernels that
have them); CMSIS-NN itself picks its DSP or MVE code from the core's -mcpu. TFLM's own timer
(cortex_m_generic/micro_time.cc) wants a device header the tree lacks: it is left out, and the
firmware's TFLM glue defines tflite::GetCurrentTimeTicks over tinyedge's port (te_port_ticks).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..boards import Board
from ..console import Progress, say
from ..errors import TinyedgeError
from ..fileio import make_folder, write_error

LIBRARY_NAME = "tflm"              # -ltflm
LIBRARY_FILE = f"lib{LIBRARY_NAME}.a"
CACHE_ENV = "TINYEDGE_TFLM_CACHE"  # overrides $XDG_CACHE_HOME/tinyedge/tflm

# What the library is compiled from: TFLM and CMSIS-NN. signal/ (audio front-end ops, registered by
# their own resolver, not by MicroMutableOpResolver's builtins) and kissfft (used only by signal/) are not.
SOURCE_FOLDERS = ("tensorflow", "third_party/cmsis_nn")
SOURCE_SUFFIXES = (".cc", ".c", ".cpp")
# Include folders relative to the tree: TFLM's own, the third-party headers it reads, and CMSIS-NN's.
INCLUDE_FOLDERS = ("", "third_party/flatbuffers/include", "third_party/gemmlowp", "third_party/kissfft",
                   "third_party/ruy", "third_party/cmsis_nn", "third_party/cmsis_nn/Include",
                   "third_party/cmsis/CMSIS/Core/Include")
DEFINES = ("-DTF_LITE_STATIC_MEMORY", "-DCMSIS_NN", "-DTF_LITE_DISABLE_X86_NEON",
           "-DARM_NN_ENABLE_F16=0", "-DARM_NN_ENABLE_F32=0")
# The generator's cortex_m_generic timer needs a device header the tree does not have.
EXCLUDED = ("tensorflow/lite/micro/cortex_m_generic/micro_time.cc",)
# As the emulated platform compiles the firmware (builder/main.py), so the library and the firmware
# agree on code generation; TFLM is C++17.
COMMON_FLAGS = ("-O2", "-ffunction-sections", "-fdata-sections", "-fomit-frame-pointer")
CXX_FLAGS = ("-std=gnu++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics")
C_FLAGS = ("-std=gnu11",)
CC, CXX, AR = "arm-none-eabi-gcc", "arm-none-eabi-g++", "arm-none-eabi-gcc-ar"


def include_flags(tree: Path) -> list[str]:
    """-I flags (absolute) for a translation unit that includes TFLM from `tree`."""
    return [f"-I{tree}/{folder}".rstrip("/") for folder in INCLUDE_FOLDERS]


def firmware_flags(tree: Path) -> list[str]:
    """What the firmware's own TFLM glue is compiled with: the tree's headers and the same defines."""
    return [*include_flags(tree), *DEFINES]


def cache_root() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tinyedge" / "tflm"


def library_sources(tree: Path) -> list[str]:
    """The tree's sources that go into the library, relative to the tree, sorted."""
    found = []
    for folder in SOURCE_FOLDERS:
        for path in (tree / folder).rglob("*"):
            if path.suffix in SOURCE_SUFFIXES and path.is_file():
                relative = path.relative_to(tree).as_posix()
                if relative not in EXCLUDED:
                    found.append(relative)
    return sorted(found)


def _compiler_identity() -> str:
    try:
        done = subprocess.run([CXX, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        raise TinyedgeError(f"{CXX} is not installed, so the TFLM library cannot be compiled",
                            "run the setup step: python3 -m tinyedge.bootstrap") from None
    return done.stdout.splitlines()[0] if done.stdout else CXX


def _cpu_flags(board: Board) -> list[str]:
    flags = board.gcc_flags()
    if not flags:
        raise TinyedgeError(f"{board.name} is not an Arm board, so it cannot link the TFLM library "
                            "compiled with arm-none-eabi", "use --runtime native on this board")
    return flags


def library_key(tree: Path, board: Board) -> str:
    """A hash of everything the library is made of: every file of the tree (sources and headers), the
    core's flags, tinyedge's flags and the compiler."""
    digest = hashlib.sha256()
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        digest.update(path.relative_to(tree).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    settings = [*_cpu_flags(board), *COMMON_FLAGS, *CXX_FLAGS, *C_FLAGS, *DEFINES, *EXCLUDED,
                *SOURCE_FOLDERS, _compiler_identity()]
    digest.update("\n".join(settings).encode())
    return digest.hexdigest()[:20]


def _compile_command(tree: Path, source: str, obj: Path, cpu_flags: list[str]) -> list[str]:
    language = CXX_FLAGS if not source.endswith(".c") else C_FLAGS
    compiler = CC if source.endswith(".c") else CXX
    return [compiler, *cpu_flags, *COMMON_FLAGS, *language, *DEFINES, *include_flags(tree),
            "-c", str(tree / source), "-o", str(obj)]


def _first_error(output: str) -> str:
    for line in output.splitlines():
        if "error" in line:
            return line.strip()[:300]
    return (output.strip().splitlines() or ["no compiler output"])[0][:300]


def ensure_library(tree: Path, board: Board, jobs: int | None = None) -> Path:
    """The TFLM library for `board`'s core from `tree`: from the cache, or compiled now (in parallel,
    into a staging folder renamed into place whole; an interrupted compile's objects are reused)."""
    from ..locking import FileLock

    tree = Path(tree).resolve()
    cpu_flags = _cpu_flags(board)
    key = library_key(tree, board)
    folder = cache_root() / key
    library = folder / LIBRARY_FILE
    if library.is_file():
        return library
    make_folder(cache_root())

    def busy(pid: str) -> TinyedgeError:
        return TinyedgeError(f"another tinyedge run (pid {pid}) is compiling the TFLM library in {folder}",
                             "wait for it to finish, then run again")

    with FileLock(cache_root() / f"{key}.lock", busy):
        if library.is_file():
            return library
        sources = library_sources(tree)
        jobs = jobs or os.cpu_count() or 1
        say(f"tflm: compiling {len(sources)} sources of {tree} for {board.core} once "
            f"(cached in {folder}, {jobs} jobs)")
        # Objects already compiled by an interrupted run are kept (each is renamed into place whole).
        staging = make_folder(cache_root() / f".{key}.partial")
        try:
            objects = [staging / f"{index:04d}_{Path(source).stem}.o" for index, source in enumerate(sources)]
            progress = Progress(f"tflm: compiling for {board.core}", len(sources), "files")

            def compile_one(item: tuple[str, Path]) -> tuple[str, subprocess.CompletedProcess]:
                source, obj = item
                if obj.is_file():
                    return source, subprocess.CompletedProcess([], 0, "", "")
                partial = obj.with_suffix(".o.tmp")
                done = subprocess.run(_compile_command(tree, source, partial, cpu_flags),
                                      capture_output=True, text=True, errors="replace")
                if done.returncode == 0:
                    os.replace(partial, obj)
                return source, done

            done = 0
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                for source, result in pool.map(compile_one, zip(sources, objects)):
                    if result.returncode != 0:
                        progress.close()
                        raise TinyedgeError(f"compiling the TFLM tree failed at {source}: "
                                            f"{_first_error(result.stderr)}",
                                            f"is {tree} a tree made by create_tflm_tree.py?")
                    done += 1
                    progress(done)
            archive = staging / LIBRARY_FILE
            made = subprocess.run([AR, "rcs", str(archive), *map(str, objects)], capture_output=True, text=True)
            if made.returncode != 0:
                raise TinyedgeError(f"archiving the TFLM library failed: {_first_error(made.stderr)}",
                                    f"check the free space in {cache_root()}")
            for obj in objects:
                obj.unlink()
            os.replace(staging, folder)
        except OSError as exc:
            raise write_error(folder, exc) from None
    return library
