"""K-fold trainer on CPU: the `tiny` config shrunk to 64 px, 2 folds, 1-2 epochs (seconds per run)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from timm.models import get_pretrained_cfg

from dl_cls.artifacts.augsets import write_manifest
from dl_cls.artifacts.runs import read_run_config, write_run_config
from dl_cls.cli import main as cli_main
from dl_cls.core.errors import DataError, DlClsError
from dl_cls.core.io import read_image, write_image
from dl_cls.train import kfold, loop
from dl_cls.train import model as model_lib
from dl_cls.train.config import MODELS_DIR, load_train_config
from dl_cls.train.data import TrainSet
from dl_cls.train.kfold import RunSpec

pytestmark = pytest.mark.slow  # trains models: seconds to a minute each (make test runs them; test-fast skips)
REPO = Path(__file__).resolve().parent.parent
# shrink tiny to seconds: small images, few TTA views, 2 folds
FAST = ["img_size=64", "batch_size=8", "epochs=2", "n_folds=2", "tta_rotations=[0,90]", "tta_hflip=false"]


@pytest.fixture(scope="module")
def data_dir(sample_dir):
    """The shared sample: 17 classes, 4 train + 2 test images per class, long side 96 px."""
    return sample_dir


@pytest.fixture(scope="module")
def aug_dir(data_dir, tmp_path_factory):
    """A minimal augmented set in the augment stage's format: copy 0 = resized original, copies 1-2 turned."""
    out = tmp_path_factory.mktemp("aug") / "aug"
    (out / "images").mkdir(parents=True)
    train = pd.read_csv(data_dir / "train.csv", dtype={"ID": str})
    rows = []
    for image_id, target in zip(train["ID"], train["target"]):
        img = cv2.resize(read_image(data_dir / "train" / image_id), (64, 80))
        for copy, op in enumerate(["none", "rot90", "rot180"]):
            name = f"{Path(image_id).stem}_c{copy}.png"
            write_image(out / "images" / name, np.ascontiguousarray(np.rot90(img, copy)))
            rows.append((name, target, image_id, copy, op))
    write_manifest(pd.DataFrame(rows, columns=["ID", "target", "source_id", "copy", "ops"]), out)
    return out


def train(data_dir, work, name, *extra, aug=None, folds=None, model="tiny"):
    spec = RunSpec(model=model, data_dir=str(data_dir), work_dir=str(work), aug_dir=aug and str(aug), folds=folds,
                   name=name, overrides=FAST + list(extra))
    return kfold.train(spec, force_cpu=True)


def test_two_fold_run_writes_every_artifact(data_dir, aug_dir, tmp_path):
    run = train(data_dir, tmp_path, "r", aug=aug_dir)
    train_df = pd.read_csv(data_dir / "train.csv", dtype={"ID": str})
    test_ids = pd.read_csv(data_dir / "sample_submission.csv", dtype={"ID": str})["ID"]
    folds = pd.read_csv(tmp_path / "folds.csv", dtype={"ID": str})
    K = len(pd.read_csv(data_dir / "meta.csv"))
    cols = [f"p_{c}" for c in range(K)]

    cfg = yaml.safe_load((run / "config.yaml").read_text())
    for key in ("timm_name", "img_size", "data_dir", "work_dir", "aug_dir", "classes", "num_classes", "class_names",
                "folds", "seed", "git_commit"):
        assert key in cfg, key
    assert cfg["num_classes"] == K and cfg["classes"] is None and cfg["folds"] == [0, 1]
    assert cfg["aug_dir"] == str(aug_dir.resolve())
    before = (run / "config.yaml").read_bytes()  # the typed RunConfig rewrites the trainer's file as is
    write_run_config(run, read_run_config(run))
    assert (run / "config.yaml").read_bytes() == before

    oof = pd.read_csv(run / "oof.csv", dtype={"ID": str})
    assert list(oof.columns) == ["ID", "fold"] + cols
    assert oof["ID"].tolist() == train_df["ID"].tolist()  # every train ID once, in train.csv order
    assert (oof["fold"].to_numpy() == folds.set_index("ID").loc[oof["ID"], "fold"].to_numpy()).all()
    np.testing.assert_allclose(oof[cols].sum(axis=1), 1, atol=1e-4)

    test = pd.read_csv(run / "test_probs.csv", dtype={"ID": str})
    assert list(test.columns) == ["ID"] + cols and test["ID"].tolist() == test_ids.tolist()
    np.testing.assert_allclose(test[cols].sum(axis=1), 1, atol=1e-4)
    fold_tests = [pd.read_csv(run / f"fold{k}" / "test_probs.csv")[cols].to_numpy() for k in (0, 1)]
    np.testing.assert_allclose(test[cols].to_numpy(), np.mean(fold_tests, axis=0), atol=1e-6)

    for k in (0, 1):
        metrics = pd.read_csv(run / f"fold{k}" / "metrics.csv")
        assert list(metrics.columns) == loop.METRIC_COLUMNS and metrics["epoch"].tolist() == [1, 2]
        assert np.isfinite(metrics["train_loss"]).all() and (metrics["train_img_s"] > 0).all()
        ck = torch.load(run / f"fold{k}" / "best.pt", weights_only=False)
        assert {"model", "ema", "classes", "class_names", "config"} <= set(ck)
        assert ck["classes"] == list(range(K)) and ck["ema"] is not None
        assert not (run / f"fold{k}" / "last.pt").exists()

    summary = json.loads((run / "summary.json").read_text())
    assert summary["complete"] and summary["folds_done"] == [0, 1] and summary["oof_rows"] == len(train_df)
    for key in ("clean_f1", "testlike_f1", "tta_clean_f1", "tta_testlike_f1", "train_time_s", "train_img_s"):
        assert 0 <= summary["mean"][key] and len(summary["per_fold"]) == 2
    assert "torch" in summary["versions"] and "timm" in summary["versions"]
    curves = read_image(run / "curves.png")  # learning curves of both folds, a decodable PNG
    assert curves.shape[0] > 200 and curves.shape[1] > 400

    with pytest.raises(DlClsError, match="already exists with another recipe"):  # never overwritten
        train(data_dir, tmp_path, "r", "lr=0.01", aug=aug_dir)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.suffix in (".csv", ".pt")}
    train(data_dir, tmp_path, "r", aug=aug_dir)  # the same recipe only adds folds: here none are left to train
    assert {p: p.read_bytes() for p in before} == before


def test_training_never_sees_a_validation_source(data_dir, aug_dir, tmp_path, monkeypatch):
    """Record the source of every image the train loader actually yields, per fold."""
    seen: dict[int, set[str]] = {}
    current = {}
    manifest = pd.read_csv(aug_dir / "manifest.csv", dtype={"ID": str, "source_id": str})
    source_of = {str(aug_dir / "images" / i): s for i, s in zip(manifest["ID"], manifest["source_id"])}
    orig_fold, orig_get = loop.train_fold, TrainSet.__getitem__

    def spy_fold(cfg, rt, fi, fold_dir):
        current["fold"] = fi.fold
        return orig_fold(cfg, rt, fi, fold_dir)

    def spy_get(self, key):
        seen.setdefault(current["fold"], set()).add(source_of[self.store.paths[int(self.index[key[0]])]])
        return orig_get(self, key)

    monkeypatch.setattr(loop, "train_fold", spy_fold)
    monkeypatch.setattr(TrainSet, "__getitem__", spy_get)
    train(data_dir, tmp_path, "leak", "epochs=1", aug=aug_dir)
    folds = pd.read_csv(tmp_path / "folds.csv", dtype={"ID": str})
    for k in (0, 1):
        val = set(folds.loc[folds["fold"] == k, "ID"])
        assert seen[k] and not (seen[k] & val)
        assert seen[k] == set(folds["ID"]) - val  # and everything else is used


def test_resume_continues_and_matches_an_uninterrupted_run(data_dir, tmp_path, monkeypatch, capsys):
    full = train(data_dir, tmp_path / "a", "r", "epochs=3", folds=[0])

    orig_save = loop.save_atomic

    def crash_after_epoch_2(obj, path):
        orig_save(obj, path)
        if path.name == "last.pt" and obj["epoch"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_atomic", crash_after_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(data_dir, tmp_path / "b", "r", "epochs=3", folds=[0])
    monkeypatch.setattr(loop, "save_atomic", orig_save)
    broken = tmp_path / "b" / "runs" / "r"
    assert (broken / "fold0" / "last.pt").exists() and not (broken / "oof.csv").exists()
    before = pd.read_csv(broken / "fold0" / "metrics.csv")
    capsys.readouterr()

    kfold.train(RunSpec(model=None, work_dir=str(tmp_path / "b"), resume="r", folds=[0]), force_cpu=True)
    out = capsys.readouterr().out
    assert "resuming after epoch 2" in out and "epoch   1/3" not in out and "epoch   3/3" in out
    after = pd.read_csv(broken / "fold0" / "metrics.csv")
    assert after["epoch"].tolist() == [1, 2, 3]
    pd.testing.assert_frame_equal(after.iloc[:2][["train_loss", "clean_f1"]], before[["train_loss", "clean_f1"]])

    ref = pd.read_csv(full / "fold0" / "metrics.csv")
    np.testing.assert_allclose(after["train_loss"], ref["train_loss"], rtol=1e-4)
    a, b = pd.read_csv(full / "oof.csv"), pd.read_csv(broken / "oof.csv")
    np.testing.assert_allclose(a.filter(like="p_").to_numpy(), b.filter(like="p_").to_numpy(), atol=1e-4)

    capsys.readouterr()
    kfold.train(RunSpec(model=None, work_dir=str(tmp_path / "b"), resume="r", folds=[0]), force_cpu=True)
    assert "fold 0: already finished, skipped" in capsys.readouterr().out


def test_subset_run_with_mixup_on_every_batch(data_dir, aug_dir, tmp_path, monkeypatch):
    lams = []

    class SpyMixup(loop.Mixup):
        def __call__(self, x, target):
            x, soft = super().__call__(x, target)
            lams.append(float(soft.max(1).values.min()))  # < 1 - smoothing when images were mixed
            assert soft.shape == (len(x), 4)
            return x, soft

    monkeypatch.setattr(loop, "Mixup", SpyMixup)
    run = train(data_dir, tmp_path, "spec", "classes=[3,4,7,14]", "mixup_prob=1.0", "epochs=1", aug=aug_dir)
    assert lams and min(lams) < 0.85

    train_df = pd.read_csv(data_dir / "train.csv", dtype={"ID": str})
    want = train_df[train_df["target"].isin([3, 4, 7, 14])]["ID"].tolist()
    oof = pd.read_csv(run / "oof.csv", dtype={"ID": str})
    assert list(oof.columns) == ["ID", "fold", "p_3", "p_4", "p_7", "p_14"] and oof["ID"].tolist() == want
    test = pd.read_csv(run / "test_probs.csv")
    assert list(test.columns) == ["ID", "p_3", "p_4", "p_7", "p_14"]
    assert np.isfinite(pd.read_csv(run / "fold0" / "metrics.csv")["train_loss"]).all()
    ck = torch.load(run / "fold0" / "best.pt", weights_only=False)
    assert ck["classes"] == [3, 4, 7, 14]
    assert yaml.safe_load((run / "config.yaml").read_text())["classes"] == [3, 4, 7, 14]


def test_focus_fraction_and_dry_run_counts(data_dir, aug_dir, tmp_path, capsys):
    base = kfold.TrainingRun(RunSpec(model="tiny", data_dir=str(data_dir), work_dir=str(tmp_path), aug_dir=str(aug_dir),
                             dry_run=True, overrides=FAST), kfold.dist.Dist())
    focus = kfold.TrainingRun(RunSpec(model="tiny", data_dir=str(data_dir), work_dir=str(tmp_path), aug_dir=str(aug_dir),
                              dry_run=True, overrides=FAST + ["focus=3,4:3"]), kfold.dist.Dist())
    half = kfold.TrainingRun(RunSpec(model="tiny", data_dir=str(data_dir), work_dir=str(tmp_path), aug_dir=str(aug_dir),
                             dry_run=True, overrides=FAST + ["fraction=0.5"]), kfold.dist.Dist())
    b, f, h = base.fold_counts(), focus.fold_counts(), half.fold_counts()
    for k in (0, 1):
        rows = kfold.fold_train_rows(base.table, base.folds, k, base.cfg)
        n_focus = rows["target"].isin([3, 4]).sum()
        assert f["train_images"][k] == b["train_images"][k] + 2 * n_focus
    originals, copies = (base.table["copy"] == 0).sum(), (base.table["copy"] > 0).sum()
    assert (half.table["copy"] == 0).sum() == originals  # originals always stay
    assert abs((half.table["copy"] > 0).sum() - copies / 2) <= len(base.classes)  # per-class rounding
    assert set(half.table["target"]) == set(base.table["target"])  # stratified: every class keeps copies

    # key=value overrides may sit between options (argparse alone would reject the second group)
    assert cli_main(["train", "--model", "tiny", "--data", str(data_dir), "--work", str(tmp_path), *FAST[:1],
                     "--aug", str(aug_dir), "--dry-run", "--focus", "3,4:3", *FAST[1:], "lr=3e-4"]) == 0
    out = capsys.readouterr().out
    assert "timm_name: mobilenetv3_small_100" in out and "train_images" in out and "val_images" in out
    assert "lr: 0.0003" in out and "focus: 3,4:3" in out
    assert not (tmp_path / "runs").exists() and not (tmp_path / "folds.csv").exists()  # a dry run writes nothing


def test_missing_pretrained_file_is_a_clear_error(data_dir, tmp_path, capsys):
    rc = cli_main(["train", "--model", "tiny", "--data", str(data_dir), "--work", str(tmp_path),
                   "pretrained=true", "pretrained_file=/no/such/weights.pth"])
    err = capsys.readouterr().err
    assert rc == 2 and "/no/such/weights.pth not found" in err and "pretrained=false" in err
    assert not (tmp_path / "runs").exists()


def test_hub_failure_names_both_fixes(monkeypatch):
    def offline(*a, **kw):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(model_lib.timm, "create_model", offline)
    cfg = load_train_config("resnet34")
    with pytest.raises(DlClsError, match="pretrained_file=PATH.*pretrained=false"):
        model_lib.create(cfg, 17)


def test_pretrained_file_loads_backbone_and_resets_head(tmp_path):
    import timm

    src = timm.create_model("mobilenetv3_small_100", num_classes=1000)
    torch.save(src.state_dict(), tmp_path / "w.pth")
    cfg = load_train_config("tiny", ["pretrained=true", f"pretrained_file={tmp_path / 'w.pth'}"])
    net = model_lib.create(cfg, 5)
    assert net.get_classifier().out_features == 5
    torch.testing.assert_close(net.conv_stem.weight, src.conv_stem.weight)


def test_manifest_that_disagrees_with_labels_names_the_row(data_dir, aug_dir, tmp_path):
    bad = tmp_path / "aug"
    shutil.copytree(aug_dir, bad)
    m = pd.read_csv(bad / "manifest.csv")
    m.loc[4, "target"] = (m.loc[4, "target"] + 1) % 17
    write_manifest(m, bad)  # a whole set, made from other labels
    with pytest.raises(DataError, match=rf"row 6 \(ID {m.loc[4, 'ID']}\)"):
        train(data_dir, tmp_path, "x", aug=bad)
    assert not (tmp_path / "runs").exists()


def test_folds_in_separate_processes_merge_and_predict(data_dir, tmp_path, capsys):
    first = train(data_dir, tmp_path, "split", "epochs=1", folds=[0])
    assert json.loads((first / "summary.json").read_text())["complete"] is False
    with pytest.raises(DlClsError, match="would change it: key=value overrides"):
        kfold.train(RunSpec(model="tiny", work_dir=str(tmp_path), resume="split", overrides=["epochs=5"]))
    # what `make train ARGS="--resume split" FOLDS=1` passes: the same model and data dir repeated
    kfold.train(RunSpec(model="tiny", data_dir=str(data_dir), work_dir=str(tmp_path), resume="split", folds=[1]),
                force_cpu=True)
    capsys.readouterr()
    assert cli_main(["merge-folds", "split", "--work", str(tmp_path)]) == 0
    summary = json.loads((first / "summary.json").read_text())
    assert summary["complete"] and summary["folds_done"] == [0, 1]
    assert len(pd.read_csv(first / "oof.csv")) == len(pd.read_csv(data_dir / "train.csv"))

    # predict a plain image folder with the run's models: same numbers as test_probs.csv
    folder = tmp_path / "imgs"
    shutil.copytree(data_dir / "test", folder)
    out = tmp_path / "p.csv"
    assert cli_main(["predict", "split", "--work", str(tmp_path), "--data", str(folder), "--out", str(out),
                     "--cpu"]) == 0
    pred = pd.read_csv(out).set_index("ID")
    ref = pd.read_csv(first / "test_probs.csv").set_index("ID")
    assert sorted(pred.index) == pred.index.tolist() and set(pred.index) == set(ref.index)
    np.testing.assert_allclose(pred.loc[ref.index].to_numpy(), ref.to_numpy(), atol=1e-5)
    assert cli_main(["predict", "split", "--work", str(tmp_path), "--data", str(folder), "--out", str(out)]) == 2


def test_ddp_two_gloo_processes_write_the_same_artifacts(data_dir, aug_dir, tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    cmd = [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "dl_cls.cli", "train", "--cpu", "--model",
           "tiny", "--data", str(data_dir), "--work", str(tmp_path), "--aug", str(aug_dir), "--name", "ddp",
           *FAST, "epochs=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NO_ALBUMENTATIONS_UPDATE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "runs" / "ddp"
    train_df = pd.read_csv(data_dir / "train.csv", dtype={"ID": str})
    oof = pd.read_csv(run / "oof.csv", dtype={"ID": str})
    assert oof["ID"].tolist() == train_df["ID"].tolist() and oof.shape[1] == 2 + 17
    assert len(pd.read_csv(run / "test_probs.csv")) == len(pd.read_csv(data_dir / "sample_submission.csv"))
    for k in (0, 1):
        assert (run / f"fold{k}" / "best.pt").exists() and len(pd.read_csv(run / f"fold{k}" / "metrics.csv")) == 1
    assert json.loads((run / "summary.json").read_text())["complete"]
    assert proc.stdout.count("fold 0 epoch   1/1") == 1  # only rank 0 prints and writes


def test_sweep_fraction_writes_table_and_plot(data_dir, aug_dir, tmp_path, capsys):
    assert cli_main(["sweep-fraction", "--model", "tiny", "--data", str(data_dir), "--work", str(tmp_path), "--aug",
                     str(aug_dir), "--cpu", "--fractions", "0.5,1.0", "--name", "sw", *FAST, "epochs=1"]) == 0
    table = pd.read_csv(tmp_path / "sweeps" / "sw" / "fraction.csv")
    assert table["fraction"].tolist() == [0.5, 1.0] and (tmp_path / "sweeps" / "sw" / "fraction.png").stat().st_size
    assert table["train_images_per_fold"].iloc[0] < table["train_images_per_fold"].iloc[1]
    assert table["run"].tolist() == ["sw-frac0.5", "sw-frac1"] and (table["train_time_s"] > 0).all()
    for col in ("testlike_f1", "clean_f1", "oof_f1"):
        assert table[col].between(0, 1).all()
    assert cli_main(["sweep-fraction", "--model", "tiny", "--data", str(data_dir), "--work", str(tmp_path)]) == 2
    assert "needs --aug" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(p.stem for p in MODELS_DIR.glob("*.yaml")))
def test_every_shipped_model_config_builds_and_runs(name):
    # a typo in a timm name or pretrained tag, or a Swin window that does not fit img_size, fails here and not
    # after hours of data loading on a GPU machine; the tag is checked against timm's registry (no download)
    cfg = load_train_config(name, {"pretrained": False})
    assert get_pretrained_cfg(cfg.timm_model_name) is not None
    net = model_lib.create(cfg, 17).eval()
    with torch.no_grad():
        out = net(torch.zeros(1, 3, cfg.img_size, cfg.img_size))
    assert out.shape == (1, 17)
