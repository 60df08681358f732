"""What an integrator takes from the project kinds besides the sources: the Arduino library as a .zip
(the folder's exact bytes under <library>/, the same bytes for the same build) and as a PlatformIO
library (library.json, read by PlatformIO's own manifest parser and schema); the CMake project's
languages (C alone for the native runtime, C and C++ for TFLM) and its interface headers."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tinyedge.boards import Catalogue
from tinyedge.project import build_firmware, plan_project, render_project
from tinyedge.project.render import TFLM_LIBRARY_NAME, TFLM_LIBRARY_OWNER, TFLM_LIBRARY_VERSION

CATALOGUE = Catalogue.load()


def _build_library(model_case, build_dir: Path):
    return build_firmware(CATALOGUE.get("nano33"), model_case.path, build_dir, runtime="native",
                          kind="arduino-library", name=model_case.key, labels=model_case.labels,
                          test_sample=model_case.sample, console=lambda _line: None)


def _folder_files(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_the_arduino_library_zip_is_the_folder_and_the_same_bytes_for_the_same_build(tmp_path, model_case):
    first = _build_library(model_case, tmp_path / "one")
    library = f"tinyedge_{model_case.key}"
    assert first.library_zip == tmp_path / "one" / f"{library}.zip"
    assert "Add .ZIP Library" in first.next_step and str(first.library_zip) in first.next_step
    assert not first.next_step.startswith("zip ")             # no longer asks the user to make the zip
    assert first.to_json()["library_zip"] == str(first.library_zip)

    with zipfile.ZipFile(first.library_zip) as archive:
        assert archive.testzip() is None
        entries = {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
        folders = {info.filename for info in archive.infolist() if info.is_dir()}
        stamps = {info.date_time for info in archive.infolist()}
    folder = _folder_files(first.project)
    assert entries == {f"{library}/{path}": data for path, data in folder.items()}
    expected_folders = {f"{library}/"} | {f"{library}/{Path(path).parent.as_posix()}/" for path in folder
                                          if Path(path).parent != Path(".")}
    assert expected_folders <= folders and all(name.startswith(f"{library}/") for name in folders)
    assert f"{library}/src/{library}.h" in entries and f"{library}/examples/{library}/{library}.ino" in entries
    assert stamps == {(1980, 1, 1, 0, 0, 0)}

    second = _build_library(model_case, tmp_path / "two")
    assert second.library_zip.read_bytes() == first.library_zip.read_bytes()


def _platformio_manifest(folder: Path) -> dict:
    """The manifest as PlatformIO's library manager reads a library folder, checked by its schema."""
    from platformio.package.manifest.parser import ManifestParserFactory
    from platformio.package.manifest.schema import ManifestSchema
    parser = ManifestParserFactory.new_from_dir(str(folder))
    return ManifestSchema().load_manifest(parser.as_dict())


def test_the_arduino_library_is_a_platformio_library(tmp_path, model_bundle):
    board = CATALOGUE.get("nano33")
    native = render_project(model_bundle, board, plan_project(model_bundle, board, "arduino-library", "native"))
    (tmp_path / "native").mkdir()
    for name in ("library.json", "library.properties"):
        (tmp_path / "native" / name).write_text(native[name], encoding="utf-8")
    manifest = _platformio_manifest(tmp_path / "native")
    properties = dict(line.split("=", 1) for line in native["library.properties"].splitlines())
    assert manifest["name"] == properties["name"] == f"tinyedge_{model_bundle.c_name}"
    assert manifest["version"] == properties["version"] == "1.0.0"
    assert manifest["frameworks"] == ["arduino"] and manifest["platforms"] == ["*"]
    assert manifest["description"] == properties["sentence"]
    assert manifest["headers"] == [f"{manifest['name']}.h"] and f"src/{manifest['name']}.h" in native
    assert "dependencies" not in manifest

    plan = plan_project(model_bundle, board, "arduino-library", "tflm", 0.1, 30000)
    tflm = render_project(model_bundle, board, plan)
    (tmp_path / "tflm").mkdir()
    (tmp_path / "tflm" / "library.json").write_text(tflm["library.json"], encoding="utf-8")
    dependencies = _platformio_manifest(tmp_path / "tflm")["dependencies"]
    assert dependencies == [{"owner": TFLM_LIBRARY_OWNER, "name": TFLM_LIBRARY_NAME,
                             "version": TFLM_LIBRARY_VERSION}]
    assert f"depends={TFLM_LIBRARY_NAME}" in tflm["library.properties"]


def test_the_cmake_project_declares_c_alone_for_native_and_c_cxx_for_tflm(model_bundle):
    board = CATALOGUE.get("emu-m4")
    native = render_project(model_bundle, board, plan_project(model_bundle, board, "cmake", "native"))
    assert f"project(tinyedge_{model_bundle.c_name} LANGUAGES C)" in native["CMakeLists.txt"]
    assert not [path for path in native if path.endswith((".cc", ".cpp")) or "model_data" in path]
    assert "include/tinyedge.h" in native and "src/tinyedge.h" not in native
    assert [path for path in native if path.startswith("include/") and path.endswith("_model.h")]

    tflm = render_project(model_bundle, board, plan_project(model_bundle, board, "cmake", "tflm", 0.1, 30000))
    assert f"project(tinyedge_{model_bundle.c_name} LANGUAGES C CXX)" in tflm["CMakeLists.txt"]
    assert "src/model_data.cc" in tflm and "src/model_data.cc" in tflm["CMakeLists.txt"]
