"""The entry point as a user meets it: help, version, the verbs, `init`."""

from __future__ import annotations

import tomllib

import pytest

from tinyedge import __version__, config

from support import run_tinyedge

VERBS = ["init", "boards", "build", "inspect", "infer", "flash", "validate", "bench"]


def test_help_lists_every_verb():
    result = run_tinyedge("--help")
    assert result.returncode == 0
    for verb in VERBS:
        assert f"  {verb} " in result.stdout


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help(verb):
    result = run_tinyedge(verb, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: tinyedge {verb} [OPTIONS]")


def test_version():
    result = run_tinyedge("--version")
    assert result.stdout.strip() == f"tinyedge, version {__version__}"


def test_unknown_verb_is_a_usage_error():
    result = run_tinyedge("biuld")
    assert result.returncode == 2
    assert "No such command 'biuld'" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_writes_a_commented_project_file_that_loads(tmp_path):
    result = run_tinyedge("init", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "tinyedge.toml").read_text()
    assert text == config.commented_file()
    parsed = tomllib.loads(text)
    assert set(parsed) == set(config.SCHEMA)
    # every key is documented by a comment line just above it
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if " = " in line and not line.startswith("#"):
            assert lines[index - 1].startswith("# "), line
    assert config.load(tmp_path / "tinyedge.toml").as_dict() == config.defaults().as_dict()


def test_init_keeps_an_existing_file(tmp_path):
    (tmp_path / "tinyedge.toml").write_text("[project]\nname = \"mine\"\n")
    result = run_tinyedge("init", "--dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == (f"error: {tmp_path / 'tinyedge.toml'} already exists "
                             "(use --force to overwrite it)\n")
    assert (tmp_path / "tinyedge.toml").read_text() == "[project]\nname = \"mine\"\n"
    assert run_tinyedge("init", "--dir", str(tmp_path), "--force").returncode == 0
    assert (tmp_path / "tinyedge.toml").read_text() == config.commented_file()
