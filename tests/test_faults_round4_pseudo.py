"""Fault injection, part four (issue 31): `dl-cls pseudo` and the config values every command reads. A bad value is
blamed on where it came from (the key=value override or the YAML file), a number that is not finite is refused, a
pseudo set with a deleted image is mended and refused until then, a source the ensembler refuses is refused, a
set stopped right after its dir was made resumes. Each case is a promise listed in docs/reliability.md ("Fourth
round"); each failed on the code before it."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from builders import make_data, make_project, make_run
from test_faults_state import _err_line
from test_pseudo import _one_hot

from dl_cls.artifacts.pseudosets import load as load_pseudo, read_pointer
from dl_cls.cli import main
from dl_cls.core.lock import Lock


@pytest.fixture
def src(tmp_path):
    """3 classes x 10 train images and a run `src` whose OOF is right at p .95 (classes 0, 1) and whose test
    probabilities are: 8 pages class 0 at p .91-.98, 2 class 0 at .5, 2 class 1 at .99. Class 1's OOF precision is
    .5: at the default floor the set holds the 8 class-0 pages."""
    y = np.repeat(np.arange(3), 10)
    data = make_data(tmp_path / "data", y, 12, 3)
    ids = pd.read_csv(data / "train.csv")["ID"].tolist()
    test_ids = pd.read_csv(data / "sample_submission.csv")["ID"].tolist()
    oof = np.vstack([_one_hot([0] * 10, 3, .95), _one_hot([1] * 10, 3, .95), _one_hot([1] * 10, 3, .95)])
    test = np.vstack([_one_hot([0], 3, p) for p in np.linspace(.91, .98, 8)]
                     + [_one_hot([0, 0], 3, .5), _one_hot([1, 1], 3, .99)])
    run = make_run(tmp_path / "work/runs/src", data, ids, np.arange(30) % 5, oof, test_ids, test)
    return dict(data=data, run=run, ids=ids, test_ids=test_ids, oof=oof, test=test, work=tmp_path / "work",
                set_dir=tmp_path / "work/pseudo/src_t0.9_c1")


def _pseudo(p, *extra, source="src"):
    return main(["pseudo", "--from", str(source), "--data", str(p["data"]), "--work", str(p["work"]),
                 "--no-progress", "min_oof=1", *extra])


# ---------------------------------------------------------------------------------------------- 2: who is blamed
@pytest.mark.parametrize("args, says, not_said", [
    (["pseudo", "--from", "src", "min_oof=0"], "min_oof=0 (command line): min_oof 0 must be >= 1", "default.yaml"),
    (["pseudo", "--from", "src", "threshold=1.5", "min_oof=2"], "threshold=1.5 (command line)", "default.yaml"),
    (["pseudo", "--from", "src", "--config", "{bad}"], "{bad}: min_oof 0 must be >= 1", "command line"),
    (["train", "--model", "tiny", "--cpu", "--dry-run", "img_size=8"],
     "img_size=8 (command line): img_size must be >= 16", "tiny.yaml"),
    (["train", "--model", "{badmodel}", "--cpu", "--dry-run"], "{badmodel}: img_size must be >= 16", "command line"),
    (["config", "tiny", "epochs=0"], "epochs=0 (command line): epochs must be >= 1", "tiny.yaml"),
])
def test_a_bad_value_is_blamed_on_the_override_or_the_file_it_came_from(src, tmp_path, capsys, args, says, not_said):
    bad, badmodel = tmp_path / "bad.yaml", tmp_path / "badmodel.yaml"
    bad.write_text("threshold: 0.9\nmin_oof: 0\n")
    badmodel.write_text("timm_name: mobilenetv3_small_100\npretrained: false\nimg_size: 8\n")
    args = [a.format(bad=bad, badmodel=badmodel) for a in args]
    if args[0] != "config":
        args += ["--data", str(src["data"]), "--work", str(src["work"])]
    assert main(args) == 2
    line = _err_line(capsys)
    assert says.format(bad=bad, badmodel=badmodel) in line and not_said not in line, line
    assert not (src["work"] / "pseudo").exists() and not (src["work"] / "runs" / "tiny").exists()


# ---------------------------------------------------------------------------------------------- a: NaN, inf
@pytest.mark.parametrize("extra, says", [
    (["cap_ratio=nan"], "key=value override cap_ratio: expected a finite number, got nan"),
    (["cap_ratio=inf"], "key=value override cap_ratio: expected a finite number, got inf"),
    (["threshold=.nan"], "key=value override threshold: expected a finite number, got nan"),
    (["min_precision=-.inf"], "key=value override min_precision: expected a finite number, got -inf"),
    (["--config", "{yaml}"], "{yaml}: cap_ratio: expected a finite number, got inf"),
])
def test_a_number_that_is_not_finite_is_refused_in_one_line(src, tmp_path, capsys, extra, says):
    path = tmp_path / "inf.yaml"
    path.write_text("cap_ratio: .inf\n")
    assert _pseudo(src, *[e.format(yaml=path) for e in extra]) == 2
    assert says.format(yaml=path) in _err_line(capsys)
    assert not (src["work"] / "pseudo").exists()


@pytest.mark.parametrize("text, args", [
    ("lr: .nan\nn_folds: 2\n", ["train", "--model", "{bad}", "--data", "{data}", "--work", "{tmp}/w", "--cpu", "--dry-run"]),
    ("blur:\n  sigma: [0.5, .inf]\n", ["profile", "{data}/train", "--testlike", "{bad}"]),
    ("blur:\n  sigma: [0.5, .inf]\n", ["train", "--model", "tiny", "--data", "{data}", "--work", "{tmp}/w", "--cpu",
                                        "--dry-run", "testlike_config={bad}"]),
    ("budget_ms: .nan\nops:\n  - op: rot90\n", ["augment", "--list", "{bad}"]),
])
def test_a_number_that_is_not_finite_in_any_yaml_is_named_with_its_file(sample_dir, tmp_path, capsys, text, args):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    assert main([a.format(data=sample_dir, bad=bad, tmp=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err  # a bad preset lists its problems, one a line, under one naming the file
    assert "Traceback" not in err and str(bad) in err.splitlines()[0], err
    assert "expected a finite number" in err or "budget_ms must be a positive number, got nan" in err, err
    assert not (tmp_path / "w" / "runs").exists()


# ---------------------------------------------------------------------------------------------- 4: nothing passed
def test_a_pseudo_that_passes_nothing_says_which_classes_came_closest(src, capsys):
    assert _pseudo(src, "threshold=0.995") == 2
    line = _err_line(capsys)
    assert "no test image passed: nothing written" in line
    assert "best test probability per class: 1 (class_1_name) 0.990, 0 (class_0_name) 0.980" in line, line
    assert not (src["work"] / "pseudo").exists()


# ---------------------------------------------------------------------------------------------- b: a deleted image
def test_a_set_with_a_deleted_image_is_refused_by_train_and_augment_and_the_rerun_mends_it(src, capsys):
    assert _pseudo(src) == 0
    gone = sorted((src["set_dir"] / "images").iterdir())[1]
    whole = gone.read_bytes()
    gone.unlink()
    common = ["--data", str(src["data"]), "--work", str(src["work"])]
    for args in (["train", "--model", "tiny", "--cpu", "--dry-run", "--aug", "none", "--pseudo", "src_t0.9_c1"],
                 ["augment", "--scale", "1", "--preset", "light", "--pseudo", "current", "--no-progress"]):
        capsys.readouterr()
        assert main([*args, *common]) == 2, args
        line = _err_line(capsys)
        assert f"{gone} is missing" in line and "re-run the same `make pseudo`" in line, line
    assert sorted(p.name for p in (src["work"] / "runs").iterdir()) == ["src"] and not (src["work"] / "aug").exists()
    assert _pseudo(src) == 0  # was: "already complete", the image still missing
    assert "1 missing image made again" in capsys.readouterr().out
    assert gone.read_bytes() == whole and len(load_pseudo(src["set_dir"]).manifest) == 8


# ---------------------------------------------------------------------------------------------- c: what ensemble refuses
def _cut(path, keep_rows: int) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:keep_rows + 1]))


def test_pseudo_refuses_a_partial_run_and_a_cut_ensemble_as_ensemble_does(src, capsys):
    part = make_run(src["work"] / "runs/part", src["data"], src["ids"][:6], np.arange(6) % 5, src["oof"][:6],
                    src["test_ids"], src["test"])  # fold 0..4 of 6 IDs only: a partial run's oof.csv
    assert main(["ensemble", "part", "--work", str(src["work"]), "--name", "e0"]) == 2
    assert "run part: oof.csv lacks 24 train IDs" in capsys.readouterr().err  # what the ensembler says
    assert _pseudo(src, source="part") == 2
    line = _err_line(capsys)
    assert f"--from {part}" in line and "oof.csv lacks 24 train IDs" in line, line
    assert main(["ensemble", "src", "--work", str(src["work"]), "--name", "ens", "--method", "soft"]) == 0
    _cut(src["work"] / "ensembles/ens/oof.csv", 20)
    capsys.readouterr()
    assert _pseudo(src, source="ens") == 2
    assert "oof.csv lacks 10 train IDs" in _err_line(capsys)
    assert not (src["work"] / "pseudo").exists() and read_pointer(src["work"]) == {}


def test_pseudo_refuses_a_run_still_being_written(src, capsys):
    (src["run"] / "fold1").mkdir()
    with Lock(src["run"] / "fold1", "fold 1"):  # a trainer on fold 1 of a run whose fold 0 was merged
        assert _pseudo(src) == 2
        line = _err_line(capsys)
    assert "is still being written" in line and "fold1" in line, line
    assert not (src["work"] / "pseudo").exists()


# ---------------------------------------------------------------------------------------------- d: killed at mkdir
@pytest.mark.parametrize("left", [[], ["images/"], [".lock"], [".lock", "images/"]])
def test_pseudo_killed_just_after_making_its_dir_resumes(src, capsys, left):
    src["set_dir"].mkdir(parents=True)
    for name in left:  # what a kill -9 before settings.json leaves
        (src["set_dir"] / name).mkdir() if name.endswith("/") else (src["set_dir"] / name).write_text("")
    assert _pseudo(src) == 0, capsys.readouterr().err
    assert len(load_pseudo(src["set_dir"], src["data"]).manifest) == 8


def test_a_dir_with_other_files_is_still_not_taken(src, capsys):
    src["set_dir"].mkdir(parents=True)
    (src["set_dir"] / "notes.txt").write_text("mine")
    assert _pseudo(src) == 2
    assert "was not made by `dl-cls pseudo`" in _err_line(capsys)
    assert sorted(p.name for p in src["set_dir"].iterdir()) == ["notes.txt"]


# ---------------------------------------------------------------------------------------------- rough edges
def test_a_second_pseudo_of_one_name_says_who_is_writing_it(src, capsys):
    src["set_dir"].mkdir(parents=True)
    with Lock(src["set_dir"], "pseudo set"):  # the first one, just after making its dir
        assert _pseudo(src) == 2
        line = _err_line(capsys)
    assert "is being written by pid" in line and "not made by" not in line, line


def test_an_invalid_from_table_is_named_with_its_line_and_reason(src, capsys):
    path = src["run"] / "test_probs.csv"
    path.write_text(path.read_text().replace("\nte0001.jpg,", "\nte0001.jpg,x", 1))
    assert _pseudo(src) == 2
    line = _err_line(capsys)
    assert "line 3 (ID te0001.jpg): probabilities must be finite" in line and "(1):)" not in line, line


def test_a_missing_from_path_is_named_once(src, tmp_path, capsys):
    missing = tmp_path / "nosuch"
    assert _pseudo(src, source=missing) == 2
    line = _err_line(capsys)
    assert line.partition("not found:")[2].count(str(missing)) == 1, line  # was: listed three times


def test_train_never_suggests_a_pseudo_set_that_no_longer_exists(src, capsys):
    assert _pseudo(src) == 0
    shutil.rmtree(src["set_dir"])
    capsys.readouterr()
    main(["train", "--model", "tiny", "--data", str(src["data"]), "--work", str(src["work"]), "--cpu", "--dry-run",
          "--aug", str(src["work"] / "aug/none")])
    out = capsys.readouterr().out
    assert "pseudo set: none" in out and "PSEUDO=src_t0.9_c1` adds it" not in out, out
    assert f"the current pseudo set {src['set_dir']} no longer exists" in out, out


def test_a_text_runs_test_shrink_is_said_not_applied(src, capsys):
    config = yaml.safe_load((src["run"] / "config.yaml").read_text())
    (src["run"] / "config.yaml").write_text(yaml.safe_dump({**config, "kind": "ocr"}))
    (src["run"] / "summary.json").write_text(json.dumps({"complete": True, "test_shrink": 0.5}))
    assert _pseudo(src) == 0
    out = capsys.readouterr().out
    assert "note: src is a text run whose test pages read at x0.50" in out and "not shrunk" in out, out
    assert load_pseudo(src["set_dir"]).manifest["prob"].max() == pytest.approx(0.98)  # as they are
