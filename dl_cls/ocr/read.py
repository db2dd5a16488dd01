"""Read one document: orientation normalisation (deskew, then turn x mirror) and the text of the page and of its
title band.

Tesseract's own orientation detection (psm 0) was right only ~30% of the time on rotated, mirrored test photos
and cannot see mirroring; choosing among candidate poses by OCR confidence was right on only 61% of real dense
Korean train pages (an upside-down or mirrored page still yields confident garbage) and cost a title read per
candidate. So the pose comes from the orientation model trained on the user's own train pages
(dl_cls.pose.model), and the pose it picks is read. With `orient_sure` > 0 a page whose pick is less sure has its
likeliest 2-3 poses read: since reader version 5 the row's reading is the pick's and the other poses' readings are
kept beside it (`alts`), for the text model to keep the one it is surest about (dl_cls.ocr.expert.surest_readings);
the most confident reading, which won before (`choose="ocr"`), was the right pose on only half the pages the model
doubted. Those extra reads moved no text run on a competition-size sample, so the default reads the pick alone.
Without a model (--orientation ocr) the text-direction test (dl_cls.imaging.page_geometry) leaves the 4 candidates,
the most confident reading is the row's and the others are its alts.

Since reader version 4 a pose costs one engine call: the page is read whole and its title is the words whose boxes
start in the title band (the title band read on its own was a second call and a second model load; measured in
bench/ocr_speed.py).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from dl_cls.imaging.page_geometry import candidates, orient
from dl_cls.ocr.engine import EngineTimeout, OcrEngine, OcrText, drop_rules, preprocess

READER_VERSION = 5  # bump when a change here changes what is read (it is part of the cache key)


@dataclass(frozen=True)
class ReadSettings:
    """Everything that changes what is read; hashed into the cache key."""

    lang: str = "kor"  # kor+eng loads a second model on every call: x0.75 of the time, no better titles (bench)
    upscale: float = 1.0  # x1.5: 1.7x the time, fewer of the sample's test pages right, member OOF no better
    title_frac: float = 0.3  # the title band: top 30% of the normalised page
    page_psm: int = 11  # sparse text: forms are fields in tables; psm 3 was 2.5x faster but lost most titles
    title_psm: int = 11  # the title band read on its own (only with one_call=False, the reader before version 4)
    min_conf: float = 50.0  # a word counts as a confident reading from this confidence on
    keep_conf: float = 30.0  # words below this are dropped from the text (table rules read as | I l ...)
    all_turns: bool = False  # 8 candidates instead of the 4 the text-direction test leaves
    # the orientation model's pick alone is read from this probability on; 0 (default): always the pick alone, one
    # engine call a page. Reading a doubted page's other poses too (0.9 before issue 29) cost 13% more reads on a
    # competition-size sample and, with the readings chosen any way, moved no text run (docs/benchmarks.md)
    orient_sure: float = 0.0
    # text: the pose model's pick is the row's reading, the other poses' readings are kept for the text model to
    # choose among; ocr: the most confident reading wins (reader version 4)
    choose: str = "text"
    orient_tta: bool = True  # the orientation model averages the 8 views of the page (sample test: 90.9 -> 92.9%)
    binarise: bool = True  # background-normalise + adaptive threshold before the engine (else tesseract's own)
    drop_rules: bool = False  # table rules and box edges whitened after binarising (engine.drop_rules)
    one_call: bool = True  # one engine call per pose: the title is the page reading's words in the title band
    max_side: int = 2000  # the page is read at most this long (pixels, after the upscale)
    # tesseract re-reads unsure lines inverted by default; on our binarised dark-on-white pages that cost ~1.5x the
    # time and the member's test-like OOF read without it was 0.818 at x1 (docs/benchmarks.md); passed to the engine
    invert_lines: bool = False
    # only the title band is read (its words are the row's title and text): a second reading for pages whose title
    # the first missed, with `upscale` (issue 29 item 3)
    title_only: bool = False

    def key(self) -> dict:
        # fields added after reader version 5 enter the key only when set, so the caches of every earlier setting hold
        unset = {k for k in ("title_only",) if getattr(self, k) == self.__dataclass_fields__[k].default}
        return {**{k: v for k, v in asdict(self).items() if k not in unset}, "reader_version": READER_VERSION}


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


def _prepared(img: np.ndarray, s: ReadSettings) -> np.ndarray:
    """What the engine gets: background-normalised and binarised (engine.preprocess), or the grey page as is."""
    if not s.binarise:
        return img
    return drop_rules(preprocess(img)) if s.drop_rules else preprocess(img)


def title_band(page: np.ndarray, frac: float) -> np.ndarray:
    return page[: max(1, int(round(page.shape[0] * frac)))]


def upscaled_grey(img: np.ndarray, upscale: float) -> np.ndarray:
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
    return g if upscale == 1 else cv2.resize(g, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)


class Deadline:
    """The per-image time budget shared by the engine calls of one image."""

    def __init__(self, seconds: float):
        self.end, self.spent = time.monotonic() + seconds, False

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise EngineTimeout("per-image time budget spent")
        return left


def _poses(upright: np.ndarray, text_cands: list, orienter, s: ReadSettings) -> tuple[list, float | None]:
    """The (orientation, mirrored) candidates to read, likeliest first, and the pose model's probability of its pick
    (None without a model). With the orientation model: its pick alone when it is sure (right on 99.6% of such
    held-out sample pages), else its likeliest poses until they hold `sure` of the probability (at most 3; mostly a
    page and its mirror image), for the OCR to decide among. Without a model: the text-direction candidates."""
    if orienter is None:
        return text_cands, None
    probs = orienter.predict([upright], tta=s.orient_tta)[0]
    sure = s.orient_sure
    order = np.argsort(-probs, kind="stable")
    picked = [int(order[0])]
    while probs[picked].sum() < sure and len(picked) < 3:
        picked.append(int(order[len(picked)]))
    return [tuple(orienter.labels[i]) for i in picked], round(float(probs[order[0]]), 4)


def work_scale(shape, s: ReadSettings) -> float:
    """The scale the page is read at: `upscale`, but never past `max_side` pixels on the long side (an 8000 px
    photo is brought down before deskewing, which would otherwise take minutes and gigabytes)."""
    return min(s.upscale, s.max_side / max(shape[:2]))


def read_document(img: np.ndarray, engine: OcrEngine, s: ReadSettings, budget_s: float = 60.0,
                  orienter=None) -> dict:
    """One table row (orientation, mirrored, skew_deg, n_chars, mean_conf, title, text, pose_p: the pose model's
    probability of its pick, None without a model) plus `poses_read` (the candidate poses read, each one engine
    call) and `note`:
    'ok', or 'budget' when the time budget ran out (the row then holds what was read by then; the budget covers
    deskewing and the pose model too), and `alts` (the other poses' readings, see _read). `orienter`: the
    orientation model (dl_cls.pose.model), whose pick is read (below `orient_sure`, its next poses too)."""
    deadline = Deadline(budget_s)
    row = dict(orientation=0, mirrored=False, skew_deg=0.0, n_chars=0, mean_conf=0.0, title="", text="", note="ok",
               pose_p=None)
    title = page = OcrText()
    try:
        # scale once, before deskewing: rotating the small page would blur its thin strokes further
        skew, upright, cands = candidates(upscaled_grey(img, work_scale(img.shape, s)), all_turns=s.all_turns)
        row["skew_deg"] = round(skew, 2)
        deadline.left()
        cands, row["pose_p"] = _poses(upright, cands, orienter, s)
        row["poses_read"] = len(cands)  # the cost model: one engine call per pose (not a table column)
        best, title, page, alts = _read(upright, cands, engine, s, deadline, orienter is not None)
        row.update(orientation=best[0], mirrored=best[1], alts=alts)
        if deadline.spent:
            row["note"] = "budget"
    except EngineTimeout:
        row["note"] = "budget"
    return _fill(row, _kept(title, s.keep_conf), _kept(page, s.keep_conf), s.min_conf)


def _read(upright, cands, engine, s: ReadSettings, deadline, ranked: bool) -> tuple:
    """(pose, title, page, alts) of the row: the first candidate's reading when they are `ranked` (the pose
    model's, likeliest first) and choose="text", else the most confident reading; with choose="text" the other
    candidates' readings are its alts (for the text model to choose among), with "ocr" there are none."""
    if not s.one_call:
        return (*_read_two_calls(upright, cands, engine, s, deadline), [])
    readings = _read_one_call(upright, cands, engine, s, deadline)
    by_text = s.choose == "text"
    first = 0 if by_text and ranked else _most_confident(readings)
    alts = [_alt(r, s) for i, r in enumerate(readings) if i != first] if by_text else []
    return (*readings[first], alts)


def _alt(reading: tuple, s: ReadSettings) -> dict:
    """Another pose's reading, as the row's text columns (orientation, mirrored, n_chars, mean_conf, title, text)."""
    (orientation, mirrored), title, page = reading
    return _fill(dict(orientation=orientation, mirrored=mirrored), _kept(title, s.keep_conf),
                 _kept(page, s.keep_conf), s.min_conf)


def _read_one_call(upright, cands, engine, s: ReadSettings, deadline) -> list[tuple[tuple, OcrText, OcrText]]:
    """Each candidate pose read whole, once (one engine call; the title is the words boxed in the title band):
    (pose, title, page) per candidate, in the candidates' order. A sure pose model leaves one: one call a page.
    When the time budget runs out after the first, the poses read by then (the caller notes the budget)."""
    readings = []
    for pose in cands:
        page_img = orient(upright, *pose)
        if s.title_only:
            page_img = title_band(page_img, s.title_frac)
        try:
            page = engine.read(_prepared(page_img, s), s.page_psm, deadline.left())
        except EngineTimeout:
            if not readings:
                raise
            deadline.spent = True
            break
        readings.append((pose, page if s.title_only else page.above(page_img.shape[0] * s.title_frac), page))
    return readings


def _most_confident(readings: list) -> int:
    """The reading with the most confident letters (the first among equals)."""
    scores = [reading_score(page) for _, _, page in readings]
    return int(np.argmax(scores))


def _read_two_calls(upright, cands, engine, s: ReadSettings, deadline) -> tuple[tuple, OcrText, OcrText]:
    """The reader before version 4 (kept for bench/ocr_speed.py): the title band read on its own (the most
    confident of the candidates' title readings wins), then the winner's page."""
    if len(cands) > 1:
        best, title = _best_title(upright, cands, engine, s, deadline)
    else:
        best = cands[0]
        title = engine.read(_prepared(title_band(orient(upright, *best), s.title_frac), s), s.title_psm,
                            deadline.left())
    page = engine.read(_prepared(orient(upright, *best), s), s.page_psm, deadline.left())
    return best, title, page


def _best_title(upright, cands, engine, s: ReadSettings, deadline) -> tuple[tuple, OcrText]:
    best, best_score, title = cands[0], -1.0, OcrText()
    for orientation, mirrored in cands:
        band = _prepared(title_band(orient(upright, orientation, mirrored), s.title_frac), s)
        read = engine.read(band, s.title_psm, deadline.left())
        score = reading_score(read)
        if score > best_score:
            best, best_score, title = (orientation, mirrored), score, read
    return best, title


def _fill(row: dict, title: OcrText, page: OcrText, min_conf: float) -> dict:
    """Text columns of a row: n_chars = confident letters of the page (or the title when the page read less)."""
    n_chars = max(confident_letters(page, min_conf), confident_letters(title, min_conf))
    confs = [c for w, c in zip(page.words + title.words, page.confs + title.confs) if any(map(is_letter, w))]
    row.update(n_chars=int(n_chars), mean_conf=round(float(np.mean(confs)), 1) if confs else 0.0,
               title=" ".join(title.text.split()), text=" ".join(page.text.split()))
    return row
