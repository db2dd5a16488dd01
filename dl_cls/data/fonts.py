"""Korean font files for the sample's pages, found by path (no fontconfig dependency).

OpenCV's Hershey fonts have no Hangul, so the sample draws its text with PIL on the Debian packages' font files:
fonts-nanum (NanumGothic, NanumMyeongjo, NanumBarunGothic, NanumSquare) and fonts-noto-cjk (Noto Sans/Serif CJK,
whose .ttc holds several faces: the Korean one is picked by index). `make install` (ocr-deps) installs both as root.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from dl_cls.core.errors import DlClsError

NANUM = Path("/usr/share/fonts/truetype/nanum")
NOTO = Path("/usr/share/fonts/opentype/noto")
NOTO_KR = 1  # face index of "Noto Sans/Serif CJK KR" in the Debian .ttc files (JP, KR, SC, TC, HK)
INSTALL_HINT = "install fonts-nanum (`make install` does, as root: apt-get install fonts-nanum fonts-noto-cjk)"


@dataclass(frozen=True)
class Face:
    """One usable font: its style ('gothic' = sans, 'myeongjo' = serif), weight, file and .ttc face index."""

    name: str
    style: str
    bold: bool
    path: str
    index: int = 0


# (name, style, bold, file, face index): the order is the preference within a style and weight
KNOWN = (
    ("NanumGothic", "gothic", False, NANUM / "NanumGothic.ttf", 0),
    ("NanumBarunGothic", "gothic", False, NANUM / "NanumBarunGothic.ttf", 0),
    ("NanumSquare", "gothic", False, NANUM / "NanumSquareR.ttf", 0),
    ("NotoSansCJK-KR", "gothic", False, NOTO / "NotoSansCJK-Regular.ttc", NOTO_KR),
    ("NanumGothicBold", "gothic", True, NANUM / "NanumGothicBold.ttf", 0),
    ("NanumBarunGothicBold", "gothic", True, NANUM / "NanumBarunGothicBold.ttf", 0),
    ("NanumSquareBold", "gothic", True, NANUM / "NanumSquareB.ttf", 0),
    ("NotoSansCJK-KR-Bold", "gothic", True, NOTO / "NotoSansCJK-Bold.ttc", NOTO_KR),
    ("NanumMyeongjo", "myeongjo", False, NANUM / "NanumMyeongjo.ttf", 0),
    ("NotoSerifCJK-KR", "myeongjo", False, NOTO / "NotoSerifCJK-Regular.ttc", NOTO_KR),
    ("NanumMyeongjoBold", "myeongjo", True, NANUM / "NanumMyeongjoBold.ttf", 0),
    ("NotoSerifCJK-KR-Bold", "myeongjo", True, NOTO / "NotoSerifCJK-Bold.ttc", NOTO_KR),
)


def korean_fonts() -> list[Face]:
    """The known Korean font files present on this machine, in preference order."""
    return [Face(name, style, bold, str(path), index) for name, style, bold, path, index in KNOWN if path.is_file()]


def require_korean_fonts() -> list[Face]:
    """korean_fonts(), or one line with the fix when there is none."""
    faces = korean_fonts()
    if not faces:
        raise DlClsError(f"the sample draws Korean text and no Korean font was found under {NANUM} or {NOTO}: "
                         f"{INSTALL_HINT}")
    return faces


def pick(faces: list[Face], style: str, bold: bool) -> list[Face]:
    """Faces of a style and weight, falling back to the weight in any style, then to any face: a machine with
    only NanumGothic still draws every page."""
    for ok in (lambda f: f.style == style and f.bold == bold, lambda f: f.bold == bold, lambda f: True):
        found = [f for f in faces if ok(f)]
        if found:
            return found
    return []


@lru_cache(maxsize=256)
def load(face: Face, px: int) -> ImageFont.FreeTypeFont:
    """The face at `px` pixels (at least 1: FreeType refuses 0), loaded once per process."""
    return ImageFont.truetype(face.path, max(1, int(px)), index=face.index)
