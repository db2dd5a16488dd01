"""The used-by flow: augment records the current set, train picks it (or refuses it, saying why), ensemble without
RUNS discovers members and specialists, `dl-cls runs` lists everything with its state."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
import yaml
from builders import make_project

from dl_cls.artifacts.augsets import current_set, pointer_path, read_pointer, record_current
from dl_cls.artifacts.runs import split_hash
from dl_cls.cli import main as cli_main
from dl_cls.core.errors import DlClsError
from dl_cls.core.lock import Lock, is_held
from dl_cls.data.contract import load_data

REPO = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------- augment pointer
@pytest.fixture(scope="module")
def augmented(sample_dir, tmp_path_factory):
    """`dl-cls augment` run once on the sample: (data dir, work dir, set dir, what it printed)."""
    work = tmp_path_factory.mktemp("work")
    args = ["augment", "--scale", "2", "--size", "64", "--workers", "1", "--no-progress", "--data", str(sample_dir),
            "--work", str(work)]
    import contextlib

    out = StringIO()
    with contextlib.redirect_stdout(out):
        assert cli_main(args) == 0
    return sample_dir, work, work / "aug" / "doc_x2_s0_L64", out.getvalue()


def _copy_work(work: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "work"
    shutil.copytree(work, dst)
    return dst


def test_augment_records_its_finished_set_as_current(augmented):
    data, work, aug, printed = augmented
    assert (aug / "manifest.csv").is_file()
    sets = read_pointer(work)
    entry = sets[str(data.resolve())]
    assert entry["aug_dir"] == aug.name and entry["scale"] == 2  # relative: a copied work dir still works
    assert not pointer_path(work).is_symlink()
    assert "current augment set" in printed and str(aug) in printed
    choice = current_set(work, load_data(data))
    assert choice.aug_dir == aug and "--aug none" in choice.message and "--aug DIR" in choice.message


def test_a_copied_work_dir_points_at_its_own_set(augmented, tmp_path):
    data, work, aug, _ = augmented
    copy = _copy_work(work, tmp_path)
    assert current_set(copy, load_data(data)).aug_dir == copy / "aug" / aug.name


def test_train_without_aug_uses_the_current_set_and_aug_none_the_originals(augmented, tmp_path, capsys):
    data, work, aug, _ = augmented
    work = _copy_work(work, tmp_path)
    base = ["train", "--model", "tiny", "--data", str(data), "--work", str(work), "--dry-run", "--cpu",
            "n_folds=2", "img_size=64"]
    assert cli_main(base) == 0
    out = capsys.readouterr().out
    assert f"augment set: {work / 'aug' / aug.name}" in out
    assert f"aug_dir: {(work / 'aug' / aug.name).resolve()}" in out  # the resolved config trains on it
    assert cli_main(base + ["--aug", "none"]) == 0
    out = capsys.readouterr().out
    assert "aug_dir: null" in out and "originals (no AUG set)" in out


def test_no_set_for_this_data_trains_on_the_originals_and_says_so(augmented, tmp_path):
    data, work, aug, _ = augmented
    other = tmp_path / "other"
    shutil.copytree(data, other)
    choice = current_set(work, load_data(other))
    assert choice.aug_dir is None
    assert "no augment set recorded for" in choice.message and aug.name in choice.message  # names the other set
    assert "make augment SCALE=10" in choice.message
    assert current_set(tmp_path / "empty", load_data(data)).aug_dir is None  # no pointer at all


def test_a_stale_set_is_refused(augmented, tmp_path):
    """Same data dir, but train.csv changed since the set was made: never trained on, and the error says why."""
    data, work, aug, _ = augmented
    changed = tmp_path / "data"
    shutil.copytree(data, changed)
    record_current(work_copy := _copy_work(work, tmp_path), changed, work_copy / "aug" / aug.name,
                   load_data(changed).train)
    train = pd.read_csv(changed / "train.csv")
    train.loc[0, "target"] = (train.loc[0, "target"] + 1) % 17
    train.to_csv(changed / "train.csv", index=False)
    with pytest.raises(DlClsError, match="another train table.*--aug none"):
        current_set(work_copy, load_data(changed))


def test_a_set_still_being_written_is_never_picked(augmented, tmp_path):
    data, work, aug, _ = augmented
    work = _copy_work(work, tmp_path)
    set_dir = work / "aug" / aug.name
    with Lock(set_dir, "augment set"):  # what `dl-cls augment` holds while it writes
        with pytest.raises(DlClsError, match="still being written"):
            current_set(work, load_data(data))
    assert current_set(work, load_data(data)).aug_dir == set_dir  # released: usable again
    (set_dir / "manifest.csv").unlink()
    with pytest.raises(DlClsError, match="not complete"):
        current_set(work, load_data(data))
    with pytest.raises(DlClsError, match="no manifest.csv"):
        record_current(work, data, set_dir, load_data(data).train)  # an unfinished set is never recorded
    shutil.rmtree(set_dir)
    with pytest.raises(DlClsError, match="no longer exists"):
        current_set(work, load_data(data))


def test_train_cli_refuses_a_stale_set_with_one_line(augmented, tmp_path, capsys):
    data, work, aug, _ = augmented
    work = _copy_work(work, tmp_path)
    (work / "aug" / aug.name / "manifest.csv").unlink()
    code = cli_main(["train", "--model", "tiny", "--data", str(data), "--work", str(work), "--dry-run", "--cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "not complete" in err and "AUG=none" in err


def test_damaged_pointer_is_one_error_naming_it(tmp_path, sample_dir):
    pointer_path(tmp_path).parent.mkdir(parents=True)
    pointer_path(tmp_path).write_text("{not json")
    with pytest.raises(DlClsError, match="current.json: unreadable"):
        current_set(tmp_path, load_data(sample_dir))


def test_is_held_probes_without_writing(tmp_path):
    path = tmp_path / ".lock"
    assert not is_held(path) and not path.exists()  # no lock file is created by looking
    with Lock(tmp_path, "x"):
        assert is_held(path)
    assert not is_held(path) and path.read_text() == ""


# ---------------------------------------------------------------------------------------------- discovery + ledger
def _finish(run: Path, folds=(0, 1, 2, 3, 4), oof_f1=0.5, **config) -> Path:
    """Make a fake run look like the trainer's: fold markers, summary.json, split hash in config.yaml."""
    for k in folds:
        (run / f"fold{k}").mkdir(exist_ok=True)
        (run / f"fold{k}" / "fold.json").write_text("{}")
    summary = {"complete": True, "folds_done": list(folds), "oof_f1": oof_f1, "total_train_time_s": 90.0,
               "mean": {"tta_clean_f1": oof_f1 + 0.1, "tta_testlike_f1": oof_f1}, "written": "2026-12-01T10:00:00"}
    (run / "summary.json").write_text(json.dumps(summary))
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg.update({"folds": [0, 1, 2, 3, 4], **config})
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    return run


@pytest.fixture
def project(tmp_path):
    """make_project's runs a/b/c + spec, finished on WORK/folds.csv, plus runs that must be skipped."""
    p = make_project(tmp_path)
    work, runs = p["work"], p["work"] / "runs"
    folds = pd.DataFrame({"ID": p["ids"], "fold": p["folds"]})
    folds.to_csv(work / "folds.csv", index=False)
    h = split_hash(folds)
    for name, score in (("a", 0.6), ("b", 0.7), ("c", 0.8), ("spec", 0.9)):
        _finish(runs / name, oof_f1=score, split_hash=h, model_config="tiny", img_size=64)
    for name in ("partial", "running", "failed", "otherfolds", "otherdata"):
        shutil.copytree(runs / "a", runs / name)
        (runs / name / "summary.json").unlink()
        for d in (runs / name).glob("fold*"):
            shutil.rmtree(d)
    (runs / "partial" / "fold0").mkdir()
    (runs / "partial" / "fold0" / "fold.json").write_text("{}")
    (runs / "running" / "fold1").mkdir()
    _finish(runs / "otherfolds", split_hash="0" * 16)
    other = tmp_path / "data2"
    shutil.copytree(p["data"], other)
    _finish(runs / "otherdata", split_hash=h, data_dir=str(other))
    return p


def _table(text: str) -> dict[str, str]:
    """name -> its line in a printed table."""
    return {line.split()[0]: line for line in text.splitlines() if line.strip()}


def test_ensemble_without_runs_takes_finished_members_and_specialists(project, capsys):
    work = project["work"]
    with Lock(work / "runs" / "running" / "fold1", "fold 1"):
        code = cli_main(["ensemble", "--work", str(work), "--name", "auto", "--data", str(project["data"])])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = _table(out.split("\n\n")[0])
    for name in ("a", "b", "c", "spec"):
        assert " yes" in rows[name], rows[name]
    assert "partial" in rows["partial"] and "not trained" in rows["partial"]
    assert "running" in rows["running"] and " no " in rows["running"]
    assert "failed" in rows["failed"] and "RESUME=failed" in rows["failed"]
    assert "other folds" in rows["otherfolds"] and "other data" in rows["otherdata"]
    cfg = yaml.safe_load((work / "ensembles" / "auto" / "config.yaml").read_text())
    assert [Path(m).name for m in cfg["members"]] == ["a", "b", "c"]
    assert [Path(s).name for s in cfg["specialists"]] == ["spec"]
    assert (work / "ensembles" / "auto" / "submission.csv").is_file()


def test_ensemble_with_data_takes_that_datas_runs(project, capsys):
    """Two data dirs' runs in one WORK: --data (make ensemble DATA=) chooses, the other data's runs are skipped."""
    work, other = project["work"], project["tmp"] / "data2"
    assert cli_main(["ensemble", "--data", str(other), "--work", str(work), "--name", "d2"]) == 0
    rows = _table(capsys.readouterr().out.split("\n\n")[0])
    assert " yes" in rows["otherdata"] and "other data" in rows["a"]
    cfg = yaml.safe_load((work / "ensembles" / "d2" / "config.yaml").read_text())
    assert [Path(m).name for m in cfg["members"]] == ["otherdata"] and cfg["data_dir"] == str(other.resolve())


@pytest.mark.slow  # a few seconds: make test runs it, make test-fast skips it
def test_ensemble_runs_and_specialists_still_choose(project, capsys):
    work = project["work"]
    assert cli_main(["ensemble", "a", "b", "--work", str(work), "--name", "chosen"]) == 0
    cfg = yaml.safe_load((work / "ensembles" / "chosen" / "config.yaml").read_text())
    assert [Path(m).name for m in cfg["members"]] == ["a", "b"] and cfg["specialists"] == []
    capsys.readouterr()
    assert cli_main(["ensemble", "--work", str(work), "--name", "nospec", "--specialist", "spec", "--data",
                     str(project["data"])]) == 0
    out = capsys.readouterr().out
    cfg = yaml.safe_load((work / "ensembles" / "nospec" / "config.yaml").read_text())
    assert [Path(m).name for m in cfg["members"]] == ["a", "b", "c"]
    assert [Path(s).name for s in cfg["specialists"]] == ["spec"]
    assert "runs found in" in out


@pytest.mark.parametrize("setup", ["empty", "only_unfinished"])
def test_nothing_to_ensemble_is_one_line_saying_what_to_run(project, capsys, setup):
    work = project["work"]
    keep = set() if setup == "empty" else {"partial", "failed"}
    for run in (work / "runs").iterdir():
        if run.name not in keep:
            shutil.rmtree(run)
    code = cli_main(["ensemble", "--work", str(work)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "nothing to ensemble" in err and "make train MODEL=" in err
    assert not (work / "ensembles").exists() or not any((work / "ensembles").iterdir())


@pytest.mark.slow  # a few seconds: make test runs it, make test-fast skips it
def test_runs_ledger_lists_every_state_best_first(project, capsys):
    work = project["work"]
    # its runs come from two data dirs: ensemble takes --data (without it, it refuses and lists them)
    assert cli_main(["ensemble", "--work", str(work), "--data", str(project["data"]), "--name", "ens"]) == 0
    capsys.readouterr()
    with Lock(work / "runs" / "running" / "fold1", "fold 1"):
        assert cli_main(["runs", "--work", str(work)]) == 0
        printed = capsys.readouterr().out
        assert cli_main(["runs", "--work", str(work), "--csv"]) == 0
        table = pd.read_csv(StringIO(capsys.readouterr().out))
    state = dict(zip(table["name"], table["state"]))
    assert state == {"ens": "finished", "a": "finished", "b": "finished", "c": "finished", "spec": "finished",
                     "partial": "partial", "running": "running", "failed": "failed", "otherfolds": "finished",
                     "otherdata": "finished"}
    kind = dict(zip(table["name"], table["kind"]))
    assert kind["ens"] == "ensemble" and kind["spec"] == "specialist" and kind["a"] == "member"
    scored = table.dropna(subset=["oof_f1"])
    assert scored["oof_f1"].is_monotonic_decreasing and table["oof_f1"].isna().iloc[-3:].all()  # unscored last
    a = table.set_index("name").loc["a"]
    assert (a["folds"], a["model"], a["img_size"], a["testlike_f1"]) == ("5/5", "tiny", 64, 0.6)
    assert a["clean_f1"] == pytest.approx(0.7) and a["wall"] == "1.5 min"
    assert table.set_index("name").loc["partial", "folds"] == "1/5"
    assert list(table.columns[:3]) == ["name", "kind", "model"]
    rows = _table(printed)
    assert "running" in rows["running"] and "partial" in rows["partial"] and "failed" in rows["failed"]


@pytest.mark.slow  # a few seconds: make test runs it, make test-fast skips it
def test_runs_plot_and_path(project, capsys, tmp_path):
    work = project["work"]
    assert cli_main(["runs", "--work", str(work), "--path"]) == 2  # no ensemble yet
    assert "make ensemble" in capsys.readouterr().err
    assert cli_main(["ensemble", "a", "b", "--work", str(work), "--name", "e1"]) == 0
    capsys.readouterr()
    assert cli_main(["runs", "--work", str(work), "--path"]) == 0
    assert capsys.readouterr().out.strip() == str((work / "ensembles" / "e1").resolve())
    assert cli_main(["runs", "--work", str(work), "--path", "spec"]) == 0
    assert capsys.readouterr().out.strip() == str((work / "runs" / "spec").resolve())
    assert cli_main(["runs", "--work", str(work), "--plot", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_runs_on_an_empty_work_dir_says_what_to_do(tmp_path, capsys):
    assert cli_main(["runs", "--work", str(tmp_path)]) == 0
    assert "make train MODEL=" in capsys.readouterr().out



# ---------------------------------------------------------------------------------------------- progress, html
class _Tty(StringIO):
    def isatty(self):
        return True


def test_progress_is_a_bar_in_a_terminal_and_a_few_lines_in_a_log():
    from dl_cls.core.progress import Progress

    log = StringIO()
    with Progress(1000, "augment doc", unit="img", stream=log) as bar:
        for _ in range(1000):
            bar.update(1)
    lines = log.getvalue().splitlines()
    assert len(lines) == 4 and "250/1000 img (25%)" in lines[0] and "1000/1000 img done" in lines[-1]
    assert "\r" not in log.getvalue()
    resumed = StringIO()
    with Progress(100, "augment", initial=60, stream=resumed) as bar:
        for _ in range(4):
            bar.update(10)
    assert len(resumed.getvalue().splitlines()) == 2  # 75% and the end; the quarters it had passed are not repeated
    tty = _Tty()
    with Progress(50, "weight search", unit="fits", stream=tty) as bar:
        bar.update(50)
    assert "\r" in tty.getvalue() and "weight search" in tty.getvalue()  # tqdm redraws
    quiet = StringIO()
    with Progress(10, "x", enabled=False, stream=quiet) as bar:
        bar.update(10)
    assert quiet.getvalue() == ""


def test_report_html_is_one_offline_file(project, capsys):
    work = project["work"]
    assert cli_main(["report", "a", "--work", str(work), "--html", "--max-errors", "4"]) == 0
    page = (work / "runs" / "a" / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2  # confusion matrix and error gallery inlined
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    assert "Per class" in page and "class_2_name" in page
    assert "report.html" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------- end to end
FAST_MAKE = ["img_size=64", "n_folds=2", "batch_size=8", "tta_rotations=[0,90]", "tta_hflip=false"]


def _make(cwd: Path, *words: str) -> str:
    """`make WORDS` with the repo's Makefile and venv, in a fresh project dir; returns stdout + stderr."""
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}
    stamp = cwd / ".installed"  # -o: never remake it, i.e. never pip-install into the shared venv from here
    cmd = ["make", "--no-print-directory", "-f", str(REPO / "Makefile"), f"VENV={REPO / '.venv'}",
           f"STAMP={stamp}", "-o", str(stamp), "-o", "ocr-deps", *words]  # nor apt-get anything
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{' '.join(words)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_the_three_commands_as_users_type_them(sample_dir, tmp_path):
    """make augment && make train && make train CLASSES=... && make ensemble && make runs, no AUG/RUNS given."""
    shutil.copytree(sample_dir, tmp_path / "data")
    (tmp_path / "pyproject.toml").write_text("")  # the install stamp's prerequisite, older than the stamp
    os.utime(tmp_path / "pyproject.toml", (0, 0))
    (tmp_path / ".installed").touch()  # the venv is installed: make must not reinstall it (see _make's -o)
    out = _make(tmp_path, "augment", "SCALE=3", "SIZE=96", "WORKERS=2", "ARGS=--no-progress")
    aug = tmp_path / "work" / "aug" / "doc_x3_s0_L96"
    assert (aug / "manifest.csv").is_file() and "current augment set" in out
    out = _make(tmp_path, "train", "MODEL=tiny", "EPOCHS=1", *FAST_MAKE)
    assert f"augment set: work/aug/{aug.name}" in out and "AUG=none" in out
    out = _make(tmp_path, "train", "MODEL=tiny", "CLASSES=3,4,7,14", "EPOCHS=1", *FAST_MAKE)
    assert f"augment set: work/aug/{aug.name}" in out
    runs = sorted(p for p in (tmp_path / "work" / "runs").iterdir())
    assert len(runs) == 2
    for run in runs:  # each trained on the set it said it used
        assert yaml.safe_load((run / "config.yaml").read_text())["aug_dir"] == str(aug.resolve())
    out = _make(tmp_path, "ensemble")
    (ens,) = (tmp_path / "work" / "ensembles").iterdir()
    cfg = yaml.safe_load((ens / "config.yaml").read_text())
    spec = next(r for r in runs if yaml.safe_load((r / "config.yaml").read_text())["classes"] == [3, 4, 7, 14])
    member = next(r for r in runs if r != spec)
    assert [Path(m).name for m in cfg["members"]] == [member.name]
    assert [Path(s).name for s in cfg["specialists"]] == [spec.name]
    assert all(r.name in out for r in runs) and "wrote " in out
    sub = pd.read_csv(ens / "submission.csv", dtype={"ID": str})
    expected = pd.read_csv(tmp_path / "data" / "sample_submission.csv", dtype={"ID": str})["ID"]
    assert sub["ID"].tolist() == expected.tolist()
    out = _make(tmp_path, "check-submission", f"FILE={ens / 'submission.csv'}")
    out = _make(tmp_path, "runs")
    rows = _table(out.split("\n", 1)[1])
    assert "ensemble" in rows[ens.name] and all("finished" in rows[r.name] for r in runs)
    assert all(aug.name in rows[r.name] for r in runs)
