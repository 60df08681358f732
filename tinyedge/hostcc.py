"""Compile generated C with the host compiler, cached by content hash, and run it as a batch harness.

The cache lives in `$XDG_CACHE_HOME/tinyedge/native` (default `~/.cache/tinyedge/native`): one folder
per hash of every source text, the compiler's identity and the flags, holding the executable. A crash
of the compiled program becomes a TinyedgeError rather than taking Python down with it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import TinyedgeError

DEFAULT_FLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra")
HARNESS_NAME = "harness.c"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tinyedge" / "native"


def find_compiler() -> str:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    raise TinyedgeError("no host C compiler found (tried $CC, cc, gcc, clang)",
                        "install gcc (Debian: apt-get install gcc), or use --runtime tflm")


def _compiler_identity(compiler: str) -> str:
    try:
        result = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=60)
    except OSError as exc:
        raise TinyedgeError(f"cannot run the C compiler '{compiler}': {exc.strerror}",
                            "install gcc, or use --runtime tflm") from None
    return result.stdout.splitlines()[0] if result.stdout else compiler


@dataclass
class Executable:
    path: Path
    cached: bool          # True when it came from the cache without compiling
    text_bytes: int       # size of the machine code (.text of the objects), for reporting


def _text_size(objects: list[Path]) -> int:
    """Sum of the .text sections of `objects` (binutils `size`); 0 when `size` is unavailable."""
    if not shutil.which("size"):
        return 0
    result = subprocess.run(["size", "-A", *map(str, objects)], capture_output=True, text=True)
    total = 0
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == ".text" and parts[1].isdigit():
            total += int(parts[1])
    return total


def compile_program(sources: dict[str, str], flags: tuple[str, ...] = DEFAULT_FLAGS,
                    libraries: tuple[str, ...] = ("-lm",)) -> Executable:
    """Compiles the C files in `sources` (name -> text; headers included) into one executable,
    or returns the cached one. Warnings are not errors here; the tests compile with -Werror."""
    compiler = find_compiler()
    digest = hashlib.sha256()
    for part in (_compiler_identity(compiler), *flags, *libraries):
        digest.update(part.encode() + b"\0")
    for name in sorted(sources):
        digest.update(name.encode() + b"\0" + sources[name].encode() + b"\0")
    key = digest.hexdigest()[:32]
    folder = cache_root() / key
    executable = folder / "program"
    if executable.exists():
        size_file = folder / "text_bytes"
        text = int(size_file.read_text()) if size_file.exists() else 0
        return Executable(executable, True, text)

    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=folder.parent))
    try:
        for name, text in sources.items():
            (work / name).write_text(text)
        objects = []
        for name in sorted(n for n in sources if n.endswith(".c")):
            obj = work / (name[:-2] + ".o")
            result = subprocess.run([compiler, *flags, "-I", str(work), "-c", name, "-o", obj.name],
                                    cwd=work, capture_output=True, text=True)
            if result.returncode != 0:
                first = next((line for line in result.stderr.splitlines() if "error" in line),
                             result.stderr.strip().splitlines()[0] if result.stderr.strip() else "")
                raise TinyedgeError(f"the host compiler failed on {name}: {first}",
                                    "this is a tinyedge bug; please report it, and use --runtime tflm")
            objects.append(obj)
        result = subprocess.run([compiler, *[o.name for o in objects], "-o", "program", *libraries],
                                cwd=work, capture_output=True, text=True)
        if result.returncode != 0:
            raise TinyedgeError(f"linking the native runtime failed: {result.stderr.strip()[:200]}",
                                "this is a tinyedge bug; please report it, and use --runtime tflm")
        text_bytes = _text_size([o for o in objects if o.name != HARNESS_NAME[:-2] + ".o"])
        (work / "text_bytes").write_text(str(text_bytes))
        for obj in objects:
            obj.unlink()
        try:
            os.replace(work, folder)  # atomic publish; a concurrent winner is just as good
        except OSError:
            shutil.rmtree(work, ignore_errors=True)
        return Executable(executable, False, text_bytes)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


FIRMWARE_FLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra")


def compile_folders(project: Path, folders: tuple[str, ...], output: Path,
                    flags: tuple[str, ...] = FIRMWARE_FLAGS, map_file: bool = False) -> bool:
    """Compiles every .c file of `folders` (relative to `project`, each also an include folder) into the
    executable `output`. Returns False when `output` was already made from the same sources, flags and
    compiler (and is unchanged since), True when it was compiled now. A compiler error is one line.
    With `map_file`, the linker also writes `output`.map and tinyedge.memory_map's list of the sources
    in link order beside it (<map>.sources)."""
    compiler = find_compiler()
    sources = sorted(path for folder in folders for path in (project / folder).glob("*.c"))
    headers = sorted(path for folder in folders for path in (project / folder).glob("*.h"))
    digest = hashlib.sha256()
    for part in (_compiler_identity(compiler), *flags, *(("map",) if map_file else ())):
        digest.update(part.encode() + b"\0")
    for path in (*sources, *headers):
        digest.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes() + b"\0")
    stamp = output.with_name(output.name + ".sha256")
    wanted = digest.hexdigest()
    if output.is_file() and stamp.is_file() and stamp.read_text().split() == \
            [wanted, hashlib.sha256(output.read_bytes()).hexdigest()]:
        return False
    output.parent.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    linked = output.with_suffix(".map")
    command = [compiler, *flags, *(f"-I{project / folder}" for folder in folders),
               *(str(path) for path in sources), "-lm", "-o", str(output),
               *((f"-Wl,-Map={linked}",) if map_file else ())]
    result = subprocess.run(command, capture_output=True, text=True, cwd=project)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        first = next((line for line in lines if "error" in line), lines[0] if lines else "")
        raise TinyedgeError(f"the host compiler failed on {project.name}: {first.strip()}",
                            f"command: {' '.join(command)}")
    if map_file:   # the compiler's temporary objects, in the map's LOAD order, are these sources
        linked.with_name(linked.name + ".sources").write_text(
            "".join(f"{path.relative_to(project)}\n" for path in sources))
    stamp.write_text(f"{wanted} {hashlib.sha256(output.read_bytes()).hexdigest()}\n")
    return True


def run_program(executable: Path, stdin: bytes, timeout: float = 600.0) -> bytes:
    """Runs the compiled program with `stdin`; returns its stdout. A crash, a non-zero exit or a
    timeout is a TinyedgeError."""
    try:
        result = subprocess.run([str(executable)], input=stdin, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TinyedgeError(f"the native runtime did not finish within {timeout:.0f} s",
                            "use --runtime tflm, and please report this") from None
    if result.returncode < 0:
        name = signal.Signals(-result.returncode).name
        raise TinyedgeError(f"the native runtime crashed ({name})",
                            "this is a tinyedge bug; please report it, and use --runtime tflm")
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise TinyedgeError(f"the native runtime failed: {message[-1] if message else result.returncode}",
                            "this is a tinyedge bug; please report it")
    return result.stdout


def progress(message: str) -> None:
    from .console import say
    say(message)
