"""The embedded sample dataset: 17 procedurally drawn document classes in the competition's format.

Everything is drawn with OpenCV primitives and Hershey fonts (no font files, no downloads), then photographed
(dl_cls.data.photo) so the pages profile like real train images. Train images are upright; test images go through
`corrupt_testlike`, like the competition's test set. Classes 3, 4, 7 and 14 share one form family and differ only
in the title and one field block, so the demo has real confusion to show.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from dl_cls.data.photo import photograph
from dl_cls.testlike import corrupt_testlike
from dl_cls.errors import DlClsError
from dl_cls.io import atomic_write_csv, check_made, write_image, write_made_dir

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
FONT = cv2.FONT_HERSHEY_SIMPLEX
MONO = cv2.FONT_HERSHEY_PLAIN
SCRIPT = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX
INK = (35, 35, 40)
WORDS = ("name date total amount patient hospital number code period address insurance doctor clinic seal fee "
         "payment treatment visit issued signature office record remarks period tax unit price item qty").split()


class Page:
    """A canvas with drawing helpers in relative coordinates (0..1), so one layout serves every size."""

    def __init__(self, w: int, h: int, rng: np.random.Generator, paper=(250, 250, 246)):
        tint = rng.integers(-4, 4, size=3)
        self.img = np.clip(np.array(paper) + tint, 0, 255).astype(np.uint8)[None, None, :].repeat(h, 0).repeat(w, 1)
        self.w, self.h, self.rng = w, h, rng
        self.unit = max(w, h) / 320.0  # font and line scale: the layouts were drawn at 320 px

    def p(self, x: float, y: float) -> tuple[int, int]:
        return int(round(x * self.w)), int(round(y * self.h))

    def jit(self, v: float, amount: float = 0.01) -> float:
        return v + float(self.rng.uniform(-amount, amount))

    def thick(self, t: float = 1.0) -> int:
        return max(1, int(round(t * self.unit)))

    def text(self, s: str, x: float, y: float, scale: float = 0.3, color=INK, t: float = 1.0, font=FONT) -> None:
        cv2.putText(self.img, s, self.p(x, y), font, scale * self.unit, color, self.thick(t), cv2.LINE_AA)

    def rect(self, x0, y0, x1, y1, color=INK, t: float = 1.0, fill: bool = False) -> None:
        cv2.rectangle(self.img, self.p(x0, y0), self.p(x1, y1), color, -1 if fill else self.thick(t), cv2.LINE_AA)

    def line(self, x0, y0, x1, y1, color=INK, t: float = 1.0) -> None:
        cv2.line(self.img, self.p(x0, y0), self.p(x1, y1), color, self.thick(t), cv2.LINE_AA)

    def circle(self, x, y, r, color=INK, t: float = 1.0, fill: bool = False) -> None:
        cv2.circle(self.img, self.p(x, y), int(r * min(self.w, self.h)), color, -1 if fill else self.thick(t),
                   cv2.LINE_AA)

    def words(self, n: int) -> str:
        return " ".join(self.rng.choice(WORDS, size=n))

    def digits(self, n: int) -> str:
        return "".join(map(str, self.rng.integers(0, 10, size=n)))

    def text_lines(self, x0, y0, x1, y1, n: int, scale: float = 0.22) -> None:
        """n lines of fake text filling a box; line lengths vary like prose."""
        step = (y1 - y0) / max(n, 1)
        for i in range(n):
            k = int(self.rng.integers(2, 7))
            s = self.words(k)
            self.text(s, x0, y0 + (i + 0.8) * step, scale)
            if self.rng.random() < 0.6:  # a grey rule under some lines, as printed forms have
                self.line(x0, y0 + (i + 1) * step, self.jit(x1, 0.03), y0 + (i + 1) * step, (170, 170, 170), 0.6)

    def grid(self, x0, y0, x1, y1, rows: int, cols: int, t: float = 0.8, fill_text: bool = True) -> None:
        self.rect(x0, y0, x1, y1, t=t * 1.5)
        for r in range(1, rows):
            y = y0 + (y1 - y0) * r / rows
            self.line(x0, y, x1, y, t=t)
        for c in range(1, cols):
            x = x0 + (x1 - x0) * c / cols
            self.line(x, y0, x, y1, t=t)
        if fill_text:
            ch = (y1 - y0) / rows
            for r in range(rows):
                for c in range(cols):
                    if self.rng.random() < 0.7:
                        x = x0 + (x1 - x0) * c / cols + 0.01
                        s = self.words(1) if c == 0 else self.digits(int(self.rng.integers(2, 6)))
                        self.text(s[:9], x, y0 + ch * (r + 0.72), min(0.2, ch * 3.0))

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

    def stamp(self, x, y, r, label: str = "SEAL") -> None:
        red = (200, 40, 40)
        self.circle(x, y, r, red, 1.5)
        self.circle(x, y, r * 0.75, red, 0.8)
        self.text(label, x - r * 0.55 * self.h / self.w, y + r * 0.15, 0.18, red)

    def signature(self, x, y, width) -> None:
        n = 8
        xs = np.linspace(x, x + width, n)
        ys = y + self.rng.uniform(-0.015, 0.015, size=n)
        pts = np.array([self.p(a, b) for a, b in zip(xs, ys)], np.int32)
        cv2.polylines(self.img, [pts], False, (30, 40, 120), self.thick(1.0), cv2.LINE_AA)

    def barcode(self, x0, y0, x1, y1) -> None:
        x = x0
        while x < x1:
            bw = float(self.rng.choice([0.004, 0.007, 0.011]))
            if self.rng.random() < 0.55:
                self.rect(x, y0, min(x + bw, x1), y1, INK, fill=True)
            x += bw + 0.003

    def title(self, s: str, y: float, scale: float = 0.42, color=INK, center: bool = True, t: float = 1.3) -> None:
        size = cv2.getTextSize(s, FONT, scale * self.unit, self.thick(t))[0][0] / self.w
        x = max(0.03, 0.5 - size / 2) if center else 0.06
        self.text(s, self.jit(x, 0.01), self.jit(y, 0.005), scale, color, t)


def _portrait(size):
    return int(size / 1.41), size


def _landscape(size, ratio=0.63):
    return size, int(size * ratio)


# --- the shared form family (classes 3, 4, 7, 14) -------------------------------------------------------------
FAMILY_TITLES = {
    3: "CONFIRMATION OF ADMISSION",
    4: "DIAGNOSIS",
    7: "OUTPATIENT CERTIFICATE",
    14: "STATEMENT OF OPINION",
}


def _medical_form(size, rng, target):
    pg = Page(*_portrait(size), rng)
    pg.text(pg.words(2).upper() + " HOSPITAL", 0.06, pg.jit(0.05), 0.2)
    pg.title(FAMILY_TITLES[target], 0.12, 0.36, t=2.0)  # 2 px strokes at 320 px: OCR reads 1 px ones ~70% of the time
    pg.grid(0.06, 0.17, 0.94, 0.37, 4, 4)  # patient block: identical across the family
    if target == 3:  # admission / discharge dates
        pg.text("ADMISSION", 0.07, 0.43, 0.2)
        pg.text("DISCHARGE", 0.07, 0.49, 0.2)
        pg.grid(0.3, 0.40, 0.94, 0.52, 2, 3)
    elif target == 4:  # diagnosis code boxes
        pg.text("CODE", 0.07, 0.45, 0.2)
        for i in range(6):
            pg.rect(0.3 + i * 0.1, 0.40, 0.38 + i * 0.1, 0.48, t=1.2)
            pg.text(pg.digits(1), 0.32 + i * 0.1, 0.46, 0.25)
    elif target == 7:  # visit period
        pg.text("PERIOD", 0.07, 0.45, 0.2)
        pg.text(f"20{pg.digits(2)}.{pg.digits(2)} ~ 20{pg.digits(2)}.{pg.digits(2)}", 0.3, 0.45, 0.22)
        pg.line(0.3, 0.47, 0.9, 0.47)
    else:  # opinion: a large free-text box
        pg.rect(0.06, 0.40, 0.94, 0.52, t=1.2)
        pg.text_lines(0.08, 0.405, 0.92, 0.515, 3, 0.18)
    pg.grid(0.06, 0.55, 0.94, 0.78, 5, 3)
    pg.text_lines(0.06, 0.79, 0.7, 0.9, 2, 0.18)
    pg.stamp(pg.jit(0.8, 0.03), pg.jit(0.88, 0.02), 0.07)
    return pg


def _account_number(size, rng):
    pg = Page(*_landscape(size, 0.55), rng, paper=(252, 252, 250))
    for i in range(1, 6):  # ruled note paper
        pg.line(0.03, i * 0.18, 0.97, i * 0.18, (190, 200, 225), 0.6)
    pg.text(str(rng.choice(["account", "acct no.", "bank"])), pg.jit(0.06), pg.jit(0.2), 0.3, (40, 50, 140),
            font=SCRIPT)
    blue = (30, 40, int(rng.integers(110, 170)))
    for row in range(int(rng.integers(1, 3))):
        x = pg.jit(0.06, 0.03)
        for ch in f"{pg.digits(3)}-{pg.digits(4)}-{pg.digits(4)}":
            pg.text(ch, x, pg.jit(0.48 + row * 0.3, 0.02), float(rng.uniform(0.55, 0.7)), blue, 1.6, SCRIPT)
            x += float(rng.uniform(0.045, 0.06))
    return pg


def _pregnancy_application(size, rng):
    pg = Page(*_portrait(size), rng)
    pg.title("APPLICATION FOR PAYMENT", 0.07, 0.32)
    pg.title("PREGNANCY MEDICAL EXPENSES", 0.11, 0.26)
    pg.rect(0.05, 0.14, 0.95, 0.95, t=1.5)
    for i in range(14):  # checkbox rows
        y = 0.18 + i * 0.054
        pg.rect(0.08, y, 0.11, y + 0.025, t=0.8)
        if rng.random() < 0.4:
            pg.line(0.08, y, 0.11, y + 0.025, t=1.2)
        pg.text(pg.words(int(rng.integers(2, 5))), 0.14, y + 0.022, 0.19)
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
    pg.text(pg.digits(3) + " km", 0.44, 0.8, 0.22, (180, 255, 180))
    for i in range(int(rng.integers(2, 5))):  # warning lights
        pg.circle(0.42 + i * 0.05, 0.15, 0.02, (230, 170, 30) if i % 2 else (220, 50, 50), fill=True)
    return pg


def _card(size, rng, band, title, photo_left: bool, extra=None):
    pg = Page(*_landscape(size, 0.63), rng, paper=(244, 246, 250))
    pg.rect(0.0, 0.0, 1.0, 0.18, band, fill=True)
    pg.text(title, pg.jit(0.05), 0.13, 0.34, (255, 255, 255), 1.4)
    px = (0.05, 0.3) if photo_left else (0.68, 0.93)
    pg.photo(px[0], 0.25, px[1], 0.78)
    tx = 0.36 if photo_left else 0.05
    pg.text(pg.words(2).upper(), tx, 0.33, 0.3, INK, 1.3)
    pg.text_lines(tx, 0.38, tx + 0.55, 0.8, 4, 0.2)
    if extra:
        extra(pg)
    return pg


def _driver_licence(size, rng):
    def extra(pg):
        pg.text(f"{pg.digits(2)}-{pg.digits(2)}-{pg.digits(6)}-{pg.digits(2)}", 0.36, 0.92, 0.3, (160, 30, 30))
        pg.rect(0.05, 0.82, 0.3, 0.95, (200, 150, 170), fill=True)

    return _card(size, rng, (200, 90, 140), "DRIVER'S LICENSE", True, extra)


def _national_id(size, rng):
    def extra(pg):
        pg.circle(0.82, 0.88, 0.08, (170, 200, 230), 1.5)  # hologram
        pg.text(f"{pg.digits(6)}-{pg.digits(7)}", 0.05, 0.92, 0.32, INK, 1.3)

    return _card(size, rng, (50, 110, 190), "RESIDENT REGISTRATION", False, extra)


def _passport(size, rng):
    pg = Page(*_landscape(size, 0.7), rng, paper=(236, 240, 228))
    pg.text("PASSPORT", pg.jit(0.05), 0.1, 0.38, (40, 60, 120), 1.4)
    pg.photo(0.05, 0.16, 0.3, 0.66)
    pg.text_lines(0.36, 0.16, 0.95, 0.66, 6, 0.2)
    pg.rect(0.0, 0.73, 1.0, 1.0, (250, 250, 250), fill=True)
    for i in range(2):  # machine-readable zone
        s = "P<" + "".join(rng.choice(list("ABCDEFGHKLMNOPRSTUVWXYZ<<<<"), size=40)) if i == 0 else \
            pg.digits(9) + "<" + pg.digits(7) + "<<<<<<<<<<<<<<<<" + pg.digits(6)
        pg.text(s[:44], 0.03, 0.84 + i * 0.11, 0.42, INK, 1.0, MONO)
    return pg


def _medical_bill(size, rng):
    pg = Page(*_portrait(size), rng)
    pg.title("MEDICAL BILL RECEIPT", 0.07, 0.34)
    pg.grid(0.05, 0.1, 0.95, 0.2, 2, 4)
    pg.grid(0.05, 0.23, 0.95, 0.78, 12, 5, t=0.6)  # dense fee table
    pg.rect(0.55, 0.81, 0.95, 0.9, t=1.5)
    pg.text("TOTAL " + pg.digits(6), 0.57, 0.87, 0.24, INK, 1.3)
    pg.stamp(pg.jit(0.2), 0.88, 0.06)
    return pg


def _payment_confirmation(size, rng):
    pg = Page(*_portrait(size), rng)
    pg.title("PAYMENT CONFIRMATION", 0.1, 0.34)
    pg.line(0.08, 0.13, 0.92, 0.13, t=1.5)
    for i in range(int(rng.integers(5, 8))):
        y = 0.2 + i * 0.06
        pg.text(pg.words(2).upper(), 0.1, y, 0.2)
        pg.text(pg.digits(int(rng.integers(4, 9))), 0.55, y, 0.2)
    pg.rect(0.1, 0.66, 0.9, 0.76, (235, 240, 250), fill=True)
    pg.text("AMOUNT  " + pg.digits(3) + "," + pg.digits(3), 0.14, 0.73, 0.3, INK, 1.4)
    pg.signature(0.55, 0.86, 0.3)
    pg.stamp(0.8, 0.86, 0.06, "PAID")
    return pg


def _pharmacy_receipt(size, rng):
    pg = Page(int(size * 0.45), size, rng, paper=(252, 252, 252))
    pg.title(pg.words(1).upper() + " PHARMACY", 0.05, 0.15)
    y = 0.09
    pg.text(f"TEL {pg.digits(3)}-{pg.digits(4)}", 0.1, y, 0.14)
    for _ in range(int(rng.integers(6, 11))):
        y += 0.045
        pg.text(pg.words(1)[:10], 0.06, y, 0.15, font=MONO)
        pg.text(pg.digits(4), 0.7, y, 0.15, font=MONO)
    y += 0.04
    pg.text("-" * 40, 0.02, y, 0.16, font=MONO)
    pg.text("TOTAL  " + pg.digits(5), 0.06, y + 0.05, 0.2, INK, 1.3)
    pg.barcode(0.12, 0.86, 0.88, 0.95)
    return pg


def _prescription(size, rng):
    pg = Page(*_portrait(size), rng)
    pg.title("PRESCRIPTION", 0.07, 0.36)
    pg.grid(0.05, 0.1, 0.95, 0.3, 4, 6, t=0.6)
    pg.text("Rx", 0.07, 0.42, 0.8, (30, 60, 140), 2.0, SCRIPT)
    for i in range(int(rng.integers(3, 6))):
        y = 0.48 + i * 0.055
        pg.text(f"{i + 1}. " + pg.words(2), 0.1, y, 0.22, (30, 40, 120), 1.0, SCRIPT)
        pg.text(f"{pg.digits(1)} x {pg.digits(1)}", 0.7, y, 0.2)
    pg.grid(0.05, 0.8, 0.95, 0.92, 2, 4, t=0.6, fill_text=False)
    pg.signature(0.6, 0.96, 0.28)
    return pg


def _resume(size, rng):
    pg = Page(*_portrait(size), rng, paper=(253, 253, 253))
    accent = tuple(int(v) for v in rng.integers(40, 160, size=3))
    pg.photo(0.07, 0.05, 0.28, 0.22)
    pg.text(pg.words(2).title(), 0.33, 0.11, 0.42, INK, 1.5)
    pg.text(pg.words(3), 0.33, 0.16, 0.2)
    y = 0.28
    for _ in range(4):
        pg.rect(0.07, y, 0.93, y + 0.012, accent, fill=True)
        pg.text(pg.words(1).upper(), 0.07, y - 0.01, 0.24, accent, 1.3)
        n = int(rng.integers(2, 4))
        for j in range(n):
            pg.circle(0.09, y + 0.045 + j * 0.04, 0.006, INK, fill=True)
            pg.text(pg.words(int(rng.integers(3, 7))), 0.12, y + 0.055 + j * 0.04, 0.18)
        y += 0.07 + n * 0.04
    return pg


def _vehicle_registration(size, rng):
    pg = Page(*_portrait(size), rng, paper=(238, 246, 236))
    pg.title("VEHICLE REGISTRATION", 0.06, 0.32, (20, 90, 40))
    pg.title("CERTIFICATE", 0.1, 0.3, (20, 90, 40))
    pg.grid(0.05, 0.14, 0.95, 0.55, 9, 4, t=0.7)
    pg.grid(0.05, 0.58, 0.95, 0.9, 7, 6, t=0.6)
    pg.stamp(0.82, 0.94, 0.045)
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
    pg.text(f"{pg.digits(2)}A {pg.digits(4)}", 0.345, 0.645, 0.42, INK, 1.6)
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
    out = Path(out)
    if train_per_class < 1 or test_per_class < 1 or size < 32:
        raise DlClsError("need at least 1 train and 1 test image per class and --size >= 32")
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
    test_rows, test_examples = [], []
    for i, t in enumerate(test_targets):
        rng = _rng(seed, "test-corrupt", i)
        other = clean[(i + 1 + int(rng.integers(0, len(clean) - 1))) % len(clean)] if len(clean) > 1 else None
        img = corrupt_testlike(clean[i], rng, other=other)
        image_id = _image_id(seed, "test", i)
        write_image(root / "test" / image_id, img)
        test_rows.append((image_id, int(t)))
        if len(test_examples) < 10:
            test_examples.append((img, f"test: {CLASS_NAMES[int(t)]}"))
    atomic_write_csv(pd.DataFrame(train_rows, columns=["ID", "target"]), root / "train.csv")
    atomic_write_csv(pd.DataFrame({"target": range(k), "class_name": CLASS_NAMES}), root / "meta.csv")
    test_df = pd.DataFrame(test_rows, columns=["ID", "target"])
    atomic_write_csv(test_df.assign(target=0), root / "sample_submission.csv")
    atomic_write_csv(test_df, root / "test_labels.csv")
    _contact_sheet(root / "contact_sheet.png", sheet, test_examples)


def _contact_sheet(path: Path, train_examples: dict, test_examples: list) -> None:
    from dl_cls.viz import contact_sheet, save_png

    images = [train_examples[t] for t in sorted(train_examples)] + [img for img, _ in test_examples]
    captions = [f"{t} {CLASS_NAMES[t]}" for t in sorted(train_examples)] + [c for _, c in test_examples]
    save_png(path, contact_sheet(images, captions, ncols=9, tile=150,
                                 title="dl_cls sample: one train image per class, then degraded test images"))
