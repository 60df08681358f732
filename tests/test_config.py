"""tinyedge.toml: defaults, overrides, and a one-line message for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyedge import config
from tinyedge.errors import TinyedgeError

from support import run_tinyedge


def _load_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "tinyedge.toml"
    path.write_text(text)
    with pytest.raises(TinyedgeError) as info:
        config.load(path)
    return info.value.one_line()


@pytest.mark.parametrize("text,message", [
    ("[distillation]\ntemprature = 2.0\n",
     "tinyedge.toml: unknown key 'distillation.temprature' (did you mean 'temperature'?)"),
    ("[budget]\nmax_ram = 1\n",
     "tinyedge.toml: unknown section [budget] (did you mean 'budgets'?)"),
    ("[distillation]\nalpha = \"high\"\n",
     "tinyedge.toml: 'distillation.alpha' must be a number, not 'high'"),
    ("[distillation]\nalpha = 1.5\n",
     "tinyedge.toml: 'distillation.alpha' is 1.5, above its maximum 1.0"),
    ("[distillation]\nepochs = 0\n",
     "tinyedge.toml: 'distillation.epochs' is 0, below its minimum 1"),
    ("[runtime]\nkind = \"nativ\"\n",
     "tinyedge.toml: 'runtime.kind' is 'nativ' (did you mean 'native'?) (choose one of auto, native, tflm)"),
    ("[budgets]\nmax_flash = true\n",
     "tinyedge.toml: 'budgets.max_flash' must be a whole number, not True"),
    ("[data]\nlabels = [1, 2]\n",
     "tinyedge.toml: 'data.labels' must be a list of strings"),
    ("project = 3\n", "tinyedge.toml: 'project' must be a table [project]"),
    ("[project\nname = 1\n", "tinyedge.toml is not valid TOML"),
])
def test_mistakes_are_one_line_naming_the_key(tmp_path, text, message):
    assert _load_error(tmp_path, text).startswith(message)


def test_values_are_read_and_integers_widen_to_floats(tmp_path):
    path = tmp_path / "tinyedge.toml"
    path.write_text("[distillation]\ntemperature = 3\nalpha = 0.25\n[project]\nname = \"kws\"\n")
    loaded = config.load(path)
    assert loaded.get("distillation.temperature") == 3.0
    assert isinstance(loaded.get("distillation.temperature"), float)
    assert loaded.get("distillation.alpha") == 0.25
    assert loaded.get("project.name") == "kws"
    assert loaded.get("student.architecture") == config.SCHEMA["student"]["architecture"].default


def test_cli_overrides_win_and_are_checked(tmp_path):
    base = config.defaults()
    changed = base.with_overrides({"distillation.epochs": 5, "runtime.kind": None})
    assert changed.get("distillation.epochs") == 5
    assert changed.get("runtime.kind") == "auto"
    assert base.get("distillation.epochs") == config.SCHEMA["distillation"]["epochs"].default
    with pytest.raises(TinyedgeError) as info:
        base.with_overrides({"distillation.epochs": 0})
    assert info.value.one_line().startswith(
        "option for distillation.epochs: 'distillation.epochs' is 0, below its minimum 1")


def test_no_project_file_means_the_built_in_example(tmp_path):
    assert config.find_and_load(tmp_path).as_dict() == config.defaults().as_dict()
    assert config.defaults().get("data.source") == "digits"


def test_build_reports_a_typo_in_the_project_file_through_the_entry_point(tmp_path):
    (tmp_path / "tinyedge.toml").write_text("[student]\narchitecure = \"tiny_cnn\"\n")
    result = run_tinyedge("build", "--board", "emu-m4", "--dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: tinyedge.toml: unknown key 'student.architecure' (did you mean 'architecture'?) "
        "(keys of [student] are " + ", ".join(config.SCHEMA["student"]) + ")")
    assert not (tmp_path / "build").exists()
