"""Upright members (`pose: upright`, issue 30): trained on upright pages only, each test page and each test-like
OOF copy straightened by the pose model first, with the pose model that held that fold out."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from dl_cls.cli import main
from dl_cls.train.posed import PosedPages, kept_poses

# a pose model of seconds: the plumbing is under test here (its accuracy: tests/test_orient_model.py, bench/)
TINY_POSE = "pose_model={model: test_byobnet, img_size: 32, copies: 1, epochs: 1, batch_size: 16, workers: 1}"
TINY_MEMBER = ["epochs=1", "img_size=32", "batch_size=8", "n_folds=2"]


def test_kept_poses_cover_the_posterior_mass_and_stop_at_three():
    sure = np.array([0.99, 0.01, 0, 0, 0, 0, 0, 0])
    assert kept_poses(sure) == [0]
    assert kept_poses(np.array([0.93, 0.01, 0, 0, 0.06, 0, 0, 0])) == [0]  # a sure page under label smoothing
    doubt = np.array([0.15, 0.45, 0.0, 0.0, 0.40, 0.0, 0.0, 0.0])
    assert kept_poses(doubt) == [1, 4, 0]  # 0.85 < 0.9: a third pose
    flat = np.full(8, 1 / 8)
    assert len(kept_poses(flat)) == 3


def test_mix_weights_each_view_by_its_pose_posterior():
    """p(class | x) = sum over kept poses v of p(v | x) p(class | x undone by v), renormalised per page."""
    post = np.zeros((2, 8))
    post[0, [1, 4]] = [0.7, 0.3]  # page 0: two poses kept
    post[1, 0] = 1.0  # page 1: sure
    pages = PosedPages(np.zeros((3, 4, 4, 3), np.uint8), np.array([0, 0, 1]), np.array([1, 4, 0]), {"k": post})
    views = np.array([[1.0, 0.0], [0.0, 1.0], [0.2, 0.8]])
    mixed = pages.mix(views, "k")
    np.testing.assert_allclose(mixed, [[0.7, 0.3], [0.2, 0.8]], atol=1e-6)
    assert pages.top_views("k").tolist() == [0, 2]


def test_mix_ignores_views_kept_only_for_another_fold_model():
    post_a, post_b = np.zeros((1, 8)), np.zeros((1, 8))
    post_a[0, 0], post_b[0, 2] = 1.0, 1.0
    pages = PosedPages(np.zeros((2, 4, 4, 3), np.uint8), np.array([0, 0]), np.array([0, 2]), {0: post_a, 1: post_b})
    views = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert pages.mix(views, 0).tolist() == [[1.0, 0.0]]
    assert pages.mix(views, 1).tolist() == [[0.0, 1.0]]


def test_upright_rows_drop_the_copies_that_were_turned_or_mirrored():
    from dl_cls.train.data import upright_rows

    manifest = pd.DataFrame({"ID": ["a_0.png", "a_1.png", "a_2.png", "a_3.png"], "target": 0, "source_id": "a.jpg",
                             "copy": [1, 2, 3, 4], "ops": ["noise|rotate_any", "rot90|blur", "hflip", "none"]})
    table = pd.concat([pd.DataFrame({"ID": ["a.jpg"], "target": 0, "source_id": "a.jpg", "copy": 0, "path": "x"}),
                       manifest[["ID", "target", "source_id", "copy"]].assign(path="y")], ignore_index=True)
    kept = upright_rows(table, manifest)
    assert kept["ID"].tolist() == ["a.jpg", "a_0.png", "a_3.png"]  # skew stays; turns and mirrors go


def test_an_unknown_pose_model_key_is_refused_before_any_run_dir(sample_dir, tmp_path, capsys):
    work = tmp_path / "work"
    rc = main(["train", "--model", "tiny", "--data", str(sample_dir), "--work", str(work), "--cpu", "--dry-run",
               "--pose", "upright", "pose_model={stepz: 3}"])
    assert rc == 2
    assert "pose_model: unknown key(s) stepz" in capsys.readouterr().err
    assert not (work / "runs").exists()


@pytest.mark.slow
def test_upright_member_oof_goes_through_each_folds_own_pose_model(sample_copy, tmp_path, capsys):
    work = tmp_path / "work"
    args = ["train", "--model", "tiny", "--data", str(sample_copy), "--work", str(work), "--cpu", "--aug", "none",
            "--pose", "upright", "--name", "up", *TINY_MEMBER, TINY_POSE]
    assert main(args) == 0
    out = capsys.readouterr().out
    run = work / "runs" / "up"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["pose"] == "upright"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["pose"] == "upright" and summary["tta_views"] == 1
    assert 0 <= summary["pose_accuracy"] <= 1
    assert "upright member, pose step" in out and "pose model right on" in out
    n_train = len(pd.read_csv(sample_copy / "train.csv"))
    oof = pd.read_csv(run / "oof.csv")
    assert len(oof) == n_train
    np.testing.assert_allclose(oof.filter(like="p_").sum(axis=1), 1, atol=1e-4)  # a mixture of softmaxes
    test = pd.read_csv(run / "test_probs.csv")
    assert len(test) == len(pd.read_csv(sample_copy / "sample_submission.csv"))
    # one pose run holding out both folds: a model per fold, none of which saw its fold's pages
    pose_runs = [p for p in (work / "runs").glob("orient-*") if (p / "summary.json").is_file()]
    assert len(pose_runs) == 1
    pose_summary = json.loads((pose_runs[0] / "summary.json").read_text())
    assert pose_summary["holdout_folds"] == [0, 1]
    assert (pose_runs[0] / "model.pt").is_file() and (pose_runs[0] / "model_fold1.pt").is_file()
    for k in (0, 1):
        fold = json.loads((run / f"fold{k}" / "fold.json").read_text())
        assert 0 <= fold["pose_accuracy"] <= 1 and 1 <= fold["pose_views_per_page"] <= 3
        assert fold["pose_run"] == str(pose_runs[0])  # the pose run whose model_fold<k> held fold k out

    # dl-cls predict goes through the same pose step: the test folder gives the run's own test_probs.csv
    pred = tmp_path / "pred.csv"
    assert main(["predict", str(run), "--data", str(sample_copy), "--work", str(work), "--out", str(pred), "--cpu"]) == 0
    np.testing.assert_allclose(pd.read_csv(pred).filter(like="p_"), test.filter(like="p_"), atol=1e-4)

    # the ensemble takes it beside an 8-pose member of the same data
    assert main(["train", "--model", "tiny", "--data", str(sample_copy), "--work", str(work), "--cpu", "--aug",
                 "none", "--name", "all8", *TINY_MEMBER]) == 0
    assert main(["ensemble", "up", "all8", "--data", str(sample_copy), "--work", str(work), "--name", "both"]) == 0
    members = capsys.readouterr().out
    assert "up" in members and "all8" in members
    assert (work / "ensembles" / "both" / "submission.csv").is_file()

