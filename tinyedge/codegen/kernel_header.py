"""The parameter structs' typedefs in firmware/native/tinyedge_native.h, rendered from their one
definition (codegen/params.py) by templates/native/struct.h.j2. The header is committed, so the
kernels compile on their own; `python -m tinyedge.codegen.kernel_header` rewrites its typedefs after a
definition changes, and a test fails while they differ."""

from __future__ import annotations

import re
import sys

from ..console import say
from ..fileio import write_text_atomic
from . import KERNEL_DIR, KERNEL_HEADER
from .emit import render
from .params import STRUCTS, Struct

# A generated typedef in tinyedge_native.h: from its marker line to the line that closes it.
_REGION = re.compile(r"^/\* te_params: (?P<name>\w+) \(generated from tinyedge/codegen/params\.py[^\n]*\n"
                     r".*?^\} (?P=name);\n", re.MULTILINE | re.DOTALL)


def typedef(definition: type[Struct]) -> str:
    """The C typedef of one struct, with its marker line."""
    return render("native/struct.h.j2", struct=definition)


def header_with_typedefs(header: str) -> str:
    """`header` with every generated typedef rendered again from its definition. ValueError
    when a definition has no region in the header or the header has one no definition matches."""
    by_name = {s.C_NAME: s for s in STRUCTS}
    found = [m["name"] for m in _REGION.finditer(header)]
    if sorted(found) != sorted(by_name):
        raise ValueError(f"the header's generated typedefs {sorted(found)} are not the definitions' "
                         f"{sorted(by_name)}")
    return _REGION.sub(lambda m: typedef(by_name[m["name"]]), header)


def main() -> int:
    """Rewrites the typedefs of firmware/native/tinyedge_native.h from the definitions."""
    path = KERNEL_DIR / KERNEL_HEADER
    text = path.read_text()
    new = header_with_typedefs(text)
    if new != text:
        write_text_atomic(path, new)
        say(f"rewrote the parameter structs in {path}")
    else:
        say(f"{path}: the parameter structs are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
