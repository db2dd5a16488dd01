"""The fixed test-like corruption (sample test set + trainer's test-like validation) and the contact sheet."""
from __future__ import annotations

import numpy as np
import pytest

from dl_cls.imaging.testlike import corrupt_testlike
from dl_cls.imaging.testlike import testlike_rng as make_rng  # a test_* name would be collected
from dl_cls.core.io import read_image
from dl_cls.imaging.viz import contact_sheet, save_png


def _page(h=320, w=226):
    img = np.full((h, w, 3), 245, np.uint8)
    img[h // 8 : h // 4, w // 10 : -w // 10] = (20, 20, 30)  # a title bar, so rotation/flip/crop show
    img[h // 2 :, w // 2 :] = (200, 40, 40)
    return img


def test_deterministic_per_generator_and_stable_rng():
    img, other = _page(), _page(226, 320)[:, ::-1].copy()
    a = corrupt_testlike(img, make_rng(7, "abc.jpg"), other=other)
    b = corrupt_testlike(img, make_rng(7, "abc.jpg"), other=other)
    assert np.array_equal(a, b)
    # the generator depends on both seed and ID, through a stable hash (same numbers in every process)
    draws = [make_rng(s, i).integers(0, 2**32, 4).tolist() for s, i in ((7, "abc.jpg"), (8, "abc.jpg"),
                                                                          (7, "abd.jpg"))]
    assert draws[0] != draws[1] and draws[0] != draws[2]
    assert make_rng(7, "abc.jpg").integers(0, 2**32, 4).tolist() == draws[0]
    outs = [corrupt_testlike(img, make_rng(0, str(i)), other=other) for i in range(10)]
    assert len({o.tobytes() for o in outs}) == 10


def test_changes_image_keeps_format_and_long_side():
    img = _page()
    changed = 0
    for i in range(40):
        out = corrupt_testlike(img, make_rng(1, f"{i}.jpg"), other=_page(226, 320))
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
        assert max(out.shape[:2]) == 320 and out.flags["C_CONTIGUOUS"]
        changed += out.shape != img.shape or not np.array_equal(out, img)
    assert changed == 40
    assert np.array_equal(img, _page())  # the input is not modified in place


def test_mix_of_corruptions_appears():
    """Over many draws (calibrated defaults): quarter turns swap the frame's w/h and keep its size, most pages get
    brighter, rare dark fill, grey scans appear."""
    img = _page()
    outs = [corrupt_testlike(img, make_rng(3, str(i))) for i in range(80)]
    sideways = [o.shape[:2] == img.shape[1::-1][:2] for o in outs]
    assert 0.3 < np.mean(sideways) < 0.7
    assert all(o.shape[:2] in (img.shape[:2], img.shape[1::-1][:2]) or max(o.shape[:2]) == 320 for o in outs)
    assert np.mean([o.mean() > img.mean() for o in outs]) > 0.6  # brightening, not dimming
    assert any(np.ptp(o.astype(int), axis=2).max() <= 2 for o in outs)  # some grey scans


def test_calibrated_defaults_keep_the_frame_and_narrow_skew():
    """The default config's geometry: most frames equal the input's (or its w/h swap); the white corner fill."""
    from dl_cls.imaging.testlike import default_config

    c = default_config()
    assert abs(c.turn_p[1] + c.turn_p[3] - 0.48) < 0.02 and c.rotate.white_fill_p >= 0.9
    assert c.rotate.skew_cap <= 35 and 10 <= c.rotate.skew_sigma <= 16 and c.overlap_p <= 0.05
    img = _page()
    kept = [corrupt_testlike(img, make_rng(5, str(i))).shape[:2] in ((320, 226), (226, 320)) for i in range(60)]
    assert np.mean(kept) > 0.85


def test_config_file_and_overrides(tmp_path):
    from dl_cls.core.errors import DlClsError
    from dl_cls.imaging.testlike import DEFAULT_CONFIG, TestlikeConfig, load_testlike_config, default_config

    assert load_testlike_config() == default_config()
    assert load_testlike_config(DEFAULT_CONFIG) == default_config()
    assert default_config() == TestlikeConfig()  # the dataclass defaults and the shipped file must not drift apart
    typo = tmp_path / "t.yaml"
    typo.write_text("rotate:\n  skew_sigmaa: 3\n")
    with pytest.raises(DlClsError, match=r"t\.yaml.*skew_sigmaa"):
        load_testlike_config(typo)
    top = tmp_path / "u.yaml"
    top.write_text("overlapp_p: 0.1\n")
    with pytest.raises(DlClsError, match=r"u\.yaml.*overlapp_p"):
        load_testlike_config(top)
    bad = tmp_path / "b.yaml"
    bad.write_text("turn_p: [0.5, 0.5, 0.5, 0.5]\nblur: {sigma: [2, 1]}\n")
    with pytest.raises(DlClsError, match=r"b\.yaml.*turn_p.*blur\.sigma|b\.yaml.*blur\.sigma.*turn_p"):
        load_testlike_config(bad)
    cfg = load_testlike_config(None, ["blur.p=0", "noise.p=0", "lighting.p=0", "lighting.grey_p=0", "crop.p=0",
                                      "rotate.skew_p=0", "rotate.jitter_sigma=0", "flip_h_p=0", "flip_v_p=0",
                                      "turn_p=[1,0,0,0]"])
    img = _page()
    assert np.array_equal(corrupt_testlike(img, make_rng(0, "x"), cfg=cfg), img)  # everything off: identity


def test_config_changes_output_deterministically():
    from dl_cls.imaging.testlike import load_testlike_config

    img = _page()
    strong = load_testlike_config(None, ["noise.p=1", "noise.std=[20,20]"])
    a = corrupt_testlike(img, make_rng(1, "a"), cfg=strong)
    assert np.array_equal(a, corrupt_testlike(img, make_rng(1, "a"), cfg=strong))
    assert not np.array_equal(a, corrupt_testlike(img, make_rng(1, "a")))


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 5, 3), (7, 3, 3), (9, 9)])
def test_tiny_and_grey_images(shape):
    img = np.full(shape, 128, np.uint8)
    for i in range(20):
        out = corrupt_testlike(img, make_rng(0, str(i)), other=_page(20, 14))
        assert out.dtype == np.uint8 and out.shape[2] == 3 and max(out.shape[:2]) == max(shape[:2])


def test_rejects_non_uint8():
    with pytest.raises(TypeError):
        corrupt_testlike(np.zeros((10, 10, 3), np.float32), make_rng(0, "x"))


def test_contact_sheet_grid_and_png(tmp_path):
    imgs = [_page(), _page(100, 300), np.zeros((5, 5), np.uint8)]
    caps = ["application_for_payment_of_pregnancy_medical_expenses", "b", "c"]
    sheet = contact_sheet(imgs, caps, ncols=2, tile=80, title="t")
    assert sheet.dtype == np.uint8 and sheet.ndim == 3
    assert sheet.shape[1] == 2 * (80 + 2 * 2)  # two columns of tile + padding
    assert (sheet < 100).any()  # captions/title drawn
    save_png(tmp_path / "s.png", sheet)
    assert np.array_equal(read_image(tmp_path / "s.png"), sheet)  # lossless
    with pytest.raises(ValueError):
        contact_sheet(imgs, caps[:2], ncols=2)


def test_trainer_validation_takes_a_fitted_corruption_config(sample_dir, tmp_path):
    """testlike_config=FILE (e.g. from `dl-cls profile --fit`) drives the trainer's test-like validation."""
    import pandas as pd
    import yaml

    from dl_cls.core.errors import DlClsError
    from dl_cls.train.config import load_train_config
    from dl_cls.train.data import testlike_images

    ids = pd.read_csv(sample_dir / "train.csv", dtype=str)["ID"].tolist()[:6]
    paths = [str(sample_dir / "train" / i) for i in ids]
    calm = tmp_path / "calm.yaml"
    calm.write_text(yaml.safe_dump({"rotate": {"skew_p": 0.0}, "lighting": {"p": 0.0}, "blur": {"p": 0.0}}))
    default = testlike_images(paths, ids, 64, 1234, False)
    fitted = testlike_images(paths, ids, 64, 1234, False, str(calm))
    assert default.shape == fitted.shape and not np.array_equal(default, fitted)
    assert np.array_equal(fitted, testlike_images(paths, ids, 64, 1234, False, str(calm)))  # still seeded
    assert load_train_config("tiny", [f"testlike_config={calm}"]).testlike_config == str(calm)
    with pytest.raises(DlClsError, match="nope.yaml"):
        load_train_config("tiny", [f"testlike_config={tmp_path / 'nope.yaml'}"])
