"""Fault injection, part four (issue 31): a relative --data recorded as typed, label fixes of another competition
warned eight times, make with a space in DATA/WORK, label-fix groups that give one train table, an empty "extra"
in a message. Each case is a promise listed in docs/reliability.md ("Fourth round"); each failed on the code
before it."""
from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from builders import make_project
from test_faults_state import _err_line

from dl_cls.cli import main

REPO = Path(__file__).resolve().parents[1]
PSEUDO_EASY = ["threshold=0.3", "min_precision=0", "min_oof=1", "--no-progress"]  # random probabilities pass


def _set_config(run_dir: Path, **values) -> None:
    """Edit a run's (or ensemble's) config.yaml as an older dl_cls would have written it."""
    path = run_dir / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg.update(values)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def _project(tmp_path: Path) -> dict:
    """make_project's runs a/b/c + spec, finished (summary.json) as the trainer leaves them."""
    p = make_project(tmp_path)
    for run in (p["work"] / "runs").iterdir():
        (run / "summary.json").write_text(json.dumps({"complete": True, "folds_done": [0, 1, 2, 3, 4],
                                                      "written": "2026-12-01T10:00:00"}))
    return p


def _config(run_dir: Path) -> dict:
    return yaml.safe_load((run_dir / "config.yaml").read_text())


# ---------------------------------------------------------------------------------------------- 1: relative --data
def test_a_relative_data_dir_is_recorded_resolved_and_pseudo_finds_the_ensemble_from_elsewhere(tmp_path, monkeypatch,
                                                                                               capsys):
    """`dl-cls ensemble --data s --work w` wrote `data_dir: s`; `make pseudo DATA=/abs/s` from another folder then
    said there was no finished ensemble of /abs/s."""
    p = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["ensemble", "--data", "data", "--work", "work", "--name", "e", "--method", "soft"]) == 0
    assert _config(p["work"] / "ensembles" / "e")["data_dir"] == str(p["data"].resolve())
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    capsys.readouterr()
    code = main(["pseudo", "--data", str(p["data"]), "--work", str(p["work"]), *PSEUDO_EASY])
    err = capsys.readouterr().err
    assert code == 0 and "no finished ensemble" not in err, err
    settings = (p["work"] / "pseudo").glob("*/settings.json")
    assert [yaml.safe_load(s.read_text())["data_dir"] for s in settings] == [str(p["data"].resolve())]


def test_old_artifacts_with_a_relative_data_dir_are_still_found_from_another_folder(tmp_path, monkeypatch, capsys):
    """Runs and an ensemble that recorded `data_dir: data` (typed next to WORK) are that data dir, whatever the
    cwd of the command that reads them: ensemble (with and without --data) takes the runs, pseudo the ensemble."""
    p = _project(tmp_path)
    for run in (p["work"] / "runs").iterdir():
        _set_config(run, data_dir="data")
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    work = str(p["work"])
    assert main(["ensemble", "--data", str(p["data"]), "--work", work, "--name", "e", "--method", "soft"]) == 0
    assert [Path(m).name for m in _config(p["work"] / "ensembles" / "e")["members"]] == ["a", "b", "c"]
    assert main(["ensemble", "--work", work, "--name", "e2", "--method", "soft"]) == 0
    for name in ("e", "e2"):
        _set_config(p["work"] / "ensembles" / name, data_dir="data")
    capsys.readouterr()
    assert main(["pseudo", "--data", str(p["data"]), "--work", work, *PSEUDO_EASY]) == 0, capsys.readouterr().err


def test_an_old_relative_data_dir_naming_two_data_dirs_is_one_line_saying_what_to_do(tmp_path, monkeypatch, capsys):
    """`data: data` recorded by an old run, read from a folder that holds another `data`: not a guess."""
    p = _project(tmp_path)
    _set_config(p["work"] / "runs" / "a", data_dir="data")
    shutil.copytree(p["data"], tmp_path / "other" / "data")
    monkeypatch.chdir(tmp_path / "other")
    assert main(["ensemble", "a", "b", "--work", str(p["work"]), "--name", "e"]) == 2
    line = _err_line(capsys)
    assert "data_dir 'data' is relative" in line and str(p["data"]) in line and "write the absolute path" in line, line


# ---------------------------------------------------------------------------------------------- 3: label fixes
def test_label_fixes_of_another_competition_are_one_line_per_command(sample_dir, tmp_path, capsys, caplog):
    """The 8 shipped fixes name IDs the sample does not have: 8 warnings, twice per train, became one line."""
    caplog.set_level(logging.INFO, logger="dl_cls")
    work = str(tmp_path / "work")
    commands = [["folds", "--data", str(sample_dir), "--work", work, "--n-folds", "3"],
                ["train", "--model", "tiny", "--data", str(sample_dir), "--work", work, "--cpu", "--dry-run"]]
    for args in commands:
        caplog.clear()
        assert main(args) == 0, args
        said = [r.getMessage() for r in caplog.records if "label_fixes.csv" in r.getMessage()]
        assert len(said) == 1, said
        assert "8 of 8" in said[0] and "not in train.csv" in said[0] and "none applied" in said[0], said
    capsys.readouterr()
    assert main(["check-data", str(sample_dir)]) == 0
    assert len([ln for ln in capsys.readouterr().out.splitlines() if "label_fixes.csv" in ln]) == 1


# ---------------------------------------------------------------------------------------------- fault i: make
def _make_n(tmp_path: Path, *words: str) -> subprocess.CompletedProcess:
    """`make -n WORDS`: a dry run that neither installs (-o the stamp) nor apt-gets (-o ocr-deps)."""
    stamp = REPO / ".venv" / ".installed"
    return subprocess.run(["make", "-n", "--no-print-directory", "-f", str(REPO / "Makefile"),
                           f"VENV={REPO / '.venv'}", f"STAMP={stamp}", "-o", str(stamp), "-o", "ocr-deps", *words],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("var", ["DATA", "WORK", "SAMPLE"])
def test_make_refuses_a_data_or_work_path_with_a_space_in_one_line(tmp_path, var):
    """check-data got split arguments and folds ran `dl-cls sample` on half a path."""
    for target in ("check-data", "folds", "train"):
        proc = _make_n(tmp_path, f"{var}=my data", target)
        err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode != 0 and proc.stdout == "", proc.stdout
        assert len(err) == 1 and f"{var}='my data' contains a space" in err[0], proc.stderr
    ok = _make_n(tmp_path, "DATA=/d/my_data", "WORK=/w/W", "check-data")
    assert ok.returncode == 0 and "check-data /d/my_data" in ok.stdout, ok.stderr


# ---------------------------------------------------------------------------------------------- label-fix groups
def test_bare_ensemble_takes_label_fix_settings_that_give_one_train_table_as_one_group(tmp_path, capsys):
    """On data the shipped fixes do not name, `default` and `none` apply 0 fixes: one newest `none` run once made
    bare `make ensemble` skip every `default` run as "other label fixes"."""
    p = _project(tmp_path)
    for name in ("a", "b"):
        _set_config(p["work"] / "runs" / name, label_fixes="default")
    _set_config(p["work"] / "runs" / "c", label_fixes="none")  # the newest member decides the reference
    assert main(["ensemble", "--work", str(p["work"]), "--name", "e", "--method", "soft"]) == 0
    out = capsys.readouterr().out
    assert "other label fixes" not in out, out
    assert [Path(m).name for m in _config(p["work"] / "ensembles" / "e")["members"]] == ["a", "b", "c"]
    fixes = tmp_path / "fixes.csv"  # fixes that change a label are another table: still another group
    fixes.write_text(f"ID,old_target,new_target,reason\n{p['ids'][0]},0,1,x\n")
    _set_config(p["work"] / "runs" / "c", label_fixes=str(fixes))
    assert main(["ensemble", "--work", str(p["work"]), "--name", "e2", "--method", "soft"]) == 0
    assert [Path(m).name for m in _config(p["work"] / "ensembles" / "e2")["members"]] == ["c"]


# ---------------------------------------------------------------------------------------------- an empty "extra"
def test_a_run_missing_test_ids_names_what_is_missing_without_an_empty_extra(tmp_path, capsys):
    p = _project(tmp_path)
    path = p["work"] / "runs" / "b" / "test_probs.csv"
    pd.read_csv(path).iloc[1:].to_csv(path, index=False)
    assert main(["ensemble", "a", "b", "--work", str(p["work"]), "--name", "e"]) == 2
    err = capsys.readouterr().err
    assert f"(missing {p['test_ids'][0]})" in err and "extra" not in err, err
