"""The one page frame of tinyedge's HTML reports (validation, bench, tune): the document head, the shared
style, and the page's own additions; each report writes only its body."""

from __future__ import annotations

from html import escape

BASE_STYLE = """body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: %s; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: left; }
th { background: #f4f4f4; }
img { max-width: 100%%; }
"""


def html_document(title: str, body: str, *, width: str = "64em", style: str = "") -> str:
    """A whole HTML document: `title` as its title and first heading, then `body` (HTML)."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>\n'
            f"<style>\n{BASE_STYLE % width}{style}</style></head>\n<body>\n<h1>{escape(title)}</h1>\n"
            f"{body}</body></html>\n")
