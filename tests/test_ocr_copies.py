"""The OCR's test-like copies fitted to the test pages (issue 29): the pose mix, the camera, and `dl-cls ocr`'s
wiring of both (read the test pages first, fit, read the copies, print and record the fit)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from builders import make_data

from dl_cls.cli import main
from dl_cls.core.errors import DlClsError
from dl_cls.imaging.testlike import (CameraConfig, TestlikeConfig, config_key, corrupt_testlike, default_config,
                                     load_testlike_config)
from dl_cls.ocr.copies import COPIES_CONFIG, MIN_TEST_PAGES, REFINE_PAGES, SCALES, fit_copies, probe_pages
from dl_cls.ocr.table import TestlikePages
from dl_cls.pose.data import LABELS, label_of
from dl_cls.pose.mix import config_mix, mix_gap, pose_mix, with_pose_mix


def _test_rows(n: int, mirrored: float, turns=(0.25, 0.25, 0.25, 0.25), letters: float = 8.0) -> pd.DataFrame:
    """Test pages as read: exactly these shares of turns and mirrored pages."""
    orientation = np.repeat([0, 90, 180, 270], np.round(np.asarray(turns) * n).astype(int))[:n]
    orientation = np.concatenate([orientation, np.zeros(n - len(orientation), int)])
    flags = np.arange(n) < round(mirrored * n)
    return pd.DataFrame({"ID": [f"te{i}" for i in range(n)], "split": "test", "orientation": orientation,
                         "mirrored": np.where(flags, "True", "False"), "n_chars": letters})


def test_pose_mix_reads_shares_and_with_pose_mix_draws_copies_with_them():
    rows = _test_rows(100, 0.64, (0.26, 0.25, 0.25, 0.24))
    mix = pose_mix(rows["orientation"], rows["mirrored"])  # flags as a CSV gives them back: text
    assert mix == {"pages": 100, "turns": [0.26, 0.25, 0.25, 0.24], "mirrored": 0.64, "doubted": None}
    cfg = with_pose_mix(default_config(), mix)
    assert cfg.flip_h_p == 0.64 and cfg.flip_v_p == 0 and sum(cfg.turn_p) == pytest.approx(1)
    assert mix_gap(config_mix(cfg), mix) < 1e-9
    assert mix_gap(config_mix(default_config()), mix) > 0.3  # the shipped copies: 30% mirrored
    # the copies the corruption really draws (the pose that brings each upright) have that mix
    labels = []
    page = np.full((40, 30, 3), 255, np.uint8)
    for i in range(600):
        geometry: dict = {}
        corrupt_testlike(page, np.random.default_rng(i), cfg=cfg, geometry=geometry)
        labels.append(LABELS[label_of(geometry, geometry["skew_deg"])])
    drawn = pose_mix([o for o, _ in labels], [m for _, m in labels])
    assert mix_gap(drawn, mix) < 0.06, drawn


def test_the_share_of_pages_the_pose_model_doubts_is_told_beside_the_pose_mix():
    """Label-free: the pose model's probability of its pick, kept per page, gives the share it doubts (p < 0.9),
    test pages against copies; unknown probabilities (no pose model, older readings) are left out, not counted."""
    from dl_cls.pose.mix import doubt_line, estimated_right, mix_lines, right_by_doubt

    rows = _test_rows(6, 0.5)
    test = pose_mix(rows["orientation"], rows["mirrored"], [0.5, 0.95, np.nan, 0.8, 0.99, 0.89])
    copies = pose_mix(rows["orientation"], rows["mirrored"], [0.99] * 5 + [0.5])
    assert (test["doubted"], copies["doubted"]) == (0.6, round(1 / 6, 4))  # 3 of the 5 known; 1 of 6
    lines = mix_lines({"test pages": test, "copies": copies, "config": config_mix(default_config())})
    assert "doubted" in lines[0] and lines[1].endswith("60%") and lines[3].endswith("-")
    assert "doubts 60% of the test pages but 17% of the copies" in doubt_line(test, copies)
    assert doubt_line(copies, test) is None and doubt_line(test, {**copies, "doubted": 0.56}) is None  # close
    assert doubt_line(test, config_mix(default_config())) is None  # unknown: no claim
    by_doubt = right_by_doubt([True, True, False, True, False], [0.99, np.nan, 0.5, 0.7, 0.95])
    assert by_doubt == {"sure": [0.5, 2], "doubted": [0.5, 2]}  # the unknown probability left out
    by_doubt = right_by_doubt([True, True, False], [0.99, 0.95, 0.5])
    assert estimated_right(by_doubt, 0.25) == 0.75 and estimated_right(by_doubt, None) is None
    assert right_by_doubt([True], [np.nan]) is None and estimated_right(right_by_doubt([True], [0.99]), 0.5) is None


def test_the_camera_is_off_in_the_shipped_config_and_leaves_its_copies_as_they_were():
    page = (np.random.default_rng(0).random((64, 48, 3)) * 255).astype(np.uint8)
    base = default_config()
    other = load_testlike_config(overrides=["camera.scale=[0.5,0.6]"])  # changed but off: no draw, same copies
    same = [corrupt_testlike(page, np.random.default_rng(1), cfg=c) for c in (base, other)]
    np.testing.assert_array_equal(*same)
    assert "camera" not in config_key(base)  # runs and caches named before the camera existed keep their names
    on = load_testlike_config(overrides=["camera.p=1"])
    assert "camera" in config_key(on)
    assert not np.array_equal(corrupt_testlike(page, np.random.default_rng(1), cfg=on), same[0])
    with pytest.raises(Exception, match="camera.scale"):
        TestlikeConfig(camera=CameraConfig(scale=[0.0, 1.5]))


def _pages(n: int = 60) -> tuple[TestlikePages, list[int]]:
    ids = tuple(f"tr{i}" for i in range(n))
    return TestlikePages(tuple(f"/x/{i}" for i in ids), ids, 7, None), [i % 6 for i in range(n)]


def _reader(full_letters: float, seen: list):
    """Copies read `full_letters * scale**2` letters a page at camera scale `scale` (fewer pixels a letter)."""
    def read(pages: TestlikePages) -> pd.DataFrame:
        cam = pages.cfg.camera
        scale = float(np.mean(cam.scale)) if cam.p else 1.0
        seen.append((len(pages.ids), scale))
        return pd.DataFrame({"ID": pages.ids, "n_chars": full_letters * scale ** 2})
    return read


def test_fit_copies_finds_the_camera_where_the_copies_read_the_test_pages_letters():
    pages, targets = _pages()
    seen: list = []
    fit = fit_copies(default_config(), _test_rows(100, 0.64, letters=8.0), pages, targets, _reader(30.0, seen))
    # 30 s^2 = 8 at s = 0.516: probed 1, 0.8, 0.6, 0.45 (the first under), interpolated between 0.6 and 0.45
    assert [s for _, s in seen] == pytest.approx([1.0, 0.8, 0.6, 0.45], abs=0.01)
    assert all(n == 48 for n, _ in seen)  # probe copies only, the same 48 each time (12 left: no refining)
    assert fit.refine is None
    assert 0.45 < fit.camera < 0.6 and abs(30 * fit.camera ** 2 - 8) < 1.5
    assert fit.config.camera.p == 1 and fit.config.camera.scale[0] < fit.camera < fit.config.camera.scale[1]
    assert fit.config.flip_h_p == 0.64  # the pose mix is fitted too
    assert fit.summary()["probes"][0] == [1.0, 30.0]


def test_fit_copies_refines_the_camera_on_other_pages_when_the_probe_pages_read_more_than_the_rest():
    pages, targets = _pages(200)
    rich = set(probe_pages(pages, targets).ids)  # the probe pages read 1.3x the letters of every other page
    seen: list = []

    def read(probe: TestlikePages) -> pd.DataFrame:
        scale = float(np.mean(probe.cfg.camera.scale)) if probe.cfg.camera.p else 1.0
        seen.append((len(probe.ids), scale, set(probe.ids) <= rich))
        return pd.DataFrame({"ID": probe.ids, "n_chars": [30 * scale ** 2 * (1.3 if i in rich else 1.0)
                                                           for i in probe.ids]})

    fit = fit_copies(default_config(), _test_rows(100, 0.64, letters=8.0), pages, targets, read)
    # every copy reads 8 letters at 0.499 (30 * 1.072 s^2, 48 of 200 pages rich); the probes alone cross at ~0.45
    assert [n for n, _, _ in seen] == [48] * 4 + [REFINE_PAGES] and all(p for _, _, p in seen[:4])
    assert not seen[-1][2] and seen[-1][1] == pytest.approx(fit.refine[0], abs=0.01)  # other pages, at the crossing
    assert fit.refine[0] < 0.46 and abs(fit.camera - 0.499) < 0.01
    assert fit.summary()["refine"][2] == REFINE_PAGES and f"{REFINE_PAGES} more copies" in fit.note
    assert fit.config.camera.scale[0] < fit.camera < fit.config.camera.scale[1]


def test_fit_copies_leaves_the_camera_off_when_copies_read_no_more_or_too_few_test_pages():
    pages, targets = _pages()
    seen: list = []
    fit = fit_copies(default_config(), _test_rows(100, 0.3, letters=29.0), pages, targets, _reader(30.0, seen))
    assert fit.camera is None and fit.config.camera.p == 0 and len(seen) == 1 and "no camera" in fit.note
    seen.clear()
    few = fit_copies(default_config(), _test_rows(MIN_TEST_PAGES - 1, 0.5, letters=2.0), pages, targets,
                     _reader(30.0, seen))  # too few to fit even the pose mix: the config as given
    assert few.config == default_config() and not seen and "only 29 test pages" in few.note
    other = fit_copies(default_config(), _test_rows(100, 0.5, letters=2.0), pages, targets, _reader(30.0, seen),
                       comparable=False)  # other classes: their letters say nothing, their poses do
    assert other.camera is None and not seen and "other classes" in other.note and other.config.flip_h_p == 0.5
    far = fit_copies(default_config(), _test_rows(100, 0.5, letters=0.1), pages, targets, _reader(30.0, seen))
    assert far.camera == SCALES[-1] and "farthest" in far.note  # never reached: the farthest camera, said so


def test_probe_pages_cover_every_class():
    pages, targets = _pages(120)
    probe = probe_pages(pages, targets, 12)
    picked = {targets[pages.ids.index(i)] for i in probe.ids}
    assert len(probe.ids) == 12 and picked == set(range(6))


# ------------------------------------------------------------------------------------------ dl-cls ocr
class _Engine:
    name = "fake"

    def version(self):
        return "fake 1"

    def check(self):
        pass


def _fake_read_all(calls: list):
    """dl-cls ocr's read_all without an engine: test pages read 70% mirrored, 8 letters, their pose doubted on 40%; a
    copy reads 30 letters times its camera scale squared, posed as its corruption drew it, but doubted and read at
    a wrong turn on 10%."""
    def read_all(jobs, ctx, workers, progress=True):
        rows = []
        for i, job in enumerate(jobs):
            title = f"T{int(job.id[2:6]) % 6}"
            row = dict(ID=job.id, split=job.split, orientation=0, mirrored=False, skew_deg=0.0, n_chars=30,
                       mean_conf=80.0, title=title, text=f"{title} body", pose_p=0.99)
            if job.split == "test":
                row.update(orientation=90 * (i % 4), mirrored=i % 10 < 7, n_chars=8, pose_p=0.6 if i % 5 < 2 else 0.95)
            if job.split == "testlike":
                img, geometry = ctx.testlike.page(job.id)
                cam = (ctx.testlike.cfg or default_config()).camera
                scale = float(np.mean(cam.scale)) if cam.p else 1.0
                row.update(n_chars=round(30 * scale ** 2))
                row["orientation"], row["mirrored"] = LABELS[label_of(geometry, geometry["skew_deg"])]
                row["true_orientation"], row["true_mirrored"] = row["orientation"], row["mirrored"]
                row["pose_p"] = 0.5 if i % 10 == 0 else 0.97
                if i % 10 == 0:  # a doubted pick is the wrong pose here, a sure one right
                    row["orientation"] = (row["true_orientation"] + 90) % 360
            rows.append(row)
        calls.append([j.split for j in jobs])
        stats = {"images": len(jobs), "cached": 0, "read": len(jobs), "budget_hit": 0,
                 "cpu_seconds_per_image": 0.5, "wall_seconds_per_image": 0.5}
        return pd.DataFrame(rows), stats
    return read_all


@pytest.mark.parametrize("copies", ["fit", "config"])
def test_ocr_reads_the_test_pages_first_and_fits_its_copies_to_them(tmp_path, monkeypatch, capsys, copies):
    import dl_cls.ocr.cli as ocr_cli

    calls: list = []
    monkeypatch.setattr(ocr_cli, "make_engine", lambda *a, **k: _Engine())
    monkeypatch.setattr(ocr_cli, "read_all", _fake_read_all(calls))
    data = make_data(tmp_path / "data", np.repeat(np.arange(6), 10), 40, 6, image_size=32)
    work = tmp_path / "work"
    code = main(["ocr", "--data", str(data), "--work", str(work), "--label-fixes", "none", "--orientation", "ocr",
                 "--no-progress", "--classes", "all", "--copies", copies, "--reread", "none"]
                + (["--train-copies", "1"] if copies == "config" else []))
    out = capsys.readouterr()
    assert code == 0, out.err
    assert set(calls[0]) == {"train", "test"}  # the test pages are read before any copy
    assert all(set(c) <= {"testlike", "extra1"} for c in calls[1:])
    run = work / "runs" / "ocr-all"
    fitted = json.loads((run / "summary.json").read_text())["ocr"]
    table = pd.read_csv(next((work / "ocr").glob("*/ocr.csv")))
    if copies == "config":  # no fit; one more copy of each page to train on, never predicted
        assert calls[1:] == [["testlike"] * 60, ["extra1"] * 60]
        assert not (run / COPIES_CONFIG).exists() and "pose mix" not in out.out
        assert list(dict.fromkeys(table["split"])) == ["train", "testlike", "extra1", "test"]
        summary = json.loads((run / "summary.json").read_text())
        assert "extra1" not in summary and summary["testlike"]["pages"] == 60
        return
    assert list(dict.fromkeys(table["split"])) == ["train", "testlike", "test"]
    cfg = yaml.safe_load((run / COPIES_CONFIG).read_text())
    assert cfg["flip_h_p"] == 0.7 and cfg["turn_p"] == [0.25, 0.25, 0.25, 0.25]  # the test pages' mix as read
    assert cfg["camera"]["p"] == 1 and 0.45 < np.mean(cfg["camera"]["scale"]) < 0.6  # 30 s^2 = 8
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert len(calls) == 6  # train + test, 4 probes, the copies
    assert "pose mix as read" in out.out and "largest gap, copies vs test pages" in out.out
    # the share of pages whose pose the pose model doubts, label-free: the test pages' 40% against the copies' 10%
    mixes = config["testlike"]["fitted"]
    assert (mixes["test_pose_mix"]["doubted"], mixes["copies_pose_mix"]["doubted"]) == (0.4, 0.1)
    assert "the pose model doubts 40% of the test pages but 10% of the copies" in out.out
    # the copies' pose is known: right on every sure pick, on none of the doubted ones; so 60% of the test pages
    assert mixes["pose_right_by_doubt"] == {"sure": [1.0, 54], "doubted": [0.0, 6]}
    assert mixes["test_pose_right_estimated"] == 0.6 and "so about 60% of the test pages (40% doubted" in out.out
    assert f"testlike_config={run / COPIES_CONFIG}" in out.out
    assert config["testlike"]["fitted"]["camera_scale"] == pytest.approx(np.mean(cfg["camera"]["scale"]), abs=0.01)
    assert fitted["images"] == 60 + 40 + 60 + 4 * 48
    copies_rows = table[table["split"] == "testlike"]
    assert abs(copies_rows["mirrored"].mean() - 0.7) < 0.15  # posed like the test pages (60 copies: noisy)


def test_training_copies_are_trained_on_but_never_leak_a_held_out_page():
    """A page's extra copies carry its class word beside a token unique to the page; its clean reading carries the
    token only. If the held-out fold's own copies were fitted on, the token would give the class away."""
    from dl_cls.ocr.expert import cross_validate

    rng = np.random.default_rng(0)
    n = 60
    ids = [f"tr{i:03d}.jpg" for i in range(n)]
    y = np.arange(n) % 3
    token = ["".join(rng.choice(list("abcdefghij"), 6)) for _ in range(n)]
    base = pd.DataFrame({"ID": ids, "target": y, "fold": np.arange(n) % 5, "n_chars": 9, "title": ""})
    pages = {"clean": base.assign(text=token),
             "extra1": base.assign(text=[f"{t} class{c}word" for t, c in zip(token, y)])}
    oofs = cross_validate(pages, [0, 1, 2], pd.DataFrame(columns=["class", "keyword", "source"]))
    assert set(oofs) == {"clean"}  # the extra copies are never predicted
    oof = oofs["clean"][0].set_index("ID").loc[ids]
    accuracy = float((oof[["p_0", "p_1", "p_2"]].to_numpy().argmax(1) == y).mean())
    assert accuracy < 0.6, accuracy  # chance is 1/3; with the held-out pages' own copies fitted on: 1.0


def test_the_poses_read_a_page_are_counted_one_when_the_pose_model_is_sure():
    """The reading's cost model: a sure pose model leaves one engine call a page, an unsure one its 2-3 likeliest
    poses; read_all reports the mean beside the CPU seconds."""
    from test_ocr import FakeEngine

    from dl_cls.ocr.read import ReadSettings, read_document
    from dl_cls.ocr.table import _time_per_image

    class Orienter:
        labels = list(LABELS)

        def __init__(self, top: float):
            self.probs = np.array([top] + [(1 - top) / 7] * 7)

        def predict(self, pages, tta=False):
            return np.tile(self.probs, (len(pages), 1))

    page = np.full((120, 90, 3), 255, np.uint8)
    page[10:20, 10:80] = 0
    doubt = ReadSettings(orient_sure=0.9)
    sure = read_document(page, FakeEngine(), doubt, orienter=Orienter(0.95))
    engine = FakeEngine()
    unsure = read_document(page, engine, doubt, orienter=Orienter(0.5))
    assert sure["poses_read"] == 1 and unsure["poses_read"] == 3 == engine.calls  # 0.5 + 2 x 0.07 < 0.9: three
    pick = read_document(page, FakeEngine(), ReadSettings(), orienter=Orienter(0.5))
    assert pick["poses_read"] == 1  # the default, --pose-sure 0: the pose model's pick alone, however unsure
    assert (sure["pose_p"], pick["pose_p"]) == (0.95, 0.5)  # the pick's probability is kept: the doubted share
    assert read_document(page, FakeEngine(), ReadSettings())["pose_p"] is None  # no pose model: none
    stats = _time_per_image([{"cpu_seconds": 0.2, "seconds": 0.3, **sure}, {"cpu_seconds": 0.4, "seconds": 0.5,
                                                                           **unsure}])
    assert stats["poses_read_per_image"] == 2.0


def test_pose_sure_takes_a_probability_from_0_to_1():
    import argparse

    from dl_cls.ocr.cli import add_arguments
    from dl_cls.ocr.read import ReadSettings

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args(["--pose-sure", "0"]).pose_sure == 0.0
    assert parser.parse_args([]).pose_sure == 0.0 == ReadSettings.orient_sure  # the pick alone by default
    with pytest.raises(SystemExit):
        parser.parse_args(["--pose-sure", "1.5"])


def test_fit_copies_draws_the_skew_the_reader_measured_on_the_test_pages():
    rng = np.random.default_rng(0)
    n = 400
    skewed = rng.random(n) < 0.6
    test = _test_rows(n, 0.5, letters=30.0).assign(skew_deg=np.where(skewed, rng.normal(0, 10, n), 0.0))
    clean = pd.DataFrame({"skew_deg": np.zeros(60)})  # train pages read straight
    pages, targets = _pages()
    fit = fit_copies(default_config(), test, pages, targets, _reader(30.0, []), clean_rows=clean)
    p, sigma, cap = fit.skew
    assert abs(p - 0.6) <= 0.15 and abs(sigma - 10) <= 3 and cap >= 20, fit.skew
    assert (fit.config.rotate.skew_p, fit.config.rotate.skew_sigma) == (p, sigma)
    assert fit.summary()["skew_p_sigma_cap"] == [p, sigma, cap]
    from dl_cls.ocr.copies import fit_lines

    assert any(line.startswith("skew (median abs deg") for line in fit_lines(fit))


def test_a_doubted_page_keeps_its_other_poses_readings_for_the_text_model():
    """Reader version 5: on a page the pose model doubts, the row's reading is its pick and the other poses'
    readings are kept as alts (the text model chooses later); --pose-choice ocr keeps the most confident alone."""
    from test_ocr import FakeEngine

    from dl_cls.ocr.read import ReadSettings, read_document

    class Unsure:
        labels = list(LABELS)

        def predict(self, pages, tta=False):  # (0, False) first, then (90, False), (180, False)
            return np.tile(np.array([0.5, 0.2, 0.15, 0.05, 0.04, 0.03, 0.02, 0.01]), (len(pages), 1))

    page = np.full((120, 90, 3), 255, np.uint8)
    page[10:20, 10:80] = 0  # FakeEngine reads DIAGNOSIS only with the dark band at the bottom: turned 180
    row = read_document(page, FakeEngine(), ReadSettings(orient_sure=0.9), orienter=Unsure())
    assert (row["orientation"], row["mirrored"], row["text"]) == (0, False, "")
    assert [(a["orientation"], a["text"]) for a in row["alts"]] == [(90, ""), (180, "DIAGNOSIS")]
    assert row["alts"][1]["n_chars"] == 9
    old = read_document(page, FakeEngine(), ReadSettings(orient_sure=0.9, choose="ocr"), orienter=Unsure())
    assert (old["orientation"], old["text"], old["alts"]) == (180, "DIAGNOSIS", [])


def _alts(*readings) -> str:
    return json.dumps([{"orientation": o, "mirrored": False, "n_chars": 9, "mean_conf": 90.0, "title": "",
                        "text": t} for o, t in readings])


def test_the_text_model_keeps_the_reading_it_is_surest_about():
    from dl_cls.ocr.expert import OcrExpert, surest_readings

    rng = np.random.default_rng(0)
    n = 60
    y = np.arange(n) % 3
    texts = [f"{''.join(rng.choice(list('abcdefgh'), 5))} class{c}word" for c in y]
    expert = OcrExpert([0, 1, 2], pd.DataFrame(columns=["class", "keyword", "source"])).fit([""] * n, texts, y)
    rows = pd.DataFrame({"ID": ["a", "b", "c", "d", "e"], "orientation": 0, "mirrored": False,
                         "n_chars": [9, 0, 9, 9, 9], "mean_conf": 50.0, "title": "",
                         "text": ["zq xv", "", "class2word", "class1word", "zq"],
                         "alts": [_alts((180, "class1word")), _alts((90, "zz"), (180, "class0word")),
                                  _alts((90, "qq")), _alts((90, "class1word")), ""]})
    out = surest_readings(expert, rows).set_index("ID")
    assert (out.loc["a", "text"], out.loc["a", "orientation"], out.loc["a", "chosen_alt"]) == ("class1word", 180, True)
    assert out.loc["b", "text"] == "class0word"  # an unread pick: an other pose's readable reading is taken
    assert (out.loc["c", "text"], out.loc["c", "chosen_alt"]) == ("class2word", False)  # its own was surest
    assert (out.loc["d", "orientation"], out.loc["d", "chosen_alt"]) == (0, False)  # a tie keeps its own reading
    assert (out.loc["e", "text"], out.loc["e", "chosen_alt"]) == ("zq", False)  # no other reading: as it was
    assert out["orientation"].dtype == rows["orientation"].dtype  # the columns keep their types


def test_the_table_keeps_the_alternative_readings(tmp_path):
    from dl_cls.ocr.table import read_table, write_table, ALTS, COLUMNS

    table = pd.DataFrame([{c: 0 for c in COLUMNS} | {"ID": "a", "split": "test", "title": "", "text": "t",
                                                      ALTS: _alts((90, "가나"))}])
    back = read_table(write_table(table, tmp_path))
    assert json.loads(back.loc[0, ALTS])[0]["text"] == "가나"
    old = read_table(write_table(table.drop(columns=ALTS), tmp_path))  # a table written before reader version 5
    assert old.loc[0, ALTS] == "" and np.isnan(old.loc[0, "pose_p"])  # the pose's probability: unknown there
    two = read_table(write_table(pd.concat([table.assign(pose_p=0.75), table.assign(ID="b", pose_p=None)]), tmp_path))
    assert two["pose_p"].iloc[0] == 0.75 and np.isnan(two["pose_p"].iloc[1])  # a number, or unknown
    for bad in ("[{", json.dumps([{"orientation": 90}]), "7"):  # damaged: one line naming the file and row
        path = write_table(table.assign(**{ALTS: bad}), tmp_path)
        with pytest.raises(DlClsError, match=r"ocr.csv: line 2: column alts"):
            read_table(path)


def test_a_cached_row_with_damaged_alternative_readings_is_read_again():
    from dl_cls.ocr.table import Job, is_whole_row

    job = Job("test", "a", "a.png")
    row = {"ID": "a", "split": "test", "orientation": 0, "mirrored": False, "skew_deg": 0.0, "n_chars": 3,
           "mean_conf": 50.0, "title": "", "text": "가나다"}
    alt = {"orientation": 90, "mirrored": False, "n_chars": 2, "mean_conf": 40.0, "title": "", "text": "라마"}
    assert is_whole_row(row, job) and is_whole_row({**row, "alts": [alt]}, job)
    assert not is_whole_row({**row, "alts": [{**alt, "n_chars": "2"}]}, job)
    assert not is_whole_row({**row, "alts": "x"}, job)


def test_a_budget_spent_after_the_first_pose_keeps_its_reading():
    from test_ocr import FakeEngine

    from dl_cls.ocr.engine import EngineTimeout
    from dl_cls.ocr.read import ReadSettings, read_document

    class SlowAfterOne(FakeEngine):
        def read(self, image, psm, timeout=None):
            if self.calls:
                raise EngineTimeout("ran past the budget")
            return super().read(image, psm, timeout)

    class Unsure:
        labels = list(LABELS)

        def predict(self, pages, tta=False):  # (180, False) first: FakeEngine reads it
            return np.tile(np.array([0.05, 0.2, 0.5, 0.15, 0.04, 0.03, 0.02, 0.01]), (len(pages), 1))

    page = np.full((120, 90, 3), 255, np.uint8)
    page[10:20, 10:80] = 0
    row = read_document(page, SlowAfterOne(), ReadSettings(orient_sure=0.9), orienter=Unsure())
    assert (row["orientation"], row["text"], row["note"], row["alts"]) == (180, "DIAGNOSIS", "budget", [])


def test_the_reading_cost_is_told_by_kind_of_page_with_its_tail():
    """Issue 29 asks for CPU s a page by kind with the tail: dl-cls ocr reads in several calls (pages, probes,
    copies, training copies) and their figures merge exactly into one line per kind, with the pages over 5 s."""
    from dl_cls.ocr.table import _time_per_image, cost_by_kind, cost_line, merge_stats

    def row(split, s, poses=1, mp=0.3):
        return {"split": split, "cpu_seconds": s, "poses_read": poses, "megapixels": mp}

    rows = [row("train", 0.2), row("train", 0.4), row("test", 0.5, poses=2, mp=0.5), row("testlike", 6.0, poses=3),
            row("testlike", 0.3, mp=0.1), row("extra1", 0.3)]
    calls = [rows[:3], rows[3:4], rows[4:]]
    stats = [dict(images=len(r), cached=0, read=len(r), budget_hit=0, **_time_per_image(r)) for r in calls]
    merged = merge_stats(merge_stats(stats[0], stats[1]), stats[2])
    kinds = merged["cpu_by_kind"]
    assert kinds == _time_per_image(rows)["cpu_by_kind"]  # merging calls loses nothing
    assert kinds["copies"] == {"pages": 2, "cpu_seconds": 6.3, "max": 6.0, "slow": 1, "poses": 4, "megapixels": 0.4}
    assert kinds["training copies"]["pages"] == 1 and kinds["test"]["max"] == 0.5
    line = cost_line(merged)  # what a page costs and the two things it follows: the poses read, the pixels
    assert "train 0.30 (max 0.40; 1.00 poses, 0.30 MP)" in line and "1 page(s) over 5 s" in line
    assert "copies 3.15 (max 6.00; 2.00 poses, 0.20 MP)" in line and "test 0.50 (max 0.50; 2.00 poses, 0.50 MP)" in line
    assert "no page over 5 s" in cost_line(stats[0])
    spent = {"split": "test", "cpu_seconds": 5.5, "megapixels": 0.3}  # its budget spent before the first read
    assert cost_by_kind([spent])["test"]["poses"] == 0
    assert cost_line({"cpu_by_kind": {}}) is None  # nothing read now (all cached): no line
