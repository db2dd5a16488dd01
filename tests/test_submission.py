"""check-submission catches each fault, names the lines, and the CLI exits 2; a good file passes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from builders import make_data

from dl_cls.cli import main
from dl_cls.core.errors import DataError
from dl_cls.data.contract import load_data
from dl_cls.ensemble.submission import check_submission, write_submission


@pytest.fixture
def data(tmp_path):
    return make_data(tmp_path / "data", np.arange(8) % 4, 6, 4)


def _good(data):
    sub = pd.read_csv(data / "sample_submission.csv", dtype=str)
    sub["target"] = ["0", "1", "2", "3", "0", "1"]
    return sub


@pytest.mark.parametrize("break_it, expected", [
    (lambda s: s.rename(columns={"target": "label"}), "expected exactly ID,target"),
    (lambda s: s.drop(index=2), "1 ID(s) of sample_submission.csv missing: te0002.jpg"),
    (lambda s: pd.concat([s, pd.DataFrame({"ID": ["zzz.jpg"], "target": ["1"]})]), "not in sample_submission.csv (zzz.jpg) at lines 8"),
    (lambda s: s.iloc[[1, 0, 2, 3, 4, 5]], "not in sample_submission.csv order; first out of place at line 2"),
    (lambda s: pd.concat([s, s.iloc[[3]]]), "duplicated ID(s) (te0003.jpg) at lines 5, 8"),
    (lambda s: s.assign(target=["0", "1.5", "2", "x", "0", "1"]), "not an integer at lines 3, 5"),
    (lambda s: s.assign(target=["0", "1", "4", "3", "-1", "1"]), "outside the classes of meta.csv (0..3) at lines 4, 6"),
])
def test_each_fault_is_named(data, tmp_path, capsys, break_it, expected):
    dd = load_data(data, label_fixes=None)
    assert check_submission(_good(data), dd) == []
    path = tmp_path / "sub.csv"
    break_it(_good(data)).to_csv(path, index=False)
    problems = check_submission(path, dd)
    assert any(expected in p for p in problems), problems
    assert main(["check-submission", str(path), "--data", str(data)]) == 2
    assert expected in capsys.readouterr().err


def test_good_file_passes_cli(data, tmp_path, capsys):
    path = tmp_path / "sub.csv"
    _good(data).to_csv(path, index=False)
    assert main(["check-submission", str(path), "--data", str(data)]) == 0
    assert "OK" in capsys.readouterr().out


def test_write_submission_refuses_a_bad_table(data, tmp_path):
    dd = load_data(data, label_fixes=None)
    with pytest.raises(DataError, match="refusing to write"):
        write_submission(_good(data).iloc[:-1], tmp_path / "s.csv", dd)
    assert not (tmp_path / "s.csv").exists()
    write_submission(_good(data), tmp_path / "s.csv", dd)
    assert check_submission(tmp_path / "s.csv", dd) == []
