"""Report: suggested groups on a constructed confusion, confused pairs, the CLI's files (valid PNGs, never
overwritten), a specialist's report over its own classes, and `dl-cls score`."""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
from builders import K, make_project

from dl_cls.cli import main
from dl_cls.report.analysis import confused_pairs, load_analysis, per_class_table, suggest_groups

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _competition_like_confusion(n=90, seed=0):
    """17 classes; 3/4/7/14 one family (3<->7 and 4<->14 most, the other pairs less), 10<->11 a little, one stray
    0->1, and class 2 a sink: five classes lose a few images to it, it loses none to them."""
    rng = np.random.default_rng(seed)
    cm = np.diag(rng.integers(n - 5, n + 5, 17))
    for a, b, count in [(3, 7, 14), (7, 3, 9), (7, 14, 8), (14, 7, 3), (14, 4, 10), (4, 14, 6), (3, 4, 5), (4, 3, 2),
                        (3, 14, 3), (14, 3, 2), (4, 7, 3), (7, 4, 2), (10, 11, 6), (11, 10, 2), (0, 1, 1),
                        (5, 2, 8), (6, 2, 8), (8, 2, 8), (9, 2, 8), (12, 2, 8)]:
        cm[a, b] = count
    return cm


def test_suggested_groups_find_the_3_4_7_14_family():
    cm = _competition_like_confusion()
    # the family and its tighter sub-groups, most confused images first; the sink (2) is not grouped with the five
    # classes it absorbs, though each of those pairs' rates passes the threshold
    assert suggest_groups(cm, list(range(17))) == [[3, 4, 7, 14], [3, 7], [4, 14], [10, 11]]
    # a stricter threshold keeps only the strongest links; classes are reported by their original index
    assert suggest_groups(cm, list(range(17)), threshold=0.1) == [[3, 7]]
    sub = [3, 4, 7, 14]
    assert suggest_groups(cm[np.ix_(sub, sub)], sub) == [[3, 4, 7, 14], [3, 7], [4, 14]]
    # single linkage would chain weak, scattered confusion into one group of everything; average linkage does not
    weak = np.diag(np.full(8, 20))
    for a in range(7):
        weak[a, a + 1] = weak[a + 1, a] = 2  # a chain of neighbours, each pair 4 confused of ~46 images: rate ~0.09
    assert all(len(g) <= 3 for g in suggest_groups(weak, list(range(8))))


def test_confused_pairs_and_per_class():
    cm = _competition_like_confusion()
    names = [f"c{i}" for i in range(17)]
    pairs = confused_pairs(cm, list(range(17)), names, top=3)
    assert list(zip(pairs.a, pairs.b, pairs.total)) == [(3, 7, 23), (4, 14, 16), (7, 14, 11)]
    assert pairs.loc[0, "rate_a_as_b"] == pytest.approx(14 / cm[3].sum())
    table = per_class_table([0, 0, 1, 1], [0, 1, 1, 1], [0, 1], ["x", "y"])
    assert table["precision"].tolist() == [1.0, pytest.approx(2 / 3)]
    assert table["recall"].tolist() == [0.5, 1.0] and table["support"].tolist() == [2, 2]


def _valid_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and img.shape[0] > 100 and img.shape[1] > 100
    return img


def test_report_cli_on_run_and_specialist(tmp_path, capsys):
    p = make_project(tmp_path)
    work = str(p["work"])
    assert main(["report", "a", "--work", work]) == 0
    out = p["work"] / "runs/a/report"
    _valid_png(out / "confusion_matrix.png")
    _valid_png(out / "errors.png")
    per_class = pd.read_csv(out / "per_class.csv")
    assert per_class.columns.tolist() == ["class", "class_name", "precision", "recall", "f1", "support"]
    assert per_class["class"].tolist() == list(range(K)) and per_class["support"].sum() == len(p["ids"])
    groups = pd.read_csv(out / "suggested_groups.csv")
    assert "2,3,4" in groups["classes"].tolist()  # the runs were built to confuse 2/3/4
    assert "CLASSES=2,3,4" in capsys.readouterr().out

    # a second report never overwrites the first
    before = (out / "per_class.csv").read_bytes()
    assert main(["report", str(p["work"] / "runs/a"), "--work", work]) == 0
    assert (p["work"] / "runs/a/report-2/per_class.csv").exists()
    assert (out / "per_class.csv").read_bytes() == before

    # a specialist: the matrix covers its classes only
    assert main(["report", "spec", "--work", work, "--out", str(tmp_path / "spec_report")]) == 0
    assert pd.read_csv(tmp_path / "spec_report/per_class.csv")["class"].tolist() == [2, 3, 4]
    assert load_analysis("spec", work).cm.shape == (3, 3)
    # --out must be new
    assert main(["report", "spec", "--work", work, "--out", str(tmp_path / "spec_report")]) == 2
    assert "already exists" in capsys.readouterr().err
    # no gallery asked for: it says so, rather than claiming there were no mistakes
    assert main(["report", "a", "--work", work, "--max-errors", "0", "--out", str(tmp_path / "r0")]) == 0
    assert "--max-errors 0" in capsys.readouterr().out and not (tmp_path / "r0" / "errors.png").exists()


@pytest.mark.slow  # a few seconds: make test runs it, make test-fast skips it
def test_report_on_an_ensemble_dir(tmp_path):
    p = make_project(tmp_path)
    work = str(p["work"])
    assert main(["ensemble", "a", "b", "--work", work, "--name", "e"]) == 0
    assert main(["report", "e", "--work", work]) == 0
    a = load_analysis("e", work)
    table = pd.read_csv(p["work"] / "ensembles/e/members.csv")
    assert a.macro_f1 == pytest.approx(table["oof_macro_f1"].iloc[-1], abs=1e-4)
    _valid_png(p["work"] / "ensembles/e/report/confusion_matrix.png")


def test_score_submission_and_probs(tmp_path, capsys):
    ids = ["x.jpg", "y.jpg", "z.jpg", "w.jpg"]
    pd.DataFrame({"ID": ids, "target": [0, 1, 1, 2]}).to_csv(tmp_path / "labels.csv", index=False)
    # rows in another order than the labels: scoring aligns by ID
    pd.DataFrame({"ID": ids[::-1], "target": [2, 1, 0, 0]}).to_csv(tmp_path / "sub.csv", index=False)
    assert main(["score", str(tmp_path / "sub.csv"), "--labels", str(tmp_path / "labels.csv")]) == 0
    out = capsys.readouterr().out
    assert "accuracy 0.7500" in out and "macro F1 0.7778" in out  # F1 per class: 1, 2/3, 2/3

    probs = pd.DataFrame({"ID": ids, "p_0": [0.9, 0.1, 0.1, 0.1], "p_1": [0.05, 0.8, 0.1, 0.1],
                          "p_2": [0.05, 0.1, 0.8, 0.8]})
    probs.to_csv(tmp_path / "probs.csv", index=False)
    assert main(["score", str(tmp_path / "probs.csv"), "--labels", str(tmp_path / "labels.csv")]) == 0
    assert "accuracy 0.7500" in capsys.readouterr().out

    pd.DataFrame({"ID": ids[:3] + ["v.jpg"], "target": 0}).to_csv(tmp_path / "bad.csv", index=False)
    assert main(["score", str(tmp_path / "bad.csv"), "--labels", str(tmp_path / "labels.csv")]) == 2
    err = capsys.readouterr().err
    assert "no label for 1 ID(s)" in err and "v.jpg" in err and "w.jpg" in err
