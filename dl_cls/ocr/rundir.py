"""Write the OCR expert as a class-subset run dir, the same artifacts a trained specialist has:
config.yaml, oof.csv (ID,fold,p_<c>...), test_probs.csv (ID,p_<c>...), summary.json, plus keywords.csv."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dl_cls.data.folds import load_folds
from dl_cls.errors import DlClsError
from dl_cls.io import atomic_write_csv, atomic_write_text, create_run_dir
from dl_cls.ocr.expert import cross_validate, load_keyword_file, predict_test
from dl_cls.runs import (CONFIG_FILE, RunConfig, git_commit, macro_f1, package_versions, prob_columns, split_hash,
                         write_run_config)

FLOAT_FORMAT = "%.6f"


def group_tables(table: pd.DataFrame, dd, folds: pd.DataFrame, classes, unread_test_ok: bool = False):
    """The group's train rows (with target and fold) and every test row (sample_submission order) of a table.
    With `unread_test_ok` (dl-cls ocr --test-from), test images the table lacks are rows without text."""
    train = dd.train[dd.train["target"].isin(classes)].merge(folds, on="ID")
    ocr_train = table[table["split"] == "train"].drop(columns="split")
    missing = sorted(set(train["ID"]) - set(ocr_train["ID"]))
    ocr_test = table[table["split"] == "test"].drop(columns="split").set_index("ID")
    missing_test = sorted(set(dd.test_ids) - set(ocr_test.index))
    if missing_test and unread_test_ok:
        unread = pd.DataFrame({"ID": missing_test, "n_chars": 0, "title": "", "text": ""}).set_index("ID")
        ocr_test, missing_test = pd.concat([ocr_test, unread.reindex(columns=ocr_test.columns)]), []
    if missing or missing_test:
        raise DlClsError(f"OCR table lacks {len(missing)} train and {len(missing_test)} test images of the group "
                         f"(e.g. {(missing + missing_test)[0]}); run dl-cls ocr with these --classes")
    test = ocr_test.loc[dd.test_ids].reset_index()
    return train.merge(ocr_train, on="ID", how="left"), test


def build_expert_run(out: Path, table: pd.DataFrame, dd, work, classes, keywords_spec, info: dict,
                     seed: int = 0) -> dict:
    """Cross-validate on WORK/folds.csv, fit on all train text, write the run dir `out`; returns the summary."""
    folds = load_folds(work, dd)
    train, test = group_tables(table, dd, folds, classes, unread_test_ok=bool(info.get("test_from")))
    file_kw = load_keyword_file(keywords_spec, classes)
    oof, fired_oof = cross_validate(train, classes, file_kw, seed)
    test_probs, readable, fired_test, expert = predict_test(train, test, classes, file_kw, seed)
    oof = oof.set_index("ID").loc[[i for i in train["ID"] if i in set(oof["ID"])]].reset_index()
    summary = _summary(out.name, train, oof, fired_oof, readable, fired_test, classes, info)
    config = RunConfig.from_dict(_config(dd, work, classes, folds, keywords_spec, info), out / CONFIG_FILE)
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


def _config(dd, work, classes, folds, keywords_spec, info) -> dict:
    return {"kind": "ocr", "model_config": "ocr-expert", "data_dir": str(Path(dd.root).resolve()),
            "work_dir": str(Path(work).resolve()), "aug_dir": None, "label_fixes": info["label_fixes"],
            "num_classes": dd.num_classes, "class_names": dd.class_names, "classes": list(classes),
            "folds": sorted(int(k) for k in folds["fold"].unique()),
            "split_hash": split_hash(folds), "ocr_dir": info["ocr_dir"], "ocr_settings": info["settings"],
            "keywords": str(keywords_spec), "test_from": info.get("test_from"), "git_commit": git_commit()}


def _summary(name, train, oof, fired_oof, readable, fired_test, classes, info) -> dict:
    truth = train.set_index("ID")["target"]
    y = truth.loc[oof["ID"]].to_numpy()
    pred = np.asarray(classes)[oof[prob_columns(classes)].to_numpy().argmax(1)]
    # F1 over every group row, a row without text counted as wrong (-1): what the expert alone would score
    y_all = truth.to_numpy()
    pred_all = pd.Series(pred, index=oof["ID"]).reindex(truth.index).fillna(-1).to_numpy()
    return {
        "run": name, "model": "ocr-expert", "classes": list(classes), "oof_on": "rows with readable text",
        "oof_f1": macro_f1(y, pred), "oof_accuracy": float((y == pred).mean()), "oof_rows": len(oof),
        "oof_f1_all_rows": float(macro_f1(y_all, pred_all)), "train_rows": len(train),
        "train_coverage": round(len(oof) / max(len(train), 1), 4),
        "rule_fired_oof": round(float(fired_oof.mean()), 4) if len(fired_oof) else 0.0,
        "rule_accuracy_oof": float((y[fired_oof] == pred[fired_oof]).mean()) if fired_oof.any() else None,
        "test_rows": int(len(readable)), "test_coverage": round(float(readable.mean()), 4),
        "rule_fired_test": round(float(fired_test.mean()), 4), "folds_done": sorted(map(int, oof["fold"].unique())),
        "complete": True, "ocr": info["stats"], "versions": package_versions(), "git_commit": git_commit(),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
