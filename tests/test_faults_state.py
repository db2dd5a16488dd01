"""Fault injection, part two: replacing what dl_cls made (content hashes), never overwriting a user's file, a full
disk (an injected ENOSPC), symlinked outputs, damaged state files and bad values. Each case is a promise listed in
docs/reliability.md ("State files, full disks and bad values"); each failed on the code before it."""
from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from builders import make_project, make_run
from test_faults import FAST, _snapshot

from dl_cls.cli import main
from dl_cls.core.io import MADE_MARKER

SAMPLE = ["--train-per-class", "1", "--test-per-class", "1", "--size", "48"]


def _err_line(capsys) -> str:
    """The one error line on stderr (log and progress lines of the stages aside), and no traceback."""
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("dl-cls ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


# ---------------------------------------------------------------------------------------------- 4: sample --force
@pytest.fixture
def quick_render(monkeypatch):
    """sample's pages stubbed to two small files: these tests are about what --force keeps, not about pages."""
    import dl_cls.data.sample.generate as sample

    def write(root, *args):
        (root / "train").mkdir()
        (root / "train.csv").write_text("ID,target\na.jpg,0\n")
        (root / "train" / "a.jpg").write_bytes(b"jpeg")

    monkeypatch.setattr(sample, "_write", write)
    return sample


def test_sample_force_refuses_an_edited_file_and_a_users_empty_dir(sample_copy, quick_render, capsys):
    out = sample_copy  # an earlier sample, as `dl-cls sample` wrote it
    good = (out / "train.csv").read_bytes()
    (out / "train.csv").write_text("ID,target\nmine.jpg,0\n")  # the user edited it
    before = _tree(out)
    assert main(["sample", str(out), *SAMPLE, "--force"]) == 2
    assert "train.csv changed since dl_cls wrote it" in _err_line(capsys)
    assert _tree(out) == before
    (out / "train.csv").write_bytes(good)
    (out / "my_notes").mkdir()  # an empty dir of the user's: the marker knows every dir it made
    assert main(["sample", str(out), *SAMPLE, "--force"]) == 2
    assert "did not write (my_notes)" in _err_line(capsys) and (out / "my_notes").is_dir()
    (out / "my_notes").rmdir()
    assert main(["sample", str(out), *SAMPLE, "--force"]) == 0  # unchanged: replaced
    marker = json.loads((out / MADE_MARKER).read_text())
    assert len(marker["files"]["train.csv"]) == 64 and marker["dirs"] == ["train"]


def test_sample_force_refuses_a_marker_without_hashes(sample_copy, capsys):
    out = sample_copy
    marker = json.loads((out / MADE_MARKER).read_text())
    old = {"kind": "sample", "settings": marker["settings"], "files": sorted(marker["files"])}  # the old format
    (out / MADE_MARKER).write_text(json.dumps(old))
    assert main(["sample", str(out), *SAMPLE, "--force"]) == 2
    assert "records no content hashes" in _err_line(capsys) and (out / "train.csv").is_file()


def test_sample_force_never_deletes_a_file_added_while_it_ran(sample_copy, quick_render, monkeypatch, capsys):
    out = sample_copy
    before = _tree(out)
    stub = quick_render._write

    def write_while_the_user_adds_a_file(root, *args):
        stub(root, *args)
        (out / "added_meanwhile.txt").write_text("mine")  # after the check, before the swap

    monkeypatch.setattr(quick_render, "_write", write_while_the_user_adds_a_file)
    assert main(["sample", str(out), *SAMPLE, "--force"]) == 2
    assert "did not write (added_meanwhile.txt)" in _err_line(capsys)
    assert _tree(out) == {**before, "added_meanwhile.txt": b"mine"}  # the old sample put back, the file kept
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp dir left behind


# ---------------------------------------------------------------------------------------------- 5: never overwrite
def test_profile_fit_rerun_keeps_an_edited_testlike_yaml(sample_dir, tmp_path, capsys):
    out = tmp_path / "profile"
    args = ["profile", str(sample_dir / "train"), "--fit", str(sample_dir / "test"), "--out", str(out), "--limit",
            "12", "--workers", "1"]
    assert main(args) == 0
    assert main(args) == 0  # unedited: a re-run may write it again
    fitted = out / "testlike.yaml"
    fitted.write_text(fitted.read_text() + "# reviewed: noise looks right\n")
    capsys.readouterr()
    assert main(args) == 2
    assert "testlike.yaml was edited since" in _err_line(capsys)
    assert fitted.read_text().endswith("# reviewed: noise looks right\n")


def test_preview_out_and_runs_csv_never_overwrite_a_file(sample_dir, tmp_path, capsys):
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"my picture")
    assert main(["augment", "--preview", "doc", "--data", str(sample_dir), "--work", str(tmp_path), "--out",
                 str(mine), "--n", "1", "--copies", "1", "--size", "48", "--tile", "48"]) == 2
    assert "already exists" in _err_line(capsys) and mine.read_bytes() == b"my picture"
    table = tmp_path / "table.csv"
    table.write_text("my,spreadsheet\n")
    assert main(["runs", "--work", str(tmp_path), "--csv", str(table)]) == 2
    assert "already exists" in _err_line(capsys) and table.read_text() == "my,spreadsheet\n"


# ---------------------------------------------------------------------------------------------- 6: disk full
@pytest.fixture
def disk_full(monkeypatch):
    """disk_full(match, nth): the nth fsync of a file whose path holds `match` raises ENOSPC, as on a full disk
    (the data sits in the page cache until then); disk_full(None) frees the disk again."""
    real, state = os.fsync, {"match": None, "nth": 0, "seen": 0}

    def fsync(fd):
        if state["match"] and state["match"] in os.readlink(f"/proc/self/fd/{fd}"):
            state["seen"] += 1
            if state["seen"] == state["nth"]:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return lambda match, nth=1: state.update(match=match, nth=nth, seen=0)


def _assert_disk_full_line(line: str, where: str) -> None:
    assert "disk full writing" in line and where in line, line
    assert " free on the filesystem of " in line and "re-run the same command to resume" in line


@pytest.mark.slow
def test_disk_full_in_augment_is_one_line_and_the_rerun_resumes_identically(sample_dir, tmp_path, disk_full,
                                                                              capsys):
    args = ["augment", "--data", str(sample_dir), "--work", str(tmp_path), "--scale", "2", "--size", "48",
            "--workers", "1", "--no-progress", "--label-fixes", "none", "--out"]
    assert main(args + [str(tmp_path / "ref")]) == 0
    disk_full("/cut/images/", nth=20)
    capsys.readouterr()
    assert main(args + [str(tmp_path / "cut")]) == 2
    _assert_disk_full_line(_err_line(capsys), str(tmp_path / "cut" / "images"))
    disk_full(None)
    assert main(args + [str(tmp_path / "cut")]) == 0
    assert "resuming: 19 of" in capsys.readouterr().out
    assert _snapshot(tmp_path / "cut") == _snapshot(tmp_path / "ref")


@pytest.mark.slow
def test_disk_full_in_train_is_one_line_and_the_rerun_resumes(sample_dir, tmp_path, monkeypatch, capsys):
    import torch

    args = ["train", "--model", "tiny", "--data", str(sample_dir), "--work", str(tmp_path), "--cpu", *FAST,
            "img_size=32", "epochs=2", "--folds", "0", "--name", "r"]
    real_save, calls = torch.save, []

    def save(obj, f, *a, **k):  # what torch.save says when the disk fills under its zip writer
        calls.append(1)
        if len(calls) == 3:  # epoch 2's first checkpoint
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", save)
    assert main(args) == 2
    _assert_disk_full_line(_err_line(capsys), str(tmp_path / "runs" / "r" / "fold0"))
    assert not list((tmp_path / "runs" / "r").rglob("*.tmp"))  # last.pt of epoch 1 whole, no partial file
    monkeypatch.setattr(torch, "save", real_save)
    assert main(args) == 0  # the same command continues epoch 2 from last.pt (test_faults: byte-identical)
    assert "fold 0: resuming after epoch 1" in capsys.readouterr().out


def test_disk_full_in_ensemble_is_one_line_and_the_rerun_makes_it(tmp_path, disk_full, capsys):
    p = make_project(tmp_path)
    args = ["ensemble", "a", "b", "--work", str(p["work"]), "--name", "e", "--method", "soft"]
    disk_full("submission.csv")
    assert main(args) == 2
    _assert_disk_full_line(_err_line(capsys), str(p["work"] / "ensembles" / "e" / "submission.csv"))
    assert not (p["work"] / "ensembles" / "e").exists()  # not half-written: the name stays free
    disk_full(None)
    assert main(args) == 0 and (p["work"] / "ensembles" / "e" / "submission.csv").is_file()


def test_disk_full_in_ocr_cache_is_one_line_and_the_rerun_resumes(tmp_path, monkeypatch, disk_full, capsys):
    import dl_cls.ocr.cli as ocr_cli
    from test_ocr import FakeEngine, _normalise_project

    engine = FakeEngine()
    monkeypatch.setattr(ocr_cli, "make_engine", lambda *a, **k: engine)
    dd, _, _ = _normalise_project(tmp_path)
    cache = tmp_path / "cache"
    args = ["ocr", "--data", str(dd.root), "--work", str(tmp_path / "work"), "--label-fixes", "none",
            "--workers", "1", "--no-progress", "--orientation", "ocr", "--no-expert", "--cache", str(cache)]
    disk_full(str(cache), nth=3)
    assert main(args) == 2
    _assert_disk_full_line(_err_line(capsys), str(cache))
    disk_full(None)
    assert main(args) == 0
    assert '"cached": 1, "read": 7' in capsys.readouterr().out  # the entry written before the full disk was kept


# ---------------------------------------------------------------------------------------------- 7: symlinks
def test_a_symlinked_output_dir_is_followed_and_a_dangling_one_refused_first(tmp_path, quick_render, monkeypatch,
                                                                             capsys):
    real, link = tmp_path / "disk2" / "data", tmp_path / "data"
    real.mkdir(parents=True)
    link.symlink_to(real)
    assert main(["sample", str(link), *SAMPLE]) == 0
    assert main(["sample", str(link), *SAMPLE, "--force"]) == 0
    assert link.is_symlink() and (real / "train.csv").is_file() and (link / MADE_MARKER).is_file()
    dangling = tmp_path / "nowhere"
    dangling.symlink_to(tmp_path / "missing")
    assert main(["sample", str(dangling), *SAMPLE]) == 2
    assert "is a symbolic link to" in _err_line(capsys)

    import dl_cls.ocr.cli as ocr_cli
    from test_ocr import FakeEngine, _normalise_project

    engine = FakeEngine()
    monkeypatch.setattr(ocr_cli, "make_engine", lambda *a, **k: engine)
    (tmp_path / "project").mkdir()
    dd, _, _ = _normalise_project(tmp_path / "project")
    args = ["ocr", "--data", str(dd.root), "--work", str(tmp_path / "work"), "--label-fixes", "none",
            "--workers", "1", "--no-progress", "--orientation", "ocr", "--no-expert", "--write-normalised"]
    assert main(args + [str(dangling)]) == 2 and engine.calls == 0  # refused before any reading
    assert "is a symbolic link to" in _err_line(capsys)
    (tmp_path / "norm_real").mkdir()
    (tmp_path / "norm").symlink_to(tmp_path / "norm_real")
    for _ in range(2):  # made, then replaced through the link
        assert main(args + [str(tmp_path / "norm")]) == 0
    assert (tmp_path / "norm").is_symlink() and sorted(p.name for p in (tmp_path / "norm_real").glob("*.jpg")) == \
        dd.test_ids


# ---------------------------------------------------------------------------------------------- 8: damaged state
@pytest.fixture
def folds_work(sample_dir, tmp_path):
    work = tmp_path / "work"
    assert main(["folds", "--data", str(sample_dir), "--work", str(work), "--n-folds", "2"]) == 0
    return work


@pytest.mark.parametrize("damage, says", [
    ("json", "folds.json: not readable JSON"),
    ("empty", "folds.csv: empty file"),
    ("text", "line 3: fold 'x' is not a fold number"),
    ("cut_line", "cut short (it ends in the middle of a line)"),
    ("cut_rows", "it looks cut short"),
])
def test_damaged_folds_files_are_one_line_saying_what_is_wrong(sample_dir, folds_work, capsys, damage, says):
    path = folds_work / "folds.csv"
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    if damage == "json":
        (folds_work / "folds.json").write_text('{"n_folds": 2, "se')
    elif damage == "empty":
        path.write_text("")
    elif damage == "text":
        path.write_text("".join(lines[:2] + [lines[2].split(",")[0] + ",x\n"] + lines[3:]))
    elif damage == "cut_line":
        path.write_text(text[: len(text) // 2])
    else:
        path.write_text("".join(lines[: len(lines) // 2]))
    capsys.readouterr()
    assert main(["folds", "--data", str(sample_dir), "--work", str(folds_work), "--n-folds", "2"]) == 2
    err = capsys.readouterr().err
    assert says in err and "another data dir" not in err and "Traceback" not in err


@pytest.mark.parametrize("entry", [{}, "doc_x2_s0"])
def test_a_damaged_current_json_entry_is_one_line(sample_dir, tmp_path, capsys, entry):
    pointer = tmp_path / "aug" / "current.json"
    pointer.parent.mkdir()
    pointer.write_text(json.dumps({"format": 1, "sets": {str(sample_dir.resolve()): entry}}))
    assert main(["train", "--model", "tiny", "--data", str(sample_dir), "--work", str(tmp_path), "--cpu",
                 "--dry-run"]) == 2
    line = _err_line(capsys)
    assert "current.json: the entry for" in line and "not a set record" in line


# ---------------------------------------------------------------------------------------------- 9: bad values
@pytest.mark.parametrize("args, says", [
    (["train", "--model", "tiny", "--cpu", "--dry-run", "img_size=0"], "img_size must be >= 16"),
    (["train", "--model", "tiny", "--cpu", "--dry-run", "img_size=-32"], "img_size must be >= 16"),
    (["profile", "{data}/train", "--limit", "-1"], "--limit must be >= 0"),
    (["augment", "--preview", "doc", "--out", "{tmp}/x.txt"], "give a .png or .jpg file name"),
    (["augment", "--preview", "doc", "--out", "{tmp}"], "give a .png or .jpg file name"),
    (["ocr", "--budget", "0", "--no-expert"], "--budget must be > 0"),
])
def test_bad_values_are_refused_before_the_work(sample_dir, tmp_path, capsys, args, says):
    args = [a.format(data=sample_dir, tmp=tmp_path) for a in args]
    if args[0] != "profile":
        args += ["--data", str(sample_dir), "--work", str(tmp_path / "work")]
    assert main(args) == 2
    assert says in _err_line(capsys)
    assert not (tmp_path / "work" / "runs").exists()


@pytest.mark.parametrize("threshold", ["1.5", "-0.1"])
def test_mass_threshold_outside_0_1_is_refused(tmp_path, capsys, threshold):
    p = make_project(tmp_path)
    assert main(["ensemble", "a", "b", "--specialist", "spec", "--work", str(p["work"]), "--name", "e",
                 "--mass-threshold", threshold]) == 2
    assert "--mass-threshold must be in [0, 1]" in _err_line(capsys)
    assert not (p["work"] / "ensembles").exists()


# ---------------------------------------------------------------------------------------------- 10: score, engine
@pytest.mark.parametrize("cell, says", [("nan", "p_3 is nan"), ("-0.2", "p_3 is -0.2"), ("high", "p_3 is high")])
def test_score_refuses_a_probability_that_is_not_one(sample_dir, tmp_path, capsys, cell, says):
    labels = pd.read_csv(sample_dir / "test_labels.csv", dtype={"ID": str})
    probs = pd.DataFrame(np.full((len(labels), 17), 1 / 17), columns=[f"p_{c}" for c in range(17)]).astype(object)
    probs.insert(0, "ID", labels["ID"])
    probs.loc[4, "p_3"] = cell
    probs.to_csv(tmp_path / "test_probs.csv", index=False)
    assert main(["score", str(tmp_path / "test_probs.csv"), "--labels", str(sample_dir / "test_labels.csv")]) == 2
    line = _err_line(capsys)
    assert "line 6" in line and says in line and "not a probability" in line


def test_a_binary_that_is_not_tesseract_is_named_as_such(tmp_path, capsys):
    data = tmp_path / "data"
    make_project(tmp_path)  # data dir with train/test images
    assert main(["ocr", "--data", str(data), "--work", str(tmp_path / "w"), "--label-fixes", "none",
                 "--tesseract", "/bin/false", "--no-expert"]) == 2
    line = _err_line(capsys)
    assert "'/bin/false' is not a working tesseract" in line and "no language data" not in line


# ---------------------------------------------------------------------------------------------- 11: ledger
def test_ledger_says_what_a_finished_one_fold_run_is_and_how_to_complete_it(tmp_path, capsys):
    p = make_project(tmp_path)
    run = p["work"] / "runs" / "part"
    ids = [i for i, k in zip(p["ids"], p["folds"]) if k == 0]
    make_run(run, p["data"], ids, [0] * len(ids), np.full((len(ids), 6), 1 / 6), p["test_ids"],
             np.full((12, 6), 1 / 6))
    config = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**config, "folds": [0, 1, 2, 3, 4], "folds_requested": [0]}))
    (run / "fold0").mkdir()
    (run / "fold0" / "fold.json").write_text("{}")
    # what merge_run writes after `train --folds 0`: every fold it was asked for is done, the split is not
    (run / "summary.json").write_text(json.dumps({"folds_done": [0], "complete": False, "folds_requested": [0],
                                                  "requested_done": True, "oof_f1": 0.5}))
    for other in ("a", "b", "c", "spec"):
        shutil.rmtree(p["work"] / "runs" / other)
    assert main(["runs", "--work", str(p["work"]), "--csv"]) == 0
    from io import StringIO

    row = pd.read_csv(StringIO(capsys.readouterr().out)).set_index("name").loc["part"]
    assert row["state"] == "partial" and row["folds"] == "1/5"
    assert row["note"] == "fold 0 of 5 finished; complete: make train RESUME=part FOLDS=1,2,3,4"
