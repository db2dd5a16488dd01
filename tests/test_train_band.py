"""The title-band options of the trainer (issue 14 item 5): crop_band keeps the right rows and needs upright
settings, test_dir replaces DATA/test for the run's test predictions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dl_cls.core.errors import DlClsError
from dl_cls.core.io import read_image, write_image
from dl_cls.train import kfold
from dl_cls.train.config import load_train_config
from dl_cls.train.data import ImageStore, crop_rows, fit, online_transform, resize
from dl_cls.train.kfold import RunSpec

UPRIGHT = {"oof_on": "clean", "select_metric": "clean", "tta_rotations": [0], "tta_hflip": False,
           "online_aug": "upright"}


def _banded_page(h=90, w=60) -> np.ndarray:
    """A page whose top third is red and the rest blue."""
    page = np.zeros((h, w, 3), np.uint8)
    page[: h // 3] = (255, 0, 0)
    page[h // 3 :] = (0, 0, 255)
    return page


def test_crop_band_keeps_the_top_rows_before_resizing(tmp_path):
    page = _banded_page()
    assert crop_rows(page, [0.0, 1 / 3]).shape == (30, 60, 3)
    band = fit(page, 32, [0.0, 1 / 3])
    assert band.shape == (32, 32, 3) and (band == (255, 0, 0)).all()  # only the red title rows, resized square
    assert (fit(page, 32, [0.5, 1.0]) == (0, 0, 255)).all()
    assert crop_rows(page, [0.999, 1.0]).shape[0] == 1  # never empty
    np.testing.assert_array_equal(fit(page, 32), resize(page, 32))  # no band: exactly the old resize
    write_image(tmp_path / "p.png", page)
    store = ImageStore([str(tmp_path / "p.png")], 16, cache=True, band=[0.0, 0.33])
    assert (store[0] == (255, 0, 0)).all()  # the store every train, val and test image goes through


def test_crop_band_needs_upright_settings():
    assert load_train_config("tiny").crop_band is None and load_train_config("tiny").test_dir is None
    cfg = load_train_config("title_band")
    assert cfg.crop_band == [0.0, 0.33] and cfg.tta_rotations == [0] and not cfg.tta_hflip
    with pytest.raises(DlClsError, match=r"upright pages only.*got oof_on=testlike, select_metric=testlike, "
                                         r"tta_rotations=\[0, 90, 180, 270\], tta_hflip=True, online_aug=auto"):
        load_train_config("tiny", {"crop_band": [0.0, 0.33]})
    with pytest.raises(DlClsError, match=r"got tta_hflip=True\)"):
        load_train_config("title_band", {"tta_hflip": True})
    with pytest.raises(DlClsError, match=r"got online_aug=light\)"):
        load_train_config("title_band", {"online_aug": "light"})
    with pytest.raises(DlClsError, match=r"0 <= top < bottom <= 1, got \[0.4, 0.2\]"):
        load_train_config("tiny", {"crop_band": [0.4, 0.2], **UPRIGHT})
    load_train_config("tiny", {"crop_band": [0.0, 0.5], **UPRIGHT, "online_aug": "none"})


def test_upright_online_aug_never_flips_or_turns():
    page = _banded_page(64, 64)
    aug = online_transform("upright", has_aug_dir=False)
    for seed in range(20):
        aug.set_random_seed(seed)
        out = aug(image=page)["image"].astype(int)
        assert out[6:14, 20:44, 0].mean() > out[6:14, 20:44, 2].mean()  # the red band stays on top
        assert out[50:58, 20:44, 2].mean() > out[50:58, 20:44, 0].mean()


def _spec(data, work, name, *extra, aug=None):
    overrides = ["img_size=32", "batch_size=8", "epochs=1", "n_folds=2", "classes=[3,4,7,14]",
                 "crop_band=[0.0,0.33]", *[f"{k}={v}" for k, v in UPRIGHT.items()], *extra]
    return RunSpec(model="tiny", data_dir=str(data), work_dir=str(work), aug_dir=aug and str(aug), folds=[0],
                   name=name, label_fixes="none",
                   overrides=[o.replace("True", "true").replace("False", "false") for o in overrides])


def test_missing_test_dir_file_and_an_aug_set_are_clear_errors(sample_dir, tmp_path):
    ids = pd.read_csv(sample_dir / "sample_submission.csv", dtype={"ID": str})["ID"].tolist()
    partial = tmp_path / "norm"
    partial.mkdir()
    for i in ids[1:]:
        (partial / i).write_bytes((sample_dir / "test" / i).read_bytes())
    with pytest.raises(DlClsError, match=rf"lacks 1 of the {len(ids)} test images.*first: .*{ids[0]}"):
        kfold.train(_spec(sample_dir, tmp_path / "w", "r", f"test_dir={partial}"), force_cpu=True)
    assert not (tmp_path / "w" / "runs" / "r").exists()  # failed before the run dir
    with pytest.raises(DlClsError, match="--aug none"):
        kfold.train(_spec(sample_dir, tmp_path / "w", "r", aug=tmp_path), force_cpu=True)


@pytest.mark.slow  # trains one small fold
def test_test_dir_is_what_the_run_predicts(sample_dir, tmp_path):
    from dl_cls.train.predict import predict_folder

    other = tmp_path / "other"  # other images under the test names: the negatives of the test pages
    other.mkdir()
    ids = pd.read_csv(sample_dir / "sample_submission.csv", dtype={"ID": str})["ID"].tolist()
    for i in ids:
        write_image(other / i, 255 - read_image(sample_dir / "test" / i))
    run = kfold.train(_spec(sample_dir, tmp_path / "w", "r", f"test_dir={other}", "ema=false"), force_cpu=True)
    import yaml

    assert yaml.safe_load((run / "config.yaml").read_text())["test_dir"] == str(other.resolve())
    cols = ["p_3", "p_4", "p_7", "p_14"]
    probs = pd.read_csv(run / "test_probs.csv", dtype={"ID": str}).set_index("ID")[cols]
    on_other = predict_folder(run, other, tmp_path / "p_other.csv", force_cpu=True).set_index("ID")[cols]
    on_data = predict_folder(run, Path(sample_dir), tmp_path / "p_data.csv", force_cpu=True).set_index("ID")[cols]
    err_other = np.abs(probs.loc[ids].to_numpy() - on_other.loc[ids].to_numpy()).max()
    err_data = np.abs(probs.loc[ids].to_numpy() - on_data.loc[ids].to_numpy()).max()
    assert err_other < 1e-5 and err_data > max(100 * err_other, 1e-6), (err_other, err_data)  # read test_dir
