"""The tour's report: one self-contained HTML file (figures embedded as PNG data URIs)."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import importlib.metadata
import platform
import sys
from pathlib import Path

from .._config import show_config
from .._io import atomic_write

_PACKAGES = ("numpy", "scipy", "scikit-learn", "torch", "matplotlib", "dask", "distributed")

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; line-height: 1.4 }
h1 { margin-bottom: 0.2em } h2 { margin-top: 2em; border-bottom: 1px solid #ccc }
.meta, .lecture { color: #666 } .status { font-size: 0.8em; padding: 2px 8px; border-radius: 8px; color: white }
.ok { background: #2a7 } .skipped { background: #999 } .failed { background: #c33 }
table { border-collapse: collapse; margin: 0.6em 0 }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em }
img { max-width: 100%; display: block; margin: 0.6em 0 }
"""


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_html(path: Path, results, *, quick: bool, seed: int, seconds: float, threads: int) -> Path:
    """Write the report atomically (temporary file, then rename) and return its path."""
    e = html.escape
    build = show_config(mode="dicts")
    rows = []
    for r in results:
        badge = f'<span class="status {r.status}">{r.status}</span>'
        rows.append(f"<tr><td><a href='#{r.key}'>{e(r.title)}</a></td><td>{e(r.lecture)}</td>"
                    f"<td>{badge}</td><td>{r.seconds:.1f} s</td></tr>")
    sections = []
    for r in results:
        parts = [f"<h2 id='{r.key}'>{e(r.title)} <span class='status {r.status}'>{r.status}</span></h2>",
                 f"<p class='lecture'>Lecture: {e(r.lecture)} &middot; {r.seconds:.1f} s</p>"]
        if r.numbers:
            parts.append("<table>" + "".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in r.numbers)
                         + "</table>")
        if r.text:
            parts.append(f"<pre>{e(r.text)}</pre>")
        for png in r.figures:
            parts.append(f"<img alt='{e(r.title)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
        if r.files:
            parts.append("<p>Files: " + ", ".join(f"<a href='{e(f)}'>{e(f)}</a>" for f in r.files) + "</p>")
        if r.note:
            label = {"skipped": "Skipped", "failed": "Failed"}.get(r.status, "Note")
            parts.append(f"<p><b>{label}:</b></p><pre>{e(r.note)}</pre>")
        sections.append("\n".join(parts))
    env = {**_versions(), "mlsci_fast": build.get("version", "?"), "compiler": build.get("compiler", "?"),
           "threads": str(threads), "platform": platform.platform()}
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mlsci_fast tour</title><style>{_CSS}</style></head>
<body>
<h1>mlsci_fast: a tour of Machine Learning in Sciences</h1>
<p class="meta">{"quick" if quick else "full"} tour, seed {seed}, {threads} threads,
{sum(r.status == "ok" for r in results)} of {len(results)} parts ran in {seconds:.0f} s,
{_dt.datetime.now().strftime("%Y-%m-%d %H:%M")}</p>
<table><tr><th>part</th><th>lecture</th><th>status</th><th>time</th></tr>{"".join(rows)}</table>
{"".join(sections)}
<h2>Environment</h2>
<table>{"".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in env.items())}</table>
</body></html>
"""
    atomic_write(path, lambda f: f.write(page.encode("utf-8")), ".html")
    return path
