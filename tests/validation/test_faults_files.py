"""Fault injection on the files around a build (issue 11): unwritable folders (immutable with chattr,
a read-only mount), a second run in a busy build folder, a project folder that does not exist, a data
file that is no array archive, and a failed rebuild that must not make manifest.json describe a run
whose artifacts were never written. Each case asserts the exact one-line message, exit status 1, and
that every earlier artifact is byte for byte what it was.

Runs as root in CI, where permission bits stop nothing: an immutable folder (chattr +i) or a read-only
tmpfs mount is what makes a folder unwritable there; a case skips when the machine cannot make one.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support import run_tinyedge

IMMUTABLE = "Operation not permitted (make it writable (an immutable file or folder: chattr -i) or choose another folder)"


def _fingerprint(folder: Path) -> dict[str, str]:
    """Every artifact's hash (the lock file holds the last holder's pid, and .pio PlatformIO's cache)."""
    from tinyedge.locking import BUILD_FOLDER_LOCK
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and ".pio" not in path.parts and path.name != BUILD_FOLDER_LOCK}


@contextlib.contextmanager
def immutable(folder: Path):
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)],
                                                          capture_output=True).returncode != 0:
        pytest.skip(f"cannot make {folder} immutable here (chattr +i)")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.fixture
def project_copy(validated_digits, tmp_path) -> Path:
    """A finished build of the built-in example (validated in QEMU), copied so a case may break it."""
    folder = tmp_path / "project"
    shutil.copytree(validated_digits.folder, folder)
    return folder


def _one_line_error(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 1, run.stderr[-2000:]
    lines = run.stderr.strip().splitlines()
    assert "Traceback" not in run.stderr
    return lines[-1]


def test_init_into_an_immutable_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    with immutable(folder):
        run = run_tinyedge("init", "--dir", str(folder))
    assert _one_line_error(run) == f"error: cannot write {folder / 'tinyedge.toml'}: {IMMUTABLE}"
    assert list(folder.iterdir()) == []


def test_init_into_a_read_only_file_system(tmp_path):
    folder = tmp_path / "mounted"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here")
    try:
        run = run_tinyedge("init", "--dir", str(folder))
    finally:
        subprocess.run(["umount", str(folder)], check=True)
    assert _one_line_error(run) == (f"error: cannot write {folder / 'tinyedge.toml'}: Read-only file system "
                                    "(the file system is read-only; choose a folder on a writable one)")


@pytest.mark.slow
@pytest.mark.emulated
def test_build_into_an_immutable_build_folder_keeps_every_artifact(project_copy):
    build_dir = project_copy / "build" / "emu-m4"
    before = _fingerprint(build_dir)
    with immutable(build_dir):
        run = run_tinyedge("build", "--board", "emu-m4", "--dir", str(project_copy))
    assert _one_line_error(run) == f"error: cannot write {build_dir / 'report.json'}: {IMMUTABLE}"
    assert _fingerprint(build_dir) == before


@pytest.mark.slow
@pytest.mark.emulated
def test_infer_into_an_immutable_folder(project_copy, tmp_path):
    from tinyedge.tflite.model import parse
    model = project_copy / "build" / "emu-m4" / "model.tflite"
    shape = parse(model.read_bytes()).main.input_tensors()[0].shape
    np.save(tmp_path / "x.npy", np.zeros((2, *shape[1:]), dtype=np.int8))
    out = tmp_path / "out"
    out.mkdir()
    with immutable(out):
        run = run_tinyedge("infer", "--model", str(model), "--runtime", "tflm", "--input",
                           str(tmp_path / "x.npy"), "--output", str(out / "y.npy"))
    assert _one_line_error(run) == f"error: cannot write {out / 'y.npy'}: {IMMUTABLE}"
    assert list(out.iterdir()) == []


def _run_while_another_process_holds(build_dir: Path, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    """`tinyedge ARGS` while another process holds the build folder's lock; returns the run and its pid."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tinyedge.locking import build_folder_lock\n"
         "with build_folder_lock(sys.argv[1]):\n    print('held', flush=True); sys.stdin.read()",
         str(build_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        return run_tinyedge(*args), holder.pid
    finally:
        holder.communicate("", timeout=30)


@pytest.mark.slow
@pytest.mark.emulated
def test_a_second_run_in_a_busy_build_folder_names_the_holder(project_copy):
    build_dir = project_copy / "build" / "emu-m4"
    before = _fingerprint(build_dir)
    run, holder = _run_while_another_process_holds(build_dir, "build", "--board", "emu-m4", "--dir",
                                                   str(project_copy))
    assert _one_line_error(run) == (f"error: the build folder {build_dir} is in use by another tinyedge run "
                                    f"(pid {holder}) (wait for that run to finish, or stop it)")
    assert _fingerprint(build_dir) == before


def test_build_in_a_folder_that_does_not_exist(tmp_path):
    missing = tmp_path / "no such project"
    run = run_tinyedge("build", "--board", "emu-m4", "--dir", str(missing))
    assert _one_line_error(run) == (f"error: project folder {missing} does not exist (pass an existing folder "
                                    "with --dir (tinyedge init --dir FOLDER makes one))")
    assert not missing.exists()


@pytest.mark.slow
@pytest.mark.emulated
def test_a_failed_rebuild_leaves_the_manifest_and_artifacts_as_they_were(project_copy):
    """The data file is replaced by text: the build stops at the data stage with numpy's advice to
    unpickle left out, and manifest.json still describes the artifacts beside it."""
    (project_copy / "broken.npz").write_text("x_train,y_train\n1,2\n")
    project_file = project_copy / "tinyedge.toml"
    text = project_file.read_text()
    assert '\nsource = "digits"' in text
    project_file.write_text(text.replace('\nsource = "digits"', '\nsource = "broken.npz"', 1))
    build_dir = project_copy / "build" / "emu-m4"
    before = _fingerprint(build_dir)
    run = run_tinyedge("build", "--board", "emu-m4", "--dir", str(project_copy))
    assert _one_line_error(run) == ("error: broken.npz is not a readable .npz archive (not an .npz or .npy "
                                    "array file) (save the data with numpy.savez)")
    assert _fingerprint(build_dir) == before


@pytest.mark.slow
@pytest.mark.parametrize("verb", ["validate", "flash"])
@pytest.mark.emulated
def test_validate_and_flash_wait_for_nobody_in_a_busy_build_folder(project_copy, verb):
    """Two validate runs on one project: the second is refused at once, instead of failing on the
    firmware folder the first one replaced."""
    build_dir = project_copy / "build" / "emu-m4"
    run, holder = _run_while_another_process_holds(build_dir, verb, "--board", "emu-m4", "--dir",
                                                   str(project_copy))
    assert _one_line_error(run) == (f"error: the build folder {build_dir} is in use by another tinyedge run "
                                    f"(pid {holder}) (wait for that run to finish, or stop it)")
