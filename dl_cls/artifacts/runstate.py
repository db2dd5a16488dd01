"""What is in a work dir: every run and ensemble with its kind, settings, scores and state.

Reads only small files (config.yaml, summary.json, members.csv, lock files), so listing a work dir of many runs
is instant. Shared by `dl-cls runs` (the ledger) and `dl-cls ensemble` without RUNS (auto-discovery).

States: running (a process holds the run's or a fold's lock), finished (summary.json says every fold is done
and no fold finished after it), partial (some folds done: train the rest, then merge-folds), failed (no fold
finished and nobody is writing: it crashed or was stopped before a fold ended; or its files are unreadable).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from dl_cls.artifacts.augsets import aug_scale
from dl_cls.artifacts.runs import CONFIG_FILE, RunConfig, finished_folds, read_run_config
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import data_key
from dl_cls.core.lock import LOCK_NAME, is_held

STATES = ("finished", "partial", "failed", "running")
NOT_CLASSIFIERS = ("orientation",)  # run kinds listed by the ledger that no ensemble can use (dl-cls orient)


@dataclass
class RunInfo:
    name: str
    path: Path
    kind: str  # member | specialist | ensemble | orientation (a page-orientation model: no class probabilities)
    state: str  # one of STATES
    reason: str = ""  # why the state is not finished, in a few words
    config: RunConfig | None = None  # None: unreadable
    summary: dict = field(default_factory=dict)
    model: str | None = None
    img_size: int | None = None
    aug_set: str | None = None
    aug_scale: int | None = None
    pseudo: str | None = None  # the pseudo-label set trained with and its round: "<set> (r1)"
    classes: list[int] | None = None
    folds_done: int = 0
    folds_total: int = 0
    oof_f1: float | None = None
    clean_f1: float | None = None
    testlike_f1: float | None = None
    wall_s: float | None = None
    date: str | None = None

    @property
    def data_dir(self) -> str | None:
        d = self.config.data_dir if self.config else None
        return data_key(d) if d else None

    @property
    def split_hash(self) -> str | None:
        return self.config.split_hash if self.config else None


def _mtime(path: Path) -> str:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    except OSError:
        return ""


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def held_lock(run_dir) -> Path | None:
    """The lock a writer holds on a run or ensemble dir (its own or a fold's), None when nobody is writing it."""
    run_dir = Path(run_dir)
    return next((p for p in [run_dir / LOCK_NAME, *sorted(run_dir.glob(f"fold*/{LOCK_NAME}"))] if is_held(p)), None)


def _locked(run_dir: Path) -> bool:
    return held_lock(run_dir) is not None


def _run_state(run_dir: Path, config: RunConfig, summary: dict | None) -> tuple[str, str, int, int]:
    """(state, reason, folds done, folds asked) of a trainer (or OCR-expert) run dir."""
    done = finished_folds(run_dir)
    asked = config.folds_requested or config.folds or []
    total = len(asked) or len(done)
    if _locked(run_dir):
        return "running", "a process holds its lock", len(done), total
    if summary is not None and summary.get("complete", summary.get("requested_done", True)):
        merged = summary.get("folds_done")
        if isinstance(merged, list) and set(done) - set(merged):
            return "partial", "folds finished after the last merge: run merge-folds", len(done), total
        n_done = len(merged) if isinstance(merged, list) else len(done)
        return "finished", "", n_done, max(total, n_done)
    damaged = summary is None and (run_dir / "summary.json").is_file()
    if damaged and done:  # its folds are whole: a merge writes it again
        return "partial", f"{run_dir / 'summary.json'} is damaged (not a JSON object): `dl-cls merge-folds " \
                          f"{run_dir.name}` writes it again", len(done), total
    if summary is not None and summary.get("requested_done") and summary.get("folds_done") == done:
        return "partial", _part_of_split(run_dir, config, done), len(done), len(config.folds or done)
    if done:
        missing = sorted(set(asked) - set(done)) if asked else []
        what = f"folds {','.join(map(str, missing))} not trained" if missing else "not merged"
        return "partial", f"{what}: `make train RESUME={run_dir.name}` (or FOLDS=...), then merge-folds", \
            len(done), total
    if damaged:
        return "failed", f"{run_dir / 'summary.json'} is damaged (not a JSON object)", 0, total
    return "failed", f"no fold finished and nothing is running (crashed or stopped): `make train " \
                     f"RESUME={run_dir.name}`", 0, total


def _part_of_split(run_dir: Path, config: RunConfig, done: list[int]) -> str:
    """A run asked for some folds of the split (--folds 0), all trained and merged: what it is, what completes it."""
    split = config.folds or done
    rest = ",".join(str(k) for k in split if k not in done)
    what = f"fold{'s' if len(done) > 1 else ''} {','.join(map(str, done))} of {len(split)} finished"
    return f"{what}; complete: make train RESUME={run_dir.name} FOLDS={rest}" if rest else what


def _first(mapping: dict, *keys):
    return next((mapping[k] for k in keys if mapping.get(k) is not None), None)


def _scores(summary: dict) -> dict:
    """OOF macro F1 as merged, and the folds' mean clean / test-like F1 (with TTA when the run did TTA)."""
    mean = summary.get("mean") or {}
    return {"oof_f1": summary.get("oof_f1"), "clean_f1": _first(mean, "tta_clean_f1", "clean_f1"),
            "testlike_f1": _first(mean, "tta_testlike_f1", "testlike_f1"),
            "wall_s": summary.get("total_train_time_s")}


def run_info(run_dir: Path) -> RunInfo:
    """One trainer run dir (WORK/runs/<name>) as a ledger row; never raises for a damaged dir."""
    try:
        config = read_run_config(run_dir)
    except DlClsError as exc:
        return RunInfo(run_dir.name, run_dir, "member", "failed", str(exc).split(": ", 1)[-1][:80])
    summary = _read_json(run_dir / "summary.json")
    state, reason, done, total = _run_state(run_dir, config, summary)
    classes, aug = config.subset, config.aug_dir
    kind = config.kind if config.kind in NOT_CLASSIFIERS else "specialist" if classes is not None else "member"
    info = RunInfo(run_dir.name, run_dir, kind, state, reason,
                   config=config, summary=summary or {}, model=config.model_config or config.get("model"),
                   img_size=config.get("img_size"), aug_set=Path(aug).name if aug else None,
                   aug_scale=aug_scale(aug) if aug else None, pseudo=_pseudo(config), classes=classes, folds_done=done, folds_total=total,
                   date=(summary or {}).get("written", "").replace("T", " ")[:16] or _mtime(run_dir / CONFIG_FILE))
    if summary:
        for key, value in _scores(summary).items():
            setattr(info, key, None if value is None else float(value))
    return info


def _pseudo(config: RunConfig) -> str | None:
    if not config.pseudo_dir:
        return None
    return f"{Path(config.pseudo_dir).name} (r{config.pseudo_round or '?'})"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _ensemble_model(opts) -> str | None:
    """'hard: 2 members + 1 specialist' (None when the config has no ensemble options)."""
    if opts is None:
        return None
    return f"{opts.method}: {_plural(len(opts.members), 'member')} + {_plural(len(opts.specialists), 'specialist')}"


def ensemble_info(ens_dir: Path) -> RunInfo:
    """One ensemble dir (WORK/ensembles/<name>); its score is the last row of members.csv."""
    try:
        config = read_run_config(ens_dir)
    except DlClsError as exc:
        return RunInfo(ens_dir.name, ens_dir, "ensemble", "failed", str(exc).split(": ", 1)[-1][:80])
    info = RunInfo(ens_dir.name, ens_dir, "ensemble", "finished", config=config, date=_mtime(ens_dir / CONFIG_FILE),
                   model=_ensemble_model(config.ensemble))
    if _locked(ens_dir):
        info.state, info.reason = "running", "a process holds its lock"
    elif not (ens_dir / "submission.csv").is_file():
        info.state, info.reason = "failed", "no submission.csv"
    try:
        table = pd.read_csv(ens_dir / "members.csv")
        info.oof_f1 = float(table["oof_macro_f1"].iloc[-1])
    except (OSError, ValueError, KeyError, IndexError, pd.errors.ParserError, pd.errors.EmptyDataError):
        pass
    return info


def _subdirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def list_runs(work, ensembles: bool = True) -> list[RunInfo]:
    """Every run dir under WORK/runs (and ensemble under WORK/ensembles), oldest first."""
    work = Path(work)
    infos = [run_info(p) for p in _subdirs(work / "runs")]
    if ensembles:
        infos += [ensemble_info(p) for p in _subdirs(work / "ensembles")]
    return sorted(infos, key=lambda i: (i.date or "", i.name))
