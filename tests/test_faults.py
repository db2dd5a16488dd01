"""Fault injection: kill -9 and Ctrl-C at random points, two writers at once, a changed split, read-only outputs,
corrupt files. Each case is a promise listed in docs/reliability.md; resumes are compared byte for byte with an
uninterrupted run."""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dl_cls.cli import main
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import read_image
from dl_cls.core.lock import Lock

REPO = Path(__file__).resolve().parent.parent
DLCLS = [sys.executable, "-m", "dl_cls.cli"]
# tiny at 48 px, fold 0 only: a few seconds per epoch on 2 CPU cores
FAST = ["img_size=48", "batch_size=8", "epochs=3", "n_folds=2", "tta_rotations=[0]", "tta_hflip=false",
        "patience=10"]


def _env() -> dict:
    return {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def _default_sigint() -> None:
    # a test run started in the background (nohup, `&` in a script) ignores SIGINT, the child inherits that and
    # Python then installs no KeyboardInterrupt handler: give the child the disposition a terminal user's has
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(DLCLS + args, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_sigint)


def _cli(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(DLCLS + args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"process ended (rc {proc.returncode}) first: {proc.stderr.read()[-2000:]}")
        if time.monotonic() > end:
            proc.kill()
            raise AssertionError("timed out waiting for the process")
        time.sleep(0.05)


def _interrupt(proc: subprocess.Popen, sig: int) -> None:
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode != 0  # it did not finish on its own


def _snapshot(root: Path, patterns=("*.csv", "*.jpg", "*.png")) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for pat in patterns for p in sorted(root.rglob(pat))}


def _train_args(data: Path, work: Path, *extra: str) -> list[str]:
    return ["train", "--model", "tiny", "--data", str(data), "--work", str(work), "--cpu", *FAST, *extra]


# ---------------------------------------------------------------------------------------------- augment
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_augment_killed_at_a_random_point_resumes_to_identical_bytes(sample_dir, tmp_path, sig):
    args = ["augment", "--data", str(sample_dir), "--work", str(tmp_path), "--scale", "3", "--size", "64",
            "--workers", "1"]
    ref = tmp_path / "ref"
    assert _cli(args + ["--out", str(ref)], tmp_path).returncode == 0
    out = tmp_path / "cut"
    proc = _start(args + ["--out", str(out)], tmp_path)
    n_cut = random.Random(sig).randint(5, 60)  # stop after a seeded, random number of finished images
    _wait_for(lambda: len(list((out / "images").glob("*.jpg"))) >= n_cut if (out / "images").is_dir() else False, proc)
    _interrupt(proc, sig)
    assert not (out / "manifest.csv").exists()
    done = _cli(args + ["--out", str(out)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "resuming" in done.stdout
    assert _snapshot(out / "images") == _snapshot(ref / "images")
    assert (out / "manifest.csv").read_bytes() == (ref / "manifest.csv").read_bytes()


@pytest.mark.slow
def test_augment_remakes_a_truncated_output_and_refuses_changed_sources(sample_copy, tmp_path):
    args = ["augment", "--data", str(sample_copy), "--work", str(tmp_path), "--scale", "2", "--size", "48",
            "--workers", "1", "--out", str(tmp_path / "a")]
    assert main(args) == 0
    images = sorted((tmp_path / "a" / "images").glob("*.jpg"))
    good = images[3].read_bytes()
    images[3].write_bytes(good[: len(good) // 2])  # a damaged copy, e.g. a disk that filled up during a sync
    assert main(args) == 0
    assert images[3].read_bytes() == good
    train_img = next((sample_copy / "train").iterdir())
    train_img.write_bytes(images[0].read_bytes())  # the user replaced a train image
    before = _snapshot(tmp_path / "a")
    assert main(args) == 2  # the set is stale: refused, never mixed
    assert _snapshot(tmp_path / "a") == before


# ---------------------------------------------------------------------------------------------- train
@pytest.fixture(scope="module")
def reference_run(sample_dir, tmp_path_factory):
    """An uninterrupted --folds 0 run: the bytes every interrupted-and-resumed run must reproduce."""
    work = tmp_path_factory.mktemp("ref")
    r = _cli(_train_args(sample_dir, work, "--folds", "0", "--name", "ref"), work)
    assert r.returncode == 0, r.stderr
    return work / "runs" / "ref"


def _copy_run(run: Path, work: Path) -> Path:
    """A copy of a finished run (and its folds.csv) in another WORK, as if it had been trained there."""
    dst = work / "runs" / run.name
    shutil.copytree(run, dst)
    shutil.copy(run.parent.parent / "folds.csv", work / "folds.csv")
    config = yaml.safe_load((dst / "config.yaml").read_text())
    (dst / "config.yaml").write_text(yaml.safe_dump({**config, "work_dir": str(work.resolve())}, sort_keys=False))
    return dst


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_train_killed_mid_fold_resumes_identically_and_trains_only_its_folds(sample_dir, tmp_path, reference_run, sig):
    proc = _start(_train_args(sample_dir, tmp_path, "--folds", "0", "--name", "kr"), tmp_path)
    run = tmp_path / "runs" / "kr"
    _wait_for(lambda: (run / "fold0" / "last.pt").exists(), proc)  # after the first epoch's checkpoint
    time.sleep(random.Random(int(sig)).uniform(0, 0.5))  # then a seeded random moment of the second epoch
    _interrupt(proc, sig)
    assert not (run / "oof.csv").exists()
    r = _cli(["train", "--resume", "kr", "--work", str(tmp_path), "--cpu"], tmp_path)
    assert r.returncode == 0, r.stderr
    for name in ("oof.csv", "test_probs.csv", "fold0/oof.csv", "fold0/test_probs.csv"):
        assert (run / name).read_bytes() == (reference_run / name).read_bytes(), name
    scores = ["epoch", "lr", "train_loss", "clean_f1", "testlike_f1"]  # the rest are timings
    pd.testing.assert_frame_equal(pd.read_csv(run / "fold0/metrics.csv")[scores],
                                  pd.read_csv(reference_run / "fold0/metrics.csv")[scores], check_exact=True)
    assert not (run / "fold1").exists()  # a resume never trains folds it was not asked for


@pytest.mark.slow
def test_a_second_writer_is_refused_and_a_dead_writers_lock_is_taken_over(sample_dir, tmp_path, reference_run):
    run = _copy_run(reference_run, tmp_path)
    (run / "fold1").mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from dl_cls.core.lock import Lock; "
                               "held = Lock(sys.argv[1], 'x').acquire(); print('held', flush=True); time.sleep(600)",
                               str(run / "fold1")], env=_env(), stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"  # another process is training fold 1 right now
    r = _cli(["train", "--resume", "ref", "--work", str(tmp_path), "--folds", "1", "--cpu"], tmp_path)
    assert r.returncode == 2 and f"is being written by pid {holder.pid}" in r.stderr
    assert list((run / "fold1").iterdir()) == [run / "fold1" / ".lock"]  # refused before any work
    holder.kill()  # the writer dies without cleaning up: its lock must not block forever
    holder.wait()
    with Lock(run / "fold1", "fold 1"):
        pass


@pytest.mark.slow
def test_resume_and_merge_refuse_another_split(sample_dir, tmp_path, reference_run):
    _copy_run(reference_run, tmp_path)
    assert main(["folds", "--data", str(sample_dir), "--work", str(tmp_path), "--force", "--seed", "7",
                 "--n-folds", "2"]) == 0
    r = _cli(["train", "--resume", "ref", "--work", str(tmp_path), "--folds", "1", "--cpu"], tmp_path)
    assert r.returncode == 2 and "is not the split" in r.stderr
    assert not (tmp_path / "runs" / "ref" / "fold1").exists()
    assert main(["merge-folds", "ref", "--work", str(tmp_path)]) == 2


@pytest.mark.slow
def test_split_folds_recipe_as_written_in_the_readme(sample_dir, tmp_path):
    """`--folds 0 --name ref` then `--folds 1 --name ref` (same recipe) then merge-folds: the whole run."""
    for fold in ("0", "1"):
        r = _cli(_train_args(sample_dir, tmp_path, "--folds", fold, "--name", "ref", "epochs=1"), tmp_path)
        assert r.returncode == 0, r.stderr
    other = _cli(_train_args(sample_dir, tmp_path, "--folds", "1", "--name", "ref", "epochs=2"), tmp_path)
    assert other.returncode == 2 and "another recipe" in other.stderr
    assert main(["merge-folds", "ref", "--work", str(tmp_path)]) == 0
    oof = pd.read_csv(tmp_path / "runs" / "ref" / "oof.csv")
    assert sorted(oof["fold"].unique()) == [0, 1] and len(oof) == len(pd.read_csv(sample_dir / "train.csv"))


@pytest.mark.slow
def test_start_up_failure_leaves_no_run_dir_and_a_corrupt_checkpoint_is_one_line(sample_copy, tmp_path):
    broken = next((sample_copy / "train").iterdir())
    good = broken.read_bytes()
    broken.write_bytes(b"not an image")
    assert main(_train_args(sample_copy, tmp_path, "--folds", "0", "--name", "x")) == 2
    assert not (tmp_path / "runs" / "x").exists()  # the name stays free
    broken.write_bytes(good)
    fold0 = tmp_path / "runs" / "x" / "fold0"
    proc = _start(_train_args(sample_copy, tmp_path, "--folds", "0", "--name", "x"), tmp_path)
    _wait_for(lambda: (fold0 / "last.pt").exists(), proc)
    _interrupt(proc, signal.SIGKILL)
    (fold0 / "last.pt").write_bytes((fold0 / "last.pt").read_bytes()[:100])  # e.g. a copy cut short
    r = _cli(["train", "--resume", "x", "--work", str(tmp_path), "--cpu"], tmp_path)
    assert r.returncode == 2 and "not a readable checkpoint" in r.stderr and "Traceback" not in r.stderr


def test_run_names_stay_inside_work(sample_dir, tmp_path, capsys):
    assert main(_train_args(sample_dir, tmp_path, "--name", "../x")) == 2
    assert "one name, not a path" in capsys.readouterr().err
    assert not (tmp_path.parent / "x").exists()


# ---------------------------------------------------------------------------------------------- outputs
def test_read_only_output_dir_is_one_clear_line(sample_dir, tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root ignores modes: make the OS answer as it would to a user
        real_mkdir = Path.mkdir

        def denied(self, *a, **k):
            if ro in self.parents or self == ro:
                raise PermissionError(13, "Permission denied", str(self))
            return real_mkdir(self, *a, **k)

        monkeypatch.setattr(Path, "mkdir", denied)
    rc = main(["folds", "--data", str(sample_dir), "--work", str(ro / "work"), "--n-folds", "2", "--label-fixes",
               "none"])
    err = capsys.readouterr().err
    assert rc == 2 and "Permission denied" in err and str(ro / "work") in err and len(err.strip().splitlines()) == 1


def test_closed_pipe_is_not_a_traceback(sample_dir, tmp_path):
    r_fd, w_fd = os.pipe()
    os.close(r_fd)  # `dl-cls folds | head` after head has exited
    proc = subprocess.run(DLCLS + ["folds", "--data", str(sample_dir), "--work", str(tmp_path), "--n-folds", "2"],
                          env=_env(),
                          stdout=w_fd, stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(w_fd)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr
    assert (tmp_path / "folds.csv").is_file()


def test_transparent_png_reads_white_and_check_data_says_so(sample_copy, capsys):
    import cv2

    train = pd.read_csv(sample_copy / "train.csv", dtype=str)
    old = train["ID"].iloc[0]
    rgba = np.zeros((40, 30, 4), np.uint8)  # transparent pixels whose colour is black
    rgba[10:20, 5:25] = (0, 0, 0, 255)  # opaque black text
    new = Path(old).stem + ".png"
    cv2.imwrite(str(sample_copy / "train" / new), rgba)
    (sample_copy / "train" / old).unlink()
    train.loc[0, "ID"] = new
    train.to_csv(sample_copy / "train.csv", index=False)
    img = read_image(sample_copy / "train" / new)
    assert img[0, 0].tolist() == [255, 255, 255] and img[15, 10].tolist() == [0, 0, 0]
    assert main(["check-data", str(sample_copy)]) == 0
    assert "1 train image(s) have transparency" in capsys.readouterr().out


def test_same_stem_pair_and_float_targets_are_refused_by_check_data(sample_copy, capsys):
    train = pd.read_csv(sample_copy / "train.csv", dtype=str)
    first = sample_copy / "train" / train["ID"].iloc[0]
    twin = first.with_suffix(".png")
    twin.write_bytes(first.read_bytes())
    train = pd.concat([train, pd.DataFrame({"ID": [twin.name], "target": ["3.0"]})])
    train.to_csv(sample_copy / "train.csv", index=False)
    assert main(["check-data", str(sample_copy)]) != 0
    err = capsys.readouterr()
    text = err.out + err.err
    assert "share the name" in text and "'3.0' is not an integer" in text


def test_score_refuses_a_class_that_does_not_exist(sample_dir, tmp_path, capsys):
    labels = pd.read_csv(sample_dir / "test_labels.csv", dtype={"ID": str})
    sub = labels.copy()
    sub.loc[3, "target"] = 99
    sub.to_csv(tmp_path / "sub.csv", index=False)
    assert main(["score", str(tmp_path / "sub.csv"), "--labels", str(sample_dir / "test_labels.csv"),
                 "--data", str(sample_dir)]) == 2
    assert "line 5" in capsys.readouterr().err
    with pytest.raises(DlClsError):
        from dl_cls.report.score_cli import check_targets

        check_targets(sub, set(range(17)), "sub.csv", "meta")


# ---------------------------------------------------------------------------------------------- make passes DATA
def _takes_data(command: str) -> bool:
    import argparse
    import importlib

    from dl_cls.cli import COMMANDS

    parser = argparse.ArgumentParser()
    importlib.import_module(COMMANDS[command][0]).add_arguments(parser)
    return any("--data" in a.option_strings for a in parser._actions)


def test_every_make_target_passes_DATA_to_a_command_that_reads_data(tmp_path):
    """`make ensemble DATA=D` once ensembled another data dir's runs: every dl-cls call that takes --data gets it."""
    import re

    targets = re.findall(r"^([a-z-]+):.*## ", (REPO / "Makefile").read_text(), re.M)
    checked = []
    for target in targets:
        stamp = REPO / ".venv" / ".installed"  # -o: a dry run that neither installs nor apt-gets
        proc = subprocess.run(["make", "-n", "--no-print-directory", "-f", str(REPO / "Makefile"),
                               f"VENV={REPO / '.venv'}", f"STAMP={stamp}", "-o", str(stamp), "-o", "ocr-deps",
                               "DATA=/d/D", "WORK=/w/W", "RUN=r", "FILE=f", target],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)
        for line in proc.stdout.splitlines():
            found = re.search(r"(?:dl-cls|dl_cls\.cli) ([a-z-]+)", line)
            if found and "--list" not in line and _takes_data(found.group(1)):  # --list prints a preset
                checked.append(target)
                assert "--data /d/D" in line, f"make {target}: {line}"
    assert {"ensemble", "train", "augment", "ocr", "predict", "folds"} <= set(checked)


# ---------------------------------------------------------------------------------------------- a cut manifest
def test_a_cut_or_empty_manifest_is_refused_before_training_and_augment_mends_it(sample_dir, tmp_path, capsys):
    """A manifest.csv cut at a line boundary still parses: it once trained on 30 of 102 rows with exit 0."""
    aug = tmp_path / "aug"
    args = ["augment", "--data", str(sample_dir), "--work", str(tmp_path), "--scale", "2", "--size", "32",
            "--workers", "1", "--out", str(aug), "--no-progress"]
    assert main(args) == 0
    whole = (aug / "manifest.csv").read_bytes()
    lines = whole.splitlines(keepends=True)
    for cut in (b"".join(lines[:30]), b""):
        (aug / "manifest.csv").write_bytes(cut)
        capsys.readouterr()
        assert main(_train_args(sample_dir, tmp_path, "--aug", str(aug), "--name", "cut")) == 2
        err = capsys.readouterr().err
        assert f"has {max(0, len(cut.splitlines()) - 1)} rows but {len(lines) - 1} were written" in err, err
        assert "re-run the same `make augment`" in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / "runs" / "cut").exists()
    assert main(args) == 0  # the same command mends it: the images are there, the manifest is written whole
    assert (aug / "manifest.csv").read_bytes() == whole


# ---------------------------------------------------------------------------------------------- workers die with it
def _alive(pid: int) -> bool:
    """Running, not a zombie (a container's pid 1 may never reap the orphans it adopts)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                kids = {int(k) for k in (task / "children").read_text().split()}
            except OSError:
                continue
            todo += list(kids - found)
            found |= kids
    return found


def _kill_and_check_workers_die(proc: subprocess.Popen, sig: int, n_workers: int) -> str:
    """The command's workers (and multiprocessing's resource tracker) are gone within seconds of its end.
    Returns its stderr."""
    kids = _descendants(proc.pid)
    assert len(kids) >= n_workers, kids
    proc.send_signal(sig)
    err = proc.communicate(timeout=60)[1]
    end = time.monotonic() + 15
    while any(map(_alive, kids)) and time.monotonic() < end:
        time.sleep(0.1)
    assert not [k for k in kids if _alive(k)], f"still running after the command ended: {kids}"
    if sig == signal.SIGTERM:
        assert proc.returncode == 143 and "terminated (SIGTERM)" in err, err
    return err


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_augment_leaves_no_worker_writing(sample_dir, tmp_path, sig):
    out = tmp_path / "a"
    proc = _start(["augment", "--data", str(sample_dir), "--work", str(tmp_path), "--scale", "6", "--size", "64",
                   "--workers", "2", "--out", str(out)], tmp_path)
    _wait_for(lambda: (out / "images").is_dir() and len(list((out / "images").glob("*.jpg"))) >= 10, proc)
    _kill_and_check_workers_die(proc, sig, 2)
    made = sorted(p.name for p in (out / "images").iterdir())
    time.sleep(1.0)
    assert sorted(p.name for p in (out / "images").iterdir()) == made  # nobody writes on without the lock
    assert not (out / "manifest.csv").exists()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_ocr_leaves_no_worker_running(sample_dir, tmp_path, sig):
    from dl_cls.ocr.engine import EngineMissing, TesseractEngine

    try:
        TesseractEngine("kor+eng").check()
    except EngineMissing as exc:
        pytest.skip(str(exc))
    cache = tmp_path / "ocr"
    proc = _start(["ocr", "--data", str(sample_dir), "--work", str(tmp_path), "--no-expert", "--workers", "2",
                   "--cache", str(cache), "--no-progress", "--orientation", "ocr"], tmp_path)
    _wait_for(lambda: len(list(cache.rglob("cache/*/*.json"))) >= 2, proc)
    _kill_and_check_workers_die(proc, sig, 2)
    entries = len(list(cache.rglob("cache/*/*.json")))
    time.sleep(1.0)
    assert len(list(cache.rglob("cache/*/*.json"))) == entries
