"""Pseudo-labels (dl-cls pseudo): what is taken, the set it writes (resumable, made by dl_cls, pointer), rounds, one-line
errors, and training with it: pseudo-labelled test images on every fold's training side, never in a validation fold."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from builders import make_data, make_project, make_run
from dl_cls.artifacts.pseudosets import load as load_pseudo, read_pointer
from dl_cls.artifacts.runs import load_run
from dl_cls.cli import main as cli_main
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import MADE_MARKER
from dl_cls.data.contract import load_data
from dl_cls.data.folds import NO_FOLD, PSEUDO_PREFIX, manifest_folds, train_rows_for_fold
from dl_cls.pseudo import write as pseudo_write
from dl_cls.pseudo.select import PseudoConfig, choose


def _one_hot(labels, k, p):
    out = np.full((len(labels), k), (1 - p) / (k - 1))
    out[np.arange(len(labels)), labels] = p
    return out


@pytest.fixture
def controlled(tmp_path):
    """3 classes x 10 train images. OOF: class 0 right at p .95; class-2 pages called 1 at p .95 (class 1's
    precision 0.5); nothing called 2 confidently. Test: 8 called 0 at p .91-.98, 2 called 0 at .5, 2 called 1."""
    y = np.repeat(np.arange(3), 10)
    data = make_data(tmp_path / "data", y, 12, 3)
    ids = pd.read_csv(data / "train.csv")["ID"].tolist()
    test_ids = pd.read_csv(data / "sample_submission.csv")["ID"].tolist()
    oof = np.vstack([_one_hot([0] * 10, 3, .95), _one_hot([1] * 10, 3, .95), _one_hot([1] * 10, 3, .95)])
    test = np.vstack([_one_hot([0], 3, p) for p in np.linspace(.91, .98, 8)]
                     + [_one_hot([0, 0], 3, .5), _one_hot([1, 1], 3, .99)])
    run = make_run(tmp_path / "work/runs/src", data, ids, np.arange(30) % 5, oof, test_ids, test)
    return dict(data=data, run=run, test_ids=test_ids, work=tmp_path / "work")


def test_threshold_cap_and_oof_precision_floor(controlled):
    source, dd = load_run(controlled["run"]), load_data(controlled["data"], None)
    chosen, table = choose(source, dd, PseudoConfig(threshold=.9, cap_ratio=.5, min_precision=.9, min_oof=5))
    # class 0: 8 above the threshold, capped at 0.5 x 10 train images = 5, the most confident first
    assert chosen["ID"].tolist() == controlled["test_ids"][7:2:-1] and (chosen["target"] == 0).all()
    rows = table.set_index("class")
    assert rows.loc[0, "candidates"] == 8 and rows.loc[0, "taken"] == 5 and rows.loc[0, "note"] == "capped at 5"
    assert rows.loc[0, "oof_precision"] == 1.0 and rows.loc[0, "oof_n"] == 10
    assert rows.loc[1, "oof_precision"] == .5 and rows.loc[1, "taken"] == 0 and "precision 0.500" in rows.loc[1, "note"]
    assert rows.loc[2, "oof_n"] == 0 and rows.loc[2, "taken"] == 0 and "min_oof" in rows.loc[2, "note"]
    chosen, _ = choose(source, dd, PseudoConfig(threshold=.95, cap_ratio=2, min_precision=.4, min_oof=5))
    assert sorted(chosen["target"].tolist()) == [0] * 4 + [1, 1]  # p >= .95 only; class 1 over a lower floor


def _pseudo(controlled, *extra):
    return cli_main(["pseudo", "--from", "src", "--data", str(controlled["data"]), "--work", str(controlled["work"]),
                     "--no-progress", "cap_ratio=0.5", *extra])


def test_pseudo_set_is_complete_marked_current_and_leaves_the_data_alone(controlled, capsys):
    before = {p: p.read_bytes() for p in controlled["data"].rglob("*") if p.is_file()}
    assert _pseudo(controlled) == 0
    out = capsys.readouterr().out
    assert "capped at 5" in out and "taken: 5 of 12" in out
    set_dir = controlled["work"] / "pseudo" / "src_t0.9_c0.5"
    ps = load_pseudo(set_dir, controlled["data"])
    assert list(ps.manifest.columns) == ["ID", "target", "source_id", "copy", "ops", "prob", "source"]
    assert (ps.manifest["source_id"] == PSEUDO_PREFIX + ps.manifest["ID"]).all() and (ps.manifest["source"] == "src").all()
    assert ps.round == 1 and ps.settings["config"]["cap_ratio"] == .5
    for image_id in ps.manifest["ID"]:
        assert (set_dir / "images" / image_id).read_bytes() == (controlled["data"] / "test" / image_id).read_bytes()
    assert json.loads((set_dir / MADE_MARKER).read_text())["kind"] == "pseudo"
    assert read_pointer(controlled["work"])[str(controlled["data"].resolve())]["dir"] == set_dir.name
    assert {p: p.read_bytes() for p in controlled["data"].rglob("*") if p.is_file()} == before
    assert _pseudo(controlled, "threshold=0.8") == 0  # another threshold: another name, another set
    assert _pseudo(controlled, "threshold=0.8", "--name", "src_t0.9_c0.5") == 2
    assert "made with other settings" in capsys.readouterr().err


def test_interrupted_pseudo_resumes(controlled, monkeypatch, capsys):
    real, calls = pseudo_write.atomic_write_bytes, []

    def dies_on_third(path, data):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(path, data)

    monkeypatch.setattr(pseudo_write, "atomic_write_bytes", dies_on_third)
    assert _pseudo(controlled) == 130
    set_dir = controlled["work"] / "pseudo" / "src_t0.9_c0.5"
    assert not (set_dir / "manifest.csv").exists() and read_pointer(controlled["work"]) == {}
    with pytest.raises(DlClsError, match="not complete"):
        load_pseudo(set_dir)
    assert _pseudo(controlled) == 0
    assert "resumed: 2 of 5 images were already copied" in capsys.readouterr().out
    assert len(calls) == 3 + 3 and len(load_pseudo(set_dir).manifest) == 5
    assert _pseudo(controlled) == 0 and "already complete" in capsys.readouterr().out
    assert len(calls) == 6


def test_bad_from_is_one_line(tmp_path, capsys):
    p = make_project(tmp_path)
    common = ["--data", str(p["data"]), "--work", str(p["work"])]
    other = make_data(tmp_path / "other", p["y"], 12, 6)
    make_run(p["work"] / "runs/elsewhere", other, p["ids"], p["folds"], np.full((len(p["y"]), 6), 1 / 6),
             p["test_ids"], np.full((12, 6), 1 / 6))
    (p["work"] / "runs/broken").mkdir()
    (p["work"] / "runs/broken/config.yaml").write_text(yaml.safe_dump({"data_dir": str(p["data"]), "num_classes": 6}))
    for args, says in ((["--from", "nosuch"], "not found"), (["--from", "spec"], "class-subset run"),
                       ([], "no finished ensemble"), (["--from", "elsewhere"], "was made from"),
                       (["--from", "broken"], "not a finished run or ensemble")):
        assert cli_main(["pseudo", *args, *common]) == 2, args
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err
    assert not (p["work"] / "pseudo").exists()


def test_second_round_from_an_ensemble_of_pseudo_trained_members(tmp_path, capsys):
    p = make_project(tmp_path)
    common = ["--data", str(p["data"]), "--work", str(p["work"]), "--no-progress", "threshold=0.3", "min_oof=1",
              "min_precision=0"]
    config = yaml.safe_load((p["work"] / "runs/a/config.yaml").read_text())
    config.update(pseudo_dir=str(p["work"] / "pseudo/first"), pseudo_round=1)  # as a pseudo-trained run records it
    (p["work"] / "runs/a/config.yaml").write_text(yaml.safe_dump(config))
    assert cli_main(["ensemble", "a", "b", "--data", str(p["data"]), "--work", str(p["work"]), "--name", "e"]) == 0
    assert cli_main(["pseudo", *common]) == 0  # the latest ensemble: e
    assert "(round 2)" in capsys.readouterr().out
    assert load_pseudo(p["work"] / "pseudo/e_t0.3_c1").round == 2
    assert cli_main(["pseudo", "--from", "b", *common]) == 0
    assert load_pseudo(p["work"] / "pseudo/b_t0.3_c1").round == 1


def test_pseudo_rows_belong_to_no_fold():
    folds = pd.DataFrame({"ID": ["a", "b", "c", "d"], "fold": [0, 0, 1, 1]})
    manifest = pd.DataFrame({"ID": ["a_c0", "c_c0", "pseudo-t_c0"], "source_id": ["a", "c", PSEUDO_PREFIX + "t.jpg"]})
    assert manifest_folds(manifest, folds).tolist() == [0, 1, NO_FOLD]
    for k in (0, 1):
        assert "pseudo-t_c0" in train_rows_for_fold(manifest, folds, k)["ID"].tolist()


# ---------------------------------------------------------------------------------------------- training with it
FAST = ["img_size=64", "batch_size=8", "epochs=1", "n_folds=2", "tta_rotations=[0]", "tta_hflip=false"]


@pytest.fixture
def sample_pseudo(sample_dir, tmp_path):
    """A pseudo set over the shared sample's test images, labelled by a fake run that knows the answers."""
    work = tmp_path / "work"
    train = pd.read_csv(sample_dir / "train.csv", dtype={"ID": str})
    truth = pd.read_csv(sample_dir / "test_labels.csv", dtype={"ID": str})
    test_ids = pd.read_csv(sample_dir / "sample_submission.csv", dtype={"ID": str})["ID"]
    y_test = truth.set_index("ID").loc[test_ids, "target"].to_numpy()
    make_run(work / "runs/oracle", sample_dir, train["ID"], np.arange(len(train)) % 2,
             _one_hot(train["target"].to_numpy(), 17, .97), test_ids, _one_hot(y_test, 17, .97))
    assert cli_main(["pseudo", "--from", "oracle", "--data", str(sample_dir), "--work", str(work),
                     "--no-progress", "min_oof=1"]) == 0
    return work, work / "pseudo/oracle_t0.9_c1"


def _train_spying(data, work, name, monkeypatch, *args):
    """Train through the CLI; the paths of the images each fold's training set holds, in fold order (0, 1)."""
    from dl_cls.train.data import TrainSet

    seen, orig_init = [], TrainSet.__init__

    def spy_init(self, store, index, *rest, **kw):
        orig_init(self, store, index, *rest, **kw)
        seen.append({store.paths[int(i)] for i in index})

    monkeypatch.setattr(TrainSet, "__init__", spy_init)
    assert cli_main(["train", "--model", "tiny", "--data", str(data), "--work", str(work), "--name", name, "--cpu",
                     *args, *FAST]) == 0
    return seen


@pytest.mark.slow
def test_pseudo_images_train_every_fold_and_are_never_validated(sample_dir, sample_pseudo, monkeypatch, capsys):
    work, set_dir = sample_pseudo
    pseudo = set(str(set_dir / "images" / i) for i in load_pseudo(set_dir).manifest["ID"])
    seen = _train_spying(sample_dir, work, "withp", monkeypatch, "--aug", "none")  # the current set by default
    assert f"pseudo set: {set_dir}" in capsys.readouterr().out
    folds = pd.read_csv(work / "folds.csv", dtype={"ID": str})
    for k in (0, 1):
        val = {str(sample_dir / "train" / i) for i in folds.loc[folds["fold"] == k, "ID"]}
        assert pseudo <= seen[k] and not (seen[k] & val)
    run = work / "runs/withp"
    oof = pd.read_csv(run / "oof.csv", dtype={"ID": str})
    assert sorted(oof["ID"]) == sorted(folds["ID"])  # validated on train pages only
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["pseudo_dir"] == str(set_dir.resolve()) and config["pseudo_round"] == 1
    assert cli_main(["runs", "--work", str(work)]) == 0
    assert "oracle_t0.9_c1 (r1)" in capsys.readouterr().out
    assert cli_main(["pseudo", "--from", "withp", "--data", str(sample_dir), "--work", str(work), "--no-progress",
                     "min_oof=1", "min_precision=0", "threshold=0.05"]) == 0
    assert load_pseudo(work / "pseudo/withp_t0.05_c1").round == 2  # labelled by a pseudo-trained run


@pytest.mark.slow
def test_augmented_pseudo_copies_train_only(sample_dir, sample_pseudo, monkeypatch, capsys):
    work, set_dir = sample_pseudo
    assert cli_main(["augment", "--scale", "2", "--preset", "light", "--size", "96", "--workers", "1",
                     "--data", str(sample_dir), "--work", str(work), "--no-progress", "--pseudo", "current"]) == 0
    aug = work / "aug/light_x2_s0_L96_pseudo-oracle_t0.9_c1"
    manifest = pd.read_csv(aug / "manifest.csv", dtype={"ID": str})
    n_pseudo = len(load_pseudo(set_dir).manifest)
    assert manifest["source_id"].str.startswith(PSEUDO_PREFIX).sum() == 2 * n_pseudo
    capsys.readouterr()
    seen = _train_spying(sample_dir, work, "augp", monkeypatch)  # the current AUG set, and the pseudo set it holds
    assert f"pseudo set: {set_dir.resolve()}" in capsys.readouterr().out
    copies = {str(aug / "images" / i) for i in manifest.loc[manifest["source_id"].str.startswith(PSEUDO_PREFIX), "ID"]}
    folds = pd.read_csv(work / "folds.csv", dtype={"ID": str})
    source = dict(zip([str(aug / "images" / i) for i in manifest["ID"]], manifest["source_id"]))
    for k in (0, 1):
        val = set(folds.loc[folds["fold"] == k, "ID"])
        assert copies <= seen[k] and not ({source[p] for p in seen[k]} & val)
    assert cli_main(["train", "--model", "tiny", "--data", str(sample_dir), "--work", str(work), "--dry-run",
                     "--aug", "none", "--pseudo", "none", *FAST]) == 0
    assert "pseudo-labelled" not in capsys.readouterr().out
    aug_plain = work / "aug/plain"
    assert cli_main(["augment", "--scale", "1", "--preset", "light", "--size", "96", "--workers", "1", "--data",
                     str(sample_dir), "--work", str(work), "--no-progress", "--out", str(aug_plain)]) == 0
    assert cli_main(["train", "--model", "tiny", "--data", str(sample_dir), "--work", str(work), "--dry-run",
                     "--aug", str(aug_plain), "--pseudo", set_dir.name, *FAST]) == 2
    assert "holds no pseudo-labelled copies" in capsys.readouterr().err
