"""`dl-cls ensemble` without RUNS: take every finished run of the same data and folds from WORK/runs.

Full-class runs become members, class-subset runs (2+ classes) specialists, applied oldest first. The reference
is the data dir given with --data (else the one every finished full-class run shares: runs of two data dirs
without --data are refused, listed), the split of WORK/folds.csv (the one every new run trains on; else the newest
member's) and the train labels of the newest member's label fixes (label-fix settings that give the same train
table are one). Everything else is skipped with the reason.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dl_cls.artifacts.runs import LoadedRun, load_run, split_hash
from dl_cls.artifacts.runstate import RunInfo, list_runs
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import data_key


@dataclass
class Discovery:
    members: list[LoadedRun]
    specialists: list[LoadedRun]
    table: pd.DataFrame  # name, kind, state, used, why


@dataclass
class Reference:
    """What the chosen runs must share: data dir, split, and the train table their label fixes give."""
    data: str | None
    split: str | None
    fixes: object  # the newest member's label_fixes
    tables: dict = field(default_factory=dict)  # label_fixes -> its train table (fixes_tables)

    def same_fixes(self, fixes) -> bool:
        return self.tables.get(fixes, fixes) == self.tables.get(self.fixes, self.fixes)


def fixes_tables(data, values) -> dict:
    """label_fixes value -> a key of the train table it gives on `data`: settings that give one table (`none` and
    `default` on data the shipped fixes do not name: 0 fixes apply) are one group; unreadable data: the name."""
    from dl_cls.data.contract import load_data
    from dl_cls.data.folds import train_table_hash

    values = list(dict.fromkeys(values))
    if len(values) < 2 or data is None:  # nothing to tell apart: no data dir to read
        return {v: v for v in values}
    tables = {}
    for fixes in values:
        try:
            tables[fixes] = train_table_hash(load_data(data, fixes).train)
        except DlClsError:
            tables[fixes] = f"label fixes {fixes}"
    return tables


def agreed_fixes(runs, data):
    """The label fixes an ensemble of `runs` records: settings that give one train table on `data` agree (the most
    common is kept); runs whose fixes give other train labels are refused, naming each run's."""
    values = [r.config.label_fixes for r in runs]
    tables = fixes_tables(data, values)
    if len({tables[v] for v in values}) > 1:
        raise DlClsError("runs disagree on label_fixes (they give other train labels): "
                         + ", ".join(f"{r.name}: {r.config.label_fixes}" for r in runs))
    return Counter(values).most_common(1)[0][0]


def _folds_hash(work: Path) -> str | None:
    path = work / "folds.csv"
    if not path.is_file():
        return None
    try:
        return split_hash(pd.read_csv(path, dtype={"ID": str}))
    except (ValueError, KeyError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DlClsError(f"{path}: unreadable folds file ({exc})") from exc


def _reference(infos: list[RunInfo], work: Path, data_dir) -> Reference:
    """The data dir, split hash and label fixes the chosen runs must share."""
    finished = [i for i in infos if i.state == "finished" and i.kind == "member"]
    if not data_dir:
        _one_data_dir(finished, work)
    newest = max(finished, key=lambda i: (i.date or "", i.name)) if finished else None
    data = data_key(data_dir) if data_dir else (newest.data_dir if newest else None)
    if data_dir and newest is not None:  # the newest member of that data decides the label fixes
        same = [i for i in finished if i.data_dir == data]
        newest = max(same, key=lambda i: (i.date or "", i.name)) if same else None
    split = _folds_hash(work) or (newest.split_hash if newest else None)
    fixes = newest.config.label_fixes if newest else None
    ours = [i.config.label_fixes for i in infos if i.state == "finished" and i.config and i.data_dir == data]
    return Reference(data, split, fixes, fixes_tables(data, ours + [fixes]))


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


def _why_not(info: RunInfo, ref: Reference) -> str | None:
    if info.kind not in ("member", "specialist"):
        return f"not a classifier ({info.kind} model)"
    if info.state != "finished":
        return f"{info.state}: {info.reason}"
    if info.data_dir != ref.data:
        return f"other data ({info.data_dir}; using {ref.data})"
    if not ref.same_fixes(info.config.label_fixes):
        return f"other label fixes ({info.config.label_fixes}; using {ref.fixes}: other train labels)"
    if info.split_hash != ref.split:
        return (f"other folds (split {info.split_hash or 'not recorded'}; WORK/folds.csv is {ref.split}): "
                "its OOF rows would not line up; name it in RUNS= only if it shares the folds")
    if info.kind == "specialist" and len(info.classes or []) < 2:
        return "a specialist needs 2+ classes"
    return None


def discover(work, data_dir=None, specialists: bool = True) -> Discovery:
    """Members (and, unless specialists=False, specialists) for an ensemble, with the table of the choice."""
    work = Path(work)
    infos = list_runs(work, ensembles=False)
    ref = _reference(infos, work, data_dir)
    rows, members, specs = [], [], []
    for info in infos:
        why = _why_not(info, ref)
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
