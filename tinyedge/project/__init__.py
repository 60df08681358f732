"""Firmware projects from Jinja templates: C arrays, the tflm or native runtime, PlatformIO / Arduino
library / CMake outputs, and the firmware build driver that `tinyedge build` calls."""

from .bundle import ModelBundle, make_bundle
from .carray import parse_c_array
from .firmware import FirmwareResult, build_firmware, plan_project
from .render import KINDS, ProjectPlan, render_project
from .runtime import RuntimeChoice, choose_runtime
from .tree import listing, write_tree

__all__ = ["FirmwareResult", "KINDS", "ModelBundle", "ProjectPlan", "RuntimeChoice", "build_firmware",
           "choose_runtime", "listing", "make_bundle", "parse_c_array",
           "plan_project", "render_project", "write_tree"]
