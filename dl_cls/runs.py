"""The one owner of the run-dir conventions every stage shares.

A run dir (WORK/runs/<name>/, WORK/ensembles/<name>/) holds config.yaml, oof.csv (ID,fold,p_<c>...),
test_probs.csv (ID,p_<c>...) and summary.json. Probability columns are named by the original class index, so a
class-subset run (a specialist) names only its classes. Stages read and write these files through this module.
"""
from __future__ import annotations

import hashlib
import platform
import re
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd
import yaml
from sklearn.metrics import f1_score

from dl_cls.errors import DlClsError
from dl_cls.io import atomic_write_text

CONFIG_FILE = "config.yaml"
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=,@-]*")  # one path component, no leading dot


def prob_columns(classes) -> list[str]:
    """Probability column names of a run over these original classes."""
    return [f"p_{int(c)}" for c in classes]


def classes_of(columns) -> list[int]:
    """Original class of each probability column (p_<c>), in column order; other columns are skipped."""
    return [int(c[2:]) for c in columns if str(c).startswith("p_")]


def check_name(name: str, what: str = "--name") -> str:
    """A run or ensemble name is one plain path component: `../x` or `a/b` would write outside WORK."""
    if not _NAME_RE.fullmatch(name or "") or ".." in name:
        raise DlClsError(f"{what} {name!r}: use letters, digits and _ . + = , @ - (one name, not a path, "
                         "not starting with a dot)")
    return name


def run_path(work, name: str, kind: str = "runs") -> Path:
    """WORK/<kind>/<name> for a checked name."""
    return Path(work) / kind / check_name(name)


def resolve_run_dir(run: str, work, kinds: tuple[str, ...] = ("runs",)) -> Path:
    """RUN is a path to a run dir, or a name under WORK/<kind>/ for each kind tried in order."""
    path = Path(run)
    if (path / CONFIG_FILE).is_file():
        return path
    tried = [path]
    for kind in kinds:
        candidate = Path(work) / kind / run
        if (candidate / CONFIG_FILE).is_file():
            return candidate
        tried.append(candidate)
    raise DlClsError(f"run {run!r} not found: no {CONFIG_FILE} in " + " or ".join(str(t) for t in tried))


def read_run_config(run_dir) -> dict:
    """A run's config.yaml as a dict; any problem is one error naming the file."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise DlClsError(f"{path} not found: {run_dir} is not a run dir")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DlClsError(f"{path}: cannot read config ({exc})") from exc
    if not isinstance(config, dict) or "data_dir" not in config:
        raise DlClsError(f"{path}: not a run config (expected a mapping with data_dir, num_classes, classes)")
    return config


def write_run_config(run_dir, config: dict) -> None:
    atomic_write_text(Path(run_dir) / CONFIG_FILE, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def macro_f1(y_true, y_pred) -> float:
    """The competition metric; a class never predicted scores 0 (no warning)."""
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def split_hash(folds: pd.DataFrame) -> str:
    """A fingerprint of a k-fold split (ID -> fold), independent of row order: a run records it so that a resume
    or merge on another folds.csv is refused before any work."""
    rows = sorted(zip(folds["ID"].astype(str), folds["fold"].astype(int)))
    text = "\n".join(f"{i},{k}" for i, k in rows)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict:
    """Versions of what produced a result (recorded in every summary.json)."""
    out = {"python": platform.python_version()}
    for pkg in ("dl_cls", "torch", "timm", "albumentations", "augraphy", "numpy", "pandas", "scikit-learn",
                "opencv-python-headless"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
