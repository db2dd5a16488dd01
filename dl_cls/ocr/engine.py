"""OCR engines behind one small interface: `read(image, psm) -> OcrText` (words with per-word confidences).

Tesseract 5 is the first engine: the only offline Korean OCR available (RapidOCR/EasyOCR/PaddleOCR download their
Korean models at run time). It is called as a subprocess on PNG bytes through stdin/stdout rather than through
pytesseract: that wrapper adds a dependency and temp files but nothing we need, and the subprocess gives us the
per-call timeout (the per-image time budget) and `OMP_THREAD_LIMIT=1` (one OCR thread per worker) directly.
Another engine only has to provide `name`, `version()`, `check()` and `read()`.
"""
from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from dl_cls.core.errors import DlClsError

INSTALL_HINT = ("install it with `make ocr-deps` (as root: apt-get install tesseract-ocr tesseract-ocr-kor), "
                "or point --tesseract at the binary")


class EngineMissing(DlClsError):
    """The OCR engine or its language data is not installed."""


class EngineTimeout(Exception):
    """One OCR call ran past its time limit (the caller's per-image budget)."""


@dataclass
class OcrText:
    """What one OCR call read: words in reading order, their confidences (0-100), line numbers and the top edge of
    each word's box in pixels of the image read (an engine that gives no boxes leaves `tops` empty)."""

    words: list[str] = field(default_factory=list)
    confs: list[float] = field(default_factory=list)
    lines: list[tuple] = field(default_factory=list)
    tops: list[float] = field(default_factory=list)

    def above(self, y: float) -> "OcrText":
        """The words whose box starts above `y` (the title band of a page read whole); all of them without boxes."""
        if len(self.tops) != len(self.words):
            return self
        keep = [i for i, top in enumerate(self.tops) if top < y]
        return OcrText(*([seq[i] for i in keep] for seq in (self.words, self.confs, self.lines, self.tops)))

    @property
    def text(self) -> str:
        """Words joined by spaces, lines by newlines."""
        out, last = [], None
        for word, line in zip(self.words, self.lines):
            out.append(("\n" if last is not None and line != last else " " if out else "") + word)
            last = line
        return "".join(out)


class OcrEngine(Protocol):
    name: str

    def version(self) -> str: ...

    def check(self) -> None: ...

    def read(self, image: np.ndarray, psm: int, timeout: float | None = None) -> OcrText: ...


class TesseractEngine:
    """tesseract 5 through its command line; `image` is a grey or RGB uint8 array, already preprocessed."""

    name = "tesseract"

    def __init__(self, lang: str = "kor+eng", binary: str = "tesseract", invert_lines: bool = False):
        # invert_lines: tesseract's own default re-reads every low-confidence line as white-on-black text; on our
        # binarised pages (dark text on white) that costs ~1.5x the time for ~3% of the confident words. Off, as in
        # ReadSettings.invert_lines (the cache key): make the engine from the settings
        self.lang, self.binary, self.invert_lines = lang, binary, invert_lines

    def _run(self, args: list[str], data: bytes = b"", timeout: float | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one OCR thread per worker process
        return subprocess.run([self.binary, *args], input=data, capture_output=True, timeout=timeout, env=env)

    def check(self) -> None:
        """Raise EngineMissing (one line with the fix) when the binary or a language's data is absent."""
        if shutil.which(self.binary) is None:
            raise EngineMissing(f"OCR engine {self.binary!r} not found: {INSTALL_HINT}")
        answer = self._run(["--list-langs"], timeout=30)
        listed = (answer.stdout + answer.stderr).decode(errors="replace").split()
        if answer.returncode != 0 or "languages" not in listed[:8]:  # not tesseract, or a broken one
            said = (answer.stderr or answer.stdout).decode(errors="replace").strip()[:120] or "nothing"
            raise EngineMissing(f"{self.binary!r} is not a working tesseract: `{self.binary} --list-langs` exited "
                                f"{answer.returncode} and said {said!r}: {INSTALL_HINT}")
        missing = [lang for lang in self.lang.split("+") if lang not in listed]
        if missing:
            raise EngineMissing(f"tesseract has no language data for {'+'.join(missing)}: {INSTALL_HINT}")

    def version(self) -> str:
        out = self._run(["--version"], timeout=30)
        return (out.stdout or out.stderr).decode(errors="replace").splitlines()[0].strip()

    def read(self, image: np.ndarray, psm: int, timeout: float | None = None) -> OcrText:
        ok, buf = cv2.imencode(".png", image)
        if not ok:
            raise DlClsError("could not encode an image for OCR")
        try:
            options = [] if self.invert_lines else ["-c", "tessedit_do_invert=0"]
            out = self._run(["stdin", "stdout", "-l", self.lang, "--psm", str(psm), *options, "tsv"], buf.tobytes(),
                            timeout)
        except subprocess.TimeoutExpired as exc:
            raise EngineTimeout(f"tesseract ran past {timeout:.1f} s") from exc
        if out.returncode != 0:
            raise DlClsError(f"tesseract failed: {out.stderr.decode(errors='replace').strip()[:200]}")
        return parse_tsv(out.stdout.decode("utf-8", errors="replace"))


def parse_tsv(tsv: str) -> OcrText:
    """Word rows (level 5) of tesseract's TSV output; rows without text or confidence are skipped."""
    result = OcrText()
    reader = csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    for row in reader:
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text or float(row.get("conf") or -1) < 0:
            continue
        result.words.append(text)
        result.confs.append(float(row["conf"]))
        result.lines.append((row["block_num"], row["par_num"], row["line_num"]))
        result.tops.append(float(row.get("top") or 0))
    return result


def preprocess(img: np.ndarray, upscale: float = 1.0) -> np.ndarray:
    """Grey, upscaled, background-normalised, adaptively thresholded: tesseract's own global threshold returns
    nothing on grey, dim or dark-padded pages. Dividing by the background (a large closing) flattens lighting
    and turns dark padding white before the local threshold."""
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
    if upscale != 1:
        g = cv2.resize(g, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
    k = max(15, (max(g.shape) // 40) | 1)
    background = cv2.morphologyEx(g, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    flat = cv2.divide(g, np.maximum(background, 1), scale=255)
    block = max(15, (max(g.shape) // 30) | 1)
    return cv2.adaptiveThreshold(flat, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block, 10)


def drop_rules(binary: np.ndarray) -> np.ndarray:
    """A binarised page (dark ink on white) without its table rules and box edges: ink runs longer than a tenth of
    the page (at least 40 px, longer than any letter's stroke) turned white. tesseract reads rules as | I ㅣ [ and
    they cut its lines: without them 15% more confident letters at the same time, but on the sample the family
    expert lost 0.10 of test F1 (docs/benchmarks.md), so `ReadSettings.drop_rules` is off by default."""
    ink = 255 - binary
    n = max(40, max(binary.shape) // 10)
    rules = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (n, 1)))
    rules |= cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, n)))
    rules = cv2.dilate(rules, np.ones((3, 3), np.uint8))  # the rule's anti-aliased edge too
    return np.maximum(binary, rules)


def make_engine(name: str, lang: str, binary: str = "tesseract", invert_lines: bool = False) -> OcrEngine:
    if name != "tesseract":
        raise DlClsError(f"unknown OCR engine {name!r} (available: tesseract)")
    return TesseractEngine(lang, binary, invert_lines)
