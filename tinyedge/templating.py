"""The one way tinyedge writes C and project files: Jinja templates under templates/.

Two layouts share the loader, the strictness and the error: project files keep Jinja's default
whitespace (their listings are golden), the native model C trims block lines (`compact`), so its
loops print no blank lines. A missing value is an error naming the template, never an empty string."""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

import jinja2
import numpy as np

from .errors import TinyedgeError
from .resources import TEMPLATES_DIR


def c_float(value: float) -> str:
    """A float32 (a scale, a zero point's real value) as a C float literal that converts back to the
    same float32; every template prints floats with it."""
    text = repr(float(np.float32(value)))
    return (text if "e" in text or "." in text else text + ".0") + "f"


@lru_cache(maxsize=2)
def _environment(compact: bool) -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                     trim_blocks=compact, lstrip_blocks=compact, autoescape=False)
    environment.filters["c_float"] = c_float
    return environment


def render(template: str, context: dict, *, filters: dict[str, Callable] | None = None,
           compact: bool = False) -> str:
    """`template` (a path under templates/) rendered with `context` and the extra `filters`."""
    environment = _environment(compact)
    if filters:  # before loading: Jinja checks a template's filters when it compiles it
        environment.filters.update(filters)  # the same functions each call: idempotent
    try:
        return environment.get_template(template).render(**context)
    except jinja2.UndefinedError as exc:  # a template bug, not a user error: name the template
        raise TinyedgeError(f"template {template} uses an undefined value ({exc.message})",
                            "this is a bug in tinyedge; please report it") from None
