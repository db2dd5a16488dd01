"""Data contract, check-data, label fixes and folds."""
from __future__ import annotations

import pandas as pd
import pytest

from dl_cls.cli import main
from dl_cls.core.errors import DataError, DlClsError
from dl_cls.data.contract import check_data, load_data
from dl_cls.data.folds import ensure_folds, load_folds, manifest_folds, train_rows_for_fold


def _problems(root, **kw):
    return check_data(root, label_fixes=None, **kw).problems


def test_sample_passes_check_data(sample_dir, capsys):
    report = check_data(sample_dir, label_fixes=None)
    assert report.problems == []
    assert "classes: 17" in report.summary
    assert main(["check-data", str(sample_dir), "--label-fixes", "none"]) == 0
    assert "OK" in capsys.readouterr().out


def _edit_csv(path, fn):
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    fn(df).to_csv(path, index=False)


def test_missing_csv_and_wrong_columns(sample_copy):
    (sample_copy / "meta.csv").unlink()
    _edit_csv(sample_copy / "train.csv", lambda df: df.rename(columns={"target": "label"}))
    problems = _problems(sample_copy)
    assert any("meta.csv: file missing" in p for p in problems)
    assert any("train.csv: missing column(s) target" in p for p in problems)


def test_duplicate_ids_and_unknown_target(sample_copy):
    def dup(df):
        df.loc[1, "ID"] = df.loc[0, "ID"]
        df.loc[2, "target"] = "17"
        df.loc[3, "target"] = "x"
        return df

    _edit_csv(sample_copy / "train.csv", dup)
    problems = _problems(sample_copy)
    assert any("duplicate ID" in p and "rows 2, 3" in p for p in problems)
    assert any("row 4" in p and "target 17 is not in meta.csv" in p for p in problems)
    assert any("row 5" in p and "'x' is not an integer" in p for p in problems)


def test_meta_targets_must_be_contiguous(sample_copy):
    _edit_csv(sample_copy / "meta.csv", lambda df: df.assign(target=df["target"].replace({"16": "20"})))
    assert any("targets must be exactly 0..16" in p for p in _problems(sample_copy))


def test_bad_image_files_are_each_named(sample_copy):
    ids = pd.read_csv(sample_copy / "train.csv")["ID"].tolist()
    (sample_copy / "train" / ids[0]).unlink()                      # listed but missing
    (sample_copy / "train" / ids[1]).write_bytes(b"")               # zero-byte
    data = (sample_copy / "train" / ids[2]).read_bytes()
    (sample_copy / "train" / ids[2]).write_bytes(data[: len(data) // 2])  # truncated
    (sample_copy / "train" / ids[3]).write_text("not an image")    # non-image
    problems = _problems(sample_copy)
    assert any(ids[0] in p and "missing" in p for p in problems)
    assert any(ids[1] in p and "zero-byte" in p for p in problems)
    assert any(ids[2] in p and "truncated" in p for p in problems)
    assert any(ids[3] in p and "not a readable image" in p for p in problems)


def test_test_dir_must_match_sample_submission(sample_copy):
    sub_ids = pd.read_csv(sample_copy / "sample_submission.csv")["ID"].tolist()
    (sample_copy / "test" / sub_ids[0]).unlink()
    (sample_copy / "test" / "stray.jpg").write_bytes((sample_copy / "test" / sub_ids[1]).read_bytes())
    problems = _problems(sample_copy)
    assert any(sub_ids[0] in p and "missing" in p for p in problems)
    assert any("stray.jpg" in p and "not listed" in p for p in problems)


def test_empty_train_set_and_cli_exit_code(sample_copy, capsys):
    _edit_csv(sample_copy / "train.csv", lambda df: df.iloc[:0])
    assert any("empty train set" in p for p in _problems(sample_copy))
    assert main(["check-data", str(sample_copy), "--label-fixes", "none"]) == 1
    assert "empty train set" in capsys.readouterr().err
    with pytest.raises(DataError):
        load_data(sample_copy, label_fixes=None)


def _fixes(tmp_path, rows):
    path = tmp_path / "fixes.csv"
    pd.DataFrame(rows, columns=["ID", "old_target", "new_target", "reason"]).to_csv(path, index=False)
    return path


def test_label_fixes_applied_skipped_and_mismatched(sample_dir, tmp_path):
    train = pd.read_csv(sample_dir / "train.csv")
    a, b = train.iloc[0], train.iloc[1]
    new_a = (a.target + 1) % 17
    stem_b = b.ID.rsplit(".", 1)[0]  # a fix may name the ID without its extension
    path = _fixes(tmp_path, [(a.ID, a.target, new_a, "x"), (stem_b, b.target, 0, "y"), ("0000absent.jpg", 1, 2, "z")])
    dd = load_data(sample_dir, label_fixes=path)
    assert dd.fixes_applied == 2
    assert dd.train.loc[0, "target"] == new_a and dd.train.loc[1, "target"] == 0
    assert len(dd.fix_notes) == 1 and "0000absent.jpg" in dd.fix_notes[0]
    unfixed = load_data(sample_dir, label_fixes=None)
    assert unfixed.train.loc[0, "target"] == a.target and unfixed.fixes_applied == 0

    bad = _fixes(tmp_path, [(a.ID, (a.target + 5) % 17, 0, "wrong old")])
    with pytest.raises(DataError, match="does not match train.csv target"):
        load_data(sample_dir, label_fixes=bad)


def test_shipped_label_fixes_are_the_competition_ones():
    from dl_cls.data.contract import DEFAULT_LABEL_FIXES

    fixes = pd.read_csv(DEFAULT_LABEL_FIXES)
    assert len(fixes) == 8 and fixes["ID"].str.endswith(".jpg").all()
    assert set(zip(fixes["old_target"], fixes["new_target"])) == {(3, 7), (3, 14), (7, 3), (14, 7), (4, 14), (11, 10)}


def test_folds_stratified_deterministic_and_guarded(sample_dir, tmp_path):
    dd = load_data(sample_dir, label_fixes=None)
    folds = ensure_folds(tmp_path / "w1", dd, n_folds=2, seed=3)
    again = ensure_folds(tmp_path / "w2", dd, n_folds=2, seed=3)
    pd.testing.assert_frame_equal(folds, again)
    assert folds["ID"].tolist() == dd.train["ID"].tolist()
    per_class = folds.merge(dd.train, on="ID").groupby(["target", "fold"]).size().unstack()
    assert (per_class == 2).all().all()  # 4 images per class -> 2 per fold
    # reuse with the same settings, refuse other settings, allow with force
    pd.testing.assert_frame_equal(ensure_folds(tmp_path / "w1", dd, n_folds=2, seed=3), folds)
    with pytest.raises(DlClsError, match="other settings"):
        ensure_folds(tmp_path / "w1", dd, n_folds=2, seed=4)
    other = ensure_folds(tmp_path / "w1", dd, n_folds=2, seed=4, force=True)
    assert not other["fold"].equals(folds["fold"])
    assert load_folds(tmp_path / "w1", dd)["fold"].equals(other["fold"])
    with pytest.raises(DlClsError, match="cannot make 5 stratified folds"):
        ensure_folds(tmp_path / "w3", dd, n_folds=5)


def test_manifest_rows_never_train_on_their_validation_source(sample_dir, tmp_path):
    dd = load_data(sample_dir, label_fixes=None)
    folds = ensure_folds(tmp_path, dd, n_folds=2, seed=0)
    manifest = pd.DataFrame([{"ID": f"{i}_c{c}.jpg", "source_id": i, "copy": c}
                             for i in dd.train["ID"] for c in range(3)])
    for k in range(2):
        rows = train_rows_for_fold(manifest, folds, k)
        val = set(folds.loc[folds["fold"] == k, "ID"])
        assert not set(rows["source_id"]) & val
        assert len(rows) == 3 * (len(folds) - len(val))
    with pytest.raises(DataError, match="not in folds.csv"):
        manifest_folds(pd.DataFrame({"source_id": ["nope.jpg"]}), folds)


def test_folds_cli(sample_dir, tmp_path, capsys):
    args = ["folds", "--data", str(sample_dir), "--work", str(tmp_path), "--n-folds", "2", "--label-fixes", "none"]
    assert main(args) == 0
    assert (tmp_path / "folds.csv").exists()
    assert main(args[:-2] + ["--seed", "7", "--label-fixes", "none"]) == 2
    assert "--force" in capsys.readouterr().err
