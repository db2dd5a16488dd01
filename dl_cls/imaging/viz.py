"""Image grids with captions, drawn with OpenCV's built-in Hershey fonts so no font files are needed.

Shared by the sample dataset's contact sheet, the augment preview and the report's error gallery.
"""
from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from dl_cls.core.io import atomic_write_bytes, encode_image

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_MAX_LINES = 3


def _text_width(text: str, scale: float) -> int:
    return cv2.getTextSize(text, _FONT, scale, 1)[0][0]


def _wrap(text: str, width: int, scale: float) -> list[str]:
    """Greedy wrap at spaces/underscores/hyphens (class names are snake_case); keeps the separators."""
    words = [w for w in re.split(r"(?<=[ _\-/])", text) if w]
    lines: list[str] = []
    for word in words:
        if lines and _text_width(lines[-1] + word, scale) <= width:
            lines[-1] += word
        else:
            lines.append(word)
    return [line.rstrip() for line in lines] or [""]


def _fit_caption(text: str, width: int, scale: float) -> tuple[list[str], float]:
    """Wrap into at most _MAX_LINES lines; shrink the font until it fits, then cut with '..' as a last resort."""
    for s in np.arange(scale, 0.249, -0.05):
        lines = _wrap(text, width, float(s))
        if len(lines) <= _MAX_LINES and all(_text_width(line, s) <= width for line in lines):
            return lines, float(s)
    s = 0.25
    lines = _wrap(text, width, s)[:_MAX_LINES]
    fitted = []
    for line in lines:
        while len(line) > 1 and _text_width(line, s) > width:
            line = line[:-3] + ".."
        fitted.append(line)
    return fitted, s


def letterbox(img: np.ndarray, size: int, fill: int = 235) -> np.ndarray:
    """Scale img to fit a size x size square (aspect kept), centred on a neutral background."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    h, w = img.shape[:2]
    s = size / max(h, w, 1)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    small = cv2.resize(np.ascontiguousarray(img[..., :3]), (nw, nh), interpolation=interp)
    out = np.full((size, size, 3), fill, np.uint8)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = small
    return out


def contact_sheet(
    images: list[np.ndarray], captions: list[str], ncols: int, tile: int = 160, title: str | None = None
) -> np.ndarray:
    """An RGB uint8 grid: each image letterboxed into a tile x tile cell with its caption (wrapped) underneath."""
    if len(images) != len(captions):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    if not images:
        raise ValueError("contact_sheet needs at least one image")
    ncols = max(1, min(int(ncols), len(images)))
    nrows = -(-len(images) // ncols)
    pad = max(2, tile // 32)
    base_scale = tile / 400.0  # 0.4 at the default 160 px tile
    line_h = max(8, int(round(28 * base_scale)))
    cap_h = line_h * _MAX_LINES + pad
    cell_w, cell_h = tile + 2 * pad, tile + cap_h + 2 * pad
    title_h = int(round(line_h * 2.2)) if title else 0
    sheet = np.full((title_h + nrows * cell_h, ncols * cell_w, 3), 255, np.uint8)
    if title:
        t_lines, t_scale = _fit_caption(title, sheet.shape[1] - 2 * pad, base_scale * 1.5)
        cv2.putText(sheet, t_lines[0], (pad, int(title_h * 0.7)), _FONT, t_scale, (0, 0, 0), 1, cv2.LINE_AA)
    for i, (img, caption) in enumerate(zip(images, captions)):
        r, c = divmod(i, ncols)
        y, x = title_h + r * cell_h + pad, c * cell_w + pad
        sheet[y : y + tile, x : x + tile] = letterbox(img, tile)
        lines, scale = _fit_caption(str(caption), tile, base_scale)
        for j, line in enumerate(lines):
            baseline = y + tile + (j + 1) * line_h
            cv2.putText(sheet, line, (x, baseline), _FONT, scale, (20, 20, 20), 1, cv2.LINE_AA)
    return sheet


def save_png(path, rgb: np.ndarray) -> None:
    """Write an RGB image atomically; a .png gets zlib level 9 (sheets of noisy scans shrink ~10%, still lossless)."""
    path = Path(path)
    atomic_write_bytes(path, encode_image(rgb, path.suffix, png_level=9))


def figure_png(fig, dpi: int = 110) -> bytes:
    """A matplotlib Figure (object API, no pyplot state) as PNG bytes."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def save_figure(fig, path) -> None:
    """Write a figure atomically: a reader never sees half a PNG."""
    atomic_write_bytes(path, figure_png(fig))
