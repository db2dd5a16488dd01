"""Small file helpers every stage shares: atomic writes, run dirs that are never overwritten, image I/O."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from dl_cls.errors import DlClsError


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


# the permissions a plain open() / mkdir() would give: mkstemp's 0600 and mkdtemp's 0700 are too strict for
# datasets and results that others read
_FILE_MODE = 0o666 & ~_umask()
DIR_MODE = 0o777 & ~_umask()


def atomic_write_with(path, write) -> None:
    """Call write(fh) on a temp file next to path, then rename it over path: readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    """Write data to path so that a reader sees the old file or the whole new one, never a part."""
    atomic_write_with(path, lambda fh: fh.write(data))


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_csv(df: pd.DataFrame, path, float_format: str | None = None) -> None:
    atomic_write_text(path, df.to_csv(index=False, float_format=float_format))


def read_csv(path, missing: str = "file not found", **kwargs) -> pd.DataFrame:
    """pd.read_csv where every failure is one DlClsError naming the file (IDs are always read as text)."""
    kwargs.setdefault("dtype", {"ID": str})
    try:
        return pd.read_csv(path, **kwargs)
    except FileNotFoundError:
        raise DlClsError(f"{path}: {missing}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DlClsError(f"{path}: not a readable CSV ({exc})") from exc


def create_run_dir(path) -> Path:
    """Create a new output dir; an existing one is never reused silently."""
    path = Path(path)
    if path.exists():
        raise DlClsError(
            f"{path} already exists; outputs are never overwritten. "
            "Pick another --name, resume it if the command supports --resume, or delete it yourself."
        )
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def new_output_dir(path):
    """Create a dir that must not exist yet; remove it again if the block fails (it holds only what the block
    wrote). The one way every writer makes its output dir, so a failed start never blocks the name."""
    path = create_run_dir(path)
    try:
        yield path
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


# ---------------------------------------------------------------------------------------------- made-by marker
MADE_MARKER = ".dl_cls-made.json"


def mark_made(root, kind: str, settings: dict) -> None:
    """Record in root that dl_cls made it and every file in it (written last, after the files)."""
    root = Path(root)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != MADE_MARKER)
    atomic_write_text(root / MADE_MARKER, json.dumps({"kind": kind, "settings": settings, "files": files},
                                                     indent=1, ensure_ascii=False) + "\n")


def check_made(root, kind: str) -> None:
    """Refuse (DlClsError) unless root carries our marker of this kind and holds nothing the marker does not list:
    dl_cls never deletes what it did not make."""
    root = Path(root)
    try:
        marker = json.loads((root / MADE_MARKER).read_text(encoding="utf-8"))
        known = set(marker["files"]) | {MADE_MARKER}
        ok = marker["kind"] == kind
    except (OSError, ValueError, KeyError, TypeError):
        raise DlClsError(f"{root} was not made by dl_cls as a {kind} (no readable {MADE_MARKER}); "
                         "refusing to replace it. Pick another dir") from None
    if not ok:
        raise DlClsError(f"{root} was made by dl_cls as a {marker['kind']}, not a {kind}; refusing to replace it")
    unknown = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()
                     and str(p.relative_to(root)) not in known)
    if unknown:
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        raise DlClsError(f"{root} holds files dl_cls did not write ({', '.join(unknown[:3])}{more}); refusing to "
                         "replace it. Move them away or pick another dir")


def write_made_dir(out, kind: str, write) -> Path:
    """Make (or replace) the dir `out` whole or not at all: `write(tmp) -> settings` fills a temp dir beside it,
    which is marked as made (mark_made) and renamed into place. The caller has checked an existing `out`
    (check_made) before any work."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(DIR_MODE)  # mkdtemp's 0700 would otherwise become the dir's mode
    try:
        mark_made(tmp, kind, write(tmp))
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


# ---------------------------------------------------------------------------------------------- images
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def image_files(folder) -> list[Path]:
    """The image files of a folder (by suffix; hidden files skipped), sorted by name."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file())


def _to_rgb8(img: np.ndarray) -> np.ndarray:
    """Any decoded image (grey, BGR, BGRA; 8 or 16 bit) -> RGB uint8, transparent areas composited onto white:
    transparent pixels often hold RGB 0, which would turn a page black."""
    if img.dtype == np.uint16:
        img = (img / 257.0).round().astype(np.uint8)
    elif img.dtype != np.uint8:
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        bgr = img[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        img = bgr.round().astype(np.uint8)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


_ALPHA_SUFFIXES = (".png", ".webp", ".tif", ".tiff")  # JPEG has no alpha, and IMREAD_COLOR applies its EXIF turn


def _decode(path: Path, buf: np.ndarray):
    flag = cv2.IMREAD_UNCHANGED if path.suffix.lower() in _ALPHA_SUFFIXES else cv2.IMREAD_COLOR
    return cv2.imdecode(buf, flag)


def read_image(path) -> np.ndarray:
    """Read an image as RGB uint8 (H, W, 3); transparency is composited onto white. Every stage reads through
    here. Raises DlClsError naming the file when it cannot."""
    path = Path(path)
    if not path.is_file():
        raise DlClsError(f"{path}: image file not found")
    if path.stat().st_size == 0:
        raise DlClsError(f"{path}: zero-byte file")
    img = _decode(path, np.fromfile(str(path), dtype=np.uint8))
    if img is None:
        raise DlClsError(f"{path}: not a readable image (corrupt or not an image)")
    return _to_rgb8(img)


def encode_image(rgb: np.ndarray, suffix: str, quality: int = 95, png_level: int | None = None) -> bytes:
    """Encode an RGB image; JPEG/PNG encoding by OpenCV is deterministic, which resumable outputs rely on.
    png_level: zlib level 0-9 for .png (None: OpenCV's default)."""
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb
    suffix = suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if suffix in (".jpg", ".jpeg") else []
    if suffix == ".png" and png_level is not None:
        params = [cv2.IMWRITE_PNG_COMPRESSION, int(png_level)]
    ok, buf = cv2.imencode(suffix, bgr, params)
    if not ok:
        raise DlClsError(f"could not encode image as {suffix}")
    return buf.tobytes()


def write_image(path, rgb: np.ndarray, quality: int = 95) -> None:
    """Write an RGB image atomically; the format follows the file suffix."""
    path = Path(path)
    atomic_write_bytes(path, encode_image(rgb, path.suffix, quality))
