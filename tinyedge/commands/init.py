from pathlib import Path

import click

from .. import config
from ..errors import TinyedgeError
from ..fileio import write_text_atomic


def run(project_dir: Path, force: bool):
    path = project_dir / config.PROJECT_FILE
    if path.exists() and not force:
        raise TinyedgeError(f"{path} already exists", "use --force to overwrite it")
    write_text_atomic(path, config.commented_file())
    click.echo(f"wrote {path}; edit it, then run 'tinyedge build --board <name>'")
