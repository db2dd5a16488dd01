"""OCR stage: orientation normalisation, the engine interface, the cached/resumable table, the OCR expert's run
dir (loaded and blended by the ensembler) and the no-text and missing-engine cases.

Tests that run tesseract skip when it (or its Korean data) is missing; `make install` installs it as root."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from builders import make_data, make_run, noisy_probs

from dl_cls.cli import main
from dl_cls.core.errors import DataError, DlClsError
from dl_cls.data.sample import SIZE, render
from dl_cls.imaging.page_geometry import normalise, orient, rotate_any, text_direction
from dl_cls.ocr.engine import EngineMissing, OcrText, TesseractEngine, drop_rules, parse_tsv, preprocess
from dl_cls.ocr.expert import fuzzy_in, keyword_rules, learn_keywords, rule_class, title_key
from dl_cls.pose.data import LABELS
from dl_cls.ocr.read import ReadSettings, read_document
from dl_cls.ocr.table import Job, ReadContext, TestlikePages, _read_all, cached_row, entry_path, read_all

GROUP = [3, 4, 7, 14]
# a word of every title variant of the sample's family (dl_cls.data.hangul.FAMILY_TITLES), matched as the expert does
TITLE_WORDS = {3: ("입원", "퇴원"), 4: ("진단서",), 7: ("진료확인서", "통원"), 14: ("소견서",)}


def _tesseract_or_skip() -> TesseractEngine:
    engine = TesseractEngine("kor+eng")
    try:
        engine.check()
    except EngineMissing as exc:
        pytest.skip(f"OCR engine missing: {exc}")
    return engine


# ------------------------------------------------------------------------------------------ geometry
@pytest.mark.parametrize("orientation", [0, 90, 180, 270])
@pytest.mark.parametrize("mirrored", [False, True])
def test_orient_is_undone_by_the_matching_correction(orientation, mirrored):
    page = np.arange(12, dtype=np.uint8).reshape(3, 4)
    # a page mirrored then turned clockwise by t is restored by turning by -t, then mirroring
    seen = orient(orient(page, 0, mirrored), orientation, False)
    restored = orient(seen, (360 - orientation) % 360, mirrored)
    np.testing.assert_array_equal(restored, page)


def test_rotate_any_fills_white_and_keeps_the_corners():
    img = np.zeros((40, 60, 3), np.uint8)
    out = rotate_any(img, 30)
    assert out.shape[0] > 40 and out.shape[1] > 60  # canvas grew: no corner cut
    assert (out[0, 0] == 255).all()  # paper-white fill, not black
    assert (out[out.shape[0] // 2, out.shape[1] // 2] == 0).all()


@pytest.mark.parametrize("target", GROUP)
def test_text_direction_tells_sideways_pages(target):
    page = render(target, SIZE, np.random.default_rng(target))
    for turn in (0, 90, 180, 270):
        direction, ratio = text_direction(orient(page, turn, False))
        assert direction == ("vertical" if turn % 180 else "horizontal"), (turn, ratio)


def test_normalise_deskews_with_white_fill():
    page = render(4, SIZE, np.random.default_rng(0))
    out = normalise(rotate_any(page, 10), 10.0, 0, False)
    assert out.shape[0] > page.shape[0] and (out[0, 0] >= 250).all()


# ------------------------------------------------------------------------------------------ engine
def test_parse_tsv_keeps_words_with_confidence():
    tsv = ("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
           "4\t1\t1\t1\t1\t0\t0\t0\t9\t9\t-1\t\n"
           "5\t1\t1\t1\t1\t1\t0\t0\t9\t9\t91.5\t진단서\n"
           "5\t1\t1\t1\t1\t2\t0\t0\t9\t9\t40\tDIAG\"NOSIS\n"
           "5\t1\t1\t1\t2\t1\t0\t0\t9\t9\t77\tend\n")
    out = parse_tsv(tsv)
    assert out.words == ["진단서", 'DIAG"NOSIS', "end"] and out.confs == [91.5, 40.0, 77.0]
    assert out.text == '진단서 DIAG"NOSIS\nend'


def test_drop_rules_whitens_table_rules_and_keeps_the_letters():
    page = np.full((400, 300, 3), 250, np.uint8)
    cv2.rectangle(page, (20, 60), (280, 380), (30, 30, 30), 2)  # a ruled table
    for y in range(100, 380, 40):
        cv2.line(page, (20, y), (280, y), (30, 30, 30), 1)
    cv2.line(page, (150, 60), (150, 380), (30, 30, 30), 1)
    cv2.putText(page, "TITLE", (70, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (30, 30, 30), 2)  # letters ~28 px
    binary = preprocess(page)
    out = drop_rules(binary)
    assert (binary[100, 30:140] == 0).mean() > 0.9 and (out[95:106, 30:140] == 255).all()  # a rule: gone
    assert (out[200:260, 148:153] == 255).all()  # the column rule too
    title = (slice(10, 50), slice(60, 200))
    assert (out[title] == 0).sum() == (binary[title] == 0).sum() > 100  # the title's ink untouched


def _family_pages(tmp_path, n: int = 4) -> list:
    jobs = []
    for i, target in enumerate(GROUP[:n]):
        path = tmp_path / f"page{i}.png"
        cv2.imwrite(str(path), render(target, SIZE, np.random.default_rng(i))[:, :, ::-1])
        jobs.append(Job("train", path.name, str(path)))
    return jobs


def test_workers_read_in_process_the_words_the_command_line_reads(tmp_path):
    """Where libtesseract is the binary's version, read_all's workers call its C API (one model load a process, no
    process a page): the same table as the command line's, and the stats say which read."""
    _tesseract_or_skip()
    from dl_cls.ocr.engine import library_version

    if library_version() is None:
        pytest.skip("no libtesseract to load")
    jobs, settings, tables = _family_pages(tmp_path), ReadSettings(lang="kor"), {}
    for in_process in (True, False):
        engine = TesseractEngine("kor", in_process=in_process)
        engine.check()
        ctx = ReadContext(engine, settings, 30, str(tmp_path / f"cache-{in_process}"))
        tables[in_process], stats = read_all(jobs, ctx, workers=2, progress=False)
        assert stats["in_process"] == float(in_process)
    assert tables[True]["n_chars"].sum() > 20  # the titles were read
    pd.testing.assert_frame_equal(tables[True], tables[False])


IN_PROCESS_SCRIPT = """
import json, shutil, sys
import numpy as np, torch  # torch loads an OpenMP runtime of the name libtesseract links
from dl_cls.ocr.engine import EngineTimeout, TesseractEngine
page = np.load(sys.argv[1])
engine = TesseractEngine("kor")
engine.check()
out = {"in_process": engine.library_reader() is not None, "words": engine.read(page, 11).words}
named = TesseractEngine("kor", binary=shutil.which("tesseract"))  # a binary the user names is run as named
named.check()
out["named_in_process"] = named.library_reader() is not None
try:
    engine.read(np.tile(page, (3, 3)), 11, timeout=0.01)
except EngineTimeout:
    out["timeout"] = True
print(json.dumps(out))
"""


@pytest.mark.parametrize("thread_limit", ["1", None])
def test_in_process_reader_only_where_openmp_runs_one_thread(tmp_path, thread_limit):
    """torch's OpenMP runtime (the name libtesseract links) reads OMP_THREAD_LIMIT once, when it loads: a process
    started without it reads through the command line (in process, tesseract's threads would spin: x6 the CPU); with
    it, in process. Either way the same words, and the time budget ends a read."""
    import os
    import subprocess
    import sys

    _tesseract_or_skip()
    from dl_cls.ocr.engine import library_version

    if library_version() is None:
        pytest.skip("no libtesseract to load")
    page = preprocess(render(4, SIZE, np.random.default_rng(0)))
    np.save(tmp_path / "page.npy", page)
    env = {k: v for k, v in os.environ.items() if k != "OMP_THREAD_LIMIT"}
    env.update({"OMP_THREAD_LIMIT": thread_limit} if thread_limit else {})
    done = subprocess.run([sys.executable, "-c", IN_PROCESS_SCRIPT, str(tmp_path / "page.npy")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-400:]
    assert done.stderr.strip() == ""  # tesseract's notes (resolution, diacritics) not on the user's terminal
    out = json.loads(done.stdout)
    assert out["in_process"] is (thread_limit == "1") and out.get("timeout") is True
    assert out["named_in_process"] is False
    assert out["words"] == TesseractEngine("kor", in_process=False).read(page, 11).words and out["words"]


def test_missing_engine_is_one_line_with_the_fix(tmp_path, capsys):
    with pytest.raises(EngineMissing, match="make ocr-deps"):
        TesseractEngine("kor", binary=str(tmp_path / "no-tesseract")).check()
    data = make_data(tmp_path / "data", [0, 1] * 3, 2, 2)
    code = main(["ocr", "--data", str(data), "--work", str(tmp_path / "work"),
                 "--tesseract", str(tmp_path / "no-tesseract")])
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith(("WARNING", "INFO"))]
    assert code != 0 and len(err) == 1 and "make ocr-deps" in err[0] and "not found" in err[0]


def test_inverted_line_rereads_are_switched_off_on_the_command_line(tmp_path):
    """By default (as ReadSettings) tesseract gets tessedit_do_invert=0 (its re-reads of unsure lines as
    white-on-black text cost ~1.5x the time on our binarised pages); invert_lines=True leaves tesseract's default."""
    argv_file = tmp_path / "argv"
    fake = tmp_path / "tesseract"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {argv_file}\ncat > /dev/null\n"
                    "printf 'level\\tpage_num\\tblock_num\\tpar_num\\tline_num\\tword_num\\tleft\\ttop\\twidth\\t"
                    "height\\tconf\\ttext\\n5\\t1\\t1\\t1\\t1\\t1\\t0\\t3\\t9\\t9\\t88\\tword\\n'\n")
    fake.chmod(0o755)
    page = np.full((20, 20), 255, np.uint8)
    assert TesseractEngine("kor", str(fake)).read(page, 11).words == ["word"]
    TesseractEngine("kor", str(fake), invert_lines=True).read(page, 11)
    without, default = argv_file.read_text().splitlines()
    assert "tessedit_do_invert=0" in without and "-c" in without.split()
    assert "tessedit_do_invert" not in default


# ------------------------------------------------------------------------------------------ cache / resume
class FakeEngine:
    """Reads a fixed title on the upright, unmirrored candidate only; counts its calls."""

    name = "fake"

    def __init__(self):
        self.calls = 0

    def version(self):
        return "fake 1"

    def check(self):
        pass

    def read(self, image, psm, timeout=None):
        self.calls += 1
        bright = image[: image.shape[0] // 2].mean() > image[image.shape[0] // 2 :].mean()
        return OcrText(["DIAGNOSIS"], [95.0], [(1, 1, 1)]) if bright else OcrText(["x"], [10.0], [(1, 1, 1)])


def _jobs(tmp_path, n=3):
    import cv2

    jobs = []
    for i in range(n):
        path = tmp_path / f"img{i}.png"
        cv2.imwrite(str(path), render(4, 96, np.random.default_rng(i))[:, :, ::-1])
        jobs.append(Job("train", path.name, str(path)))
    return jobs


def test_table_is_cached_per_image_and_a_killed_entry_is_redone(tmp_path):
    jobs, root, engine = _jobs(tmp_path), tmp_path / "cache", FakeEngine()
    settings = ReadSettings(upscale=1.0)
    first, stats = read_all(jobs, ReadContext(engine, settings, 30, str(root)), workers=1, progress=False)
    assert stats["read"] == 3 and engine.calls > 0
    assert list(first.columns) == ["ID", "split", "orientation", "mirrored", "skew_deg", "n_chars", "mean_conf",
                                   "title", "text", "true_orientation", "true_mirrored", "alts", "pose_p"]
    calls = engine.calls
    again, stats = read_all(jobs, ReadContext(engine, settings, 30, str(root)), workers=1, progress=False)
    assert stats["cached"] == 3 and engine.calls == calls  # second run: all from the cache, no engine call
    pd.testing.assert_frame_equal(first, again)
    # kill -9 mid-write leaves no entry (atomic writes); a truncated one (written by something else) is redone too
    entry_path(root, jobs[0]).unlink()
    entry_path(root, jobs[1]).write_text('{"image_sha1": "')
    assert cached_row(root, jobs[1]) is None
    third, stats = read_all(jobs, ReadContext(engine, settings, 30, str(root)), workers=1, progress=False)
    assert stats == {**stats, "cached": 1, "read": 2}
    pd.testing.assert_frame_equal(first, third)


def test_testlike_jobs_read_the_trainers_copies_and_record_their_pose(tmp_path):
    from dl_cls.imaging.testlike import testlike_copy

    jobs, root = _jobs(tmp_path), tmp_path / "cache"
    paths, ids = [j.path for j in jobs], [j.id for j in jobs]
    pages = TestlikePages(tuple(paths), tuple(ids), seed=1234)
    img, geometry = pages.page(ids[1])
    np.testing.assert_array_equal(img, testlike_copy(paths, ids, 1, 1234))  # the trainer's test-like validation
    assert set(geometry) == {"flip_h", "flip_v", "turn", "skew_deg"}
    table, stats = read_all(jobs + pages.jobs(), ReadContext(FakeEngine(), ReadSettings(upscale=1.0), 30, str(root),
                                                              pages), workers=1, progress=False)
    copies = table[table["split"] == "testlike"]
    assert stats["read"] == 6 and len(copies) == 3 and copies["true_orientation"].isin([0, 90, 180, 270]).all()
    assert table[table["split"] == "train"]["true_orientation"].isna().all()
    assert entry_path(root, pages.jobs()[0]).parent.name == f"testlike-{pages.key}"
    assert TestlikePages(tuple(paths), tuple(ids), seed=1).key != pages.key  # another corruption, another folder


def test_a_changed_image_is_read_again(tmp_path):
    jobs, root, engine = _jobs(tmp_path, 1), tmp_path / "cache", FakeEngine()
    read_all(jobs, ReadContext(engine, ReadSettings(upscale=1.0), 30, str(root)), workers=1, progress=False)
    shutil.copy(tmp_path / "img0.png", tmp_path / "keep.png")
    import cv2

    cv2.imwrite(jobs[0].path, render(3, 96, np.random.default_rng(9))[:, :, ::-1])
    assert cached_row(root, jobs[0]) is None
    assert json.loads(entry_path(root, jobs[0]).read_text())["row"]["ID"] == "img0.png"


def test_every_bad_image_is_named_before_any_reading(tmp_path):
    """Issue 24: ocr found bad images mid-run, one at a time."""
    jobs, engine = _jobs(tmp_path), FakeEngine()
    Path(jobs[0].path).write_bytes(b"")
    Path(jobs[2].path).write_bytes(b"not a png")
    with pytest.raises(DataError) as err:
        read_all(jobs, ReadContext(engine, ReadSettings(upscale=1.0), 30, str(tmp_path / "c")), 1, progress=False)
    assert len(err.value.problems) == 2 and "img0.png" in str(err.value) and "img2.png" in str(err.value)
    assert engine.calls == 0


def test_a_second_reader_of_one_cache_waits_and_reuses_the_first_ones_readings(tmp_path, capsys):
    """Issue 24: two ocr commands on one --cache both read every page."""
    import threading

    from dl_cls.core.lock import Lock

    jobs, root = _jobs(tmp_path), tmp_path / "cache"
    first, second = FakeEngine(), FakeEngine()
    settings = ReadSettings(upscale=1.0)
    root.mkdir()
    holder = Lock(root, "test").acquire()  # the first command, still reading
    done = []
    t = threading.Thread(target=lambda: done.append(
        read_all(jobs, ReadContext(second, settings, 30, str(root)), 1, progress=False)))
    t.start()
    t.join(1.5)
    assert t.is_alive() and second.calls == 0  # waiting, not reading
    read_all_rows = _read_all(jobs, ReadContext(first, settings, 30, str(root)), 1, progress=False)
    holder.release()
    t.join(30)
    assert not t.is_alive() and read_all_rows[1]["read"] == 3 and done[0][1]["cached"] == 3 and second.calls == 0
    assert "waiting for it to end" in capsys.readouterr().out


def test_time_budget_keeps_what_was_read():
    class Slow(FakeEngine):
        def read(self, image, psm, timeout=None):
            from dl_cls.ocr.engine import EngineTimeout

            raise EngineTimeout("slow")

    row = read_document(render(4, 96, np.random.default_rng(0)), Slow(), ReadSettings(upscale=1.0), budget_s=5)
    assert row["note"] == "budget" and row["n_chars"] == 0 and row["text"] == ""


def test_a_huge_image_is_read_scaled_down_and_the_budget_covers_the_deskew():
    """Issue 24 fault 8: an 8000 px photo took 170 s and 1.2 GB before the engine started (deskewing it at x2).
    It is brought to the reader's max_side first; a budget spent before the engine says so and reads nothing."""
    class Shapes(FakeEngine):
        shapes: list = []

        def read(self, image, psm, timeout=None):
            self.shapes.append(image.shape)
            return super().read(image, psm, timeout)

    page = cv2.resize(render(4, 200, np.random.default_rng(0)), (8000, 6000), interpolation=cv2.INTER_NEAREST)
    engine = Shapes()
    row = read_document(page, engine, ReadSettings(max_side=1000), budget_s=60)
    assert row["note"] == "ok" and engine.shapes and max(max(s) for s in engine.shapes) <= 1000 * 1.05
    engine.shapes.clear()
    row = read_document(page, engine, ReadSettings(max_side=1000), budget_s=1e-6)
    assert row["note"] == "budget" and engine.shapes == []


# ------------------------------------------------------------------------------------------ keywords
def test_keywords_learned_are_pure_and_match():
    titles = ["DIAGNOSIS", "DIAGNOSSS", "STATEMENT OF OPINION", "STATEMENT OF OPlNION", "OUTPATIENT CERTIFICATE"] * 2
    y = [4, 4, 14, 14, 7] * 2
    kw = learn_keywords(titles, y)
    assert set(kw["class"]) == {4, 7, 14}
    for c, word in kw[["class", "keyword"]].itertuples(index=False):  # pure: no other class's title has it
        assert not any(word in t.replace(" ", "") for t, yy in zip(titles, y) if yy != c)
    rules = keyword_rules(kw)
    assert rule_class("DIAGN0SIS form", rules) == 4 and rule_class("nothing here", rules) is None
    assert fuzzy_in("진단서", "진탄서", 1) and not fuzzy_in("진단서", "소견서", 1)


# ------------------------------------------------------------------------------------------ expert run dir
def _project(tmp_path, no_text_test=(0, 1)):
    """A data dir with classes 0..5 where {2,3,4} is the group, folds.csv, a full member run and an OCR table
    whose titles name the class (some rows unreadable)."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(6), 10)
    data = make_data(tmp_path / "data", y, 12, 6)
    work = tmp_path / "work"
    ids = [f"tr{i:04d}.jpg" for i in range(len(y))]
    folds = np.arange(len(y)) % 5
    work.mkdir()
    pd.DataFrame({"ID": ids, "fold": folds}).to_csv(work / "folds.csv", index=False)
    y_test = np.array([2, 3, 4] * 4)
    make_run(work / "runs" / "member", data, ids, folds, noisy_probs(y, 6, 0.6, rng, {2: [3, 4], 3: [2, 4], 4: [2, 3]}),
             [f"te{i:04d}.jpg" for i in range(12)], noisy_probs(y_test, 6, 0.5, rng))
    names = {2: "ALPHA FORM", 3: "BRAVO FORM", 4: "CHARLIE FORM"}
    rows = [dict(ID=i, split="train", title=names[t], text=f"{names[t]} body", n_chars=12)
            for i, t in zip(ids, y) if t in names]
    rows[0].update(title="", text="", n_chars=0)  # one unreadable train image
    for j in range(12):
        unreadable = j in no_text_test
        rows.append(dict(ID=f"te{j:04d}.jpg", split="test", title="" if unreadable else names[y_test[j]],
                         text="" if unreadable else "body", n_chars=0 if unreadable else 9))
    table = pd.DataFrame(rows).assign(orientation=0, mirrored=False, skew_deg=0.0, mean_conf=90.0)
    return data, work, table


@pytest.mark.slow  # a few seconds: make test runs it, make test-fast skips it
def test_expert_run_dir_loads_and_blends_as_a_specialist(tmp_path, capsys):
    from dl_cls.artifacts.runs import load_run
    from dl_cls.data.contract import load_data
    from dl_cls.ocr.rundir import build_expert_run

    data, work, table = _project(tmp_path)
    dd = load_data(data, None)
    info = {"label_fixes": None, "ocr_dir": "x", "settings": {}, "stats": {}}
    summary = build_expert_run(work / "runs" / "ocr-2-3-4", table, dd, work, [2, 3, 4], "none", info)
    assert summary["oof_f1"] == 1.0 and summary["oof_rows"] == 29 and summary["train_rows"] == 30
    run = load_run(work / "runs" / "ocr-2-3-4")  # the ensembler's own loader and checks
    assert run.is_subset and run.classes == [2, 3, 4] and list(run.oof.columns) == ["ID", "fold", "p_2", "p_3", "p_4"]
    assert "tr0020.jpg" not in set(run.oof["ID"])  # the unreadable train image gives no OOF prediction
    np.testing.assert_allclose(run.test_probs()[:2], 1 / 3, atol=1e-6)  # unreadable test images: uniform (neutral)
    from dl_cls.ensemble.discover import discover

    found = discover(work, data)  # bare `dl-cls ensemble --data D` finds it as a specialist of the same folds (split_hash)
    assert [r.name for r in found.specialists] == ["ocr-2-3-4"], found.table.to_string()
    code = main(["ensemble", "member", "--work", str(work), "--specialist", "ocr-2-3-4", "--name", "e",
                 "--method", "soft"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "note: the OOF of ocr-2-3-4 predicts clean train pages" in out.out  # the members' OOF is test-like
    members = pd.read_csv(work / "ensembles" / "e" / "members.csv")
    spec = members[members["kind"] == "specialist"].iloc[0]
    assert spec["oof_macro_f1"] > spec["oof_macro_f1_before"] and bool(spec["chosen"])
    # unreadable test rows keep the ensemble's prediction; readable ones the ensemble puts in the group follow
    # the (right) OCR titles
    cols = [f"p_{c}" for c in range(6)]
    ens = pd.read_csv(work / "ensembles" / "e" / "test_probs.csv")[cols].to_numpy().argmax(1)
    member = pd.read_csv(work / "runs" / "member" / "test_probs.csv")[cols].to_numpy().argmax(1)
    np.testing.assert_array_equal(ens[:2], member[:2])
    in_group = np.isin(member, [2, 3, 4]) & (np.arange(12) >= 2)
    assert in_group.sum() >= 5 and (ens[in_group] == np.array([2, 3, 4] * 4)[in_group]).all()


def _with_testlike(table: pd.DataFrame) -> pd.DataFrame:
    """Test-like copies of the train rows: every third one unreadable, a few read in the wrong pose."""
    tl = table[table["split"] == "train"].copy().reset_index(drop=True)
    tl["split"], tl["true_orientation"], tl["true_mirrored"] = "testlike", 90, False
    tl["orientation"] = np.where(np.arange(len(tl)) % 5 == 0, 0, 90)  # 1 in 5 read in the wrong pose
    dark = np.arange(len(tl)) % 3 == 0
    tl.loc[dark, ["title", "text"]], tl.loc[dark, "n_chars"] = "", 0
    return pd.concat([table, tl], ignore_index=True)


@pytest.mark.slow  # a few seconds
def test_expert_oof_is_predicted_on_the_testlike_copies_with_the_clean_figure_beside(tmp_path, capsys):
    from dl_cls.artifacts.runs import load_run
    from dl_cls.data.contract import load_data
    from dl_cls.ocr.rundir import build_expert_run, describe

    data, work, table = _project(tmp_path)
    dd = load_data(data, None)
    info = {"label_fixes": None, "ocr_dir": "x", "settings": {}, "stats": {"cpu_seconds_per_image": 1.5, "read": 90}}
    out = work / "runs" / "ocr-2-3-4"
    summary = build_expert_run(out, _with_testlike(table), dd, work, [2, 3, 4], "none", info)
    assert summary["oof_on"] == "testlike" and summary["oof_rows"] == 20  # 30 copies, 10 unreadable
    tl, clean = summary["testlike"], summary["clean"]
    assert tl["orientation_right"] == 0.8 and clean["orientation_right"] == 1.0
    assert tl["readable"] == pytest.approx(20 / 30, abs=1e-3) and clean["readable"] == pytest.approx(29 / 30, abs=1e-3)
    assert tl["f1"] == 1.0 and tl["f1_all_rows"] < 1.0 and summary["cpu_seconds_per_page"] == 1.5
    assert tl["f1_sd"] == 0.0  # every readable copy right: no draw of them scores otherwise
    run = load_run(out)
    assert run.config.oof_pages == "testlike" and len(run.oof) == 20
    assert "tr0023.jpg" not in set(run.oof["ID"])  # an unreadable copy: no OOF row
    text = describe(summary, out)
    assert "testlike" in text and "clean" in text and "80%" in text and "1.0000 (0.000)" in text
    assert main(["ensemble", "member", "--work", str(work), "--specialist", "ocr-2-3-4", "--name", "e"]) == 0
    assert "predicts clean train pages" not in capsys.readouterr().out  # test-like OOF beside test-like members


@pytest.mark.slow  # a few seconds
def test_full_class_ocr_member_covers_every_row_and_is_discovered_as_a_member(tmp_path):
    from dl_cls.artifacts.runs import load_run
    from dl_cls.data.contract import load_data
    from dl_cls.ensemble.discover import discover
    from dl_cls.ocr.cli import parse_classes
    from dl_cls.ocr.rundir import build_expert_run

    data, work, table = _project(tmp_path)
    names = {0: "ZULU", 1: "YANKEE", 5: "XRAY"}
    train = pd.read_csv(data / "train.csv")
    extra = [dict(ID=i, split="train", title=names[t], text="body", n_chars=9, orientation=0, mirrored=False,
                  skew_deg=0.0, mean_conf=90.0) for i, t in zip(train["ID"], train["target"]) if t in names]
    table = pd.concat([table, pd.DataFrame(extra)], ignore_index=True)
    dd = load_data(data, None)
    classes = parse_classes("all", dd.num_classes)
    assert classes == list(range(6))
    info = {"label_fixes": None, "ocr_dir": "x", "settings": {}, "stats": {}}
    summary = build_expert_run(work / "runs" / "ocr-all", _with_testlike(table), dd, work, classes, "none", info)
    assert summary["member"]
    run = load_run(work / "runs" / "ocr-all")
    assert not run.is_subset and len(run.oof) == len(train)  # every train ID: a member's OOF covers them all
    unreadable = run.oof.set_index("ID").loc["tr0000.jpg", [f"p_{c}" for c in range(6)]]
    np.testing.assert_allclose(unreadable.to_numpy(float), 1 / 6, atol=1e-6)  # no text on its copy: uniform, as on the test
    found = discover(work, data)
    assert "ocr-all" in [r.name for r in found.members], found.table.to_string()


def test_test_from_reads_only_what_the_ensemble_puts_in_the_group(tmp_path):
    from dl_cls.artifacts.runs import load_run
    from dl_cls.data.contract import load_data
    from dl_cls.ocr.cli import group_test_ids
    from dl_cls.ocr.rundir import build_expert_run

    data, work, table = _project(tmp_path, no_text_test=())
    dd = load_data(data, None)
    member = pd.read_csv(work / "runs" / "member" / "test_probs.csv")
    top = member[[f"p_{c}" for c in range(6)]].to_numpy().argmax(1)
    picked = group_test_ids("member", work, dd, [2, 3, 4])
    assert picked == [i for i, t in zip(member["ID"], top) if t in (2, 3, 4)] and 0 < len(picked) < 12
    read = table[(table["split"] == "train") | table["ID"].isin(picked)]
    info = {"label_fixes": None, "ocr_dir": "x", "settings": {}, "stats": {}}
    with pytest.raises(DlClsError, match="lacks 4 test images"):  # without --test-from a missing test row is an error
        build_expert_run(work / "runs" / "x", read, dd, work, [2, 3, 4], "none", info)
    build_expert_run(work / "runs" / "o", read, dd, work, [2, 3, 4], "none", {**info, "test_from": "member"})
    probs = load_run(work / "runs" / "o").test.set_index("ID")
    unread = [i for i in dd.test_ids if i not in picked]
    np.testing.assert_allclose(probs.loc[unread].to_numpy(), 1 / 3, atol=1e-6)  # not read: no prediction
    assert (probs.loc[picked].to_numpy().max(1) > 0.5).all()  # read: the titles decide
    with pytest.raises(DlClsError, match="class-subset run"):
        group_test_ids("o", work, dd, [2, 3, 4])


def test_expert_refuses_an_existing_run_dir(tmp_path):
    data, work, table = _project(tmp_path)
    (work / "runs" / "ocr-2-3-4").mkdir(parents=True)
    code = main(["ocr", "--data", str(data), "--work", str(work), "--classes", "2,3,4", "--label-fixes", "none"])
    assert code == 2


# ------------------------------------------------------------------------------------------ with tesseract
@pytest.mark.slow
def test_orientation_recovered_on_known_turns_and_mirrors():
    """The plumbing of the orientation model's pick (its accuracy: tests/test_orient_model.py, bench/ocr_speed.py):
    a sure pick is the one pose read (one engine call); an unsure one leaves its likeliest poses to the OCR."""
    engine = Counting(_tesseract_or_skip())
    probe = np.arange(6).reshape(2, 3)
    rng = np.random.default_rng(0)
    page = render(4, SIZE, np.random.default_rng(104))
    for turn in (0, 90, 180, 270):
        for mirrored in (False, True):
            seen = rotate_any(orient(orient(page, 0, mirrored), turn, False), float(rng.uniform(-6, 6)))
            fix = next(lab for lab in LABELS if _undoes(probe, turn, mirrored, *lab))
            engine.calls = 0
            row = read_document(seen, engine, ReadSettings(), orienter=Oracle(fix))
            assert (row["orientation"], row["mirrored"]) == fix and engine.calls == 1
    # unsure between the right pose and its mirror image: both poses are read whole; the row is the pick's reading
    # and the right pose's is kept beside it, the one that reads; by OCR confidence (reader v4) the right one wins
    fix, mirror = (0, False), (0, True)
    engine.calls = 0
    unsure = Oracle(mirror, {mirror: 0.5, fix: 0.45})
    row = read_document(page, engine, ReadSettings(orient_sure=0.9), orienter=unsure)
    assert (row["orientation"], row["mirrored"]) == mirror and engine.calls == 2
    assert [(a["orientation"], a["mirrored"]) for a in row["alts"]] == [fix]
    assert row["alts"][0]["n_chars"] > row["n_chars"]
    row = read_document(page, engine, ReadSettings(orient_sure=0.9, choose="ocr"), orienter=unsure)
    assert (row["orientation"], row["mirrored"]) == fix and row["alts"] == []


def test_the_title_reading_reads_the_title_band_alone_upscaled(tmp_path):
    """--reread title: one engine call on the top title_frac of the page at its upscale; every word it reads is the
    row's title and text. The setting enters the cache key only when set, so the caches of the readings before it
    hold."""
    from dl_cls.ocr.table import settings_dir

    class Shapes(FakeEngine):
        def __init__(self):
            super().__init__()
            self.shapes = []

        def read(self, image, psm, timeout=None):
            self.shapes.append(image.shape)
            return OcrText(["입퇴원", "확인서"], [90.0, 90.0], [(1, 1, 1), (1, 1, 1)], [400.0, 420.0])

    page = render(3, 400, np.random.default_rng(0))
    whole, band = Shapes(), Shapes()
    row = read_document(page, whole, ReadSettings(), orienter=Oracle((0, False)))
    assert row["title"] == "" and row["text"] == "입퇴원 확인서"  # boxes below the whole page's title band
    row = read_document(page, band, ReadSettings(title_only=True, upscale=1.5), orienter=Oracle((0, False)))
    (h_whole, w_whole), (h_band, w_band) = whole.shapes[0][:2], band.shapes[0][:2]
    assert len(band.shapes) == 1 and w_band == pytest.approx(1.5 * w_whole, abs=2)
    assert h_band == pytest.approx(0.3 * 1.5 * h_whole, abs=2)
    assert row["title"] == row["text"] == "입퇴원 확인서" and row["n_chars"] == 6

    assert "title_only" not in ReadSettings().key() and ReadSettings(title_only=True).key()["title_only"]
    engine = FakeEngine()
    title_dir = settings_dir(tmp_path, engine, ReadSettings(title_only=True))
    assert title_dir != settings_dir(tmp_path, engine, ReadSettings())


def _undoes(probe, turn, mirrored, orientation, mirror_fix) -> bool:
    fixed = orient(orient(orient(probe, 0, mirrored), turn, False), orientation, mirror_fix)
    return fixed.shape == probe.shape and bool((fixed == probe).all())


class Oracle:
    """An orientation model that says `label` (probability 1), or the given probabilities."""

    labels = LABELS

    def __init__(self, label, probs: dict | None = None):
        self.probs = np.array([(probs or {label: 1.0}).get(lab, 0.0) for lab in LABELS])

    def predict(self, pages, tta=False):
        return np.tile(self.probs / self.probs.sum(), (len(pages), 1))


class Counting:
    """An engine that counts its reads."""

    def __init__(self, engine):
        self.engine, self.calls = engine, 0

    def read(self, image, psm, timeout=None):
        self.calls += 1
        return self.engine.read(image, psm, timeout)


@pytest.mark.slow
def test_tesseract_reads_the_sample_titles():
    """At the right pose, the Korean titles of the family are read (sure pick: the upright pose). At x1.5: the
    default x1 reads ~83% of the family's clean titles (docs/benchmarks.md, issue 23), one of these four not."""
    engine = _tesseract_or_skip()
    for target in GROUP:
        row = read_document(render(target, SIZE, np.random.default_rng(target)), engine, ReadSettings(upscale=1.5),
                            orienter=Oracle((0, False)))
        assert (row["orientation"], row["mirrored"]) == (0, False)
        assert any(fuzzy_in(w, title_key(row["title"] + row["text"]), 1) for w in TITLE_WORDS[target]), row


# ------------------------------------------------------------------------------------------ --write-normalised
def _quadrant_page(h=60, w=40) -> np.ndarray:
    """An upright portrait page: four flat quadrants of distinct colours, so any turn or flip shows."""
    page = np.zeros((h, w, 3), np.uint8)
    page[: h // 2, : w // 2] = (220, 30, 30)
    page[: h // 2, w // 2 :] = (30, 220, 30)
    page[h // 2 :, : w // 2] = (30, 30, 220)
    page[h // 2 :, w // 2 :] = (230, 230, 230)
    return page


def _normalise_project(tmp_path):
    """A data dir whose test image te0000 is the page mirrored then turned 90 deg clockwise; te0001 is not read."""
    from dl_cls.core.io import write_image
    from dl_cls.data.contract import load_data

    data = make_data(tmp_path / "data", [0, 1] * 3, 2, 2)
    page = _quadrant_page()
    write_image(data / "test" / "te0000.jpg", orient(orient(page, 0, True), 90, False))
    # the OCR table's row for it, as read_document writes one: the correction that undoes what was done
    table = pd.DataFrame([dict(ID="te0000.jpg", split="test", orientation=270, mirrored=True, skew_deg=0.0,
                               n_chars=9, mean_conf=90.0, title="T", text="T")])
    return load_data(data, None), page, table


def test_write_normalised_undoes_a_turn_and_mirror(tmp_path):
    from dl_cls.core.io import MADE_MARKER, read_image
    from dl_cls.ocr.normalised import write_normalised

    dd, page, table = _normalise_project(tmp_path)
    out = tmp_path / "norm"
    assert write_normalised(out, table, dd) == {"normalised": 1, "copied": 1}
    fixed = read_image(out / "te0000.jpg")
    assert fixed.shape == page.shape  # portrait again
    assert np.abs(fixed.astype(int) - page).mean() < 8  # the same quadrants in place (JPEG twice: not exact)
    assert (out / "te0001.jpg").read_bytes() == (dd.test_dir / "te0001.jpg").read_bytes()  # unread: a copy
    assert sorted(p.name for p in out.iterdir()) == [MADE_MARKER, "te0000.jpg", "te0001.jpg"]
    write_normalised(out, table.assign(mirrored="False"), dd)  # our own dir is replaced (a CSV's text flag too)
    assert np.abs(read_image(out / "te0000.jpg").astype(int) - page[:, ::-1]).mean() < 8


def test_write_normalised_refuses_a_dir_it_did_not_make(tmp_path):
    from dl_cls.ocr.normalised import write_normalised

    dd, _, table = _normalise_project(tmp_path)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(DlClsError, match="not made by dl_cls"):
        write_normalised(foreign, table, dd)
    assert (foreign / "notes.txt").read_text() == "keep" and len(list(foreign.iterdir())) == 1
    ours = tmp_path / "ours"
    write_normalised(ours, table, dd)
    (ours / "extra.jpg").write_bytes(b"x")  # something of the user's inside a dir we made: refused too
    with pytest.raises(DlClsError, match="did not write"):
        write_normalised(ours, table, dd)
    assert (ours / "extra.jpg").exists()


def test_ocr_cli_writes_normalised_dir_and_refuses_a_foreign_one_before_reading(tmp_path, monkeypatch, capsys):
    import dl_cls.ocr.cli as ocr_cli

    engine = FakeEngine()
    monkeypatch.setattr(ocr_cli, "make_engine", lambda *a, **k: engine)
    dd, _, _ = _normalise_project(tmp_path)
    args = ["ocr", "--data", str(dd.root), "--work", str(tmp_path / "work"), "--label-fixes", "none",
            "--workers", "1", "--no-progress", "--orientation", "ocr", "--write-normalised"]
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "a.txt").write_text("x")
    assert main(args + [str(foreign)]) == 2 and engine.calls == 0  # refused before any reading
    assert "not made by dl_cls" in capsys.readouterr().err
    assert main(args + [str(tmp_path / "norm")]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "norm").glob("*.jpg")) == dd.test_ids
    out = capsys.readouterr().out
    assert "2 test images normalised, 0 copied" in out
    cost = next(line for line in out.splitlines() if line.startswith("CPU seconds a page by kind"))
    assert "train " in cost and "test " in cost and cost.endswith("no page over 5 s")  # the pass's cost, by kind


def test_too_few_pages_for_the_orientation_models_folds_says_what_to_do(tmp_path, monkeypatch, capsys):
    import dl_cls.ocr.cli as ocr_cli

    monkeypatch.setattr(ocr_cli, "make_engine", lambda *a, **k: FakeEngine())
    dd, _, _ = _normalise_project(tmp_path)  # 3 pages a class: no 5 stratified folds
    assert main(["ocr", "--data", str(dd.root), "--work", str(tmp_path / "work"), "--label-fixes", "none",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "orientation model: cannot make 5 stratified folds" in err and "--orientation ocr" in err
    assert len(err.strip().splitlines()) == 1
