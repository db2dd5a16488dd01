"""Fault injection, part three (issue 24): damaged folds accepted, a report on a cut OOF, bad option values, a cut
command in the ledger, files that are not UTF-8, and the rough edges found with them. Each case is a promise listed
in docs/reliability.md ("Third round"); each failed on the code before it."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml
from builders import make_project, make_run
from test_faults_state import _err_line, disk_full  # noqa: F401 - a fixture

from dl_cls.cli import main

NOT_UTF8 = b"noise:\n  std: [0.0, \xff\xfe]\n"  # Latin-1 / UTF-16 bytes where UTF-8 is read


# ---------------------------------------------------------------------------------------------- 1, 2: folds.csv
@pytest.fixture
def folds3(sample_dir, tmp_path):
    """A 3-fold split of the sample, as `dl-cls folds --n-folds 3` writes it."""
    work = tmp_path / "work"
    assert main(["folds", "--data", str(sample_dir), "--work", str(work), "--n-folds", "3"]) == 0
    return work


def _folds_and_train(sample_dir, work) -> list[list[str]]:
    return [["folds", "--data", str(sample_dir), "--work", str(work), "--n-folds", "3"],
            ["train", "--model", "tiny", "--data", str(sample_dir), "--work", str(work), "--cpu", "--dry-run"]]


def _set_fold(work, row: int, fold: str) -> str:
    """Change the fold of data row `row` (0-based) of folds.csv; returns its ID."""
    path = work / "folds.csv"
    lines = path.read_text().splitlines(keepends=True)
    image_id = lines[row + 1].split(",")[0]
    lines[row + 1] = f"{image_id},{fold}\n"
    path.write_text("".join(lines))
    return image_id


@pytest.mark.parametrize("fold, says", [
    ("7", "fold 7 is not a fold of this split (folds.json: n_folds=3, folds 0..2)"),
    ("-1", "fold '-1' is not a fold number"),  # was: np.int64(-1)
    ("²", "fold '²' is not a fold number"),  # was: invalid literal for int(), no line
])
def test_a_fold_the_split_does_not_have_is_refused_naming_the_row(sample_dir, folds3, capsys, fold, says):
    image_id = _set_fold(folds3, 4, fold)
    for args in _folds_and_train(sample_dir, folds3):
        capsys.readouterr()
        assert main(args) == 2, args
        line = _err_line(capsys)
        assert "folds.csv: line 6" in line and image_id in line and says in line, line
        assert "np.int64" not in line
    assert not (folds3 / "runs").exists()


def test_a_fold_with_no_id_left_is_refused(sample_dir, folds3, capsys):
    path = folds3 / "folds.csv"
    path.write_text(path.read_text().replace(",2\n", ",1\n"))
    for args in _folds_and_train(sample_dir, folds3):
        capsys.readouterr()
        assert main(args) == 2, args
        assert "folds.csv: fold(s) 2 of the 3 have no ID" in _err_line(capsys)


def test_an_id_listed_twice_in_folds_csv_is_refused_naming_it(sample_dir, folds3, capsys):
    path = folds3 / "folds.csv"
    image_id = path.read_text().splitlines()[3].split(",")[0]
    with open(path, "a") as fh:
        fh.write(f"{image_id},2\n")
    for args in _folds_and_train(sample_dir, folds3):
        capsys.readouterr()
        assert main(args) == 2, args
        line = _err_line(capsys)
        assert f"ID {image_id} is listed twice (lines 4 and 70)" in line, line


# ---------------------------------------------------------------------------------------------- 3: cut oof.csv
def test_report_on_a_cut_oof_says_how_many_rows_are_missing(tmp_path, capsys):
    p = make_project(tmp_path)
    oof = p["work"] / "runs" / "a" / "oof.csv"
    oof.write_text("".join(oof.read_text().splitlines(keepends=True)[:30]))  # header + 29 of 90 rows
    out = tmp_path / "rep"
    assert main(["report", "a", "--work", str(p["work"]), "--out", str(out), "--max-errors", "0"]) == 0
    says = "oof.csv predicts 29 of the run's 90 train images (61 missing"
    printed = capsys.readouterr()
    assert says in printed.err and "every figure below is over those 29 only" in printed.err
    summary = (out / "summary.md").read_text()
    assert says in summary and summary.index(says) < summary.index("F1")  # said before any figure
    capsys.readouterr()
    shutil.rmtree(out)
    make_run(p["work"] / "runs" / "whole", p["data"], p["ids"], p["folds"], np.full((90, 6), 1 / 6),
             p["test_ids"], np.full((12, 6), 1 / 6))
    assert main(["report", "whole", "--work", str(p["work"]), "--out", str(out), "--max-errors", "0"]) == 0
    assert "missing" not in capsys.readouterr().err + (out / "summary.md").read_text()


# ---------------------------------------------------------------------------------------------- 4, 5: values
@pytest.mark.parametrize("extra, says", [
    (["--n", "0"], "--n must be >= 1"),
    (["--copies", "-1"], "--copies must be >= 1"),
    (["--tile", "0"], "--tile must be >= 16"),
])
def test_augment_preview_refuses_counts_that_make_no_sheet(sample_dir, tmp_path, capsys, extra, says):
    assert main(["augment", "--preview", "doc", "--data", str(sample_dir), "--work", str(tmp_path), *extra]) == 2
    assert says in _err_line(capsys)
    assert not (tmp_path / "aug").exists()


@pytest.fixture
def fake_ocr(monkeypatch):
    import dl_cls.ocr.cli as ocr_cli
    from test_ocr import FakeEngine

    engine = FakeEngine()
    monkeypatch.setattr(ocr_cli, "make_engine", lambda *a, **k: engine)
    return engine


@pytest.mark.parametrize("classes, says", [("", "an empty group"), (" ", "two or more"), (",", "two or more")])
def test_ocr_refuses_an_empty_class_group(tmp_path, fake_ocr, capsys, classes, says):
    p = make_project(tmp_path)
    assert main(["ocr", "--data", str(p["data"]), "--work", str(p["work"]), "--label-fixes", "none",
                 "--classes", classes]) == 2
    line = _err_line(capsys)
    assert f"--classes {classes!r}" in line and says in line and fake_ocr.calls == 0


# ---------------------------------------------------------------------------------------------- 6: runs hint
def test_runs_never_cuts_the_command_of_a_partial_run(tmp_path, capsys):
    p = make_project(tmp_path)
    _partial_run(p)
    assert main(["runs", "--work", str(p["work"])]) == 0
    out = capsys.readouterr().out
    assert "make train RESUME=partial-run FOLDS=1,2\n" in out or "make train RESUME=partial-run FOLDS=1,2 " in out


def _partial_run(p, name="partial-run"):
    """A `--folds 0` run of a 3-fold split, merged (what the ledger calls partial)."""
    run = p["work"] / "runs" / name
    ids = [i for i, k in zip(p["ids"], p["folds"]) if k == 0]
    make_run(run, p["data"], ids, [0] * len(ids), np.full((len(ids), 6), 1 / 6), p["test_ids"],
             np.full((12, 6), 1 / 6))
    config = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**config, "folds": [0, 1, 2], "folds_requested": [0]}))
    (run / "fold0").mkdir()
    (run / "fold0" / "fold.json").write_text("{}")
    (run / "summary.json").write_text(json.dumps({"folds_done": [0], "complete": False, "folds_requested": [0],
                                                  "requested_done": True, "oof_f1": 0.5}))
    return run


def test_runs_names_a_damaged_summary_json_and_how_to_mend_it(tmp_path, capsys):
    p = make_project(tmp_path)
    run = _partial_run(p)
    (run / "summary.json").write_text('{"folds_done": [0], "compl')  # cut short
    assert main(["runs", "--work", str(p["work"])]) == 0
    out = capsys.readouterr().out
    assert f"{run / 'summary.json'} is damaged (not a JSON object): `dl-cls merge-folds partial-run`" in out


# ---------------------------------------------------------------------------------------------- 7: not UTF-8
@pytest.fixture
def latin1_yaml(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(NOT_UTF8)
    return path


def _assert_not_utf8_line(capsys, path) -> None:
    line = _err_line(capsys)
    assert f"{path}: not UTF-8 text" in line and "byte 0xff" in line, line


@pytest.mark.parametrize("expert", [[], ["--no-expert"]])
def test_a_testlike_config_that_is_not_utf8_is_one_line_in_ocr(tmp_path, fake_ocr, latin1_yaml, capsys, expert):
    p = make_project(tmp_path)
    assert main(["ocr", "--data", str(p["data"]), "--work", str(p["work"]), "--label-fixes", "none", "--classes",
                 "2,3", "--orientation", "ocr", "--testlike-config", str(latin1_yaml), *expert]) == 2
    _assert_not_utf8_line(capsys, latin1_yaml)
    assert fake_ocr.calls == 0  # refused before any page is read


@pytest.mark.parametrize("args", [
    ["profile", "{data}/train", "--testlike", "{bad}"],
    ["profile", "{data}/train", "--fit", "{data}/test", "--base", "{bad}", "--out", "{tmp}/p"],
    ["train", "--model", "tiny", "--data", "{data}", "--work", "{tmp}/w", "--cpu", "--dry-run",
     "testlike_config={bad}"],
    ["train", "--model", "{bad}", "--data", "{data}", "--work", "{tmp}/w", "--cpu", "--dry-run"],
    ["augment", "--list", "{bad}"],
])
def test_every_file_a_user_names_that_is_not_utf8_is_one_line(sample_dir, tmp_path, latin1_yaml, capsys, args):
    args = [a.format(data=sample_dir, bad=latin1_yaml, tmp=tmp_path) for a in args]
    assert main(args) == 2
    _assert_not_utf8_line(capsys, latin1_yaml)


def test_a_csv_that_is_not_utf8_is_named_among_the_problems(sample_copy, latin1_yaml, capsys):
    assert main(["check-data", str(sample_copy), "--label-fixes", str(latin1_yaml)]) == 1  # problems found
    assert f"{latin1_yaml}: not UTF-8 text (byte 0xff" in capsys.readouterr().err
    (sample_copy / "train.csv").write_bytes((sample_copy / "train.csv").read_bytes() + b"caf\xe9.jpg,0\n")
    assert main(["check-data", str(sample_copy)]) == 1
    assert "train.csv: not UTF-8 text (byte 0xe9" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- rough edges
def _sample_probs(sample_dir, tmp_path, cell=None, drop=None):
    import pandas as pd

    labels = pd.read_csv(sample_dir / "test_labels.csv", dtype={"ID": str})
    probs = pd.DataFrame(np.full((len(labels), 17), 1 / 17), columns=[f"p_{c}" for c in range(17)]).astype(object)
    probs.insert(0, "ID", labels["ID"])
    if cell is not None:
        probs.loc[4, "p_3"] = cell
    probs = probs.drop(columns=drop or [])
    probs.to_csv(tmp_path / "test_probs.csv", index=False)
    return ["score", str(tmp_path / "test_probs.csv"), "--labels", str(sample_dir / "test_labels.csv")]


@pytest.mark.parametrize("cell, says", [("", "p_3 is empty"), ("5", "p_3 is 5")])
def test_score_names_an_empty_cell_and_refuses_a_probability_above_1(sample_dir, tmp_path, capsys, cell, says):
    assert main(_sample_probs(sample_dir, tmp_path, cell=cell)) == 2
    line = _err_line(capsys)
    assert "line 6" in line and says in line and "not a probability (a number in [0, 1])" in line, line


@pytest.mark.parametrize("data", [True, False])
def test_score_refuses_a_table_missing_a_class_column(sample_dir, tmp_path, capsys, data):
    args = _sample_probs(sample_dir, tmp_path, drop=["p_5"]) + (["--data", str(sample_dir)] if data else [])
    assert main(args) == 2
    assert "no column for class(es) 5 of" in _err_line(capsys)


def test_a_bad_override_is_blamed_on_the_command_line_not_the_model_yaml(sample_dir, tmp_path, capsys):
    assert main(["train", "--model", "tiny", "--data", str(sample_dir), "--work", str(tmp_path), "--cpu",
                 "--dry-run", "img_size=abc"]) == 2
    line = _err_line(capsys)
    assert "key=value override img_size: expected int, got 'abc'" in line and "tiny.yaml" not in line


def test_a_dangling_work_link_is_named_as_such(sample_dir, tmp_path, capsys):
    work = tmp_path / "work"
    work.symlink_to(tmp_path / "gone")
    assert main(["folds", "--data", str(sample_dir), "--work", str(work), "--n-folds", "2"]) == 2
    line = _err_line(capsys)
    assert f"{work} is a symbolic link to {tmp_path / 'gone'}, which does not exist (a dangling link)" in line
    assert "File exists" not in line


def test_an_edited_manifest_is_called_edited_and_a_cut_one_cut(tmp_path):
    import hashlib

    from dl_cls.artifacts.augsets import COMPLETE, MANIFEST, manifest_problem

    rows = "".join(f"a{i}.jpg,0,a{i}.jpg,0,flip\n" for i in range(4))
    data = ("ID,target,source_id,copy,ops\n" + rows).encode()
    (tmp_path / MANIFEST).write_bytes(data)
    (tmp_path / COMPLETE).write_text(json.dumps({"manifest_rows": 4,
                                                 "manifest_sha256": hashlib.sha256(data).hexdigest()}))
    assert manifest_problem(tmp_path) is None
    (tmp_path / MANIFEST).write_bytes(data.replace(b"a2.jpg,0,", b"a2.jpg,1,", 1))  # a row edited
    assert "was edited since it was written (its 4 rows are all there" in manifest_problem(tmp_path)
    (tmp_path / MANIFEST).write_bytes(data[: data.index(b"a2.jpg")])  # cut at a line boundary
    assert "has 2 rows but 4 were written" in manifest_problem(tmp_path)


def test_ensemble_without_data_over_two_data_dirs_refuses_and_lists_them(tmp_path, capsys):
    p = make_project(tmp_path)
    other = tmp_path / "data2"
    shutil.copytree(p["data"], other)
    for name in ("a", "b"):  # finished
        (p["work"] / "runs" / name / "summary.json").write_text(json.dumps({"complete": True, "oof_f1": 0.5}))
    config = yaml.safe_load((p["work"] / "runs" / "b" / "config.yaml").read_text())
    (p["work"] / "runs" / "b" / "config.yaml").write_text(yaml.safe_dump({**config, "data_dir": str(other)}))
    assert main(["ensemble", "--work", str(p["work"]), "--name", "e"]) == 2
    line = _err_line(capsys)
    assert "come from 2 data dirs" in line and f"{other}: b" in line and "pass --data DIR" in line, line
    assert not (p["work"] / "ensembles").exists()
    assert main(["ensemble", "--work", str(p["work"]), "--name", "e", "--data", str(other)]) == 0


def test_profile_out_keeps_a_profile_csv_the_user_edited(sample_dir, tmp_path, capsys):
    out = tmp_path / "profile"
    args = ["profile", str(sample_dir / "train"), "--out", str(out), "--limit", "8", "--workers", "1"]
    assert main(args) == 0
    assert main(args) == 0  # unedited: a re-run writes it again
    table = out / "profile.csv"
    table.write_text(table.read_text() + "my,note\n")
    capsys.readouterr()
    assert main(args) == 2
    assert "profile.csv was edited since dl-cls profile wrote it" in _err_line(capsys)
    assert table.read_text().endswith("my,note\n")


def test_disk_full_says_how_much_of_the_file_was_written(tmp_path, disk_full, capsys):
    p = make_project(tmp_path)
    disk_full("submission.csv")
    assert main(["ensemble", "a", "b", "--work", str(p["work"]), "--name", "e", "--method", "soft"]) == 2
    line = _err_line(capsys)  # the partial file is removed before the free space is measured: its size is said
    assert "submission.csv, " in line and " B of it written before the disk filled (" in line, line


def test_augment_starts_again_a_set_a_corrupt_train_image_stopped(tmp_path, capsys):
    from builders import make_data

    data = make_data(tmp_path / "data", np.repeat(np.arange(3), 4), 2, 3)
    good = (data / "train" / "tr0005.jpg").read_bytes()
    (data / "train" / "tr0005.jpg").write_bytes(good[:40])  # cut: not a readable image
    args = ["augment", "--data", str(data), "--work", str(tmp_path / "w"), "--scale", "2", "--size", "24",
            "--workers", "1", "--no-progress", "--label-fixes", "none", "--out"]
    assert main(args + [str(tmp_path / "set")]) == 2
    assert "tr0005.jpg: not a readable image" in _err_line(capsys)
    assert list((tmp_path / "set" / "images").iterdir())  # some images made before it stopped
    (data / "train" / "tr0005.jpg").write_bytes(good)  # the user mends it
    assert main(args + [str(tmp_path / "set")]) == 0  # was: refused until the half-made set was deleted by hand
    assert main(args + [str(tmp_path / "ref")]) == 0
    from test_faults import _snapshot

    assert _snapshot(tmp_path / "set") == _snapshot(tmp_path / "ref")
    (data / "train" / "tr0005.jpg").write_bytes(good[:-1] + b"\0")  # a finished set is never replaced
    assert main(args + [str(tmp_path / "set")]) == 2
    assert "train images changed since this set was made" in capsys.readouterr().err
