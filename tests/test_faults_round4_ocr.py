"""Fault injection, part four (issue 31): the OCR stage and the text runs it writes. A test shrink that is not a
number in [0, 1], a damaged OCR cache entry, a readability ratio from a handful of pages, a read-only WORK, and the
rough edges found with them. Each case is a promise listed in docs/reliability.md ("Fourth round"); each failed on
the code before it."""
from __future__ import annotations

import errno
import io
import json
import os
import time
from pathlib import Path

import pytest
import yaml
from builders import make_project
from test_faults_state import _err_line
from test_ocr import FakeEngine, _jobs

from dl_cls.cli import main
from dl_cls.core.errors import DlClsError
from dl_cls.ocr.read import ReadSettings
from dl_cls.ocr.table import ReadContext, cached_row, entry_path, read_all


@pytest.fixture
def fake_ocr(monkeypatch):
    import dl_cls.ocr.cli as ocr_cli

    engine = FakeEngine()
    monkeypatch.setattr(ocr_cli, "make_engine", lambda *a, **k: engine)
    return engine


def _ocr_args(p, *extra) -> list[str]:
    return ["ocr", "--data", str(p["data"]), "--work", str(p["work"]), "--label-fixes", "none", "--no-progress",
            "--orientation", "ocr", "--no-expert", *extra]


# ---------------------------------------------------------------------------------------------- e: test_shrink
@pytest.mark.parametrize("value, shown", [("-0.5", "-0.5"), ("NaN", "NaN"), ("1.5", "1.5"), ('"0.5"', '"0.5"'),
                                          ("null", "null"), ("true", "true")])
def test_a_text_runs_test_shrink_that_is_not_a_number_in_0_1_is_refused_naming_the_file(tmp_path, capsys, value,
                                                                                           shown):
    """-0.5 turned the run's test predictions upside down (F1 0.28 -> 0.00), NaN crashed with a traceback, 1.5,
    text or null were used with no note."""
    p = make_project(tmp_path)
    spec = p["work"] / "runs" / "spec"
    config = yaml.safe_load((spec / "config.yaml").read_text())
    (spec / "config.yaml").write_text(yaml.safe_dump({**config, "kind": "ocr"}))
    (spec / "summary.json").write_text(f'{{"complete": true, "test_shrink": {value}}}')
    assert main(["ensemble", "a", "b", "--specialist", "spec", "--work", str(p["work"]), "--name", "e",
                 "--method", "soft"]) == 2
    line = _err_line(capsys)
    assert f"{spec / 'summary.json'}: test_shrink is {shown}, not a number in [0, 1]" in line, line
    assert not (p["work"] / "ensembles" / "e").exists()


# ---------------------------------------------------------------------------------------------- f: OCR cache entry
@pytest.mark.parametrize("damage", [
    lambda row: {},  # valid JSON, no columns: was an empty row in ocr.csv
    lambda row: {**row, "n_chars": "abc"},  # was a TypeError traceback further on
    lambda row: {**row, "mean_conf": float("nan")},
    lambda row: {**row, "mirrored": "no"},
    lambda row: {k: v for k, v in row.items() if k != "text"},
    lambda row: {**row, "ID": "another.png"},
    lambda row: {**row, "pose_p": "abc"},  # the pose model's probability of its pick: optional, but a probability
    lambda row: {**row, "pose_p": 1.5},
])
def test_a_damaged_ocr_cache_entry_is_read_again(tmp_path, damage):
    jobs, root, engine = _jobs(tmp_path), tmp_path / "cache", FakeEngine()
    ctx = ReadContext(engine, ReadSettings(upscale=1.0), 30, str(root))
    first, _ = read_all(jobs, ctx, workers=1, progress=False)
    path = entry_path(root, jobs[1])
    entry = json.loads(path.read_text())
    path.write_text(json.dumps({**entry, "row": damage(entry["row"])}))
    assert cached_row(root, jobs[1]) is None and cached_row(root, jobs[0]) is not None
    again, stats = read_all(jobs, ctx, workers=1, progress=False)
    assert stats["cached"] == 2 and stats["read"] == 1
    assert again.equals(first)  # the page read again: nothing lost, nothing empty
    assert cached_row(root, jobs[1]) is not None  # and its entry mended


# ---------------------------------------------------------------------------------------------- g: readability
def _figures(test_pages: int, tl_pages: int, test_rate: float, tl_rate: float) -> dict:
    rest = {"letters": 80.0, "readable_title": 0.5}
    return {"testlike": {"pages": tl_pages, "title_keyword": tl_rate, "rule_fired": tl_rate, "word_conf": 60.0, **rest},
            "test": {"pages": test_pages, "title_keyword": test_rate, "rule_fired": test_rate, "word_conf": 55.0,
                     **rest}}


@pytest.mark.parametrize("test_pages, tl_pages, tl_rate", [(1, 100, 0.5), (8, 100, 0.5), (100, 20, 0.5),
                                                           (60, 60, 0.05)])
def test_readability_from_a_handful_of_pages_keeps_the_shrink_at_1_and_says_why(test_pages, tl_pages, tl_rate):
    """8 test pages set the shrink to x0.00 and switched the text member off (ensemble 0.10 vs 0.29 without it)."""
    from dl_cls.ocr.readability import describe, shrink_factor, worse_line

    few = _figures(test_pages, tl_pages, 0.0, tl_rate)
    assert shrink_factor(few) == 1.0 and worse_line(few) is None
    said = [ln for ln in describe(few) if "too few pages" in ln]
    assert len(said) == 1 and "the test shrink stays x1.00" in said[0] and f"{test_pages} test pages" in said[0]
    enough = _figures(100, 100, 0.1, 0.5)  # as many pages as the rule needs: the measured gap is applied
    assert shrink_factor(enough) == pytest.approx(0.2) and "too few" not in " ".join(describe(enough))


# ---------------------------------------------------------------------------------------------- h: read-only WORK
@pytest.fixture
def read_only(monkeypatch):
    """read_only(root): every write under root fails as on a filesystem mounted read-only (EROFS, errno 30);
    reads, and mkdir of a dir that exists (EEXIST first, as Linux answers), behave as usual."""
    roots: list[str] = []
    real_mkdir, real_open, real_io_open = os.mkdir, os.open, io.open

    def under(path) -> bool:
        return isinstance(path, (str, os.PathLike)) and any(os.path.abspath(path).startswith(r) for r in roots)

    def refuse(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

    def mkdir(path, *a, **k):
        if under(path) and not os.path.exists(path):
            refuse(path)
        return real_mkdir(path, *a, **k)

    def os_open(path, flags, *a, **k):
        if under(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            refuse(path)
        return real_open(path, flags, *a, **k)

    def io_open(file, mode="r", *a, **k):
        if under(file) and set(mode) & set("wax+"):
            refuse(file)
        return real_io_open(file, mode, *a, **k)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr("builtins.open", io_open)
    return lambda root: roots.append(os.path.abspath(root))


@pytest.mark.parametrize("stage", ["folds", "ensemble", "ocr"])
def test_a_read_only_work_is_one_line_in_every_stage_that_writes(tmp_path, read_only, fake_ocr, capsys, stage):
    """EROFS was an OSError traceback: only PermissionError was caught, though the promise was one line."""
    p = make_project(tmp_path)
    args = {"folds": ["folds", "--data", str(p["data"]), "--work", str(p["work"]), "--n-folds", "3",
                      "--label-fixes", "none"],
            "ensemble": ["ensemble", "a", "b", "--work", str(p["work"]), "--name", "e", "--method", "soft"],
            "ocr": _ocr_args(p, "--workers", "1")}[stage]
    read_only(p["work"])
    assert main(args) == 2
    line = _err_line(capsys)
    assert f"{p['work']}" in line and "Read-only file system" in line and "writable" in line, line
    assert ".tmp" not in line  # the file it was writing, not its temp name


# ---------------------------------------------------------------------------------------------- rough edges
def test_ocr_time_per_page_is_cpu_time_and_a_cached_run_says_so(tmp_path):
    """'CPU seconds per page' was wall time per image (other workers' load counted), and a run that read nothing
    repeated the old figure."""
    from dl_cls.ocr.rundir import _time_line

    class Waiting(FakeEngine):  # waits as an engine does for a busy machine: wall time, no CPU time
        def read(self, image, psm, timeout=None):
            time.sleep(0.2)
            return super().read(image, psm, timeout)

    jobs, root = _jobs(tmp_path, 2), tmp_path / "cache"
    ctx = ReadContext(Waiting(), ReadSettings(upscale=1.0), 30, str(root))
    _, stats = read_all(jobs, ctx, workers=1, progress=False)
    assert stats["wall_seconds_per_image"] >= 0.2 > stats["cpu_seconds_per_image"] >= 0
    assert stats["cpu_by_kind"]["train"]["pages"] == 2  # the two train pages read, by kind (cost_line)
    said = _time_line({"ocr": stats, "cpu_seconds_per_page": stats["cpu_seconds_per_image"]})
    assert said.startswith("CPU seconds per page") and "over 2 pages read" in said
    _, stats = read_all(jobs, ctx, workers=1, progress=False)
    assert stats["cpu_seconds_per_image"] is None and stats["wall_seconds_per_image"] is None
    assert _time_line({"ocr": stats, "cpu_seconds_per_page": None}).startswith("all 2 pages from the cache")


def test_ocr_warns_before_reading_when_the_pages_are_tiny(tmp_path, capsys):
    """128 px pages were read whole before the expert said only one class was readable."""
    said_before_reading = []

    class Noting(FakeEngine):
        def read(self, image, psm, timeout=None):
            if not said_before_reading:
                said_before_reading.append(capsys.readouterr().out)
            return super().read(image, psm, timeout)

    jobs = _jobs(tmp_path, 3)  # 96 px pages
    read_all(jobs, ReadContext(Noting(), ReadSettings(upscale=1.0), 30, str(tmp_path / "c")), 1, progress=False)
    assert "warning: 3 of the 3 images to read are under 300 px" in said_before_reading[0]
    from dl_cls.ocr.table import tiny_pages_line

    assert tiny_pages_line([(600, 800, "RGB")] * 3 + [(90, 120, "RGB")]) is None  # a few small ones: no warning


@pytest.mark.parametrize("extra, says", [
    (["--workers", "0"], "argument --workers: expected a whole number of 1 or more, got '0'"),
    (["--workers", "-2"], "argument --workers: expected a whole number of 1 or more, got '-2'"),
    (["--title-frac", "5"], "argument --title-frac: expected a number above 0 and at most 1, got '5'"),
    (["--title-frac", "-1"], "argument --title-frac: expected a number above 0 and at most 1, got '-1'"),
])
def test_ocr_refuses_workers_and_title_frac_that_read_nothing(tmp_path, fake_ocr, capsys, extra, says):
    p = make_project(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(_ocr_args(p, *extra))
    assert stop.value.code == 2 and says in _err_line(capsys) and fake_ocr.calls == 0


@pytest.mark.parametrize("command, extra, hint", [
    ("folds", [], "re-run the same command to resume"),
    ("train", ["--name", "r"], "re-run the same command to resume"),
    ("train", [], "resume with dl-cls train --resume RUN"),
])
@pytest.mark.parametrize("stop, code, said", [(KeyboardInterrupt, 130, "interrupted (Ctrl-C)"),
                                              ("Terminated", 143, "terminated (SIGTERM)")])
def test_ctrl_c_says_how_to_resume(monkeypatch, capsys, command, extra, hint, stop, code, said):
    """Ctrl-C said only 'interrupted'; and train without --name would start a new run if run again."""
    import importlib

    from dl_cls.cli import COMMANDS
    from dl_cls.core.procs import Terminated

    stop = Terminated if stop == "Terminated" else stop

    def stopped(args):
        raise stop()

    monkeypatch.setattr(importlib.import_module(COMMANDS[command][0]), "run", stopped)
    monkeypatch.setattr("dl_cls.cli.on_sigterm_interrupt", lambda: None)  # the test process keeps its SIGTERM
    assert main([command, *extra]) == code
    line = _err_line(capsys)
    assert line.startswith(f"dl-cls {command}: {said}; {hint}"), line


def test_a_garbage_model_file_is_named_without_torchs_message_cut_mid_word(tmp_path):
    from dl_cls.artifacts.runs import RunConfig, write_run_config
    from dl_cls.pose.model import KIND, WEIGHTS, load_orientation

    write_run_config(tmp_path, RunConfig(data_dir="data", kind=KIND, recipe={"model": "test_byobnet", "img_size": 32}))
    (tmp_path / WEIGHTS).write_bytes(b"not a model, " * 40)
    with pytest.raises(DlClsError) as err:
        load_orientation(tmp_path)
    said = str(err.value)
    assert said.startswith(f"{tmp_path / WEIGHTS}: not a checkpoint dl_cls can read (UnpicklingError)"), said
    assert f"delete {tmp_path}" in said and "\n" not in said


def test_shipped_keywords_of_a_class_named_otherwise_are_skipped_and_said():
    """The shipped keywords are numbered for the competition; a renumbered data dir had them fire the wrong class."""
    from dl_cls.data.sample import CLASS_NAMES
    from dl_cls.ocr.expert import load_keyword_file

    said: list[str] = []
    kept = load_keyword_file("default", [3, 4, 7, 14], CLASS_NAMES, log=said.append)
    assert set(kept["class"]) == {3, 4, 7, 14} and not said  # the competition's names: every keyword kept
    renamed = list(CLASS_NAMES)
    renamed[4], renamed[14] = renamed[14], renamed[4]
    kept = load_keyword_file("default", [3, 4, 7, 14], renamed, log=said.append)
    assert set(kept["class"]) == {3, 7} and len(said) == 1
    assert "4 keyword(s) skipped" in said[0] and "4 is 'statement_of_opinion' in meta.csv, 'diagnosis'" in said[0]


def test_a_damaged_train_checkpoint_quotes_torch_cut_at_a_word_boundary(tmp_path, monkeypatch):
    """The trainer's checkpoint reader cut torch's message at 120 characters, mid-word."""
    import torch

    from dl_cls.train.loop import load_checkpoint

    said = "PytorchStreamReader failed reading zip archive: failed finding central directory " * 3

    def broken(*args, **kwargs):
        raise RuntimeError(said)

    monkeypatch.setattr(torch, "load", broken)
    with pytest.raises(DlClsError) as err:
        load_checkpoint(tmp_path / "last.pt", "cpu", "delete it and resume")
    quoted = str(err.value).split("(RuntimeError: ", 1)[1].split("); ", 1)[0]
    assert quoted.endswith(" ...") and len(quoted) <= 125
    assert quoted[:-4].split(" ")[-1] in set(said.split())  # a whole word, not "centr"
    assert str(err.value).endswith("delete it and resume")
