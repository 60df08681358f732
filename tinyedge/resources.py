"""Where the project's non-Python parts (boards/, templates/, firmware/) live.

In a checkout (and an editable install) they are the package's siblings. A wheel carries them inside
the package, under tinyedge/_share/ (setup.py copies them there at build time), so an installed
tinyedge finds its boards, templates and firmware without the checkout.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SHARE_FOLDER = "_share"

_INSTALLED = PACKAGE_DIR / SHARE_FOLDER
DATA_ROOT = _INSTALLED if (_INSTALLED / "boards").is_dir() else PACKAGE_DIR.parent
BOARDS_DIR = DATA_ROOT / "boards"
TEMPLATES_DIR = DATA_ROOT / "templates"
FIRMWARE_DIR = DATA_ROOT / "firmware"
