"""bench's files in its build folder: bench.json (every figure of the BenchResult), bench.html (the
summary, the agreement on every input, the per-layer chart and table with --layers, the memory map)
and the plots it shows (bench-layers.png, bench-memory.png). Each is written atomically."""

from __future__ import annotations

import html
from pathlib import Path

from .htmlpage import html_document
from .fileio import write_bytes_atomic, write_json_atomic, write_text_atomic

JSON_FILE = "bench.json"
HTML_FILE = "bench.html"
LAYERS_PNG = "bench-layers.png"
MEMORY_PNG = "bench-memory.png"


def write_bench_report(result, folder: str | Path) -> list[str]:
    """Writes the report of one bench run into `folder`; returns the paths written."""
    from .validation.profile import layers_png, memory_png

    folder = Path(folder)
    data = result.to_json()
    written = []
    images = {}
    if data.get("layers"):
        write_bytes_atomic(folder / LAYERS_PNG, layers_png(data["layers"], f"time per layer: {data['model']} "
                                                                          f"on {data['board']}"))
        images["layers"] = LAYERS_PNG
    else:
        (folder / LAYERS_PNG).unlink(missing_ok=True)
    if data.get("memory"):
        write_bytes_atomic(folder / MEMORY_PNG, memory_png(data["memory"], f"memory map: {data['model']} "
                                                                           f"on {data['board']}"))
        images["memory"] = MEMORY_PNG
    write_json_atomic(folder / JSON_FILE, data)
    write_text_atomic(folder / HTML_FILE, bench_html(data, images))
    written += [str(folder / JSON_FILE), str(folder / HTML_FILE), *(str(folder / name) for name in images.values())]
    return written


def bench_html(data: dict, images: dict[str, str]) -> str:
    from .bench import BenchResult, report_lines
    from .validation.profile import layers_html, memory_html

    escape = html.escape
    title = f"tinyedge bench: {data['model']} on {data['board']} ({data['runtime']} runtime)"
    fields = {name: data.get(name) for name in BenchResult.__dataclass_fields__}
    summary = "\n".join(report_lines(BenchResult(**fields))[1:])
    summary = summary.split("\n  per layer")[0].split("\n  flash by share")[0]
    samples = "\n".join(
        f"<tr><td>{index}</td><td><code>{escape(row['device'])}</code></td><td><code>{escape(row['tflm'])}"
        f"</code></td><td>{'equal' if row['device'] == row['tflm'] else 'DIFFERS'}</td></tr>"
        for index, row in enumerate(data.get("sample_outputs") or []))
    layers = layers_html(data["layers"], images.get("layers")) if data.get("layers") else ""
    memory = memory_html(data["memory"], images.get("memory")) if data.get("memory") else ""
    return html_document(title, f"""<pre>{escape(summary)}</pre>
<h2>Outputs against TFLM: {data['samples_equal']}/{data['samples']} equal</h2>
<table><tr><th>input</th><th>device output</th><th>TFLM output</th><th></th></tr>
{samples}</table>
{layers}
{memory}
<p>All figures: <a href="{JSON_FILE}">{JSON_FILE}</a>.</p>
""", width="64em",
                     style="td:nth-child(n+5) { text-align: right; }\ntr.sum th { background: #e8eef8; }\nfigure { margin: 1em 0; }\npre { background: #f8f8f8; padding: 0.8em; }\n")
