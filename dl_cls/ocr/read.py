"""Read one document: orientation normalisation (deskew, text direction, then the OCR picks turn x mirror) and
the text of the page and of its title band.

Tesseract's own orientation detection (psm 0) was right only ~30% of the time on rotated, mirrored test photos
and cannot see mirroring, so the geometric part (dl_cls.orient) leaves 4 candidates and the engine reads each
one's title band; the candidate with the most confident letters wins. Only the winner's full page is read.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from dl_cls.ocr.engine import EngineTimeout, OcrEngine, OcrText, preprocess
from dl_cls.orient import candidates, orient

READER_VERSION = 2  # bump when a change here changes what is read (it is part of the cache key)


@dataclass(frozen=True)
class ReadSettings:
    """Everything that changes what is read; hashed into the cache key."""

    lang: str = "kor+eng"
    upscale: float = 2.0
    title_frac: float = 0.3  # the title band: top 30% of the normalised page
    page_psm: int = 11  # sparse text: forms are fields scattered in tables
    title_psm: int = 11  # sparse text: psm 6 (one block) lost short titles next to tables on the sample
    min_conf: float = 50.0  # a word counts as a confident reading from this confidence on
    keep_conf: float = 30.0  # words below this are dropped from the text (table rules read as | I l ...)
    all_turns: bool = False  # 8 candidates instead of the 4 the text-direction test leaves

    def key(self) -> dict:
        return {**asdict(self), "reader_version": READER_VERSION}


def is_letter(ch: str) -> bool:
    """Hangul syllables and Latin letters: what a real reading produces. Lone jamo (ㅣ ㄴ ㅠ) and digits are what
    tesseract makes of table rules and noise, so they do not count."""
    return "\uac00" <= ch <= "\ud7a3" or ("a" <= ch.lower() <= "z")


def confident_letters(ocr: OcrText, min_conf: float) -> int:
    return sum(sum(map(is_letter, w)) for w, c in zip(ocr.words, ocr.confs) if c >= min_conf)


def reading_score(ocr: OcrText) -> float:
    """How well a candidate orientation reads: letters weighted by squared confidence, so a few sure words beat
    many unsure ones (a mirrored or upside-down page still yields garbage syllables at 40-60%)."""
    return float(sum(sum(map(is_letter, w)) * (c / 100) ** 2 for w, c in zip(ocr.words, ocr.confs)))


def _kept(ocr: OcrText, keep_conf: float) -> OcrText:
    keep = [i for i, c in enumerate(ocr.confs) if c >= keep_conf]
    return OcrText([ocr.words[i] for i in keep], [ocr.confs[i] for i in keep], [ocr.lines[i] for i in keep])


def title_band(page: np.ndarray, frac: float) -> np.ndarray:
    return page[: max(1, int(round(page.shape[0] * frac)))]


def upscaled_grey(img: np.ndarray, upscale: float) -> np.ndarray:
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
    return g if upscale == 1 else cv2.resize(g, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)


class Deadline:
    """The per-image time budget shared by the engine calls of one image."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise EngineTimeout("per-image time budget spent")
        return left


def read_document(img: np.ndarray, engine: OcrEngine, s: ReadSettings, budget_s: float = 60.0) -> dict:
    """One table row (orientation, mirrored, skew_deg, n_chars, mean_conf, title, text) plus `note`:
    'ok', or 'budget' when the time budget ran out (the row then holds what was read by then)."""
    deadline = Deadline(budget_s)
    # upscale once, before deskewing: rotating the small page would blur its thin strokes further
    skew, upright, cands = candidates(upscaled_grey(img, s.upscale), all_turns=s.all_turns)
    row = dict(orientation=0, mirrored=False, skew_deg=round(skew, 2), n_chars=0, mean_conf=0.0, title="", text="",
               note="ok")
    try:
        best, best_score, title = None, -1, OcrText()
        for orientation, mirrored in cands:
            band = preprocess(title_band(orient(upright, orientation, mirrored), s.title_frac))
            read = engine.read(band, s.title_psm, deadline.left())
            score = reading_score(read)
            if score > best_score:
                best, best_score, title = (orientation, mirrored), score, read
        row.update(orientation=best[0], mirrored=best[1])
        page = engine.read(preprocess(orient(upright, *best)), s.page_psm, deadline.left())
    except EngineTimeout:
        row["note"] = "budget"
        if best is None:
            return row
        page = OcrText()
    return _fill(row, _kept(title, s.keep_conf), _kept(page, s.keep_conf), s.min_conf)


def _fill(row: dict, title: OcrText, page: OcrText, min_conf: float) -> dict:
    """Text columns of a row: n_chars = confident letters of the page (or the title when the page read less)."""
    n_chars = max(confident_letters(page, min_conf), confident_letters(title, min_conf))
    confs = [c for w, c in zip(page.words + title.words, page.confs + title.confs) if any(map(is_letter, w))]
    row.update(n_chars=int(n_chars), mean_conf=round(float(np.mean(confs)), 1) if confs else 0.0,
               title=" ".join(title.text.split()), text=" ".join(page.text.split()))
    return row
