"""Packaging hook: a wheel carries boards/, templates/ and firmware/ inside the package.

They stay at the top of the checkout, where a reader looks for them; at build time they are copied to
tinyedge/_share/ in the wheel, where tinyedge.resources finds them once installed. Everything else is
in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHARED_FOLDERS = ("boards", "templates", "firmware")   # tinyedge.resources finds them in _share/
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pio")


class BuildPyWithSharedFolders(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads them from the checkout
            return
        share = Path(self.build_lib) / "tinyedge" / "_share"
        for name in SHARED_FOLDERS:
            shutil.rmtree(share / name, ignore_errors=True)
            shutil.copytree(HERE / name, share / name, ignore=IGNORED)


setup(cmdclass={"build_py": BuildPyWithSharedFolders})
