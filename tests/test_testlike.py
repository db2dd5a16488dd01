"""The fixed test-like corruption (sample test set + trainer's test-like validation) and the contact sheet."""
from __future__ import annotations

import numpy as np
import pytest

from dl_cls.testlike import corrupt_testlike
from dl_cls.testlike import testlike_rng as make_rng  # a test_* name would be collected
from dl_cls.io import read_image
from dl_cls.viz import contact_sheet, save_png


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
    """Over many draws: some images get rotated to landscape, some dark fill, some dimmer overall."""
    img = _page()
    outs = [corrupt_testlike(img, make_rng(3, str(i))) for i in range(60)]
    assert any(o.shape[1] > o.shape[0] for o in outs)  # sideways rotation turned the portrait page
    assert any(o[:3, :3].mean() < 90 for o in outs)  # dark fill in a corner
    assert any(o.mean() < img.mean() - 40 for o in outs)  # dim lighting


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
