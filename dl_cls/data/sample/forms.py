"""The sample's form family (classes 3, 4, 7, 14): one medical form that differs only in its title and one field
block, so the demo has real confusion to show."""
from __future__ import annotations

from dl_cls.data import hangul as ko
from dl_cls.data.sample.page import BODY_PX, FINE_PX, Page, portrait

FAMILY_TITLES = ko.FAMILY_TITLES  # title variants of classes 3, 4, 7, 14


def medical_form(size, rng, target):
    """Header, title, patient block, ONE class-specific field block, then a common table, the closing statement
    and the issuer's block with a seal (and on some a signature) over its text: near-identical but for the title
    and that block, as the competition's forms are."""
    pg = Page(*portrait(size), rng)
    pg.text(f"발행번호 제 {pg.digits(4)}-{pg.digits(5)} 호", 0.06, pg.jit(0.035, 0.004), 5.5)
    pg.text(ko.hospital(rng), pg.jit(0.94, 0.01), 0.035, 5.5, face=pg.bold, anchor="rs")
    title = ko.pick(rng, FAMILY_TITLES[target])
    pg.title(title, pg.jit(0.105, 0.015), float(rng.uniform(16, 22)), center=rng.random() < 0.75)
    pg.grid(0.06, 0.14, 0.94, 0.34, 5, 4, labels=ko.PATIENT)  # patient block: identical across the family
    FAMILY_BLOCK[target](pg)
    pairs = [(lab, pg.prose(0.6)) for lab in ("상병명", "치료내용", "향후치료의견", "비고", "용도")]
    pg.fields(0.06, 0.55, 0.94, 0.74, pairs)
    pg.text_lines(0.06, 0.745, 0.94, 0.865, 4, FINE_PX)
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
