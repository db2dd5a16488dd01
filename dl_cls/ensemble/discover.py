"""`dl-cls ensemble` without RUNS: take every finished run of the same data and folds from WORK/runs.

Full-class runs become members, class-subset runs (2+ classes) specialists, applied oldest first. The reference
is the data dir given with --data (else the one every finished full-class run shares: runs of two data dirs
without --data are refused, listed) and the split of WORK/folds.csv
(the one every new run trains on; else the newest member's). Everything else is skipped with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dl_cls.artifacts.runs import LoadedRun, load_run, split_hash
from dl_cls.artifacts.runstate import RunInfo, list_runs
from dl_cls.core.errors import DlClsError


@dataclass
class Discovery:
    members: list[LoadedRun]
    specialists: list[LoadedRun]
    table: pd.DataFrame  # name, kind, state, used, why


def _folds_hash(work: Path) -> str | None:
    path = work / "folds.csv"
    if not path.is_file():
        return None
    try:
        return split_hash(pd.read_csv(path, dtype={"ID": str}))
    except (ValueError, KeyError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DlClsError(f"{path}: unreadable folds file ({exc})") from exc


def _reference(infos: list[RunInfo], work: Path, data_dir) -> tuple[str | None, str | None, object]:
    """(data dir, split hash, label fixes) the chosen runs must share."""
    finished = [i for i in infos if i.state == "finished" and i.kind == "member"]
    if not data_dir:
        _one_data_dir(finished, work)
    newest = max(finished, key=lambda i: (i.date or "", i.name)) if finished else None
    data = str(Path(data_dir).resolve()) if data_dir else (newest.data_dir if newest else None)
    if data_dir and newest is not None:  # the newest member of that data decides the label fixes
        same = [i for i in finished if i.data_dir == data]
        newest = max(same, key=lambda i: (i.date or "", i.name)) if same else None
    split = _folds_hash(work) or (newest.split_hash if newest else None)
    fixes = newest.config.label_fixes if newest else None
    return data, split, fixes


def _one_data_dir(finished: list[RunInfo], work: Path) -> None:
    """Without --data the finished members must agree on their data dir (as --help promises): picking the newer
    of two would ensemble another data set's runs without a word."""
    by_data: dict = {}
    for info in finished:
        by_data.setdefault(info.data_dir, []).append(info.name)
    if len(by_data) > 1:
        listed = "; ".join(f"{d}: {', '.join(sorted(names))}" for d, names in sorted(by_data.items(), key=str))
        raise DlClsError(f"the finished runs in {work / 'runs'} come from {len(by_data)} data dirs ({listed}); "
                         "pass --data DIR (make ensemble DATA=DIR) to choose which")


def _why_not(info: RunInfo, data, split, fixes) -> str | None:
    if info.kind not in ("member", "specialist"):
        return f"not a classifier ({info.kind} model)"
    if info.state != "finished":
        return f"{info.state}: {info.reason}"
    if info.data_dir != data:
        return f"other data ({info.data_dir}; using {data})"
    if info.config.label_fixes != fixes:
        return f"other label fixes ({info.config.label_fixes}; using {fixes})"
    if info.split_hash != split:
        return (f"other folds (split {info.split_hash or 'not recorded'}; WORK/folds.csv is {split}): "
                "its OOF rows would not line up; name it in RUNS= only if it shares the folds")
    if info.kind == "specialist" and len(info.classes or []) < 2:
        return "a specialist needs 2+ classes"
    return None


def discover(work, data_dir=None, specialists: bool = True) -> Discovery:
    """Members (and, unless specialists=False, specialists) for an ensemble, with the table of the choice."""
    work = Path(work)
    infos = list_runs(work, ensembles=False)
    data, split, fixes = _reference(infos, work, data_dir)
    rows, members, specs = [], [], []
    for info in infos:
        why = _why_not(info, data, split, fixes)
        if why is None and info.kind == "specialist" and not specialists:
            why = "specialists chosen with --specialist"
        run = None
        if why is None:
            try:
                run = load_run(info.path)
            except DlClsError as exc:
                why = f"failed: {str(exc).splitlines()[0]}"
        if run is not None:
            (members if info.kind == "member" else specs).append(run)
        rows.append({"name": info.name, "kind": info.kind, "state": info.state, "used": "yes" if run else "no",
                     "why": why or ""})
    table = pd.DataFrame(rows, columns=["name", "kind", "state", "used", "why"])
    return Discovery(members, specs, table)


def nothing_message(work, found: Discovery) -> str:
    """The one-line error when no member was found: what to run first."""
    if found.table.empty:
        return f"nothing to ensemble: no run in {Path(work) / 'runs'}; train one first: make train MODEL=... " \
               "(dl-cls train --model NAME)"
    return f"nothing to ensemble: none of the {len(found.table)} runs in {Path(work) / 'runs'} is a finished " \
           "full-class run of the same data and folds (table above); finish or train one: make train MODEL=..."
