"""The one owner of the run-dir conventions every stage shares.

A run dir (WORK/runs/<name>/, WORK/ensembles/<name>/) holds config.yaml, oof.csv (ID,fold,p_<c>...),
test_probs.csv (ID,p_<c>...) and summary.json. Probability columns are named by the original class index, so a
class-subset run (a specialist) names only its classes. Stages read and write these files through this module;
config.yaml as a RunConfig (the typed contract keys + the stage's own recipe).
"""
from __future__ import annotations

import hashlib
import json
import platform
import re
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from dataclasses import MISSING, asdict, dataclass, field, fields

import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import f1_score

from dl_cls.core.config import load_config, read_yaml
from dl_cls.core.errors import DataError, DlClsError
from dl_cls.core.io import atomic_write_text, read_csv, recorded_data_dir
from dl_cls.data.contract import DataDir, load_data

CONFIG_FILE = "config.yaml"
FOLD_DONE = "fold.json"  # written last in a fold dir: the fold is finished
ROW_SUM_TOL = 1e-3  # probabilities are written as text; a row may sum to 1 +- rounding
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
    tried = list(dict.fromkeys(tried))  # an absolute RUN is the same path under every kind: name it once
    raise DlClsError(f"run {run!r} not found: no {CONFIG_FILE} in " + " or ".join(str(t) for t in tried))


# ---------------------------------------------------------------------------------------------- config.yaml
@dataclass
class EnsembleOptions:
    """What decided an ensemble (`dl-cls ensemble`'s options and the method it chose), kept in its config.yaml.
    Here rather than in dl_cls.ensemble: the ledger (artifacts.runstate, a layer below the stages) reads it too."""
    method: str
    method_forced: bool
    members: list[str]  # run dirs, resolved
    specialists: list[str]
    mass_threshold: float | None
    seed: int


@dataclass
class RunConfig:
    """A run dir's config.yaml: the contract keys every run dir may carry (trained run, ensemble, OCR expert),
    typed, plus the stage-owned rest as a dict (`recipe`, e.g. the trainer's TrainConfig fields; read with
    `get`). An ensemble's own keys are `ensemble`. `key_order` keeps the file's key order for a byte-identical
    rewrite; a contract key not in it is written only when set to other than its default."""
    data_dir: str
    label_fixes: str | None = "default"  # dl_cls.data.load_data's label_fixes
    kind: str | None = None  # "ensemble" | "ocr"; a trained run has none
    num_classes: int | None = None
    class_names: list[str] | None = None
    classes: list[int] | None = None  # a class-subset run's original classes (sorted); None for a full run
    subset_classes: list[int] | None = None  # the same, in OCR expert runs made before 2026-12-02
    folds: list[int] | None = None
    folds_requested: list[int] | None = None
    split_hash: str | None = None
    model_config: str | None = None
    work_dir: str | None = None
    aug_dir: str | None = None
    pseudo_dir: str | None = None  # the pseudo-label set (dl-cls pseudo) a trained run added to every fold's training
    pseudo_round: int | None = None  # that set's round: 1 = labelled by runs trained without pseudo-labels
    git_commit: str | None = None
    ensemble: EnsembleOptions | None = None
    recipe: dict = field(default_factory=dict)
    key_order: tuple = field(default=(), repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict, where="config") -> "RunConfig":
        """Typed from a config.yaml mapping; a missing or mistyped key is one error naming `where` and the key."""
        rest = {k: v for k, v in data.items() if k not in CONTRACT_KEYS}
        ensemble = None
        if data.get("kind") == "ensemble":  # the ensembler's file has no stage-owned rest: a typo is an error
            ensemble, rest = _typed(EnsembleOptions, rest, where), {}
        config = _typed(cls, {k: v for k, v in data.items() if k in CONTRACT_KEYS}, where)
        config.ensemble, config.recipe, config.key_order = ensemble, rest, tuple(data)
        return config

    def to_dict(self) -> dict:
        """The config.yaml mapping: the keys in `key_order` first, then newly set ones."""
        values = {k: getattr(self, k) for k in CONTRACT_KEYS}
        values.update(asdict(self.ensemble) if self.ensemble is not None else {})
        values.update(self.recipe)
        out = {k: values[k] for k in self.key_order if k in values}
        out.update((k, v) for k, v in values.items()
                   if k not in out and (k not in CONTRACT_KEYS or v != _CONTRACT_DEFAULTS[k]))
        return out

    def get(self, key: str, default=None):
        """A stage-owned (recipe) key such as img_size; contract keys are attributes."""
        if key in CONTRACT_KEYS:
            raise KeyError(f"{key} is a RunConfig attribute")
        return self.recipe.get(key, default)

    @property
    def oof_pages(self) -> str:
        """The validation pages oof.csv predicts: 'testlike' (the trainer's and the OCR expert's default) or 'clean'
        (an OCR expert built before it read test-like copies, or with the option that skipped them, or a run trained with
        oof_on=clean). Clean-page OOF flatters a run."""
        return str(self.recipe.get("oof_on", "clean" if self.kind == "ocr" else "testlike"))

    @property
    def subset(self) -> list[int] | None:
        """The original classes of a class-subset run (the order of its probability columns), None for a full run."""
        classes = self.subset_classes or self.classes
        return None if classes is None else list(classes)


CONTRACT_KEYS = tuple(f.name for f in fields(RunConfig) if f.name not in ("ensemble", "recipe", "key_order"))
_CONTRACT_DEFAULTS = {f.name: f.default for f in fields(RunConfig) if f.name in CONTRACT_KEYS}


def _typed(cls, data: dict, where):
    """`cls` built by dl_cls.core.config from a mapping; every problem names `where` and the key."""
    missing = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
               and f.name not in data]
    if missing and set(data) <= {f.name for f in fields(cls)}:  # else load_config names the unknown key first
        raise DlClsError(f"{where}: missing key(s) {', '.join(missing)}")
    try:
        return load_config(cls, None, data)
    except DlClsError as exc:
        raise DlClsError(f"{where}: {exc}") from None


def read_run_config(run_dir) -> RunConfig:
    """A run's config.yaml, typed; any problem is one error naming the file."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise DlClsError(f"{path} not found: {run_dir} is not a run dir")
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise DlClsError(f"{path}: not a run config (expected a mapping with data_dir, num_classes, classes)")
    config = RunConfig.from_dict(data, path)
    config.data_dir = recorded_data_dir(config.data_dir, Path(run_dir).parent.parent, path)  # WORK/<kind>/<name>
    return config


def write_run_config(run_dir, config: RunConfig) -> None:
    data = config.to_dict()
    atomic_write_text(Path(run_dir) / CONFIG_FILE, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


# ---------------------------------------------------------------------------------------------- loading runs
@dataclass
class LoadedRun:
    """A finished run or ensemble read from disk: its config and validated probability tables."""
    name: str
    path: Path
    config: RunConfig
    classes: list[int]  # original class index of each probability column, in column order
    oof: pd.DataFrame  # ID, fold, p_<c>...
    test: pd.DataFrame  # ID, p_<c>...

    @property
    def is_subset(self) -> bool:
        return self.config.subset is not None

    @property
    def prob_columns(self) -> list[str]:
        return prob_columns(self.classes)

    def oof_probs(self) -> np.ndarray:
        return self.oof[self.prob_columns].to_numpy(dtype=float)

    def test_probs(self) -> np.ndarray:
        return self.test[self.prob_columns].to_numpy(dtype=float)


def _read_probs(path: Path, classes: list[int], with_fold: bool) -> pd.DataFrame:
    """Read and validate an oof.csv / test_probs.csv; every problem names the file and the CSV line."""
    df = read_csv(path, "file missing (did the run finish?)")
    expected = ["ID"] + (["fold"] if with_fold else []) + prob_columns(classes)
    if sorted(df.columns) != sorted(expected):
        raise DataError([f"{path}: columns {', '.join(map(str, df.columns))}; expected {', '.join(expected)} "
                         "(from the run's config classes/num_classes)"], f"{path} has the wrong columns")
    df = df[expected]
    problems = []
    dup = df["ID"].duplicated(keep=False)
    if dup.any():
        problems.append(f"{path}: duplicate IDs at lines {', '.join(str(i + 2) for i in np.flatnonzero(dup)[:10])}")
    probs = df[expected[-len(classes):]].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(probs).all(axis=1)
    bad |= np.isfinite(probs).all(axis=1) & (np.abs(np.nan_to_num(probs).sum(axis=1) - 1) > ROW_SUM_TOL)
    bad |= (np.nan_to_num(probs) < 0).any(axis=1)
    for i in np.flatnonzero(bad)[:10]:
        problems.append(f"{path}: line {i + 2} (ID {df['ID'].iloc[i]}): probabilities must be finite, >= 0 and "
                        f"sum to 1 (sum {np.nansum(probs[i]):.4f})")
    if with_fold and not pd.api.types.is_integer_dtype(df["fold"]):
        problems.append(f"{path}: fold column is not all integers")
    if problems:
        raise DataError(problems, f"{path} is not a valid probability table")
    return df


def load_run(run_dir, name: str | None = None) -> LoadedRun:
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    classes = config.subset
    if classes is None:
        if config.num_classes is None:
            raise DlClsError(f"{run_dir / CONFIG_FILE}: needs num_classes (or classes for a subset run)")
        classes = list(range(config.num_classes))
    oof = _read_probs(run_dir / "oof.csv", classes, with_fold=True)
    test = _read_probs(run_dir / "test_probs.csv", classes, with_fold=False)
    return LoadedRun(name=name or run_dir.name, path=run_dir, config=config, classes=classes, oof=oof, test=test)


def _examples(ids, n: int = 5) -> str:
    ids = sorted(ids)
    return ", ".join(map(str, ids[:n])) + (f" and {len(ids) - n} more" if len(ids) > n else "")


def coverage_problems(run: LoadedRun, dd: DataDir, what: str = "run") -> list[str]:
    """Why a run's rows do not line up with the data dir: OOF IDs not in train.csv; train IDs a full-class run's
    oof.csv lacks (a partial run, one still training, a cut file: it parses, so only the count tells); test IDs
    other than sample_submission's. `dl-cls ensemble` and `dl-cls pseudo` refuse such a run."""
    train_ids, ids, test_ids = set(dd.train["ID"]), set(run.oof["ID"]), set(run.test["ID"])
    problems = []
    if ids - train_ids:
        problems.append(f"{what} {run.name}: oof.csv has {len(ids - train_ids)} IDs not in {dd.root}/train.csv "
                        f"({_examples(ids - train_ids)})")
    if not run.is_subset and train_ids - ids:
        problems.append(f"{what} {run.name}: oof.csv lacks {len(train_ids - ids)} train IDs "
                        f"({_examples(train_ids - ids)})")
    if test_ids != set(dd.test_ids):
        problems.append(f"{what} {run.name}: test_probs.csv IDs differ from {dd.root}/sample_submission.csv "
                        f"({_differ(set(dd.test_ids), test_ids)})")
    return problems


def _differ(expected: set, found: set) -> str:
    """'missing a, b; extra c', each part only when it names an ID (an empty 'extra ' once ended the line)."""
    parts = [(word, ids) for word, ids in (("missing", expected - found), ("extra", found - expected)) if ids]
    return "; ".join(f"{word} {_examples(ids)}" for word, ids in parts)


def test_shrink(run: LoadedRun) -> float | None:
    """A text run's (dl-cls ocr) test_shrink from its summary.json: how much worse its test pages read than the
    test-like copies its OOF was measured on; None for a trained run or one written before the figure. Anything
    but a number in [0, 1] is refused (-0.5 would turn the run's predictions upside down, NaN crash)."""
    if run.config.kind != "ocr":
        return None
    path = run.path / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):  # not UTF-8, not JSON: refused below
        summary = None
    if not isinstance(summary, dict):
        raise DlClsError(f"{path}: damaged (not a JSON object); run dl-cls ocr again to write this text run")
    if "test_shrink" not in summary:  # a run written before the readability figures
        return None
    value = summary["test_shrink"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:  # NaN fails too
        raise DlClsError(f"{path}: test_shrink is {json.dumps(value)}, not a number in [0, 1]; mend it (1 leaves "
                         "the run's test probabilities as they are) or run dl-cls ocr again")
    return float(value)


def load_truth(config: RunConfig) -> DataDir:
    """The data dir a run (or ensemble) was made from, with the label fixes it trained on."""
    return load_data(config.data_dir, config.label_fixes)


def finished_folds(run_dir) -> list[int]:
    """Folds of a run dir whose fold<k>/fold.json exists, sorted."""
    done = []
    for p in Path(run_dir).glob(f"fold*/{FOLD_DONE}"):
        if p.parent.name[4:].isdigit():
            done.append(int(p.parent.name[4:]))
    return sorted(done)


def macro_f1(y_true, y_pred, labels=None) -> float:
    """The competition metric; a class never predicted scores 0 (no warning). `labels`: the classes averaged over
    (default: every label seen in either; give them when y_pred holds a 'no prediction' marker)."""
    return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


F1_DRAWS = 200  # bootstrap draws for macro_f1_sd


def macro_f1_sd(y_true, y_pred, labels=None, draws: int = F1_DRAWS, seed: int = 0) -> float:
    """The macro F1's noise from the rows' draw: its sd over bootstrap resamples of the rows (seeded, so the same
    rows give the same figure). On make demo's sample the family expert's gap between its OOF (96 copies) and its
    test F1 (96 test pages) has an sd of 0.05 from those draws alone (bench/ocr_gap.py): as wide as the gap issue 29
    asks to keep under 0.05."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) < 2:
        return 0.0
    rng = np.random.default_rng(seed)
    picks = (rng.integers(0, len(y_true), len(y_true)) for _ in range(draws))
    return float(np.std([macro_f1(y_true[i], y_pred[i], labels) for i in picks]))


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
