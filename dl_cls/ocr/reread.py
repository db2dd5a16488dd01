"""A second reading of the pages the text model is unsure about (issue 29 item 3).

After the first reading, a text model judges every test-like copy (the model of the other folds, as the OOF) and
every test page (the model of every train row): a page whose top probability is below `below`, or that read no
text, is read again with other reader settings (REREADS: tesseract's own binarisation instead of ours, a 1.5x
upscale, table rules whitened, the title band alone). Each second reading joins the page's `alts`, and the text
models keep the reading they are surest about (expert.surest_readings), alike on copies and test pages. Measured on
make demo's sample: the full-class member's test F1 0.589 -> 0.685 with `raw` (0.23 CPU s a re-read; 69% of the test
pages unsure), 0.727 with `raw,x1.5` (0.9 CPU s): docs/benchmarks.md.

The title band alone (`title`) tells apart the classes of an expert group (the family's forms differ in their
printed title), not the others (the full-class member gained nothing from it), so it reads only the unsure pages the
text model leans towards a group: more of their probability on the group's classes than its share of the classes (or
no text). Without an expert group (`--classes all` alone) it reads nothing. On four samples of make demo's size the
family expert's test F1 rose 0.871 -> 0.905 on average (every sample), at competition size 0.878 -> 0.905, for ~0.2
CPU s a title read on ~42% of the unsure pages (docs/benchmarks.md).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from dl_cls.artifacts.runs import prob_columns
from dl_cls.core.errors import DlClsError
from dl_cls.data.folds import load_folds
from dl_cls.ocr.expert import cross_validate, load_keyword_file, predict_test
from dl_cls.ocr.rundir import group_tables
from dl_cls.ocr.table import ALT_TYPES, ALTS, Job, ReadContext, read_all, settings_dir

# name -> the reader settings that change for the second reading
REREADS = {
    "raw": {"binarise": False},  # tesseract's own (Otsu) binarisation of the grey page
    "x1.5": {"upscale": 1.5},
    "rules": {"drop_rules": True},
    "title": {"title_only": True, "upscale": 1.5},  # the title band alone, upscaled: what tells the family apart
}
GROUP_READERS = {"title"}  # read only the unsure pages the text model leans towards an expert group
DEFAULT = "raw,title"
BELOW = 0.5  # the text model's top probability under which a page is read again (its p >= 0.5 rows: 95-97% right)


def parse_rereads(text: str) -> list[str]:
    """'raw,x1.5' -> ['raw', 'x1.5']; 'none' -> []."""
    names = [] if text.strip() == "none" else [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in REREADS]
    if bad or len(set(names)) != len(names):
        raise DlClsError(f"--reread {text!r}: give 'none' or distinct names among {', '.join(REREADS)}")
    return names


@dataclass
class Unsure:
    """split -> IDs of the pages to read again: every unsure one (`pages`), and those of them the text model leans
    towards an expert group or that read no text (`leaning`: what GROUP_READERS read)."""
    pages: dict[str, set[str]]
    leaning: dict[str, set[str]]

    def of(self, reader: str) -> dict[str, set[str]]:
        return self.leaning if reader in GROUP_READERS else self.pages


def unsure_pages(table: pd.DataFrame, dd, work, classes, keywords_spec, below: float,
                 test_from: bool = False, groups=()) -> Unsure:
    """The test-like copies and test pages whose surest reading so far gives the text model a top probability under
    `below` (or no text): copies judged by the model of the other folds, test pages by the model of every train row,
    as the OOF and the test are predicted. `groups`: the expert groups (none: no page leans)."""
    pages, test = group_tables(table, dd, load_folds(work, dd), classes, unread_test_ok=test_from)
    file_kw = load_keyword_file(keywords_spec, classes, dd.class_names)
    oof = cross_validate(pages, classes, file_kw)["testlike"][0].drop(columns=["fold", "chosen_alt"])
    test_probs, test_read, *_ = predict_test(pages, test, classes, file_kw)
    test_probs = test_probs[test_read]  # a page without text is uniform there: judged as a copy without text
    unsure, leaning = {}, {}
    for split, probs, every in (("testlike", oof, pages["testlike"]["ID"]), ("test", test_probs, test["ID"])):
        p = probs.set_index("ID").reindex(pd.Index(every))  # a page without text: no row, NaN
        low = ~(p.max(axis=1).to_numpy() >= below)
        leans = _leans(p, classes, groups)
        unsure[split], leaning[split] = set(p.index[low]), set(p.index[low & leans])
    return Unsure(unsure, leaning)


def _leans(p: pd.DataFrame, classes, groups) -> np.ndarray:
    """Rows (probabilities over `classes`, NaN: no text) whose probability on one of `groups` exceeds that group's
    share of `classes`, or without text; every row when a group is every class judged, none without groups."""
    if not groups:
        return np.zeros(len(p), bool)
    out = p.isna().any(axis=1).to_numpy(copy=True)
    for group in groups:
        inside = [c for c in group if c in classes]
        if len(inside) == len(classes):  # the group's own text model judged the pages
            return np.ones(len(p), bool)
        if inside:
            out |= p[prob_columns(inside)].sum(axis=1).to_numpy() > len(inside) / len(classes)
    return out


def reread_context(ctx: ReadContext, name: str, work, engine, cache, orient_run) -> ReadContext:
    settings = replace(ctx.settings, **REREADS[name])
    return replace(ctx, settings=settings, root=str(settings_dir(work, engine, settings, cache, orient_run)))


def with_rereads(table: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """`table` with each re-read row's reading (and its own alts) added to the alts of its (split, ID)."""
    table = table.copy()
    where = {(s, i): k for k, (s, i) in enumerate(zip(table["split"], table["ID"]))}
    alts = list(table[ALTS].fillna(""))
    for r in rows.to_dict("records"):
        k = where[(r["split"], r["ID"])]
        own = json.loads(r[ALTS]) if r[ALTS] else []
        reading = _reading(r)
        alts[k] = json.dumps([*(json.loads(alts[k]) if alts[k] else []), reading, *own], ensure_ascii=False)
    table[ALTS] = alts
    return table


def _reading(r: dict) -> dict:
    """A table row's text columns as one reading of the alts, each of its type (table.ALT_TYPES)."""
    out = {}
    for c, kind in ALT_TYPES.items():
        v = r[c]
        if kind is str:
            out[c] = v if isinstance(v, str) else ""
        elif kind is float:
            out[c] = float(v) if np.isfinite(v) else 0.0
        else:
            out[c] = kind(v)
    return out


def relabel_cost(stats: dict, name: str) -> dict:
    """The re-read's cost by kind under its own names ('re-read raw: test'), beside the first reading's."""
    kinds = stats.get("cpu_by_kind") or {}
    return {**stats, "cpu_by_kind": {f"re-read {name}: {k}": v for k, v in kinds.items()}}


def reread(table: pd.DataFrame, unsure: Unsure, jobs: list[Job], ctx: ReadContext, names: list[str],
           where, workers: int, progress: bool, read=read_all) -> tuple[pd.DataFrame, list[dict]]:
    """`table` with the unsure pages among `jobs` read again by each reader in `names` (ctx with its settings changed,
    cached in its own settings dir: `where` = (work, engine, cache, orient_run)), their readings in the alts; and
    the stats of each reader (cost by kind under the reader's name). `read`: table.read_all."""
    stats = []
    for name in names:
        todo = [j for j in jobs if j.id in unsure.of(name).get(j.split, ())]
        if not todo:
            continue
        rows, st = read(todo, reread_context(ctx, name, *where), workers, progress)
        table = with_rereads(table, rows)
        stats.append(relabel_cost(st, name))
    return table, stats
