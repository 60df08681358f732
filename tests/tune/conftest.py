"""The tune tests' project and a real PostgreSQL server.

The project: the built-in digits example on the host target (the host C compiler, a process for a
board: fast) with a search space of four candidates, distillation of 2 epochs and a teacher of 2, trained
once per session and copied into each test's folder (so the teacher stage is cached there).

The server, for the shared study: Debian's `postgresql` binaries
(/usr/lib/postgresql/<major>/bin, found as the setup step finds them), a cluster made with initdb in a
temporary folder, started with pg_ctl on a unix socket in that folder and no TCP at all, one database
created in it, stopped (fast) and removed after the test. PostgreSQL refuses to run as root, so when the
tests run as root the server's commands run as Debian's `postgres` user (runuser)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tinyedge import bootstrap

DATABASE = "tinyedge"
# Four candidates (width x temperature), every other list one value: a trial is ~10 s on the host target.
TUNE_TOML = """\
[project]
name = "digits"
board = "host"

[data]
source = "digits"

[teacher]
epochs = 2

[budgets]
min_accuracy = 0.0

[tune]
trials = 2
widths = [0.5, 0.75]
depths = [1]
temperatures = [2.0, 4.0]
alphas = [0.5]
prune = ["off"]
clusters = ["off"]
qat = [false]
low_rank = ["off"]
epochs = 2
"""


@pytest.fixture(scope="session")
def tune_template(tmp_path_factory) -> Path:
    """A project folder whose tune teacher (build/host/tune/teacher) is trained, made once."""
    from tinyedge import api
    from tinyedge.tune.trial import prepare_teacher
    folder = tmp_path_factory.mktemp("tune-template")
    (folder / "tinyedge.toml").write_text(TUNE_TOML)
    teacher = prepare_teacher(api.open_project(folder), lambda line: None)
    assert teacher.status == "ran"
    return folder


@pytest.fixture
def tune_project(tune_template, tmp_path) -> Path:
    """A copy of the template in the test's own folder: its teacher cached, no study yet."""
    folder = tmp_path / "digits"
    shutil.copytree(tune_template, folder)
    return folder


@dataclass
class PostgresServer:
    bin: Path            # the server binaries' folder
    folder: Path         # the temporary folder: data/ (the cluster), the socket, server.log
    url: str             # postgresql://postgres@/tinyedge?host=<folder>

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"


def _as_server_user() -> tuple[list[str], int | None, int | None]:
    """The command prefix that runs a server command as a user PostgreSQL accepts, and that user's ids
    (None, None for the current user)."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("the tests run as root and there is no `postgres` user to run PostgreSQL as "
                    "(Debian's postgresql package creates it)")
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("the tests run as root and runuser (util-linux) is missing to start PostgreSQL as `postgres`")
    return [runuser, "-u", "postgres", "--"], user.pw_uid, user.pw_gid


def _run(prefix: list[str], server: PostgresServer, *command: str | Path, timeout: float = 60) -> None:
    result = subprocess.run([*prefix, *map(str, command)], cwd=server.folder, capture_output=True, text=True,
                            timeout=timeout, env=dict(os.environ, LC_ALL="C", LANG="C"))
    if result.returncode != 0:
        log = server.log.read_text(errors="replace")[-3000:] if server.log.exists() else ""
        raise AssertionError(f"{Path(str(command[0])).name} failed ({result.returncode}):\n"
                             f"{result.stdout}{result.stderr}\nserver log:\n{log}")


@pytest.fixture
def postgres_server() -> PostgresServer:
    binaries = bootstrap.postgresql_bin()
    if binaries is None:
        pytest.skip(f"Debian's postgresql is not installed (no initdb under {bootstrap.POSTGRESQL_BIN_GLOB}); "
                    f"python3 -m tinyedge.bootstrap installs it")
    prefix, uid, gid = _as_server_user()
    # A short folder under /tmp: a unix socket's path is limited to 107 bytes (pytest's tmp_path can be longer).
    folder = Path(tempfile.mkdtemp(prefix="tinyedge-pg-"))
    if uid is not None:
        os.chown(folder, uid, gid)
    server = PostgresServer(binaries, folder, f"postgresql://postgres@/{DATABASE}?host={folder}")
    started = False
    try:
        _run(prefix, server, binaries / "initdb", "-D", server.data, "-U", "postgres", "--auth=trust",
             "--no-locale", "-E", "UTF8", "--no-sync")
        options = (f"-c unix_socket_directories={folder} -c listen_addresses='' -c port=5432 "
                   f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        # -w: pg_ctl returns once the server accepts connections (or fails after -t seconds).
        _run(prefix, server, binaries / "pg_ctl", "-D", server.data, "-l", server.log, "-o", options,
             "-w", "-t", "60", "start", timeout=90)
        started = True
        _run(prefix, server, binaries / "pg_isready", "-h", folder, "-U", "postgres", "-t", "30")
        _run(prefix, server, binaries / "createdb", "-h", folder, "-U", "postgres", DATABASE)
        yield server
    finally:
        if started:
            _run(prefix, server, binaries / "pg_ctl", "-D", server.data, "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgresql_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh database on a real PostgreSQL server (Optuna's RDB storage through psycopg2)."""
    return postgres_server.url
