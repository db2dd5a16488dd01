"""The sample's other 13 document classes, one drawing function each (`DRAW[target](size, rng) -> Page`): cards,
receipts, certificates, a car dashboard and a number plate."""
from __future__ import annotations

import numpy as np

from dl_cls.data import hangul as ko
from dl_cls.data.sample.page import BODY_PX, FINE_PX, INK, MONO, SCRIPT, Page, landscape, portrait


def _account_number(size, rng):
    pg = Page(*landscape(size, 0.55), rng, paper=(252, 252, 250))
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
    pg = Page(*portrait(size), rng)
    pg.title("임신·출산 진료비", 0.07, 15.0)
    pg.title("지급 신청서", 0.12, 15.0)
    pg.rect(0.05, 0.14, 0.95, 0.95, t=1.5)
    for i in range(18):  # checkbox rows
        y = 0.17 + i * 0.042
        pg.rect(0.08, y, 0.11, y + 0.025, t=0.8)
        if rng.random() < 0.4:
            pg.line(0.08, y, 0.11, y + 0.025, t=1.2)
        pg.text(pg.fit(ko.pick(rng, ko.LABELS) + " " + ko.words(rng, 2), 0.34), 0.14, y + 0.022)
        pg.text(pg.fit(ko.value(rng), 0.38), 0.55, y + 0.022)
        pg.line(0.55, y + 0.03, 0.93, y + 0.03, (150, 150, 150), 0.6)
    pg.line(0.5, 0.16, 0.5, 0.93, (120, 120, 120), 0.6)
    pg.text_lines(0.05, 0.955, 0.95, 0.995, 2, FINE_PX * 0.8)
    return pg


def _car_dashboard(size, rng):
    pg = Page(*landscape(size, 0.55), rng, paper=(25, 25, 30))
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
    pg = Page(*landscape(size, 0.63), rng, paper=(244, 246, 250))
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
    pg = Page(*landscape(size, 0.7), rng, paper=(236, 240, 228))
    pg.text("여권  PASSPORT", pg.jit(0.05), 0.1, 13.0, (40, 60, 120), pg.title_face)
    pg.text("대한민국 REPUBLIC OF KOREA", 0.55, 0.1, 7.0, (40, 60, 120), pg.bold)
    pg.photo(0.05, 0.16, 0.3, 0.66)
    pg.text_lines(0.36, 0.16, 0.95, 0.68, 8, 6.0)
    pg.rect(0.0, 0.73, 1.0, 1.0, (250, 250, 250), fill=True)
    for i in range(2):  # machine-readable zone
        s = "P<" + "".join(rng.choice(list("ABCDEFGHKLMNOPRSTUVWXYZ<<<<"), size=40)) if i == 0 else \
            pg.digits(9) + "<" + pg.digits(7) + "<<<<<<<<<<<<<<<<" + pg.digits(6)
        pg.hershey(s[:44], 0.03, 0.84 + i * 0.11, 0.42, INK, 1.0, MONO)
    return pg


def _medical_bill(size, rng):
    pg = Page(*portrait(size), rng)
    pg.title(ko.pick(rng, ("진료비 영수증", "진료비 계산서·영수증", "외래 진료비 영수증", "입원 진료비 계산서")), 0.07, 14.0)
    pg.grid(0.05, 0.1, 0.95, 0.2, 2, 4)
    pg.grid(0.05, 0.23, 0.95, 0.78, 16, 5, t=0.6, labels=ko.FEES, value=ko.amount)  # dense fee table
    pg.rect(0.55, 0.81, 0.95, 0.9, t=1.5)
    pg.text(f"합계  {ko.amount(rng)}원", 0.57, 0.87, 9.0, INK, pg.bold)
    pg.text_lines(0.05, 0.81, 0.5, 0.97, 6, FINE_PX)
    pg.stamp(pg.jit(0.25), 0.88, 0.06, "수납")
    return pg


def _payment_confirmation(size, rng):
    pg = Page(*portrait(size), rng)
    pg.title(ko.pick(rng, ("납입확인서", "보험료 납입증명서", "납입 증명서", "납부확인서")), 0.1, 16.0)
    pg.line(0.08, 0.13, 0.92, 0.13, t=1.5)
    labels = ("계약자", "피보험자", "증권번호", "상품명", "납입기간", "납입방법", "납입횟수", "최종납입일")
    pairs = [(lab, ko.value(rng)) for lab in labels[: int(rng.integers(5, 9))]]
    pg.fields(0.08, 0.16, 0.92, 0.16 + 0.055 * len(pairs), pairs, 0.3)
    pg.rect(0.1, 0.66, 0.9, 0.76, (235, 240, 250), fill=True)
    pg.text(f"납입금액  {ko.amount(rng)}원", 0.14, 0.73, 11.0, INK, pg.bold)
    pg.text_lines(0.08, 0.77, 0.92, 0.83, 2, FINE_PX)
    pg.text(ko.date(rng, 1), 0.5, 0.85, BODY_PX, anchor="ms")
    pg.text(f"{ko.pick(rng, ko.PLACES)}생명보험 주식회사 대표이사", 0.12, 0.9, BODY_PX, face=pg.bold)
    pg.signature(0.55, 0.89, 0.3)
    pg.stamp(0.8, 0.89, 0.06, "확인")
    pg.text_lines(0.08, 0.92, 0.92, 0.99, 3, FINE_PX * 0.9)  # the insurer's notes
    return pg


def _pharmacy_receipt(size, rng):
    pg = Page(int(size * 0.45), size, rng, paper=(252, 252, 252))
    pg.title(ko.pick(rng, ko.PLACES) + "약국", 0.05, 12.0)
    pg.text(ko.pick(rng, ("약제비 영수증", "약제비 계산서·영수증", "영수증")), 0.5, 0.085, 7.0, face=pg.bold, anchor="ms")
    y = 0.11
    pg.text(f"TEL {pg.digits(3)}-{pg.digits(4)}  {ko.date(rng)}", 0.08, y, 5.0)
    for _ in range(int(rng.integers(10, 15))):
        y += 0.036
        pg.text(pg.fit(ko.pick(rng, ko.PHARMACY + ko.DRUGS), 0.6, 5.5), 0.06, y, 5.5)
        pg.text(ko.amount(rng), 0.94, y, 5.5, anchor="rs")
    y += 0.04
    pg.line(0.04, y - 0.02, 0.96, y - 0.02, INK, 0.6)
    pg.text(f"합계  {ko.amount(rng)}원", 0.06, y + 0.03, 7.0, INK, pg.bold)
    pg.text_lines(0.06, y + 0.04, 0.94, 0.86, 3, 5.0)  # dosage notes
    pg.barcode(0.12, 0.87, 0.88, 0.95)
    return pg


def _prescription(size, rng):
    pg = Page(*portrait(size), rng)
    pg.title(ko.pick(rng, ("처방전", "처 방 전", "원외처방전")), 0.07, 18.0)
    pg.grid(0.05, 0.1, 0.95, 0.33, 6, 6, t=0.6)
    pg.hershey("Rx", 0.07, 0.42, 0.8, (30, 60, 140), 2.0, SCRIPT)
    for i in range(int(rng.integers(4, 8))):
        y = 0.45 + i * 0.04
        pg.text(pg.fit(f"{i + 1}. {ko.pick(rng, ko.DRUGS)}", 0.55), 0.1, y, BODY_PX, (30, 40, 120))
        pg.text(f"{pg.digits(1)}   {pg.digits(1)}   {pg.digits(1)}일", 0.7, y, BODY_PX)
    pg.text_lines(0.06, 0.76, 0.94, 0.8, 2, FINE_PX)  # dispensing notes
    pg.grid(0.05, 0.81, 0.95, 0.92, 2, 4, t=0.6)
    pg.text(f"처방의료인  {ko.name(rng)}  (서명 또는 날인)", 0.08, 0.96, 6.0)
    pg.signature(0.6, 0.955, 0.28)
    return pg


def _resume(size, rng):
    pg = Page(*portrait(size), rng, paper=(253, 253, 253))
    accent = tuple(int(v) for v in rng.integers(40, 160, size=3))
    pg.title(ko.pick(rng, ("이 력 서", "이력서")), 0.065, 18.0, center=rng.random() < 0.6)
    pg.photo(0.07, 0.09, 0.28, 0.25)
    pg.fields(0.32, 0.09, 0.93, 0.25, [("성명", ko.name(rng)), ("생년월일", ko.date(rng, 1)), ("주소", ko.address(rng)),
                                      ("연락처", f"010-{pg.digits(4)}-{pg.digits(4)}")], 0.3)
    y = 0.3
    for _ in range(4):
        pg.rect(0.07, y, 0.93, y + 0.012, accent, fill=True)
        pg.text(ko.pick(rng, ko.RESUME[:6]), 0.07, y - 0.01, 8.0, accent, pg.bold)
        n = int(rng.integers(3, 5))
        for j in range(n):
            pg.circle(0.09, y + 0.035 + j * 0.032, 0.006, INK, fill=True)
            s = f"{ko.date(rng)} {' '.join(ko.pick(rng, ko.RESUME) for _ in range(int(rng.integers(3, 6))))}"
            pg.text(pg.fit(s, 0.8, 6.0), 0.12, y + 0.045 + j * 0.032, 6.0)
        y += 0.06 + n * 0.032
    return pg


def _vehicle_registration(size, rng):
    pg = Page(*portrait(size), rng, paper=(238, 246, 236))
    pg.title("자동차등록증", 0.08, 18.0, (20, 90, 40))
    pg.text(f"제 {pg.digits(4)} - {pg.digits(6)} 호", 0.06, 0.115, 6.0)
    pg.grid(0.05, 0.14, 0.95, 0.55, 11, 4, t=0.7, labels=ko.VEHICLE)
    pg.grid(0.05, 0.58, 0.95, 0.9, 9, 6, t=0.6, labels=ko.VEHICLE)
    district = ko.pick(rng, ko.CITIES).split()[1]
    pg.text(f"{ko.date(rng, 1)}  {district}{'청장' if district.endswith('구') else '장'}", 0.3, 0.94, 6.5)
    pg.stamp(0.82, 0.94, 0.045, "시장인")
    return pg


def _plate(size, rng):
    pg = Page(*landscape(size, 0.7), rng, paper=(170, 190, 210))
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
