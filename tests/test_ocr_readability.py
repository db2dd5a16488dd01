"""Label-free readability (dl_cls.ocr.readability) and the ensemble's shrink of a text run whose test pages read
worse than its test-like copies (dl_cls.ensemble.text_runs)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dl_cls.cli import main
from dl_cls.ocr.readability import page_readability, shrink_factor, worse_line

SHIPPED = pd.DataFrame({"class": [4, 14], "keyword": ["진단서", "소견서"], "source": "file"})


def _rows(titles, conf=60.0, n_chars=30):
    return pd.DataFrame({"title": titles, "text": "", "mean_conf": conf, "n_chars": n_chars})


def test_page_readability_counts_keywords_fuzzily_and_needs_no_labels():
    rows = _rows(["진 단 서", "진탄서 발급", "소견서", "", "abc"], conf=[70.0, 60.0, 50.0, 0.0, 40.0])
    m = page_readability(rows, SHIPPED, SHIPPED)
    assert m["pages"] == 5 and m["title_keyword"] == pytest.approx(3 / 5)  # spaced and one wrong character count
    assert m["rule_fired"] == pytest.approx(3 / 5)
    assert m["word_conf"] == 55.0  # pages without text (conf 0) are left out of the mean
    assert m["readable_title"] == pytest.approx(1 / 5)  # only 진탄서발급 has >= 4 letters


def test_sure_share_counts_pages_without_text_as_unsure_and_is_printed():
    from dl_cls.ocr.readability import describe, sure_share

    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.3, 0.7], [0.45, 0.55]])
    assert sure_share(probs, 4) == 1.0 and sure_share(probs, 8) == 0.5  # 4 more pages without text: not sure
    assert sure_share(np.array([[0.4, 0.3, 0.3]]), 1) == 0.0 and sure_share(np.zeros((0, 3)), 5) == 0.0
    figures = {kind: {"pages": 50, "title_keyword": 0.1, "rule_fired": 0.2, "word_conf": 55.0, "letters": 12.0,
                      "readable_title": 0.8, "sure": s} for kind, s in (("testlike", 0.52), ("test", 0.46))}
    lines = describe(figures)
    assert "sure" in lines[1] and lines[2].rstrip().endswith("52%") and lines[3].rstrip().endswith("46%")


def test_shrink_is_the_ratio_of_keyword_rates_and_one_when_the_test_reads_as_well():
    table = {"testlike": {"pages": 100, "title_keyword": 0.43, "rule_fired": 0.5, "word_conf": 57.6},
             "test": {"pages": 100, "title_keyword": 0.31, "rule_fired": 0.4, "word_conf": 55.9}}
    assert shrink_factor(table) == pytest.approx(0.31 / 0.43, abs=1e-3)
    assert "31% vs 43%" in worse_line(table)
    table["test"]["title_keyword"] = 0.5  # reads better: no shrink, no line
    assert shrink_factor(table) == 1.0 and worse_line(table) is None
    rare = {"testlike": {"pages": 100, "title_keyword": 0.0, "rule_fired": 0.6, "word_conf": 50},
            "test": {"pages": 100, "title_keyword": 0.0, "rule_fired": 0.3, "word_conf": 50}}
    assert shrink_factor(rare) == 0.5  # no shipped keyword on this data: the expert's own rule is compared
    assert shrink_factor({"testlike": rare["testlike"]}) == 1.0  # no test pages read: nothing to compare


@pytest.mark.slow  # a few seconds: an expert run and two ensembles
def test_ensemble_pulls_a_worse_reading_text_run_towards_uniform(tmp_path, capsys):
    from test_ocr import _project, _with_testlike

    from dl_cls.data.contract import load_data
    from dl_cls.ocr.rundir import build_expert_run

    data, work, table = _project(tmp_path)
    dd = load_data(data, None)
    info = {"label_fixes": None, "ocr_dir": "x", "settings": {}, "stats": {}}
    out = work / "runs" / "ocr-2-3-4"
    summary = build_expert_run(out, _with_testlike(table), dd, work, [2, 3, 4], "none", info)
    assert set(summary["readability"]) == {"clean", "testlike", "test"}
    assert "sure" not in summary["readability"]["test"]  # a group's expert on every class's test pages: not counted
    # the group's train pages against every test page: another class mix, so no shrink from them
    assert summary["readability_comparable"] is False and summary["test_shrink"] == 1.0
    again = build_expert_run(work / "runs" / "tf", _with_testlike(table), dd, work, [2, 3, 4], "none",
                             {**info, "test_from": "member"})
    assert again["readability_comparable"] is True  # --test-from: the test pages put in the group
    # sure readings (p >= 0.5): every test page with its title (2 of 12 have no text), every readable train page
    assert again["readability"]["test"]["sure"] == pytest.approx(10 / 12, abs=1e-3)
    assert again["readability"]["clean"]["sure"] == pytest.approx(29 / 30, abs=1e-3)
    summary["test_shrink"] = 0.25  # as if the test pages had read 4x worse than the copies
    (out / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    args = ["ensemble", "member", "--work", str(work), "--specialist", "ocr-2-3-4", "--method", "soft"]
    assert main(args + ["--name", "auto"]) == 0
    assert "pulled towards uniform by x0.25" in capsys.readouterr().out
    assert main(args + ["--name", "off", "--text-shrink", "off"]) == 0
    assert "towards uniform" not in capsys.readouterr().out
    cols = [f"p_{c}" for c in range(6)]
    auto, off = (pd.read_csv(work / "ensembles" / n / "test_probs.csv")[cols].to_numpy() for n in ("auto", "off"))
    assert not np.allclose(auto, off)  # the expert counts less on the test
    expert = pd.read_csv(out / "test_probs.csv")  # its own file is never changed
    assert expert[["p_2", "p_3", "p_4"]].to_numpy().max() > 0.5


def test_oof_fitted_weights_are_left_out_when_a_text_member_reads_far_worse(tmp_path):
    """Measured on the sample (test read at x0.32 of the copies): stacking the member scored 0.62, soft voting 0.83,
    the CNNs alone 0.75; so below x0.5 only equal-weight methods are candidates."""
    from types import SimpleNamespace

    from dl_cls.ensemble.text_runs import oof_weight_note

    def run(name, kind, shrink):
        path = tmp_path / name
        path.mkdir()
        (path / "summary.json").write_text(json.dumps({"test_shrink": shrink}), encoding="utf-8")
        return SimpleNamespace(name=name, path=path, config=SimpleNamespace(kind=kind))

    cnn = run("cnn", None, 0.1)  # a trained run: never a text run, whatever its summary says
    assert oof_weight_note([cnn, run("ocr-a", "ocr", 0.7)]) is None  # the real competition's gap: weights kept
    note = oof_weight_note([cnn, run("ocr-b", "ocr", 0.32)])
    assert note and "ocr-b" in note and "soft/hard" in note


def test_the_test_pages_sure_share_is_judged_by_the_fold_models_as_the_copies_are():
    """Only fold 0's train pages carry their class word: the model fitted on every row is sure of every test page,
    the fold model that held fold 0 out (as it judges fold 0's copies) is sure of none."""
    from dl_cls.ocr.expert import cross_validate_judging, predict_test

    n = 60
    y, fold = np.arange(n) % 3, (np.arange(n) // 3) % 5
    text = [f"class{c}word" if k == 0 else "page" for c, k in zip(y, fold)]
    pages = {"clean": pd.DataFrame({"ID": [f"tr{i}" for i in range(n)], "target": y, "fold": fold, "n_chars": 9,
                                    "title": "", "text": text})}
    test = pd.DataFrame({"ID": [f"te{i}" for i in range(9)], "n_chars": 9, "title": "",
                         "text": [f"class{i % 3}word" for i in range(9)]})
    test.loc[8, ["n_chars", "text"]] = [0, ""]  # no text: never judged
    no_kw = pd.DataFrame(columns=["class", "keyword", "source"])
    oofs, judged = cross_validate_judging(pages, test, [0, 1, 2], no_kw)
    assert set(oofs) == {"clean"} and len(judged) == 5 and all(len(p) == 9 and r.sum() == 8 for p, r in judged)
    sure = [float((p[r].max(1) >= 0.5).mean()) for p, r in judged]
    assert sure[0] == 0.0 and min(sure[1:]) == 1.0  # fold 0 held out: the class words never seen
    full, readable, *_ = predict_test(pages, test, [0, 1, 2], no_kw)
    assert (full[["p_0", "p_1", "p_2"]].to_numpy()[readable].max(1) >= 0.5).all()
    assert cross_validate_judging(pages, None, [0, 1, 2], no_kw)[1] == []
