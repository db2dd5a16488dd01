"""OCR engines behind one small interface: `read(image, psm) -> OcrText` (words with per-word confidences).

Tesseract 5 is the first engine: the only offline Korean OCR available (RapidOCR/EasyOCR/PaddleOCR download their
Korean models at run time). Where the system's libtesseract is the binary's own version, each worker process loads it
once and calls its C API (`TesseractLibrary`): the command line starts a process and loads the language model for
every page, ~47 ms more CPU a page (x1.15 on the sample's pages: bench/ocr_engine.py), for the same words. pytesseract
runs the command line too; tesserocr's wheel bundles another tesseract (5.5 against Debian's 5.3: other words),
and built against Debian's it needs a compiler and headers, so the C API is called through ctypes. Otherwise (another
binary, no library) it is called as a subprocess on PNG bytes through stdin/stdout, with the per-call timeout (the
per-image time budget) and `OMP_THREAD_LIMIT=1` (one OCR thread per worker).
Another engine only has to provide `name`, `version()`, `check()` and `read()`.
"""
from __future__ import annotations

import atexit
import csv
import ctypes
import ctypes.util
import io
import os
import shutil
import subprocess
import time
from contextlib import suppress
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
    """tesseract 5 through libtesseract in process where it can (see the module's note), else its command line;
    `image` is a grey or RGB uint8 array, already preprocessed."""

    name = "tesseract"

    def __init__(self, lang: str = "kor+eng", binary: str = "tesseract", invert_lines: bool = False,
                 in_process: bool = True):
        # invert_lines: tesseract's own default re-reads every low-confidence line as white-on-black text; on our
        # binarised pages (dark text on white) that costs ~1.5x the time for ~3% of the confident words. Off, as in
        # ReadSettings.invert_lines (the cache key): make the engine from the settings
        self.lang, self.binary, self.invert_lines = lang, binary, invert_lines
        # in_process: read through libtesseract's C API where the binary is the one on PATH (another one the user
        # names is run as named), the library is its version and OpenMP runs one thread (TesseractLibrary.of); the
        # library is only loaded where a page is read (the workers), never at check()
        self.in_process, self.binary_version = in_process, None

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
        self.binary_version = self.version().split()[-1]

    def version(self) -> str:
        out = self._run(["--version"], timeout=30)
        return (out.stdout or out.stderr).decode(errors="replace").splitlines()[0].strip()

    def library_reader(self) -> "TesseractLibrary | None":
        """This process's in-process reader, None where pages go to the command line (not checked, not wanted, or
        TesseractLibrary.of refuses)."""
        if not (self.in_process and self.binary == "tesseract" and self.binary_version):
            return None
        return TesseractLibrary.of(self.lang, self.invert_lines, self.binary_version)

    def read(self, image: np.ndarray, psm: int, timeout: float | None = None) -> OcrText:
        reader = self.library_reader()
        if reader is not None:
            return reader.read(image, psm, timeout)
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


TSV_HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
_LIBRARY: dict = {}  # this process's libtesseract (None: not installed) and its TesseractLibrary per language


def _load_library():
    """libtesseract with the C API calls we use declared, or None where it is absent."""
    name = ctypes.util.find_library("tesseract")
    try:
        lib = ctypes.CDLL(name) if name else None
    except OSError:
        lib = None
    if lib is None:
        return None
    p, c_int, text = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    for fn, args, res in [("TessVersion", [], text), ("TessBaseAPICreate", [], p),
                          ("TessBaseAPIInit3", [p, text, text], c_int),
                          ("TessBaseAPISetVariable", [p, text, text], c_int),
                          ("TessBaseAPISetPageSegMode", [p, c_int], None),
                          ("TessBaseAPISetImage", [p, p, c_int, c_int, c_int, c_int], None),
                          ("TessBaseAPIRecognize", [p, p], c_int), ("TessBaseAPIGetTsvText", [p, c_int], p),
                          ("TessDeleteText", [p], None), ("TessBaseAPIClear", [p], None), ("TessBaseAPIEnd", [p], None),
                          ("TessBaseAPIDelete", [p], None), ("TessMonitorCreate", [], p),
                          ("TessMonitorDelete", [p], None), ("TessMonitorSetDeadlineMSecs", [p, c_int], None)]:
        if not hasattr(lib, fn):  # an older C API: the command line then
            return None
        getattr(lib, fn).argtypes, getattr(lib, fn).restype = args, res
    _quiet_leptonica()
    return lib


def _quiet_leptonica() -> None:
    """Leptonica (libtesseract's image library) prints its errors on stderr ("box outside rectangle" on some
    pages): the command line's went to a pipe, in process they would cross the progress bar. Off."""
    for name in ("lept", "leptonica"):
        found = ctypes.util.find_library(name)
        if found:
            with suppress(OSError, AttributeError):
                ctypes.CDLL(found).setMsgSeverity(6)  # L_SEVERITY_NONE


def one_omp_thread() -> bool:
    """Whether this process's OpenMP runtime runs one thread, as OMP_THREAD_LIMIT=1 gives the command line. It reads
    the variable once, when it loads, and torch ships one of the same name that libtesseract then shares: read_all
    sets it for its workers before they start. More threads spin on a busy machine: x6 the CPU time a page."""
    name = ctypes.util.find_library("gomp")
    try:
        return name is None or ctypes.CDLL(name).omp_get_thread_limit() == 1
    except (OSError, AttributeError):
        return False


def library():
    """This process's libtesseract (loaded once), None where it is absent."""
    if "lib" not in _LIBRARY:
        _LIBRARY["lib"] = _load_library()
    return _LIBRARY["lib"]


def library_version() -> str | None:
    """libtesseract's version ("5.3.0"), None where it is not installed."""
    lib = library()
    return None if lib is None else lib.TessVersion().decode()


class TesseractLibrary:
    """One language model loaded in this process, read page after page: the same words as the command line of the
    same version (tests/test_ocr.py), without a process and a model load per page."""

    def __init__(self, lang: str, invert_lines: bool):
        self.lib = library()
        self.api = self.lib.TessBaseAPICreate()
        if self.lib.TessBaseAPIInit3(self.api, None, lang.encode()) != 0:
            raise EngineMissing(f"libtesseract could not load the language data for {lang}: {INSTALL_HINT}")
        self.lib.TessBaseAPISetVariable(self.api, b"debug_file", b"/dev/null")  # its notes went to the CLI's stderr
        if not invert_lines:
            self.lib.TessBaseAPISetVariable(self.api, b"tessedit_do_invert", b"0")
        atexit.register(self.close)

    @classmethod
    def of(cls, lang: str, invert_lines: bool, version: str) -> "TesseractLibrary | None":
        """This process's reader of `lang`; None where libtesseract is absent or not at `version` (the binary's:
        the cache key), or OpenMP would run more than one thread here."""
        key = (lang, invert_lines, version)
        if key not in _LIBRARY:
            usable = library_version() == version and one_omp_thread()
            _LIBRARY[key] = cls(lang, invert_lines) if usable else None
        return _LIBRARY[key]

    def read(self, image: np.ndarray, psm: int, timeout: float | None = None) -> OcrText:
        # a colour array as the command line got it: cv2 encodes its channels as BGR
        img = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image, np.uint8)
        lib, api = self.lib, self.api
        lib.TessBaseAPISetPageSegMode(api, psm)
        lib.TessBaseAPISetImage(api, img.ctypes.data, img.shape[1], img.shape[0], 1 if img.ndim == 2 else 3,
                                img.strides[0])
        monitor = lib.TessMonitorCreate()
        try:
            if timeout is not None:
                lib.TessMonitorSetDeadlineMSecs(monitor, max(1, int(timeout * 1000)))
            start = time.monotonic()
            failed = lib.TessBaseAPIRecognize(api, monitor)
            if timeout is not None and time.monotonic() - start >= timeout:
                raise EngineTimeout(f"tesseract ran past {timeout:.1f} s")
            if failed:  # what the command line does with a page it cannot read (too small): no words
                return OcrText()
            tsv = lib.TessBaseAPIGetTsvText(api, 0)
            if not tsv:
                return OcrText()
            try:
                return parse_tsv(TSV_HEADER + ctypes.string_at(tsv).decode("utf-8", errors="replace"))
            finally:
                lib.TessDeleteText(tsv)
        finally:
            lib.TessMonitorDelete(monitor)
            lib.TessBaseAPIClear(api)

    def close(self) -> None:
        """Free the model before the process ends (else libtesseract's cache warns of leaks on stderr)."""
        if self.api:
            self.lib.TessBaseAPIEnd(self.api)
            self.lib.TessBaseAPIDelete(self.api)
            self.api = None


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
