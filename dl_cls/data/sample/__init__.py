"""The embedded sample dataset: 17 procedurally drawn document classes in the competition's format.

Shapes are drawn with OpenCV, text with PIL on Korean font files (dl_cls.data.fonts: fonts-nanum, fonts-noto-cjk;
without one the sample stops with the install line), dense Korean print in several faces and sizes like the
competition's pages, with big bold titles and seals pressed over text; then photographed (dl_cls.data.photo) so
the pages profile like real train images. Train images are upright; test images go through
`corrupt_testlike`, like the competition's test set. Classes 3, 4, 7 and 14 share one form family and differ only
in the title and one field block, so the demo has real confusion to show.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from dl_cls.core.errors import DlClsError
from dl_cls.core.io import atomic_write_csv, check_made, made_dir_target, write_image, write_made_dir
from dl_cls.data import fonts
from dl_cls.data import hangul as ko
from dl_cls.data.photo import far_camera, photograph
from dl_cls.imaging.testlike import corrupt_testlike

CLASS_NAMES = [
    "account_number",
    "application_for_payment_of_pregnancy_medical_expenses",
    "car_dashboard",
    "confirmation_of_admission_and_discharge",
    "diagnosis",
    "driver_lisence",  # sic, as in the competition's meta.csv
    "medical_bill_receipts",
    "medical_outpatient_certificate",
    "national_id_card",
    "passport",
    "payment_confirmation",
    "pharmaceutical_receipt",
    "prescription",
    "resume",
    "statement_of_opinion",
    "vehicle_registration_certificate",
    "vehicle_registration_plate",
]

SIZE = 512  # default long side: what the profile measures at; drawn smaller, pages read too smooth
MONO = cv2.FONT_HERSHEY_PLAIN  # the passport's machine-readable zone: Latin capitals and digits only
SCRIPT = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX  # handwritten digits and the Rx sign
INK = (35, 35, 40)
RED = (200, 40, 40)
BODY_PX = 7.0  # body text height at 320 px long side; titles are 2-3x, bold, as on real forms
FAMILY_TITLES = ko.FAMILY_TITLES  # title variants of classes 3, 4, 7, 14


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


def _portrait(size):
    return int(size / 1.41), size


def _landscape(size, ratio=0.63):
    return size, int(size * ratio)


# --- the shared form family (classes 3, 4, 7, 14) -------------------------------------------------------------
def _medical_form(size, rng, target):
    """Header, title, patient block, ONE class-specific field block, then a common table, the closing statement
    and the issuer's block with a seal (and on some a signature) over its text: near-identical but for the title
    and that block, as the competition's forms are."""
    pg = Page(*_portrait(size), rng)
    pg.text(f"발행번호 제 {pg.digits(4)}-{pg.digits(5)} 호", 0.06, pg.jit(0.035, 0.004), 5.5)
    pg.text(ko.hospital(rng), pg.jit(0.94, 0.01), 0.035, 5.5, face=pg.bold, anchor="rs")
    title = ko.pick(rng, FAMILY_TITLES[target])
    pg.title(title, pg.jit(0.105, 0.015), float(rng.uniform(16, 22)), center=rng.random() < 0.75)
    pg.grid(0.06, 0.14, 0.94, 0.34, 5, 4, labels=ko.PATIENT)  # patient block: identical across the family
    FAMILY_BLOCK[target](pg)
    pairs = [(lab, pg.prose(0.6)) for lab in ("상병명", "치료내용", "향후치료의견", "비고")]
    pg.fields(0.06, 0.55, 0.94, 0.76, pairs)
    pg.text_lines(0.06, 0.77, 0.94, 0.85, 2)
    pg.text(ko.date(rng, 1), 0.5, 0.88, BODY_PX, anchor="ms")
    _issuer(pg, 0.91)
    return pg


def _issuer(pg: Page, y: float) -> None:
    """Who issued the form: institution, address, doctor's licence and name, the seal pressed over the name."""
    rng = pg.rng
    pg.text(f"의료기관 명칭 : {ko.hospital(rng)}", 0.08, y, 6.0)
    pg.text(f"주소 : {ko.address(rng)}   전화 : 0{pg.digits(1)}-{pg.digits(3)}-{pg.digits(4)}", 0.08, y + 0.03, 6.0)
    pg.text(f"면허번호 제 {pg.digits(5)} 호   의사 성명 : {ko.name(rng)}  (인)", 0.08, y + 0.06, 6.0, face=pg.bold)
    if rng.random() < 0.5:
        pg.signature(pg.jit(0.55, 0.03), y + 0.055, 0.22)
    pg.stamp(pg.jit(0.82, 0.03), pg.jit(y + 0.045, 0.01), 0.07, ko.pick(rng, ("직인", "병원장인", "의사인")))


def _block_admission(pg: Page) -> None:
    rng = pg.rng
    days = int(rng.integers(2, 40))
    pairs = [("입원일자", ko.date(rng, 1)), ("퇴원일자", ko.date(rng, 1)), ("입원기간", f"총 {days} 일간 입원"),
             ("병실", f"{pg.digits(3)}호 {ko.pick(rng, ko.WORDS)}")]
    pg.fields(0.06, 0.37, 0.94, 0.52, pairs)


def _block_diagnosis(pg: Page) -> None:
    rng = pg.rng
    pg.fields(0.06, 0.37, 0.94, 0.445, [("병명", ko.words(rng, 3)), ("진단구분", "임상적 추정  /  최종 진단")])
    pg.text("질병분류기호", 0.07, 0.49, BODY_PX, face=pg.bold)
    code = ko.pick(rng, list("SMJKIN")) + pg.digits(2) + "." + pg.digits(1)
    for i, ch in enumerate(code):  # one character per box, as the KCD code field is printed
        pg.rect(0.35 + i * 0.09, 0.46, 0.42 + i * 0.09, 0.52, t=1.2)
        pg.text(ch, 0.385 + i * 0.09, 0.49, 10.0, anchor="mm")


def _block_outpatient(pg: Page) -> None:
    rng = pg.rng
    pg.fields(0.06, 0.37, 0.94, 0.52, [("진료기간", f"{ko.date(rng)} ~ {ko.date(rng)}"),
                                       ("통원일수", f"총 {int(rng.integers(1, 30))} 회 통원"),
                                       ("진료과", ko.pick(rng, ("정형외과", "내과", "신경외과", "재활의학과", "가정의학과")))])


def _block_opinion(pg: Page) -> None:
    pg.rect(0.06, 0.37, 0.94, 0.52, t=1.2)
    pg.text("소  견", 0.08, 0.395, BODY_PX, face=pg.bold)
    pg.text_lines(0.08, 0.40, 0.92, 0.515, 4, 6.5)


FAMILY_BLOCK = {3: _block_admission, 4: _block_diagnosis, 7: _block_outpatient, 14: _block_opinion}


def _account_number(size, rng):
    pg = Page(*_landscape(size, 0.55), rng, paper=(252, 252, 250))
    for i in range(1, 6):  # ruled note paper
        pg.line(0.03, i * 0.18, 0.97, i * 0.18, (190, 200, 225), 0.6)
    blue = (30, 40, int(rng.integers(110, 170)))
    label = ko.pick(rng, ("계좌번호", "국민은행", "신한은행", "농협 계좌", "우리은행 입금"))
    pg.text(label, pg.jit(0.06), pg.jit(0.2), 13.0, (40, 50, 140))
    for row in range(int(rng.integers(1, 3))):
        x = pg.jit(0.06, 0.03)
        for ch in f"{pg.digits(3)}-{pg.digits(4)}-{pg.digits(4)}":  # handwritten digits
            pg.hershey(ch, x, pg.jit(0.48 + row * 0.3, 0.02), float(rng.uniform(0.55, 0.7)), blue, 1.6, SCRIPT)
            x += float(rng.uniform(0.045, 0.06))
    return pg


def _pregnancy_application(size, rng):
    pg = Page(*_portrait(size), rng)
    pg.title("임신·출산 진료비", 0.07, 15.0)
    pg.title("지급 신청서", 0.12, 15.0)
    pg.rect(0.05, 0.14, 0.95, 0.95, t=1.5)
    for i in range(14):  # checkbox rows
        y = 0.18 + i * 0.054
        pg.rect(0.08, y, 0.11, y + 0.025, t=0.8)
        if rng.random() < 0.4:
            pg.line(0.08, y, 0.11, y + 0.025, t=1.2)
        pg.text(pg.fit(ko.pick(rng, ko.LABELS) + " " + ko.words(rng, 2), 0.34), 0.14, y + 0.022)
        pg.text(pg.fit(ko.value(rng), 0.38), 0.55, y + 0.022)
        pg.line(0.55, y + 0.03, 0.93, y + 0.03, (150, 150, 150), 0.6)
    pg.line(0.5, 0.16, 0.5, 0.93, (120, 120, 120), 0.6)
    return pg


def _car_dashboard(size, rng):
    pg = Page(*_landscape(size, 0.55), rng, paper=(25, 25, 30))
    for cx in (0.28, 0.72):
        cx = pg.jit(cx, 0.02)
        pg.circle(cx, 0.5, 0.36, (200, 200, 210), 1.5)
        for a in np.linspace(-225, 45, 10):
            r0, r1 = 0.30, 0.35
            rad = np.deg2rad(a)
            k = pg.h / pg.w
            pg.line(cx + r0 * np.cos(rad) * k, 0.5 + r0 * np.sin(rad), cx + r1 * np.cos(rad) * k,
                    0.5 + r1 * np.sin(rad), (230, 230, 230), 1.2)
        a = np.deg2rad(rng.uniform(-225, 45))
        pg.line(cx, 0.5, cx + 0.28 * np.cos(a) * pg.h / pg.w, 0.5 + 0.28 * np.sin(a), (240, 60, 40), 2)
        pg.circle(cx, 0.5, 0.03, (200, 200, 200), fill=True)
    pg.rect(0.43, 0.72, 0.57, 0.82, (20, 120, 60), fill=True)
    pg.text(pg.digits(3) + " km", 0.44, 0.8, 8.0, (180, 255, 180))
    for i in range(int(rng.integers(2, 5))):  # warning lights
        pg.circle(0.42 + i * 0.05, 0.15, 0.02, (230, 170, 30) if i % 2 else (220, 50, 50), fill=True)
    return pg


def _card(size, rng, band, title, photo_left: bool, extra=None):
    pg = Page(*_landscape(size, 0.63), rng, paper=(244, 246, 250))
    pg.rect(0.0, 0.0, 1.0, 0.18, band, fill=True)
    pg.text(title, pg.jit(0.05), 0.13, 15.0, (255, 255, 255), pg.title_face)
    px = (0.05, 0.3) if photo_left else (0.68, 0.93)
    pg.photo(px[0], 0.25, px[1], 0.78)
    tx = 0.36 if photo_left else 0.05
    pg.text(ko.name(rng), tx, 0.33, 13.0, INK, pg.bold)
    pairs = [ko.pick(rng, ("주소", "발급일", "적성검사", "갱신기간", "조건", "생년월일")) for _ in range(4)]
    for i, label in enumerate(pairs):
        pg.text(pg.fit(f"{label}  {ko.address(rng) if label == '주소' else ko.value(rng)}", 0.58), tx,
                0.45 + i * 0.09, 8.0)
    if extra:
        extra(pg)
    return pg


def _driver_licence(size, rng):
    def extra(pg):
        pg.text(f"{pg.digits(2)}-{pg.digits(2)}-{pg.digits(6)}-{pg.digits(2)}", 0.36, 0.92, 11.0, (160, 30, 30))
        pg.rect(0.05, 0.82, 0.3, 0.95, (200, 150, 170), fill=True)
        pg.text(ko.pick(rng, ("1종보통", "2종보통", "1종대형")), 0.07, 0.91, 9.0, INK, pg.bold)

    return _card(size, rng, (200, 90, 140), ko.pick(rng, ("자동차운전면허증", "운전면허증")), True, extra)


def _national_id(size, rng):
    def extra(pg):
        pg.circle(0.82, 0.88, 0.08, (170, 200, 230), 1.5)  # hologram
        pg.text(f"{pg.digits(6)}-{pg.digits(7)}", 0.05, 0.92, 12.0, INK, pg.bold)
        pg.stamp(0.6, 0.9, 0.06, "구청장인")

    return _card(size, rng, (50, 110, 190), "주민등록증", False, extra)


def _passport(size, rng):
    pg = Page(*_landscape(size, 0.7), rng, paper=(236, 240, 228))
    pg.text("여권  PASSPORT", pg.jit(0.05), 0.1, 13.0, (40, 60, 120), pg.title_face)
    pg.text("대한민국 REPUBLIC OF KOREA", 0.55, 0.1, 7.0, (40, 60, 120), pg.bold)
    pg.photo(0.05, 0.16, 0.3, 0.66)
    pg.text_lines(0.36, 0.16, 0.95, 0.66, 6, 7.0)
    pg.rect(0.0, 0.73, 1.0, 1.0, (250, 250, 250), fill=True)
    for i in range(2):  # machine-readable zone
        s = "P<" + "".join(rng.choice(list("ABCDEFGHKLMNOPRSTUVWXYZ<<<<"), size=40)) if i == 0 else \
            pg.digits(9) + "<" + pg.digits(7) + "<<<<<<<<<<<<<<<<" + pg.digits(6)
        pg.hershey(s[:44], 0.03, 0.84 + i * 0.11, 0.42, INK, 1.0, MONO)
    return pg


def _medical_bill(size, rng):
    pg = Page(*_portrait(size), rng)
    pg.title(ko.pick(rng, ("진료비 영수증", "진료비 계산서·영수증", "외래 진료비 영수증", "입원 진료비 계산서")), 0.07, 14.0)
    pg.grid(0.05, 0.1, 0.95, 0.2, 2, 4)
    pg.grid(0.05, 0.23, 0.95, 0.78, 12, 5, t=0.6, labels=ko.FEES, value=ko.amount)  # dense fee table
    pg.rect(0.55, 0.81, 0.95, 0.9, t=1.5)
    pg.text(f"합계  {ko.amount(rng)}원", 0.57, 0.87, 9.0, INK, pg.bold)
    pg.text_lines(0.05, 0.81, 0.5, 0.93, 3, 5.5)
    pg.stamp(pg.jit(0.25), 0.88, 0.06, "수납")
    return pg


def _payment_confirmation(size, rng):
    pg = Page(*_portrait(size), rng)
    pg.title(ko.pick(rng, ("납입확인서", "보험료 납입증명서", "납입 증명서", "납부확인서")), 0.1, 16.0)
    pg.line(0.08, 0.13, 0.92, 0.13, t=1.5)
    labels = ("계약자", "피보험자", "증권번호", "상품명", "납입기간", "납입방법", "납입횟수", "최종납입일")
    pairs = [(lab, ko.value(rng)) for lab in labels[: int(rng.integers(5, 9))]]
    pg.fields(0.08, 0.16, 0.92, 0.16 + 0.055 * len(pairs), pairs, 0.3)
    pg.rect(0.1, 0.66, 0.9, 0.76, (235, 240, 250), fill=True)
    pg.text(f"납입금액  {ko.amount(rng)}원", 0.14, 0.73, 11.0, INK, pg.bold)
    pg.text_lines(0.08, 0.77, 0.92, 0.83, 1)
    pg.text(ko.date(rng, 1), 0.5, 0.85, BODY_PX, anchor="ms")
    pg.text(f"{ko.pick(rng, ko.PLACES)}생명보험 주식회사 대표이사", 0.12, 0.9, BODY_PX, face=pg.bold)
    pg.signature(0.55, 0.89, 0.3)
    pg.stamp(0.8, 0.89, 0.06, "확인")
    return pg


def _pharmacy_receipt(size, rng):
    pg = Page(int(size * 0.45), size, rng, paper=(252, 252, 252))
    pg.title(ko.pick(rng, ko.PLACES) + "약국", 0.05, 12.0)
    pg.text(ko.pick(rng, ("약제비 영수증", "약제비 계산서·영수증", "영수증")), 0.5, 0.085, 7.0, face=pg.bold, anchor="ms")
    y = 0.11
    pg.text(f"TEL {pg.digits(3)}-{pg.digits(4)}  {ko.date(rng)}", 0.08, y, 5.0)
    for _ in range(int(rng.integers(7, 12))):
        y += 0.045
        pg.text(pg.fit(ko.pick(rng, ko.PHARMACY + ko.DRUGS), 0.6, 5.5), 0.06, y, 5.5)
        pg.text(ko.amount(rng), 0.94, y, 5.5, anchor="rs")
    y += 0.04
    pg.line(0.04, y - 0.02, 0.96, y - 0.02, INK, 0.6)
    pg.text(f"합계  {ko.amount(rng)}원", 0.06, y + 0.03, 7.0, INK, pg.bold)
    pg.barcode(0.12, 0.86, 0.88, 0.95)
    return pg


def _prescription(size, rng):
    pg = Page(*_portrait(size), rng)
    pg.title(ko.pick(rng, ("처방전", "처 방 전", "원외처방전")), 0.07, 18.0)
    pg.grid(0.05, 0.1, 0.95, 0.3, 4, 6, t=0.6)
    pg.hershey("Rx", 0.07, 0.42, 0.8, (30, 60, 140), 2.0, SCRIPT)
    for i in range(int(rng.integers(3, 7))):
        y = 0.45 + i * 0.05
        pg.text(pg.fit(f"{i + 1}. {ko.pick(rng, ko.DRUGS)}", 0.55), 0.1, y, BODY_PX, (30, 40, 120))
        pg.text(f"{pg.digits(1)}   {pg.digits(1)}   {pg.digits(1)}일", 0.7, y, BODY_PX)
    pg.grid(0.05, 0.8, 0.95, 0.92, 2, 4, t=0.6, fill_text=False)
    pg.text(f"처방의료인  {ko.name(rng)}  (서명 또는 날인)", 0.08, 0.96, 6.0)
    pg.signature(0.6, 0.955, 0.28)
    return pg


def _resume(size, rng):
    pg = Page(*_portrait(size), rng, paper=(253, 253, 253))
    accent = tuple(int(v) for v in rng.integers(40, 160, size=3))
    pg.title(ko.pick(rng, ("이 력 서", "이력서")), 0.065, 18.0, center=rng.random() < 0.6)
    pg.photo(0.07, 0.09, 0.28, 0.25)
    pg.fields(0.32, 0.09, 0.93, 0.25, [("성명", ko.name(rng)), ("생년월일", ko.date(rng, 1)), ("주소", ko.address(rng)),
                                      ("연락처", f"010-{pg.digits(4)}-{pg.digits(4)}")], 0.3)
    y = 0.3
    for _ in range(4):
        pg.rect(0.07, y, 0.93, y + 0.012, accent, fill=True)
        pg.text(ko.pick(rng, ko.RESUME[:6]), 0.07, y - 0.01, 8.0, accent, pg.bold)
        n = int(rng.integers(2, 4))
        for j in range(n):
            pg.circle(0.09, y + 0.045 + j * 0.04, 0.006, INK, fill=True)
            s = f"{ko.date(rng)} {' '.join(ko.pick(rng, ko.RESUME) for _ in range(int(rng.integers(2, 5))))}"
            pg.text(pg.fit(s, 0.8), 0.12, y + 0.055 + j * 0.04, 6.5)
        y += 0.07 + n * 0.04
    return pg


def _vehicle_registration(size, rng):
    pg = Page(*_portrait(size), rng, paper=(238, 246, 236))
    pg.title("자동차등록증", 0.08, 18.0, (20, 90, 40))
    pg.text(f"제 {pg.digits(4)} - {pg.digits(6)} 호", 0.06, 0.115, 6.0)
    pg.grid(0.05, 0.14, 0.95, 0.55, 9, 4, t=0.7, labels=ko.VEHICLE)
    pg.grid(0.05, 0.58, 0.95, 0.9, 7, 6, t=0.6, labels=ko.VEHICLE)
    district = ko.pick(rng, ko.CITIES).split()[1]
    pg.text(f"{ko.date(rng, 1)}  {district}{'청장' if district.endswith('구') else '장'}", 0.3, 0.94, 6.5)
    pg.stamp(0.82, 0.94, 0.045, "시장인")
    return pg


def _plate(size, rng):
    pg = Page(*_landscape(size, 0.7), rng, paper=(170, 190, 210))
    pg.rect(0.0, 0.75, 1.0, 1.0, (90, 90, 95), fill=True)  # road
    body = tuple(int(v) for v in rng.integers(30, 220, size=3))
    pg.rect(pg.jit(0.08, 0.03), 0.3, pg.jit(0.92, 0.03), 0.8, body, fill=True)
    pg.rect(0.2, 0.12, 0.8, 0.38, body, fill=True)
    pg.rect(0.25, 0.16, 0.75, 0.34, (60, 70, 90), fill=True)  # windscreen
    for x in (0.2, 0.8):
        pg.circle(x, 0.82, 0.1, (20, 20, 20), fill=True)
    pg.circle(0.16, 0.5, 0.05, (250, 240, 200), fill=True)
    pg.circle(0.84, 0.5, 0.05, (250, 240, 200), fill=True)
    plate_bg = (245, 245, 245) if rng.random() < 0.7 else (240, 210, 60)
    pg.rect(0.32, 0.52, 0.68, 0.68, plate_bg, fill=True)
    pg.rect(0.32, 0.52, 0.68, 0.68, INK, 1.5)
    pg.text(f"{pg.digits(2)}{ko.pick(rng, ko.PLATE)} {pg.digits(4)}", 0.5, 0.6, 14.0, INK, pg.bold, anchor="mm")
    return pg


DRAW = {
    0: _account_number,
    1: _pregnancy_application,
    2: _car_dashboard,
    5: _driver_licence,
    6: _medical_bill,
    8: _national_id,
    9: _passport,
    10: _payment_confirmation,
    11: _pharmacy_receipt,
    12: _prescription,
    13: _resume,
    15: _vehicle_registration,
    16: _plate,
}


def render(target: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One upright document image of class `target`, long side `size`: drawn, skewed by up to 2 degrees as a
    scanner leaves it, then photographed."""
    pg = _medical_form(size, rng, target) if target in FAMILY_TITLES else DRAW[target](size, rng)
    img = pg.img
    angle = float(rng.uniform(-2.0, 2.0))
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    border = tuple(int(v) for v in img[1, 1])
    img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    return photograph(img, target, rng)


def _image_id(seed: int, split: str, index: int) -> str:
    return hashlib.sha256(f"dl_cls-sample/{seed}/{split}/{index}".encode()).hexdigest()[:16] + ".jpg"


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}/{split}/{index}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def generate_sample(out, seed: int = 0, train_per_class: int = 24, test_per_class: int = 12, size: int = SIZE,
                    force: bool = False) -> Path:
    """Write a competition-format dataset into `out` (see the module doc). Same arguments -> same bytes."""
    out = made_dir_target(out, "OUT")  # a symlink is followed, a file refused: before any rendering
    if train_per_class < 1 or test_per_class < 1 or size < 32:
        raise DlClsError("need at least 1 train and 1 test image per class and --size >= 32")
    fonts.require_korean_fonts()  # before anything is written: no half sample
    if out.exists() and any(out.iterdir()):
        if not force:
            raise DlClsError(f"{out} exists and is not empty; pick another OUT or pass --force to replace it")
        check_made(out, "sample")  # --force replaces only a sample we wrote, with nothing of the user's inside
    settings = {"seed": seed, "train_per_class": train_per_class, "test_per_class": test_per_class, "size": size}

    def write(tmp: Path) -> dict:
        _write(tmp, seed, train_per_class, test_per_class, size)
        return settings

    return write_made_dir(out, "sample", write)


def _write(root: Path, seed: int, n_train: int, n_test: int, size: int) -> None:
    k = len(CLASS_NAMES)
    (root / "train").mkdir()
    (root / "test").mkdir()
    order = np.random.default_rng(seed).permutation(k * n_train)  # shuffled, not grouped by class
    train_rows, sheet = [], {}
    for i, j in enumerate(order):
        target = int(j % k)
        img = render(target, size, _rng(seed, "train", i))
        image_id = _image_id(seed, "train", i)
        write_image(root / "train" / image_id, img)
        train_rows.append((image_id, target))
        sheet.setdefault(target, img)
    test_targets = np.random.default_rng(seed + 1).permutation(np.repeat(np.arange(k), n_test))
    clean = [render(int(t), size, _rng(seed, "test", i)) for i, t in enumerate(test_targets)]
    test_rows, test_examples, poses = [], [], []
    for i, t in enumerate(test_targets):
        rng = _rng(seed, "test-corrupt", i)
        other = clean[(i + 1 + int(rng.integers(0, len(clean) - 1))) % len(clean)] if len(clean) > 1 else None
        geometry: dict = {}
        img = corrupt_testlike(far_camera(clean[i], rng), rng, other=other, geometry=geometry)
        image_id = _image_id(seed, "test", i)
        write_image(root / "test" / image_id, img)
        test_rows.append((image_id, int(t)))
        poses.append({"ID": image_id, **{k: geometry[k] for k in ("turn", "flip_h", "flip_v", "skew_deg")}})
        if len(test_examples) < 10:
            test_examples.append((img, f"test: {CLASS_NAMES[int(t)]}"))
    atomic_write_csv(pd.DataFrame(train_rows, columns=["ID", "target"]), root / "train.csv")
    atomic_write_csv(pd.DataFrame({"target": range(k), "class_name": CLASS_NAMES}), root / "meta.csv")
    test_df = pd.DataFrame(test_rows, columns=["ID", "target"])
    atomic_write_csv(test_df.assign(target=0), root / "sample_submission.csv")
    atomic_write_csv(test_df, root / "test_labels.csv")
    atomic_write_csv(pd.DataFrame(poses), root / "test_orientation.csv")  # the pose each test image was given
    _contact_sheet(root / "contact_sheet.png", sheet, test_examples)


def _contact_sheet(path: Path, train_examples: dict, test_examples: list) -> None:
    from dl_cls.imaging.viz import contact_sheet, save_png

    images = [train_examples[t] for t in sorted(train_examples)] + [img for img, _ in test_examples]
    captions = [f"{t} {CLASS_NAMES[t]}" for t in sorted(train_examples)] + [c for _, c in test_examples]
    save_png(path, contact_sheet(images, captions, ncols=9, tile=150,
                                 title="dl_cls sample: one train image per class, then degraded test images"))
