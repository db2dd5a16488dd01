"""The embedded sample dataset generator."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from dl_cls.cli import main
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import read_image
from dl_cls.data.contract import check_data
from dl_cls.data.sample import CLASS_NAMES, generate_sample


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


# ------------------------------------------------------------------------------------------ Korean print
def test_family_titles_are_drawn_in_hangul_with_a_korean_font(monkeypatch):
    """Every family title is Hangul (a title keyword of configs/ocr_keywords.csv, one wrong character allowed,
    names its class) and is drawn with one of the Korean font files; tiny pages render too."""
    import numpy as np

    from dl_cls.data import fonts, sample
    from dl_cls.ocr.expert import fuzzy_in, load_keyword_file, title_key

    keywords = load_keyword_file("default", list(sample.FAMILY_TITLES))
    for target, titles in sample.FAMILY_TITLES.items():
        for title in titles:
            assert all("\uac00" <= ch <= "\ud7a3" for ch in title_key(title)), title
            assert any(fuzzy_in(k, title_key(title), 1) for k in keywords.loc[keywords["class"] == target, "keyword"])
    drawn = []
    real_text = sample.Page.text

    def text(pg, s, *a, **k):  # record the face each string is drawn with (text(s, x, y, px, color, face, ...))
        drawn.append((s, (a[4] if len(a) > 4 else k.get("face")) or pg.body))
        return real_text(pg, s, *a, **k)

    monkeypatch.setattr(sample.Page, "text", text)
    page = sample.medical_form(320, np.random.default_rng(1), 4)
    korean = {f.path for f in fonts.korean_fonts()}
    title, face = next((s, f) for s, f in drawn if s.replace(" ", "") in ("진단서", "일반진단서"))
    assert face.path in korean and face.bold
    assert (page.img[: page.h // 5] < 100).sum() > 200  # the title's ink is on the page, in its top band
    again = sample.medical_form(320, np.random.default_rng(1), 4).img
    assert (page.img == again).all()  # text drawing is deterministic too
    for size in (32, 48, 96):  # the test fixtures' sizes: fonts of 1-3 px must not crash
        for target in range(17):
            assert max(sample.render(target, size, np.random.default_rng(target)).shape[:2]) == size


def test_without_korean_fonts_the_sample_stops_with_one_line(tmp_path, monkeypatch, capsys):
    from dl_cls.data import fonts

    monkeypatch.setattr(fonts, "korean_fonts", lambda: [])
    with pytest.raises(DlClsError, match="fonts-nanum") as err:
        generate_sample(tmp_path / "a", train_per_class=1, test_per_class=1, size=48)
    assert "\n" not in str(err.value) and "make install" in str(err.value)
    assert not (tmp_path / "a").exists() and not list(tmp_path.iterdir())  # nothing half-written
    assert main(["sample", str(tmp_path / "b"), "--train-per-class", "1", "--test-per-class", "1"]) == 2
    err_lines = [ln for ln in capsys.readouterr().err.strip().splitlines() if ln.strip()]
    assert len(err_lines) == 1 and "fonts-nanum" in err_lines[0]
    assert not (tmp_path / "b").exists()


def test_fonts_fall_back_to_any_face_of_the_weight():
    from dl_cls.data.fonts import Face, korean_fonts, load, pick

    regular = Face("R", "gothic", False, "/none/r.ttf")
    bold = Face("B", "gothic", True, "/none/b.ttf")
    assert pick([regular, bold], "myeongjo", True) == [bold]  # no bold myeongjo: a bold gothic
    assert pick([regular], "myeongjo", True) == [regular]  # no bold at all: still a face
    faces = korean_fonts()
    if faces:
        assert load(faces[0], 0).size == 1  # FreeType refuses size 0; tiny pages ask for it


@pytest.mark.slow  # ~3 s: one tesseract call
def test_tesseract_reads_the_korean_title_of_an_upright_page():
    """The title band of an upright family page, read as the OCR reader reads it, holds its Korean keyword."""
    import numpy as np

    from dl_cls.data.sample import render
    from dl_cls.imaging.page_geometry import candidates, orient
    from dl_cls.ocr.engine import EngineMissing, TesseractEngine, preprocess
    from dl_cls.ocr.expert import keyword_rules, load_keyword_file, rule_class
    from dl_cls.ocr.read import title_band, upscaled_grey

    engine = TesseractEngine("kor+eng")
    try:
        engine.check()
    except EngineMissing as exc:
        pytest.skip(f"OCR engine missing: {exc}")
    keywords = load_keyword_file("default", [3, 4, 7, 14])
    page = render(4, 512, np.random.default_rng(7))
    _, upright, _ = candidates(upscaled_grey(page, 2.0))
    read = engine.read(preprocess(title_band(orient(upright, 0, False), 0.3)), 11, timeout=60)
    assert any("\uac00" <= ch <= "\ud7a3" for ch in read.text), read.text
    assert rule_class(read.text, keyword_rules(keywords)) == 4, read.text


def test_the_pose_of_each_test_image_is_recorded(sample_dir):
    """test_orientation.csv: one row per test image; a portrait form turned a quarter lies in a landscape frame."""
    poses = pd.read_csv(sample_dir / "test_orientation.csv", dtype={"ID": str})
    labels = pd.read_csv(sample_dir / "test_labels.csv", dtype={"ID": str})
    assert poses["ID"].tolist() == labels["ID"].tolist() and poses["turn"].isin([0, 1, 2, 3]).all()
    forms = poses.merge(labels, on="ID")
    forms = forms[forms["target"].isin([3, 4, 7, 14])]  # portrait pages
    for image_id, turn in zip(forms["ID"], forms["turn"]):
        h, w = read_image(sample_dir / "test" / image_id).shape[:2]
        assert (w > h) == (turn % 2 == 1), (image_id, turn, h, w)


def test_far_camera_loses_fine_detail_keeps_coarse_shapes_and_is_seeded():
    """The sample's test pages lose letter detail (as real test photos do: issue 23), not their layout."""
    from dl_cls.data.photo import far_camera

    yy, xx = np.mgrid[:240, :180]
    fine = np.where((yy + xx) % 2 == 0, 40, 220).astype(np.uint8)  # 1-px strokes
    coarse = np.where((yy // 40 + xx // 40) % 2 == 0, 40, 220).astype(np.uint8)  # 40-px blocks
    img = np.dstack([fine] * 3)
    out = far_camera(img, np.random.default_rng(0))
    assert out.shape == img.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, far_camera(img, np.random.default_rng(0)))
    assert out[20:-20, 20:-20].std() < 0.2 * fine.std()  # 1-px strokes are gone
    kept = far_camera(np.dstack([coarse] * 3), np.random.default_rng(0))[..., 0].astype(float)
    assert np.corrcoef(kept.ravel(), coarse.ravel())[0, 1] > 0.9  # the layout survives
