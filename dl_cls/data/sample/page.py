"""The sample's canvas: a Page draws in relative coordinates (0..1) with OpenCV shapes and PIL text on Korean
font files, so one layout serves every size; the ink colours, body size and the two page shapes every document uses.
"""
from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw

from dl_cls.data import fonts
from dl_cls.data import hangul as ko

MONO = cv2.FONT_HERSHEY_PLAIN  # the passport's machine-readable zone: Latin capitals and digits only
SCRIPT = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX  # handwritten digits and the Rx sign
INK = (35, 35, 40)
RED = (200, 40, 40)
BODY_PX = 7.0  # body text height at 320 px long side; titles are 2-3x, bold, as on real forms
FINE_PX = 5.5  # notes, terms and footers: real forms carry as much fine print as body text (issue 29)


class Page:
    """A canvas with drawing helpers in relative coordinates (0..1), so one layout serves every size. Shapes are
    drawn with OpenCV, text with PIL on a Korean font file: a face for body text, one for labels, one for the
    title, picked per page so the pages mix gothic and myeongjo, regular and bold."""

    def __init__(self, w: int, h: int, rng: np.random.Generator, paper=(250, 250, 246)):
        faces = fonts.require_korean_fonts()
        tint = rng.integers(-4, 4, size=3)
        self.img = np.clip(np.array(paper) + tint, 0, 255).astype(np.uint8)[None, None, :].repeat(h, 0).repeat(w, 1)
        self.w, self.h, self.rng = w, h, rng
        self.unit = max(w, h) / 320.0  # font and line scale: the layouts were drawn at 320 px
        style = "gothic" if rng.random() < 0.6 else "myeongjo"
        self.body = ko.pick(rng, fonts.pick(faces, style, False))
        self.bold = ko.pick(rng, fonts.pick(faces, "gothic", True))
        self.title_face = ko.pick(rng, fonts.pick(faces, "gothic" if rng.random() < 0.7 else "myeongjo", True))

    def p(self, x: float, y: float) -> tuple[int, int]:
        return int(round(x * self.w)), int(round(y * self.h))

    def jit(self, v: float, amount: float = 0.01) -> float:
        return v + float(self.rng.uniform(-amount, amount))

    def thick(self, t: float = 1.0) -> int:
        return max(1, int(round(t * self.unit)))

    def font(self, px: float, face=None):
        return fonts.load(face or self.body, round(px * self.unit))

    def width(self, s: str, px: float = BODY_PX, face=None) -> float:
        """Width of `s` as a fraction of the page width."""
        return self.font(px, face).getlength(s) / self.w

    def fit(self, s: str, max_w: float, px: float = BODY_PX, face=None) -> str:
        """`s` cut to at most `max_w` of the page width (whole characters)."""
        font, limit = self.font(px, face), max_w * self.w
        while s and font.getlength(s) > limit:
            s = s[: max(0, int(len(s) * limit / max(font.getlength(s), 1)) - 1)] if len(s) > 8 else s[:-1]
        return s

    def text(self, s: str, x: float, y: float, px: float = BODY_PX, color=INK, face=None, anchor: str = "ls",
             opacity: float = 1.0) -> None:
        """`s` with its anchor (default: the left end of the baseline) at (x, y), `px` high at 320 px long side."""
        if not s.strip():
            return
        font = self.font(px, face)
        left, top, right, bottom = font.getbbox(s, anchor=anchor)
        if right <= left or bottom <= top:
            return
        mask = Image.new("L", (right - left, bottom - top))
        ImageDraw.Draw(mask).text((-left, -top), s, font=font, fill=255, anchor=anchor)
        x0, y0 = self.p(x, y)
        self.ink(np.asarray(mask), x0 + left, y0 + top, color, opacity)

    def ink(self, alpha: np.ndarray, x0: int, y0: int, color, opacity: float = 1.0) -> None:
        """Lay ink of coverage `alpha` (uint8) with its top-left at pixel (x0, y0), clipped to the page."""
        h, w = alpha.shape
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, self.w), min(y0 + h, self.h)
        if xb <= xa or yb <= ya:
            return
        a = alpha[ya - y0 : yb - y0, xa - x0 : xb - x0, None].astype(np.float32) * np.float32(opacity / 255)
        region = self.img[ya:yb, xa:xb]
        region[:] = region * (1 - a) + np.float32(color) * a + np.float32(0.5)

    def rect(self, x0, y0, x1, y1, color=INK, t: float = 1.0, fill: bool = False) -> None:
        cv2.rectangle(self.img, self.p(x0, y0), self.p(x1, y1), color, -1 if fill else self.thick(t), cv2.LINE_AA)

    def line(self, x0, y0, x1, y1, color=INK, t: float = 1.0) -> None:
        cv2.line(self.img, self.p(x0, y0), self.p(x1, y1), color, self.thick(t), cv2.LINE_AA)

    def circle(self, x, y, r, color=INK, t: float = 1.0, fill: bool = False) -> None:
        cv2.circle(self.img, self.p(x, y), int(r * min(self.w, self.h)), color, -1 if fill else self.thick(t),
                   cv2.LINE_AA)

    def digits(self, n: int) -> str:
        return ko.digits(self.rng, n)

    def prose(self, max_w: float, px: float = BODY_PX) -> str:
        """A line of Korean: a stock phrase or words, as long as the line allows (prose ends raggedly)."""
        target = max_w * float(self.rng.uniform(0.55, 1.0))
        s = ko.pick(self.rng, ko.PHRASES) if self.rng.random() < 0.4 else ko.words(self.rng, 2)
        while self.width(s, px) < target:
            s += " " + ko.words(self.rng, 2)
        return self.fit(s, max_w, px)

    def text_lines(self, x0, y0, x1, y1, n: int, px: float = BODY_PX) -> None:
        """n lines of Korean prose filling a box; some with a grey rule under them, as printed forms have."""
        step = (y1 - y0) / max(n, 1)
        for i in range(n):
            self.text(self.prose(x1 - x0, px), x0, y0 + (i + 0.8) * step, px)
            if self.rng.random() < 0.5:
                self.line(x0, y0 + (i + 1) * step, self.jit(x1, 0.03), y0 + (i + 1) * step, (170, 170, 170), 0.6)

    def grid(self, x0, y0, x1, y1, rows: int, cols: int, t: float = 0.8, fill_text: bool = True,
             labels=ko.LABELS, value=ko.value) -> None:
        """A ruled table; label columns (the first, or every other one of 4+) in bold, values in the body face."""
        self.rect(x0, y0, x1, y1, t=t * 1.5)
        for r in range(1, rows):
            self.line(x0, y0 + (y1 - y0) * r / rows, x1, y0 + (y1 - y0) * r / rows, t=t)
        for c in range(1, cols):
            self.line(x0 + (x1 - x0) * c / cols, y0, x0 + (x1 - x0) * c / cols, y1, t=t)
        if not fill_text:
            return
        ch, cw = (y1 - y0) / rows, (x1 - x0) / cols
        px = min(BODY_PX, 0.6 * ch * self.h / self.unit)  # the text fits its row
        for r in range(rows):
            for c in range(cols):
                label = c % 2 == 0 if cols >= 4 else c == 0
                if label or self.rng.random() < 0.85:
                    s = ko.pick(self.rng, labels) if label else value(self.rng)
                    face = self.bold if label else None
                    self.text(self.fit(s, cw - 0.02, px, face), x0 + cw * c + 0.01, y0 + ch * (r + 0.72), px,
                              face=face)

    def fields(self, x0, y0, x1, y1, pairs, split: float = 0.24) -> None:
        """Rows of (label, value) in a ruled box: the label cell `split` wide, in bold."""
        self.rect(x0, y0, x1, y1, t=1.2)
        xs, step = x0 + split * (x1 - x0), (y1 - y0) / len(pairs)
        self.line(xs, y0, xs, y1, t=0.8)
        px = min(BODY_PX, 0.6 * step * self.h / self.unit)
        for i, (label, val) in enumerate(pairs):
            if i:
                self.line(x0, y0 + i * step, x1, y0 + i * step, t=0.8)
            self.text(self.fit(label, xs - x0 - 0.02, px, self.bold), x0 + 0.01, y0 + (i + 0.7) * step, px,
                      face=self.bold)
            self.text(self.fit(val, x1 - xs - 0.02, px), xs + 0.015, y0 + (i + 0.7) * step, px)

    def photo(self, x0, y0, x1, y1) -> None:
        """A passport-style photo: background, head and shoulders."""
        bg = tuple(int(v) for v in self.rng.integers(150, 220, size=3))
        self.rect(x0, y0, x1, y1, bg, fill=True)
        cx, w, h = (x0 + x1) / 2, x1 - x0, y1 - y0
        skin = tuple(int(v) for v in (self.rng.integers(150, 230), self.rng.integers(120, 190), 110))
        cv2.ellipse(self.img, self.p(cx, y1 + h * 0.05), (int(w * self.w * 0.45), int(h * self.h * 0.35)), 0, 180,
                    360, (60, 60, 80), -1, cv2.LINE_AA)
        cv2.ellipse(self.img, self.p(cx, y0 + h * 0.42), (int(w * self.w * 0.22), int(h * self.h * 0.24)), 0, 0,
                    360, skin, -1, cv2.LINE_AA)
        self.rect(x0, y0, x1, y1, (90, 90, 90), 0.8)

    def stamp(self, x, y, r, label: str = "직인") -> None:
        """A red seal, round or square, pressed over whatever is printed there (real seals cover the name)."""
        if self.rng.random() < 0.6:
            self.circle(x, y, r, RED, 1.5)
            self.circle(x, y, r * 0.78, RED, 0.8)
        else:
            k = r * min(self.w, self.h) / self.w, r * min(self.w, self.h) / self.h
            self.rect(x - k[0], y - k[1], x + k[0], y + k[1], RED, 1.5)
        px = r * min(self.w, self.h) / self.unit * (0.75 if len(label) <= 2 else 0.5)
        lines = [label] if len(label) <= 2 else [label[: len(label) // 2], label[len(label) // 2 :]]
        for i, s in enumerate(lines):
            dy = (i - (len(lines) - 1) / 2) * px * self.unit / self.h
            self.text(s, x, y + dy, px, RED, self.bold, anchor="mm", opacity=0.85)

    def signature(self, x, y, width) -> None:
        n = 9
        xs = np.linspace(x, x + width, n)
        ys = y + self.rng.uniform(-0.018, 0.018, size=n)
        pts = np.array([self.p(a, b) for a, b in zip(xs, ys)], np.int32)
        cv2.polylines(self.img, [pts], False, (30, 40, 120), self.thick(1.0), cv2.LINE_AA)

    def barcode(self, x0, y0, x1, y1) -> None:
        x = x0
        while x < x1:
            bw = float(self.rng.choice([0.004, 0.007, 0.011]))
            if self.rng.random() < 0.55:
                self.rect(x, y0, min(x + bw, x1), y1, INK, fill=True)
            x += bw + 0.003

    def title(self, s: str, y: float, px: float = 18.0, color=INK, center: bool = True) -> None:
        """A big bold title, shrunk to fit 88% of the width; centred (jittered) or at the left margin."""
        px = min(px, px * 0.88 / max(self.width(s, px, self.title_face), 1e-6))
        size = self.width(s, px, self.title_face)
        x = max(0.03, 0.5 - size / 2) if center else 0.06
        self.text(s, self.jit(x, 0.01), self.jit(y, 0.005), px, color, self.title_face)

    def hershey(self, s: str, x: float, y: float, scale: float, color=INK, t: float = 1.0, font=MONO) -> None:
        """Latin and digits in an OpenCV font: machine-readable zones and handwriting."""
        cv2.putText(self.img, s, self.p(x, y), font, scale * self.unit, color, self.thick(t), cv2.LINE_AA)


def portrait(size):
    return int(size / 1.41), size


def landscape(size, ratio=0.63):
    return size, int(size * ratio)
