"""A PNG of an HTML report, rendered by headless Chromium (Debian's `chromium`, which setup installs):
what the report looks like in a browser, kept beside it in the build folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import TinyedgeError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 120.0


def find_browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(page: str | Path, png: str | Path | None = None, width: int = 1280, height: int = 2400) -> Path:
    """Renders `page` (an HTML file; its images load from beside it) at width x height CSS pixels into
    `png` (default: the page's name with .png). A missing browser or a failed render is one line."""
    page = Path(page).resolve()
    if not page.is_file():
        raise TinyedgeError(f"{page} does not exist", "write the report first (bench or validate)")
    png = Path(png) if png is not None else page.with_suffix(".png")
    browser = find_browser()
    if browser is None:
        raise TinyedgeError("no headless Chromium here to render the report",
                            "install it (Debian: apt-get install --no-install-recommends chromium; "
                            "python3 -m tinyedge.bootstrap does)")
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tinyedge-chromium-") as profile:
        command = [browser, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                   "--allow-file-access-from-files", f"--user-data-dir={profile}",
                   f"--window-size={width},{height}", f"--screenshot={png.resolve()}", page.as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:   # Chromium refuses root without it
            command.insert(1, "--no-sandbox")
        png.unlink(missing_ok=True)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S,
                                  env=dict(os.environ, HOME=profile))
        except subprocess.TimeoutExpired:
            raise TinyedgeError(f"Chromium did not render {page.name} within {TIMEOUT_S:.0f} s",
                                "run it again; the report is there to open in a browser") from None
    if not png.is_file() or png.stat().st_size == 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise TinyedgeError(f"Chromium wrote no screenshot of {page.name}: {last[:200]}",
                            "open the report in a browser instead")
    return png
