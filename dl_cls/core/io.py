"""Small file helpers every stage shares: atomic writes, run dirs that are never overwritten, image I/O."""
from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from dl_cls.core.errors import DlClsError, is_disk_full


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
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # a read-only dir: name the file being written, not the temp name it was to have
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException as exc:
        size = os.path.getsize(tmp) if os.path.exists(tmp) else 0
        if os.path.exists(tmp):
            os.unlink(tmp)
        if not is_disk_full(exc):
            raise
        if getattr(exc, "filename", None) is None:  # say which file could not be written
            full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            full.partial_bytes = size
            raise full from exc
        exc.partial_bytes = size  # the free space is measured after this partial file is gone: say what it took
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    """Write data to path so that a reader sees the old file or the whole new one, never a part."""
    atomic_write_with(path, lambda fh: fh.write(data))


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_csv(df: pd.DataFrame, path, float_format: str | None = None) -> None:
    atomic_write_text(path, df.to_csv(index=False, float_format=float_format))


def read_text(path, missing: str = "file not found") -> str:
    """The text of a file a user can point at (a YAML config, a CSV, a JSON): the one place its bytes are read and
    decoded, so a missing file, a directory or bytes that are not UTF-8 are one DlClsError naming the file, never a
    traceback. A UTF-8 byte-order mark (spreadsheet exports) is dropped."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DlClsError(f"{path}: {missing}") from None
    except IsADirectoryError:
        raise DlClsError(f"{path}: is a directory; give a file") from None
    except OSError as exc:
        raise DlClsError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DlClsError(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it "
                         "as UTF-8") from None


def read_csv(path, missing: str = "file not found", **kwargs) -> pd.DataFrame:
    """pd.read_csv where every failure is one DlClsError naming the file (IDs are always read as text); the bytes
    are read and decoded by read_text."""
    kwargs.setdefault("dtype", {"ID": str})
    text = read_text(path, missing)
    try:
        return pd.read_csv(io.StringIO(text), **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DlClsError(f"{path}: not a readable CSV ({exc})") from None


# ---------------------------------------------------------------------------------------------- recorded data dirs
def data_key(path) -> str:
    """How every artifact records a data dir and how a given one is compared with what was recorded: the resolved
    absolute path (`--data s` typed next to WORK and `/abs/s` typed elsewhere are one data dir)."""
    return str(Path(path).resolve())


def recorded_data_dir(recorded, work, where) -> str:
    """The data dir an artifact of `work` recorded (in file `where`), absolute. A relative one (older versions
    recorded `--data` as typed) was typed where that command ran, unknown now: next to WORK (`--work w --data s`,
    the Makefile's way) or in the cwd; the one that is a data dir (has train.csv) is meant, two are refused."""
    path = Path(recorded)
    if path.is_absolute():
        return str(path)  # as written (resolved then): a rewrite stays byte-identical
    candidates = list(dict.fromkeys(data_key(base / path) for base in (Path(work).resolve().parent, Path.cwd())))
    found = [c for c in candidates if (Path(c) / "train.csv").is_file()]
    if len(found) > 1:
        raise DlClsError(f"{where}: data_dir {str(recorded)!r} is relative (an older dl_cls recorded it as typed) "
                         f"and both {found[0]} and {found[1]} are data dirs: write the absolute path of the one it "
                         f"was made from as data_dir in {where}")
    return found[0] if found else candidates[0]


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


def file_sha256(path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _tree(root: Path) -> tuple[dict[str, Path], set[str], list[str]]:
    """(regular files by relative path, sub-dirs, anything else: links, sockets) of root; links are not followed."""
    files, dirs, other = {}, set(), []
    for top, subdirs, names in os.walk(root):
        rel_top = Path(top).relative_to(root)
        for name in subdirs + names:
            path, rel = Path(top) / name, str(rel_top / name)
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                other.append(rel)
            elif path.is_dir():
                dirs.add(rel)
            elif name != MADE_MARKER or top != str(root):
                files[rel] = path
    return files, dirs, other


def mark_made(root, kind: str, settings: dict) -> None:
    """Record in root that dl_cls made it: every file with its content hash and every sub-dir (written last,
    after the files), so a later replace can tell an edited or added file from its own."""
    root = Path(root)
    files, dirs, _ = _tree(root)
    record = {"kind": kind, "settings": settings, "files": {rel: file_sha256(p) for rel, p in sorted(files.items())},
              "dirs": sorted(dirs)}
    atomic_write_text(root / MADE_MARKER, json.dumps(record, indent=1, ensure_ascii=False) + "\n")


def _read_marker(root: Path, kind: str, shown: Path) -> dict:
    try:
        marker = json.loads((root / MADE_MARKER).read_text(encoding="utf-8"))
        ok = marker["kind"] == kind
    except (OSError, ValueError, KeyError, TypeError):
        raise DlClsError(f"{shown} was not made by dl_cls as a {kind} (no readable {MADE_MARKER}); "
                         "refusing to replace it. Pick another dir") from None
    if not ok:
        raise DlClsError(f"{shown} was made by dl_cls as a {marker['kind']}, not a {kind}; refusing to replace it")
    if not isinstance(marker.get("files"), dict) or not isinstance(marker.get("dirs"), list):
        raise DlClsError(f"{shown}: its {MADE_MARKER} records no content hashes (an older dl_cls made it), so "
                         "an edited file could not be told apart; refusing to replace it. Delete it yourself or "
                         "pick another dir")
    return marker


def _few(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def check_made(root, kind: str, shown=None) -> dict:
    """Refuse (DlClsError) unless root carries our marker of this kind and holds exactly what the marker lists:
    no file edited since (content hashes), none and no dir added. dl_cls never deletes what it did not make.
    Returns the marker. `shown`: the path to name in messages (default root)."""
    root = Path(root)
    shown = Path(shown or root)
    marker = _read_marker(root, kind, shown)
    files, dirs, other = _tree(root)
    added = sorted(set(files) - set(marker["files"])) + sorted(dirs - set(marker["dirs"])) + sorted(other)
    if added:
        raise DlClsError(f"{shown} holds files dl_cls did not write ({_few(added)}); refusing to replace it. "
                         "Move them away or pick another dir")
    edited = sorted(rel for rel, p in files.items() if file_sha256(p) != marker["files"][rel])
    if edited:
        raise DlClsError(f"{shown}: {_few(edited)} changed since dl_cls wrote it (content differs); refusing to "
                         "replace it. Move your version away or pick another dir")
    return marker


def made_dir_target(out, what: str = "output dir") -> Path:
    """The dir write_made_dir will make or replace, checked before any work: a symbolic link to a dir is followed
    (the link stays and points at the new dir); a dangling link or a file is refused."""
    out = Path(out)
    if out.is_symlink():
        real = out.resolve()
        if not real.is_dir():
            raise DlClsError(f"{what} {out} is a symbolic link to {real}, which is not a directory; give a "
                             "directory")
        return real
    if out.exists() and not out.is_dir():
        raise DlClsError(f"{what} {out}: exists and is not a directory")
    return out


def _remove_made(old: Path, marker: dict, shown: Path) -> None:
    """Delete what the marker lists, one file at a time: anything that appeared since the check survives."""
    for rel in list(marker["files"]) + [MADE_MARKER]:
        with contextlib.suppress(FileNotFoundError):
            (old / rel).unlink()
    for rel in sorted(marker["dirs"], key=lambda r: -r.count(os.sep)) + ["."]:
        try:
            (old / rel).rmdir()
        except FileNotFoundError:
            pass
        except OSError:  # something appeared in it at the last moment: kept, not deleted
            logging.getLogger(__name__).warning("kept %s: files appeared in the old %s while it was replaced",
                                                old, shown)
            return


def _swap_in(tmp: Path, out: Path, kind: str) -> None:
    """Put tmp at out. An existing out is moved aside and checked again (files may have been added or edited
    while the caller worked); on any difference it is moved back untouched and the swap refused."""
    old, marker = None, None
    if out.exists():
        with contextlib.suppress(OSError):
            out.rmdir()  # empty: nothing of anyone's to keep (fails if something is inside)
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.replace(out, old)  # atomic: whoever writes into out from now on gets an error, not a lost file
        try:
            marker = check_made(old, kind, shown=out)
        except BaseException:
            os.replace(old, out)
            raise
    try:
        tmp.rename(out)
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        _remove_made(old, marker, out)


def write_made_dir(out, kind: str, write) -> Path:
    """Make (or replace) the dir `out` whole or not at all: `write(tmp) -> settings` fills a temp dir beside it,
    which is marked as made (mark_made) and swapped in. The caller has checked an existing `out` (check_made)
    before any work; it is checked again at the swap, so what appeared meanwhile is never deleted."""
    out = made_dir_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(DIR_MODE)  # mkdtemp's 0700 would otherwise become the dir's mode
    try:
        mark_made(tmp, kind, write(tmp))
        _swap_in(tmp, out, kind)
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


def as_flag(value) -> bool:
    """A bool column of an OCR or truth table as it comes: a bool in memory, True/False (or 1/0) text in a CSV."""
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "1.0")
