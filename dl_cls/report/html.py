"""report.html: the report as one offline file (images inlined as base64, no scripts, no links out), for teams
that share results in chat."""
from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
         "pre{background:#f6f6f6;padding:8px;overflow:auto}img{max-width:100%}")


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<h2>{html.escape(alt)}</h2><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(path: Path, title: str) -> str:
    df = pd.read_csv(path)
    return f"<h2>{html.escape(title)}</h2>" + df.to_html(index=False, float_format=lambda v: f"{v:.3f}",
                                                        na_rep="", border=0)


def report_html(out: Path, title: str) -> str:
    """The page for the report files already written in `out` (summary.md, the CSVs, the PNGs)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<pre>{html.escape((out / 'summary.md').read_text(encoding='utf-8'))}</pre>"]
    if (out / "confusion_matrix.png").is_file():
        parts.append(_img(out / "confusion_matrix.png", "Confusion matrix"))
    for name, what in (("per_class.csv", "Per class"), ("confused_pairs.csv", "Most confused pairs"),
                       ("suggested_groups.csv", "Suggested specialist groups")):
        if (out / name).is_file():
            parts.append(_table(out / name, what))
    if (out / "errors.png").is_file():
        parts.append(_img(out / "errors.png", "Misclassified OOF images (most confident first)"))
    return "\n".join(parts) + "\n</body></html>\n"
