"""The embedded sample dataset generator."""
from __future__ import annotations

import os

import pandas as pd
import pytest

from dl_cls.cli import main
from dl_cls.data.contract import check_data
from dl_cls.data.sample import CLASS_NAMES, generate_sample
from dl_cls.errors import DlClsError
from dl_cls.io import read_image


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a = generate_sample(tmp_path / "a", seed=3, train_per_class=2, test_per_class=1, size=64)
    b = generate_sample(tmp_path / "b", seed=3, train_per_class=2, test_per_class=1, size=64)
    c = generate_sample(tmp_path / "c", seed=4, train_per_class=2, test_per_class=1, size=64)
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert fa == fb
    assert set(fa) != set(fc)  # IDs derive from the seed
    assert sorted(fa.values()) != sorted(fc.values())


def test_format_counts_and_images(sample_dir):
    train = pd.read_csv(sample_dir / "train.csv")
    meta = pd.read_csv(sample_dir / "meta.csv")
    sub = pd.read_csv(sample_dir / "sample_submission.csv")
    labels = pd.read_csv(sample_dir / "test_labels.csv")
    assert list(train.columns) == ["ID", "target"] and list(sub.columns) == ["ID", "target"]
    assert meta["class_name"].tolist() == CLASS_NAMES and meta["target"].tolist() == list(range(17))
    assert (train["target"].value_counts() == 4).all() and train["target"].nunique() == 17
    assert (labels["target"].value_counts() == 2).all()
    assert labels["ID"].tolist() == sub["ID"].tolist()
    assert train["ID"].str.fullmatch(r"[0-9a-f]{16}\.jpg").all()
    assert train["target"].tolist() != sorted(train["target"].tolist())  # shuffled, not grouped by class
    for split, ids in (("train", train["ID"]), ("test", sub["ID"])):
        for image_id in ids:
            img = read_image(sample_dir / split / image_id)
            assert max(img.shape[:2]) == 96 and img.shape[2] == 3
    assert (sample_dir / "contact_sheet.png").stat().st_size > 0
    assert check_data(sample_dir, label_fixes=None).problems == []


def test_force_never_deletes_a_user_dir_with_test_labels(tmp_path, capsys):
    """The issue's reproduction: a user dir that merely holds a test_labels.csv survives --force."""
    real = tmp_path / "realdata"
    (real / "train").mkdir(parents=True)
    (real / "thesis.docx").write_text("precious")
    (real / "test_labels.csv").write_text("ID,target\n")
    (real / "train" / "mine.jpg").write_text("img")
    args = ["sample", str(real), "--force", "--train-per-class", "2", "--test-per-class", "1", "--size", "96"]
    assert main(args) == 2
    assert "not made by dl_cls" in capsys.readouterr().err
    assert (real / "thesis.docx").read_text() == "precious" and (real / "train" / "mine.jpg").read_text() == "img"


def test_refuses_non_empty_out_unless_forced(tmp_path, capsys):
    out = tmp_path / "data"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(DlClsError, match="not empty"):
        generate_sample(out, train_per_class=1, test_per_class=1, size=48)
    assert (out / "keep.txt").read_text() == "mine"
    args = ["sample", str(out), "--train-per-class", "1", "--test-per-class", "1", "--size", "48"]
    assert main(args) == 2
    # --force replaces only an earlier sample: a directory of the user's files stays as it was
    assert main(args + ["--force"]) == 2
    assert "not made by dl_cls" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    (out / "keep.txt").unlink()
    assert main(args) == 0
    assert main(args + ["--force"]) == 0  # our own sample, nothing else inside: replaced
    (out / "extra.txt").write_text("a file the user put there")
    assert main(args + ["--force"]) == 2  # a file we did not write: refused, kept
    assert "did not write (extra.txt)" in capsys.readouterr().err
    assert (out / "extra.txt").read_text() == "a file the user put there"
    (out / "extra.txt").unlink()
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # not the temp dir's private 0700
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dir left behind


def test_photograph_keeps_the_frame_darkens_the_paper_and_puts_cards_on_a_desk():
    import numpy as np

    from dl_cls.data.photo import ON_DESK, photograph

    page = np.full((200, 140, 3), 250, np.uint8)
    page[90:110, 20:120] = 35  # a line of ink
    for target in (4, min(ON_DESK)):
        out = photograph(page, target, np.random.default_rng(target))
        assert out.shape == page.shape and out.dtype == np.uint8 and 120 < out.mean() < 230  # grey, not white
        assert (out == photograph(page, target, np.random.default_rng(target))).all()
    paper = photograph(page, 4, np.random.default_rng(0))
    assert paper[95:105, 30:110].mean() < 40 < 130 < paper[:20].mean()  # ink still ink, paper below white
    desk = photograph(page, min(ON_DESK), np.random.default_rng(0))
    assert np.abs(desk[:3, :3].astype(float) - desk[100:103, 60:63]).mean() > 8  # the corner is desk, not page
