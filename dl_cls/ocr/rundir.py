"""Write the OCR expert as a class-subset run dir, the same artifacts a trained specialist has:
config.yaml, oof.csv (ID,fold,p_<c>...), test_probs.csv (ID,p_<c>...), summary.json, plus keywords.csv."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dl_cls.artifacts.runs import (CONFIG_FILE, RunConfig, git_commit, macro_f1, macro_f1_sd, package_versions,
                                   prob_columns, split_hash, write_run_config)
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import atomic_write_csv, atomic_write_text, create_run_dir, data_key
from dl_cls.data.folds import load_folds
from dl_cls.ocr.expert import cross_validate_judging, load_keyword_file, predict_test
from dl_cls.ocr.readability import describe as describe_readability
from dl_cls.ocr.readability import page_readability, shrink_factor, sure_share
from dl_cls.ocr.table import pose_right

FLOAT_FORMAT = "%.6f"


def group_tables(table: pd.DataFrame, dd, folds: pd.DataFrame, classes, unread_test_ok: bool = False):
    """The group's train rows (with target and fold) per kind of page ('clean', 'testlike' when the table has
    test-like copies, 'extra<k>' for the copies read only to train the text model), and every test row
    (sample_submission order) of a table. With `unread_test_ok`
    (dl-cls ocr --test-from), test images the table lacks are rows without text."""
    train = dd.train[dd.train["target"].isin(classes)].merge(folds, on="ID")
    pages = {}
    extra = sorted(s for s in table["split"].unique() if s.startswith("extra"))
    for kind, split in (("clean", "train"), ("testlike", "testlike"), *((s, s) for s in extra)):
        rows = table[table["split"] == split].drop(columns="split")
        if kind == "clean" or len(rows):
            pages[kind] = train.merge(rows, on="ID", how="left")
            missing = sorted(set(train["ID"]) - set(rows["ID"]))
            if missing:
                raise DlClsError(f"OCR table lacks {len(missing)} {kind} train images of the group (e.g. "
                                 f"{missing[0]}); run dl-cls ocr with these --classes")
    ocr_test = table[table["split"] == "test"].drop(columns="split").set_index("ID")
    missing_test = sorted(set(dd.test_ids) - set(ocr_test.index))
    if missing_test and unread_test_ok:
        unread = pd.DataFrame({"ID": missing_test, "n_chars": 0, "title": "", "text": ""}).set_index("ID")
        ocr_test, missing_test = pd.concat([ocr_test, unread.reindex(columns=ocr_test.columns)]), []
    if missing_test:
        raise DlClsError(f"OCR table lacks {len(missing_test)} test images (e.g. {missing_test[0]}); run dl-cls ocr "
                         "with these --classes")
    return pages, ocr_test.loc[dd.test_ids].reset_index()


def _oof_rows(oof: pd.DataFrame, train: pd.DataFrame, classes, every_row: bool) -> pd.DataFrame:
    """OOF rows in train order: the readable ones, or (a full-class member, which must cover every train ID)
    every row, uniform where no text was read, as on the test."""
    oof = oof.set_index("ID")
    if every_row:
        oof = oof.reindex(train["ID"])
        oof["fold"] = train.set_index("ID")["fold"]
        oof = oof.fillna(1.0 / len(classes))
    else:
        oof = oof.loc[[i for i in train["ID"] if i in oof.index]]
    return oof.reset_index()


def build_expert_run(out: Path, table: pd.DataFrame, dd, work, classes, keywords_spec, info: dict,
                     seed: int = 0) -> dict:
    """Cross-validate on WORK/folds.csv, fit on all train text, write the run dir `out`; returns the summary.
    The OOF is predicted on the test-like copies when the table has them (else the clean pages)."""
    folds = load_folds(work, dd)
    full = len(classes) == dd.num_classes
    pages, test = group_tables(table, dd, folds, classes, unread_test_ok=bool(info.get("test_from")))
    file_kw = load_keyword_file(keywords_spec, classes, dd.class_names)
    # the sure shares compare the copies with the test pages where both are of the group's classes (below)
    sure_comparable = full or bool(info.get("test_from"))
    oofs, judged = cross_validate_judging(pages, test if sure_comparable else None, classes, file_kw, seed)
    test_probs, readable, fired_test, expert, other_read = predict_test(pages, test, classes, file_kw, seed)
    oof_on = "testlike" if "testlike" in pages else "clean"
    oof = _oof_rows(oofs[oof_on][0], pages[oof_on], classes, every_row=full)
    summary = {**_summary(out.name, pages, oofs, oof_on, test, readable, fired_test, classes, info), "member": full}
    # pages whose surest reading was another than the first reading of the pose model's pick: another pose's (read
    # where it doubted) or a second reading's (dl-cls ocr --reread)
    summary["other_reading_chosen"] = {**{kind: int(oofs[kind][0]["chosen_alt"].sum()) for kind in oofs},
                                       "test": int(other_read.sum())}
    summary.update(_readability(table, dd, file_kw, expert.keywords, bool(info.get("test_from"))))
    if sure_comparable:  # else a group's expert meets every test page, most not of its classes
        _add_sure(summary["readability"], oofs, pages, judged, len(test), classes)
    config = RunConfig.from_dict(_config(dd, work, classes, folds, keywords_spec, info, oof_on), out / CONFIG_FILE)
    create_run_dir(out)
    try:
        write_run_config(out, config)
        atomic_write_csv(oof[["ID", "fold", *prob_columns(classes)]], out / "oof.csv", FLOAT_FORMAT)
        atomic_write_csv(test_probs, out / "test_probs.csv", FLOAT_FORMAT)
        atomic_write_csv(expert.keywords, out / "keywords.csv")
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # we made it just now: no half-written run dir
        raise
    return summary


def _readability(table: pd.DataFrame, dd, shipped, keywords, test_from: bool) -> dict:
    """The label-free readability of every kind of page the table holds, and the test shrink. The test pages are
    compared with train pages of the same class mix: every train page when the pass read every class (`--classes
    all ...`), the group's when the test pages read are the ones put in the group (--test-from); else not at all."""
    kinds = {"clean": "train", "testlike": "testlike", "test": "test"}
    figures = {kind: page_readability(table[table["split"] == split], shipped, keywords)
               for kind, split in kinds.items() if (table["split"] == split).any()}
    read = set(table.loc[table["split"] == "train", "ID"])
    comparable = test_from or set(dd.train["ID"]) <= read
    return {"readability": figures, "readability_comparable": bool(comparable),
            "test_shrink": shrink_factor(figures) if comparable else 1.0}


def _add_sure(figures: dict, oofs: dict, pages: dict, judged: list[tuple], n_test: int, classes) -> None:
    """Each kind's share of pages the text model is sure about (label-free; a page without text is not sure), by
    the same judges: the fold models, on the train pages and copies of their held-out fold (the OOF) and on every
    test page (the mean share over the folds). The fitted model of every row is surer on the test pages than those
    (make demo's sample: 49% against 46%), which would flatter the test pages against the copies."""
    shares = {kind: sure_share(oofs[kind][0][prob_columns(classes)].to_numpy(), len(pages[kind])) for kind in oofs}
    if judged:
        shares["test"] = round(float(np.mean([sure_share(p[readable], n_test) for p, readable in judged])), 4)
    for kind, share in shares.items():
        if kind in figures:
            figures[kind]["sure"] = share


def _config(dd, work, classes, folds, keywords_spec, info, oof_on) -> dict:
    full = len(classes) == dd.num_classes  # a full-class run is a member: no class subset
    return {"kind": "ocr", "model_config": "ocr-expert", "data_dir": data_key(dd.root),
            "work_dir": str(Path(work).resolve()), "aug_dir": None, "label_fixes": info["label_fixes"],
            "num_classes": dd.num_classes, "class_names": dd.class_names, "classes": None if full else list(classes),
            "folds": sorted(int(k) for k in folds["fold"].unique()),
            "split_hash": split_hash(folds), "ocr_dir": info["ocr_dir"], "ocr_settings": info["settings"],
            "keywords": str(keywords_spec), "test_from": info.get("test_from"), "oof_on": oof_on,
            "testlike": info.get("testlike"), "reread": info.get("reread"), "git_commit": git_commit()}


def page_metrics(rows: pd.DataFrame, oof: pd.DataFrame, fired: np.ndarray, classes, kind: str) -> dict:
    """What a user trusts, on one kind of page: orientation right, share with readable text, keyword rule firing
    rate and precision, macro F1 on readable rows (with its noise from the rows' draw: a small class's copies make
    the OOF as uncertain as its gap to the test) and on every row (no text = wrong)."""
    truth = rows.set_index("ID")["target"]
    y = truth.loc[oof["ID"]].to_numpy()
    pred = np.asarray(classes)[oof[prob_columns(classes)].to_numpy().argmax(1)]
    pred_all = pd.Series(pred, index=oof["ID"]).reindex(truth.index).fillna(-1).to_numpy()
    right = pose_right(rows, copies=kind == "testlike")
    return {"pages": len(rows), "orientation_right": round(float(right.mean()), 4),
            "readable": round(len(oof) / max(len(rows), 1), 4), "f1": macro_f1(y, pred) if len(y) else None,
            "f1_sd": round(macro_f1_sd(y, pred), 4) if len(y) else None,
            "f1_all_rows": macro_f1(truth.to_numpy(), pred_all, labels=sorted(set(truth))),  # -1: no text
            "rule_fired": round(float(fired.mean()), 4) if len(fired) else 0.0,
            "rule_precision": float((y[fired] == pred[fired]).mean()) if fired.any() else None}


def _summary(name, pages, oofs, oof_on, test, readable, fired_test, classes, info) -> dict:
    per_kind = {kind: page_metrics(pages[kind], *oofs[kind], classes, kind) for kind in oofs}
    main = per_kind[oof_on]
    return {
        "run": name, "model": "ocr-expert", "classes": list(classes), "oof_on": oof_on, "oof_f1": main["f1"],
        "oof_rows": len(oofs[oof_on][0]), "oof_f1_all_rows": main["f1_all_rows"], "train_rows": main["pages"],
        "train_coverage": main["readable"], "rule_fired_oof": main["rule_fired"],
        "rule_accuracy_oof": main["rule_precision"], **per_kind,
        "test_rows": int(len(readable)), "test_coverage": round(float(readable.mean()), 4),
        "rule_fired_test": round(float(fired_test.mean()), 4),
        "folds_done": sorted(map(int, oofs[oof_on][0]["fold"].unique())), "complete": True,
        "cpu_seconds_per_page": info["stats"].get("cpu_seconds_per_image"), "ocr": info["stats"],
        "versions": package_versions(), "git_commit": git_commit(), "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def _time_line(summary: dict) -> str:
    """What reading cost this command: CPU seconds per page read (tesseract included), or that none was read."""
    stats, secs = summary.get("ocr") or {}, summary.get("cpu_seconds_per_page")
    if secs is not None:
        poses = stats.get("poses_read_per_image")
        calls = f", {poses} poses read a page (one engine call each)" if poses is not None else ""
        return (f"CPU seconds per page (one worker, the engine included): {secs} over {stats.get('read')} pages "
                f"read{calls}")
    if stats.get("images") and not stats.get("read"):
        return f"all {stats['images']} pages from the cache (none read now, so no time per page)"
    return "CPU seconds per page: -"


def describe(summary: dict, out: Path) -> str:
    """The lines `dl-cls ocr` prints about the expert it built: per kind of page, the figures a user trusts."""
    lines = [f"OCR expert {out} (OOF predicted on {summary['oof_on']} pages):",
             f"  {'pages':<10} {'n':>5} {'orient ok':>9} {'readable':>8} {'rule fires':>10} {'rule prec':>9} "
             f"{'macro F1 (sd)':>15} {'F1 all rows':>11}"]
    for kind in ("testlike", "clean"):
        m = summary.get(kind)
        if m:
            prec = "-" if m["rule_precision"] is None else f"{m['rule_precision']:.0%}"
            f1 = "-" if m["f1"] is None else f"{m['f1']:.4f}"
            if m["f1"] is not None and m.get("f1_sd") is not None:  # runs written before the sd have none
                f1 += f" ({m['f1_sd']:.3f})"
            lines.append(f"  {kind:<10} {m['pages']:>5} {m['orientation_right']:>9.0%} {m['readable']:>8.0%} "
                         f"{m['rule_fired']:>10.0%} {prec:>9} {f1:>15} {m['f1_all_rows']:>11.4f}")
    lines.append(f"  test images with text {summary['test_coverage']:.0%}; {_time_line(summary)}")
    chosen = summary.get("other_reading_chosen") or {}
    if any(chosen.values()):  # pages the pose model doubted (other poses read) or the text model (read again)
        lines.append("  another reading (a second reading, or another pose's) was surer than the first on "
                     + ", ".join(f"{n} {kind} pages" for kind, n in chosen.items()))
    lines += describe_readability(summary.get("readability") or {}, summary.get("readability_comparable", True))
    use = "bare dl-cls ensemble takes it as a member" if summary.get("member") else \
        f"dl-cls ensemble RUNS... --specialist {out.name} (bare dl-cls ensemble takes it as a specialist)"
    lines.append(f"Use it: {use}")
    return "\n".join(lines)
