"""report.md -> one self-contained report.html (figures embedded as data URIs, styles inline)."""

from __future__ import annotations

import base64
import re
from html import escape
from pathlib import Path

import markdown

STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; max-width: 1200px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1, h2, h3 { color: #111; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } tr:nth-child(even) td { background: #fafafa; }
td strong { color: #b00020; }
img { max-width: 100%; height: auto; } code { background: #f3f3f3; padding: 0 .2em; }
"""


def to_html(text: str, folder: Path, title: str) -> str:
    """Render markdown ``text`` to a standalone page; images named relative to ``folder`` are inlined."""
    body = markdown.markdown(text, extensions=["tables"])

    def inline(match: re.Match) -> str:
        path = Path(folder) / match.group(2)
        if not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f'{match.group(1)}data:image/png;base64,{data}"'

    body = re.sub(r'(<img[^>]*\bsrc=")([^"]+\.png)"', inline, body)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )
