"""The page-orientation model: its label convention against page_geometry, the examples it learns from, the run dir
(reused, never overwritten, one writer), predict's shape, and that it learns orientation from a few pages."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from dl_cls.core.errors import DlClsError
from dl_cls.core.lock import Lock
from dl_cls.imaging.page_geometry import deskew, estimate_skew, orient
from dl_cls.imaging.testlike import corrupt_testlike, default_config
from dl_cls.pose.data import LABELS, label_of, make_example, prepare, upright, view_as
from dl_cls.pose.model import KIND, OrientSettings, load_orientation, train_orientation


def _asymmetric_page(h: int = 90, w: int = 60) -> np.ndarray:
    """A page no turn or mirror maps onto itself: a title bar top-left, a block bottom-right, a dot."""
    page = np.full((h, w, 3), 255, np.uint8)
    page[5:12, 4:40] = 0
    page[60:80, 35:55] = 90
    page[30:34, 50:54] = 30
    return page


def _geometry_page(page: np.ndarray, flip_h: bool, flip_v: bool, k: int) -> np.ndarray:
    """corrupt_testlike's geometry without the skew: flips first, then k counter-clockwise quarter turns."""
    out = page[:, ::-1] if flip_h else page
    out = out[::-1] if flip_v else out
    return np.rot90(out, k)


def test_labels_are_the_eight_turns_and_mirrors_in_orient_convention():
    assert len(LABELS) == len(set(LABELS)) == 8
    assert {o for o, _ in LABELS} == {0, 90, 180, 270} and LABELS[0] == (0, False)


@pytest.mark.parametrize("k", range(4))
@pytest.mark.parametrize("flip_h", [False, True])
@pytest.mark.parametrize("flip_v", [False, True])
@pytest.mark.parametrize("residual", [0.0, 30.0, -40.0])  # skew left after deskew (rounded to a quarter)
def test_label_of_brings_the_page_upright_with_orient(k, flip_h, flip_v, residual):
    page = _asymmetric_page()
    seen = _geometry_page(page, flip_h, flip_v, k)
    # skew_deg - estimate = residual; a residual beyond 45 would mean another quarter turn, tested below
    label = label_of({"turn": k, "flip_h": flip_h, "flip_v": flip_v, "skew_deg": 10.0 + residual}, 10.0)
    np.testing.assert_array_equal(orient(seen, *LABELS[label]), page)


def test_a_deskew_past_45_degrees_is_a_quarter_turn_in_the_label():
    page = _asymmetric_page()
    # skewed by 50 counter-clockwise, the estimator folds it to -40: the deskewed page is turned by 90
    label = label_of({"turn": 0, "flip_h": False, "flip_v": False, "skew_deg": 50.0}, -40.0)
    np.testing.assert_array_equal(orient(np.rot90(page, 1), *LABELS[label]), page)
    assert LABELS[label] == (90, False)


@pytest.mark.parametrize("label", range(8))
def test_view_as_is_undone_by_upright(label):
    x = prepare(_asymmetric_page(), 32)
    np.testing.assert_array_equal(upright(view_as(x, label), label), x)
    if label:
        assert not np.array_equal(view_as(x, label), x)


def test_tta_maps_each_views_prediction_back_to_the_pages_label():
    """A model that reads every view right (it answers the view's true label) gives the page's label back from
    each view, so the 8-view average puts all its mass on the page's label, for every label."""
    from dl_cls.pose.data import COMPOSE, tta_average, views

    base = prepare(_asymmetric_page(), 32)
    for label in range(8):
        page = view_as(base, label)
        seen = views(page)
        truth = [next(k for k in range(8) if np.array_equal(upright(v, k), base)) for v in seen]
        assert truth == list(COMPOSE[label])  # the composition table is what the views really are
        np.testing.assert_allclose(tta_average(np.eye(8)[truth]), np.eye(8)[label])


def test_corrupted_sample_page_is_brought_upright_by_its_label(sample_dir):
    """End to end on a real corruption: deskewed and turned by its label, the page matches the upright page
    better than in any other of the 8 views."""
    from dl_cls.core.io import read_image

    ids = pd.read_csv(sample_dir / "train.csv")["ID"]
    cfg = replace(default_config(), crop=replace(default_config().crop, p=0.0), overlap_p=0.0)
    hits = 0
    for i, image_id in enumerate(ids[:12]):
        img = read_image(sample_dir / "train" / image_id)
        geometry: dict = {}
        seen = corrupt_testlike(img, np.random.default_rng(i), cfg=cfg, geometry=geometry)
        skew = estimate_skew(seen)
        views = [prepare(orient(deskew(seen, skew), *lab), 48).astype(float) for lab in LABELS]
        ref = prepare(img, 48).astype(float)
        best = int(np.argmin([np.abs(v - ref).mean() for v in views]))
        hits += best == label_of(geometry, skew)
    assert hits >= 10  # a few deskew misses on these small pages are allowed, a convention error is not


def test_make_example_is_seeded_by_page_and_copy(sample_dir):
    from dl_cls.core.io import read_image

    image_id = pd.read_csv(sample_dir / "train.csv")["ID"][0]
    img = read_image(sample_dir / "train" / image_id)
    a = make_example(img, image_id, 0, 0, None, None, 32)
    b = make_example(img, image_id, 0, 0, None, None, 32)
    c = make_example(img, image_id, 1, 0, None, None, 32)
    np.testing.assert_array_equal(a.x_upright, b.x_upright)
    assert a.label == b.label and not np.array_equal(a.x_upright, c.x_upright)


# ------------------------------------------------------------------------------------------ run dir
TINY = OrientSettings(model="test_byobnet", img_size=32, epochs=1, copies=1, batch_size=16, workers=1)


@pytest.fixture(scope="module")
def tiny_run(sample_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("orient") / "work"
    _folds(sample_dir, work)
    return work, train_orientation(sample_dir, work, TINY)


def _folds(data, work) -> None:
    """3 folds: the tiny sample has 4 pages a class, too few for the default 5."""
    from dl_cls.data.contract import load_data
    from dl_cls.data.folds import ensure_folds

    ensure_folds(work, load_data(data), n_folds=3)


def test_train_writes_a_run_dir_with_its_record(sample_dir, tiny_run):
    work, run = tiny_run
    from dl_cls.artifacts.runs import read_run_config, split_hash

    assert run.parent == work / "runs" and run.name.startswith("orient-")
    config = read_run_config(run)
    summary = json.loads((run / "summary.json").read_text())
    folds = pd.read_csv(work / "folds.csv", dtype={"ID": str})
    assert config.kind == KIND and config.split_hash == split_hash(folds)
    assert config.get("img_size") == 32 and config.get("model") == "test_byobnet" and config.get("train_hash")
    assert summary["complete"] and summary["holdout"]["n"] == int((folds["fold"] == 0).sum())
    assert 0 <= summary["holdout"]["accuracy"] <= 1 and summary["total_train_time_s"] > 0
    assert (run / "model.pt").is_file() and len(pd.read_csv(run / "holdout.csv")) == summary["holdout"]["n"]


def test_the_model_kept_is_the_one_whose_held_out_accuracy_is_printed(sample_dir, tiny_run):
    """The held-out fold's model reads the pages: model.pt predicts the held-out examples exactly as holdout.csv
    says (a model refit on every page would not), and the summary names what was kept."""
    from dl_cls.data.contract import load_data
    from dl_cls.pose.data import view_as
    from dl_cls.pose.model import load_orientation, make_examples, predict_inputs

    work, run = tiny_run
    held = pd.read_csv(run / "holdout.csv", dtype={"ID": str})
    examples = {(e.page_id, e.copy): e for e in make_examples(load_data(sample_dir), TINY)}
    seen = [examples[key] for key in zip(held["ID"], held["copy"])]
    x = np.stack([view_as(e.x_upright, e.label) for e in seen])
    probs = predict_inputs(load_orientation(run).net, x, tta=False)
    np.testing.assert_array_equal(probs.argmax(1), held["pred"].to_numpy())
    np.testing.assert_allclose(probs.max(1), held["p_max"].to_numpy(), atol=1e-4)
    assert json.loads((run / "summary.json").read_text())["kept"] == "held out fold 0"


def test_a_finished_run_is_reused_not_retrained(sample_dir, tiny_run, monkeypatch):
    import dl_cls.pose.model as om

    work, run = tiny_run
    before = (run / "model.pt").stat().st_mtime_ns

    def boom(*a, **k):
        raise AssertionError("retrained a finished run")

    monkeypatch.setattr(om, "make_examples", boom)
    assert train_orientation(sample_dir, work, TINY) == run
    assert (run / "model.pt").stat().st_mtime_ns == before
    assert om.orientation_run_dir(sample_dir, work, replace(TINY, epochs=2)) != run  # other settings, other run
    assert om.orientation_run_dir(sample_dir, work, replace(TINY, workers=2)) == run  # workers change nothing


def test_a_second_writer_is_refused_and_a_stray_dir_is_not_overwritten(sample_dir, tiny_run):
    from dl_cls.pose.model import orientation_run_dir

    work, _ = tiny_run
    other = replace(TINY, seed=5)
    out = orientation_run_dir(sample_dir, work, other)
    with Lock(out.parent, "test", name=f".{out.name}.lock"):
        with pytest.raises(DlClsError, match="being written"):
            train_orientation(sample_dir, work, other)
    assert not out.exists()
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(DlClsError, match="not a finished orientation run"):
        train_orientation(sample_dir, work, other)
    assert (out / "mine.txt").read_text() == "keep"


def test_predict_gives_a_probability_row_per_page(tiny_run):
    model = load_orientation(tiny_run[1])
    rng = np.random.default_rng(0)
    pages = [rng.integers(0, 256, (120, 80, 3), dtype=np.uint8), rng.integers(0, 256, (50, 90), dtype=np.uint8),
             np.full((64, 64, 3), 255, np.uint8)]
    probs = model.predict(pages)
    assert probs.shape == (3, 8) and np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert model.predict([]).shape == (0, 8)
    tta = model.predict(pages, tta=True)
    assert tta.shape == (3, 8) and not np.allclose(tta, probs)
    np.testing.assert_allclose(tta.sum(axis=1), 1.0, atol=1e-6)


def test_a_cut_model_file_is_one_line_saying_to_retrain(tiny_run, tmp_path):
    """Issue 24: a truncated model.pt ended in torch's long message (dl-cls ocr and orient now load it before
    announcing the run as reused)."""
    import shutil

    work = tmp_path / "work"
    shutil.copytree(tiny_run[0], work)
    run = work / "runs" / tiny_run[1].name
    data = (run / "model.pt").read_bytes()
    (run / "model.pt").write_bytes(data[: len(data) // 3])
    with pytest.raises(DlClsError, match="damaged or cut") as err:
        load_orientation(run)
    assert "\n" not in str(err.value) and f"delete {run}" in str(err.value)


def test_ledger_lists_it_and_the_ensembler_skips_it(tiny_run):
    from dl_cls.artifacts.runstate import list_runs
    from dl_cls.ensemble.discover import discover

    work, run = tiny_run
    info = {i.name: i for i in list_runs(work)}[run.name]
    assert info.kind == KIND and info.state == "finished" and info.img_size == 32
    found = discover(work)
    row = found.table.set_index("name").loc[run.name]
    assert row["used"] == "no" and "not a classifier" in row["why"]
    assert not found.members and not found.specialists


def test_load_refuses_a_run_that_is_not_an_orientation_run(tmp_path):
    from dl_cls.artifacts.runs import RunConfig, write_run_config

    write_run_config(tmp_path, RunConfig(data_dir="data", num_classes=3))
    with pytest.raises(DlClsError, match="not an orientation run"):
        load_orientation(tmp_path)


def _known_test_images(data, n: int = 6) -> None:
    """Replace the first n test images by corrupted train pages and write their geometry, as the sample's
    test_orientation.csv records it."""
    from dl_cls.core.io import read_image, write_image

    train = pd.read_csv(data / "train.csv")["ID"]
    test = pd.read_csv(data / "sample_submission.csv")["ID"][:n]
    rows = []
    for i, image_id in enumerate(test):
        geometry: dict = {}
        img = corrupt_testlike(read_image(data / "train" / train[i]), np.random.default_rng(i), geometry=geometry)
        write_image(data / "test" / image_id, img)
        rows.append({"ID": image_id, **geometry})
    pd.DataFrame(rows)[["ID", "turn", "flip_h", "flip_v", "skew_deg"]].to_csv(data / "test_orientation.csv",
                                                                            index=False)


def test_cli_trains_reuses_and_scores_the_test_images(sample_copy, tmp_path, capsys):
    from dl_cls.cli import main

    _known_test_images(sample_copy)
    _folds(sample_copy, tmp_path / "w")
    argv = ["orient", "--data", str(sample_copy), "--work", str(tmp_path / "w"), "--model", "test_byobnet",
            "--img-size", "32", "--epochs", "1", "--copies", "1", "--workers", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "trained;" in out and "held-out folds [0]" in out and "of 6 pages" in out and "ms/page" in out
    assert main(argv) == 0
    assert "reused;" in capsys.readouterr().out
    assert main(argv[:-2] + ["--holdout-folds", "x"]) == 2


@pytest.mark.slow  # ~15 s on 2 cores
def test_it_learns_orientation_of_held_out_pages(sample_dir, tmp_path):
    """On pages of a fold it never saw, corrupted test-like (turns and mirrors at the calibrated shares), the model
    beats always answering the commonest label by far."""
    work = tmp_path / "w"
    _folds(sample_dir, work)
    s = OrientSettings(model="test_byobnet", img_size=48, epochs=25, copies=4, batch_size=32, workers=1)
    run = train_orientation(sample_dir, work, s)
    held = pd.read_csv(run / "holdout.csv")
    accuracy = float((held["pred"] == held["label"]).mean())
    commonest = float(held["label"].value_counts(normalize=True).max())
    # measured 0.61 against a commonest share of 0.26 (chance 0.125)
    assert len(held) >= 80 and accuracy >= max(0.45, commonest + 0.2), (accuracy, commonest)


def test_budgets_scale_copies_and_epochs_to_the_pages_and_fit_says_each_epoch():
    """0 copies / 0 epochs: `examples` copies in all (2..12 a page) and `steps` optimizer steps in all, so the cost
    stops growing with the pages; make demo's 408 pages keep the measured 12 copies x 40 epochs."""
    from dl_cls.pose.model import fit

    s = OrientSettings()
    assert s.copies_for(408) == 12 and s.epochs_for(272 * 12) == 40  # 2 of 3 folds fit the held-out model
    assert s.copies_for(1570) == 4 and s.copies_for(100_000) == 2
    assert s.epochs_for(1047 * 4) * (1047 * 4 // 32) <= s.steps + 1047 * 4 // 32  # about `steps`, not 4x more
    lines = []
    tiny = OrientSettings(model="test_byobnet", img_size=32, epochs=3, batch_size=8)
    fit(np.full((16, 32, 32), 255, np.uint8), tiny, seed=0, log=lines.append)
    assert len(lines) == 3 and lines[-1].startswith("pose model: epoch 3/3, loss ")


def test_profile_fit_takes_the_copies_turns_and_mirroring_from_the_pose_models_picks(sample_dir, tiny_run, tmp_path,
                                                                                      capsys):
    import yaml

    from dl_cls.cli import main
    from dl_cls.core.io import image_files
    from dl_cls.pose.mix import pose_mix
    from dl_cls.pose.model import page_poses

    test_files = image_files(sample_dir / "test")
    poses = page_poses(load_orientation(tiny_run[1]), test_files)
    assert len(poses) == len(test_files) and all(p in LABELS for p in poses)
    mix = pose_mix([o for o, _ in poses], [m for _, m in poses])
    out = tmp_path / "profile"
    args = ["profile", str(sample_dir / "train"), "--fit", str(sample_dir / "test"), "--out", str(out),
            "--workers", "1"]
    assert main(args + ["--pose-model", str(tiny_run[1])]) == 0, capsys.readouterr().err
    fitted = yaml.safe_load((out / "testlike.yaml").read_text())
    assert fitted["flip_h_p"] == mix["mirrored"] and fitted["flip_v_p"] == 0.0
    assert fitted["turn_p"][:3] == mix["turns"][:3]
    assert f"pose model on {len(test_files)} test images" in capsys.readouterr().out
    assert main(["profile", str(sample_dir / "train"), "--pose-model", str(tiny_run[1])]) == 2
    assert "--pose-model goes with --fit" in capsys.readouterr().err
    other = ["profile", str(sample_dir / "train"), "--fit", str(sample_dir / "test"), "--out", str(tmp_path / "p2")]
    assert main(other + ["--pose-model", str(tmp_path)]) == 2  # not an orientation run: refused before any work
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
