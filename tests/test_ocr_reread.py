"""A second reading of the pages the text model is unsure about (issue 29 item 3): which pages are read again (judged
as the OOF and the test are predicted, so a copy is never judged by a model that saw its own page), how the second
readings join the table, and `dl-cls ocr --reread` end to end through a fake reader."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from builders import make_data

from dl_cls.cli import main
from dl_cls.core.errors import DlClsError
from dl_cls.data.contract import load_data
from dl_cls.data.folds import ensure_folds
from dl_cls.ocr.expert import OcrExpert
from dl_cls.ocr.reread import parse_rereads, unsure_pages, with_rereads
from dl_cls.ocr.table import cost_by_kind, read_table, write_table

KEYWORDS_NONE = pd.DataFrame(columns=["class", "keyword", "source"])


def _row(image_id, split, text, n_chars=30, mean_conf=80.0, **more):
    return dict(ID=image_id, split=split, orientation=0, mirrored=False, skew_deg=0.0, n_chars=n_chars,
                mean_conf=mean_conf, title="", text=text, alts="", **more)


def test_reread_names_are_checked_before_any_page_is_read():
    assert parse_rereads("raw,x1.5") == ["raw", "x1.5"] and parse_rereads("none") == []
    for bad in ("raw,sharpen", "raw,raw"):
        with pytest.raises(DlClsError, match="--reread .*none.*raw, x1.5, rules"):
            parse_rereads(bad)


def test_a_copy_is_judged_by_the_model_of_the_other_folds(tmp_path):
    """Each clean page carries its class word and a token of its own (Hangul syllables drawn at random: no n-gram
    shared with another page); its copy reads the token alone. A model that
    saw the copy's own clean page is sure of it (the token gives the class away); the other folds' model is not, so
    (nearly) every copy is read again, as its OOF prediction would be unsure."""
    targets = np.repeat(np.arange(3), 20)
    data = make_data(tmp_path / "data", targets, 6, 3)
    work = tmp_path / "work"
    dd = load_data(data, label_fixes=None)
    ensure_folds(work, dd)
    rng = np.random.default_rng(0)
    token = {i: "".join(chr(0xAC00 + int(c)) for c in rng.integers(0, 11172, 5)) for i in dd.train["ID"]}
    rows = [_row(i, "train", f"{token[i]} {token[i]} cls{t}word") for i, t in zip(dd.train["ID"], dd.train["target"])]
    rows += [_row(i, "testlike", f"{token[i]} {token[i]}", true_orientation=0, true_mirrored=False)
             for i in dd.train["ID"]]
    rows += [_row(i, "test", f"cls{k % 3}word" if k % 2 else "zz") for k, i in enumerate(dd.test_ids)]
    table = pd.DataFrame(rows)
    seen = OcrExpert([0, 1, 2], KEYWORDS_NONE).fit(table["title"][:60], table["text"][:60], targets)
    probs, _ = seen.predict_proba(list(table["title"][60:120]), list(table["text"][60:120]))
    assert (probs.max(1) >= 0.5).mean() > 0.9  # the leak this guards against would make the copies look sure

    unsure = unsure_pages(table, dd, work, [0, 1, 2], "none", 0.5).pages
    assert unsure["testlike"] <= set(dd.train["ID"]) and len(unsure["testlike"]) / 60 > 0.9, len(unsure["testlike"])
    assert unsure["test"] == {i for k, i in enumerate(dd.test_ids) if k % 2 == 0}  # "zz" says nothing


def test_the_title_reading_takes_only_the_unsure_pages_leaning_towards_a_group(tmp_path):
    """Classes 0-1 are a group told apart by their titles only: their pages share the body word "form" and the
    group's unsure test pages read "form" alone; class 2 and 3 pages read their own words. The title reader takes
    the unsure pages whose probability leans towards the group (and those without text), the raw reader every unsure
    page; without a group the title reader takes none, judged by the group's own model every one."""
    targets = np.repeat(np.arange(4), 15)
    data = make_data(tmp_path / "data", targets, 12, 4)
    work = tmp_path / "work"
    dd = load_data(data, label_fixes=None)
    ensure_folds(work, dd)
    body = {0: "form cls0title", 1: "form cls1title", 2: "cls2word cls2more", 3: "cls3word cls3more"}
    rows = [_row(i, "train", body[t]) for i, t in zip(dd.train["ID"], dd.train["target"])]
    rows += [_row(i, "testlike", body[t], true_orientation=0, true_mirrored=False)
             for i, t in zip(dd.train["ID"], dd.train["target"])]
    test_text = ["form", "form", "zz", "", "cls2word", "cls3word"] * 2
    rows += [_row(i, "test", text, n_chars=len(text)) for i, text in zip(dd.test_ids, test_text)]
    unsure = unsure_pages(pd.DataFrame(rows), dd, work, [0, 1, 2, 3], "none", 0.5, groups=[[0, 1]])
    ids = dict(zip(dd.test_ids, test_text))
    assert {ids[i] for i in unsure.pages["test"]} == {"form", "zz", ""}
    assert {ids[i] for i in unsure.leaning["test"]} == {"form", ""}  # "zz" leans nowhere; "" read nothing
    assert unsure.of("title") is unsure.leaning and unsure.of("raw") is unsure.pages
    no_group = unsure_pages(pd.DataFrame(rows), dd, work, [0, 1, 2, 3], "none", 0.5)
    assert no_group.pages == unsure.pages and no_group.leaning == {"testlike": set(), "test": set()}
    judged_alone = unsure_pages(pd.DataFrame(rows), dd, work, [0, 1], "none", 0.5, groups=[[0, 1]])
    assert judged_alone.leaning == judged_alone.pages  # the group's own model: every unsure page is the group's


def test_second_readings_join_the_alts_and_the_table_reads_back(tmp_path):
    first_alt = {"orientation": 180, "mirrored": False, "n_chars": 3, "mean_conf": 60.0, "title": "", "text": "abc"}
    table = pd.DataFrame([_row("a.jpg", "test", "zz"), _row("b.jpg", "test", "zz"),
                          _row("a.jpg", "testlike", "zz", true_orientation=0, true_mirrored=False)])
    table.loc[0, "alts"] = json.dumps([first_alt])
    again = pd.DataFrame([_row("a.jpg", "test", "cls1word", n_chars=np.int64(8)),
                          _row("a.jpg", "testlike", "cls2word", mean_conf=float("nan"))])
    out = with_rereads(table, again)
    test_a = json.loads(out.loc[0, "alts"])
    assert test_a[0] == first_alt and test_a[1]["text"] == "cls1word" and test_a[1]["n_chars"] == 8
    assert out.loc[1, "alts"] == ""  # not read again
    assert json.loads(out.loc[2, "alts"])[0]["mean_conf"] == 0.0  # a reading without words: no NaN in the table
    back = read_table(write_table(out, tmp_path))
    assert len(json.loads(back.loc[0, "alts"])) == 2


def test_each_second_reader_reads_its_own_pages_and_one_without_pages_reads_nothing(tmp_path):
    from dl_cls.ocr.read import ReadSettings
    from dl_cls.ocr.reread import Unsure, reread
    from dl_cls.ocr.table import Job, ReadContext
    from test_ocr_copies import _Engine

    table = pd.DataFrame([_row(i, "test", "zz") for i in ("a.jpg", "b.jpg", "c.jpg")])
    jobs = [Job("test", i, str(tmp_path / i)) for i in table["ID"]]
    read_by = {}

    def read(todo, ctx, workers, progress):
        read_by[(ctx.settings.binarise, ctx.settings.title_only)] = [j.id for j in todo]
        rows = pd.DataFrame([_row(j.id, j.split, "cls1word") for j in todo])
        return rows, {"cpu_by_kind": {"test": {"pages": len(todo)}}}

    ctx = ReadContext(_Engine(), ReadSettings(), 60.0, str(tmp_path / "ocr" / "first"))
    where = (tmp_path, _Engine(), tmp_path / "ocr", None)
    unsure = Unsure({"test": {"a.jpg", "b.jpg"}, "testlike": set()}, {"test": {"b.jpg"}, "testlike": set()})
    out, stats = reread(table, unsure, jobs, ctx, ["raw", "title"], where, 1, False, read)
    assert read_by == {(False, False): ["a.jpg", "b.jpg"], (True, True): ["b.jpg"]}
    assert [len(json.loads(a)) if a else 0 for a in out["alts"]] == [1, 2, 0]
    assert [list(s["cpu_by_kind"]) for s in stats] == [["re-read raw: test"], ["re-read title: test"]]
    read_by.clear()
    reread(table, Unsure(unsure.pages, {"test": set(), "testlike": set()}), jobs, ctx, ["raw", "title"], where, 1,
           False, read)
    assert list(read_by) == [(False, False)]  # the title reader had no page: not called


def _labels(n_test):
    return {f"te{k:04d}.jpg": k % 6 for k in range(n_test)}


def _fake_read_all(calls: list, n_test: int):
    """A reader without an engine: a train page reads its class word; a copy and every second test page read
    nothing useful at first, and their class word when read again without our binarisation (--reread raw)."""
    test_class = _labels(n_test)

    def read_all(jobs, ctx, workers, progress=True):
        again = not ctx.settings.binarise
        rows = []
        for job in jobs:
            if job.split == "train":
                text = f"cls{int(job.id[2:6]) // 10}word"
            elif job.split == "testlike":
                text = f"cls{int(job.id[2:6]) // 10}word" if again else "zz"
            else:
                k = int(job.id[2:6])
                text = f"cls{test_class[job.id]}word" if again or k % 2 else "zz"
            extra = {"true_orientation": 0, "true_mirrored": False} if job.split == "testlike" else {}
            rows.append({**_row(job.id, job.split, text, **extra), "cpu_seconds": 0.25, "poses_read": 1})
        calls.append((again, sorted((j.split, j.id) for j in jobs)))
        stats = {"images": len(jobs), "cached": 0, "read": len(jobs), "budget_hit": 0,
                 "cpu_seconds_per_image": 0.25, "wall_seconds_per_image": 0.25, "cpu_by_kind": cost_by_kind(rows)}
        return pd.DataFrame(rows).drop(columns=["cpu_seconds", "poses_read"]), stats
    return read_all


@pytest.mark.parametrize("reread", ["raw", "none"])
def test_ocr_reads_the_unsure_pages_again_and_the_text_models_keep_the_surer_reading(tmp_path, monkeypatch, capsys,
                                                                                   reread):
    import dl_cls.ocr.cli as ocr_cli
    from test_ocr_copies import _Engine

    calls: list = []
    n_test = 40
    monkeypatch.setattr(ocr_cli, "make_engine", lambda *a, **k: _Engine())
    monkeypatch.setattr(ocr_cli, "read_all", _fake_read_all(calls, n_test))
    data = make_data(tmp_path / "data", np.repeat(np.arange(6), 10), n_test, 6, image_size=32)
    work = tmp_path / "work"
    code = main(["ocr", "--data", str(data), "--work", str(work), "--label-fixes", "none", "--orientation", "ocr",
                 "--no-progress", "--classes", "all", "--copies", "config", "--keywords", "none",
                 "--reread", reread])
    out = capsys.readouterr()
    assert code == 0, out.err
    run = work / "runs" / "ocr-all"
    probs = pd.read_csv(run / "test_probs.csv").set_index("ID")
    right = probs.to_numpy().argmax(1) == np.array([_labels(n_test)[i] for i in probs.index])
    summary = json.loads((run / "summary.json").read_text())
    config = yaml.safe_load((run / "config.yaml").read_text())
    if reread == "none":
        assert len(calls) == 2 and not any(again for again, _ in calls)
        assert right[1::2].all() and right[::2].mean() < 0.5  # the even test pages read nothing useful
        assert config["reread"]["readers"] == []
        return
    again = [jobs for a, jobs in calls if a]
    assert len(again) == 1  # one second reader, after the first readings
    assert {s for s, _ in again[0]} == {"testlike", "test"}
    assert sorted(i for s, i in again[0] if s == "test") == [f"te{k:04d}.jpg" for k in range(0, n_test, 2)]
    assert len([i for s, i in again[0] if s == "testlike"]) == 60  # every copy read "zz": all unsure
    assert right.all()  # the second reading was the surer one wherever it was read
    assert summary["other_reading_chosen"]["test"] == n_test // 2 and summary["testlike"]["f1"] == 1.0
    assert config["reread"] == {"readers": ["raw"], "below": 0.5}
    assert "re-reading the pages the text model is unsure about" in out.out and "20 test pages, with raw" in out.out
    assert "re-read raw: test 0.25" in out.out  # its cost beside the first reading's
    table = read_table(next((work / "ocr").glob("*/ocr.csv")))
    assert (table["alts"] != "").sum() == 60 + n_test // 2


def test_reread_refuses_an_unknown_reader_before_reading(tmp_path, monkeypatch, capsys):
    import dl_cls.ocr.cli as ocr_cli

    calls: list = []
    monkeypatch.setattr(ocr_cli, "read_all", _fake_read_all(calls, 6))
    data = make_data(tmp_path / "data", np.repeat(np.arange(3), 10), 6, 3)
    code = main(["ocr", "--data", str(data), "--work", str(tmp_path / "w"), "--label-fixes", "none",
                 "--classes", "all", "--reread", "raw,bogus"])
    assert code != 0 and "--reread 'raw,bogus'" in capsys.readouterr().err and calls == []
