"""Small file helpers every stage shares: atomic writes, run dirs that are never overwritten, image I/O."""
from __future__ import annotations

import os
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


def read_image(path) -> np.ndarray:
    """Read an image as RGB uint8 (H, W, 3). Raises DlClsError naming the file when it cannot."""
    path = Path(path)
    if not path.is_file():
        raise DlClsError(f"{path}: image file not found")
    if path.stat().st_size == 0:
        raise DlClsError(f"{path}: zero-byte file")
    buf = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise DlClsError(f"{path}: not a readable image (corrupt or not an image)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


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
