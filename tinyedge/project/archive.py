"""A rendered project as a .zip, the way the Arduino IDE's "Add .ZIP Library" takes a library: one top
folder named like the library, holding exactly the project's files.

The archive is a pure function of the files: entries sorted, every timestamp the zip epoch
(1980-01-01), fixed permissions and compression level, so the same build gives the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
UNIX = 3                              # ZipInfo.create_system: the mode bits below are Unix ones
FILE_MODE = 0o100644                  # a regular file, rw-r--r--
FOLDER_MODE = 0o040755                # a folder, rwxr-xr-x
MSDOS_FOLDER = 0x10                   # the folder flag readers without Unix modes look at


def _entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.create_system = UNIX
    info.external_attr = mode << 16
    return info


def _folders(paths: list[str]) -> list[str]:
    """Every folder on the way to the files (some unzippers create no folder a file's entry implies)."""
    folders = {str(parent) for path in paths for parent in PurePosixPath(path).parents if str(parent) != "."}
    return sorted(folders)


def project_zip(files: dict[str, str], top: str) -> bytes:
    """The bytes of a .zip holding `files` ({relative path: text}, written as UTF-8) under `top`/."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for folder in [top, *(f"{top}/{path}" for path in _folders(list(files)))]:
            info = _entry(f"{folder}/", FOLDER_MODE)
            info.external_attr |= MSDOS_FOLDER
            archive.writestr(info, b"")
        for path in sorted(files):
            info = _entry(f"{top}/{path}", FILE_MODE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[path].encode("utf-8"), compresslevel=9)
    return buffer.getvalue()
