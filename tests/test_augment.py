"""Offline augmentation: counting rule, presets/ops, robustness, determinism, resume, safety, leak-freedom."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from dl_cls.augment import fastops
from dl_cls.augment.generate import AugSettings, parse_oversample, plan_copies, plan_jobs, run_augment
from dl_cls.augment.ops import Op, apply_ops, derive_seed
from dl_cls.augment.preset import available_presets, load_preset
from dl_cls.core.errors import DlClsError

REPO = Path(__file__).resolve().parent.parent


def _page(h: int, w: int, seed: int) -> np.ndarray:
    """A synthetic document page: paper, a header box and lines of random letters."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 240, np.uint8)
    cv2.rectangle(img, (w // 10, h // 12), (w - w // 10, h // 5), (30, 30, 30), 2)
    y = h // 4
    while y < h - 10:
        text = "".join(chr(int(c)) for c in rng.integers(65, 90, 8))
        cv2.putText(img, text, (w // 10, y), cv2.FONT_HERSHEY_SIMPLEX, h / 400, (20, 20, 20), 1, cv2.LINE_AA)
        y += max(10, h // 12)
    return img


def make_data(root: Path, per_class=(3, 5, 2, 4), size=(96, 80)) -> Path:
    """A competition-format data dir (train.csv, meta.csv, sample_submission.csv, train/, test/)."""
    (root / "train").mkdir(parents=True)
    (root / "test").mkdir()
    rows, k = [], 0
    for c, n in enumerate(per_class):
        for _ in range(n):
            name = f"{k:04d}_{c}.jpg"
            cv2.imwrite(str(root / "train" / name), _page(size[0], size[1], k))
            rows.append((name, c))
            k += 1
    pd.DataFrame(rows, columns=["ID", "target"]).to_csv(root / "train.csv", index=False)
    pd.DataFrame({"target": range(len(per_class)), "class_name": [f"c{c}" for c in range(len(per_class))]}).to_csv(
        root / "meta.csv", index=False)
    cv2.imwrite(str(root / "test" / "t0.jpg"), _page(size[0], size[1], 999))
    pd.DataFrame({"ID": ["t0.jpg"], "target": [0]}).to_csv(root / "sample_submission.csv", index=False)
    return root


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("augdata") / "data")


def _load(data_dir):
    from dl_cls.data.contract import load_data

    return load_data(data_dir, label_fixes=None)


def _run(data_dir, out, workers=1, preset="doc", **kw):
    settings = AugSettings(preset=preset, scale=kw.pop("scale", 3), seed=kw.pop("seed", 0), size=kw.pop("size", 512),
                           balance=kw.pop("balance", False), oversample=kw.pop("oversample", {}))
    logs: list[str] = []
    manifest = run_augment(_load(data_dir), load_preset(preset), settings, out, workers=workers, progress=False,
                           log=logs.append)
    return manifest, "\n".join(logs)


def _snapshot(out: Path) -> dict[str, bytes]:
    files = {f"images/{p.name}": p.read_bytes() for p in (out / "images").iterdir()}
    files["manifest.csv"] = (out / "manifest.csv").read_bytes()
    return files


# --- counting rule -------------------------------------------------------------------------------------------

TRAIN = pd.DataFrame({"ID": [f"{i}.jpg" for i in range(12)], "target": [0] * 6 + [1] * 4 + [2] * 2})


def test_plan_default_is_scale_times_each_image():
    c = plan_copies(TRAIN, 5)
    assert (c["copies"] == 5).all()
    jobs = plan_jobs(c)
    assert len(jobs) == 60 and jobs["ID"].is_unique
    assert (jobs.groupby("source_id")["copy"].apply(lambda s: sorted(s) == list(range(5)))).all()
    assert jobs.groupby("target").size().to_dict() == {0: 30, 1: 20, 2: 10}


def test_plan_balance_equalises_class_totals():
    jobs = plan_jobs(plan_copies(TRAIN, 3, balance=True))
    assert jobs.groupby("target").size().to_dict() == {0: 18, 1: 18, 2: 18}
    # within a class the copies differ by at most one between images, and every image keeps its original
    per_image = jobs.groupby("source_id").size()
    for t in (0, 1, 2):
        ids = TRAIN.loc[TRAIN["target"] == t, "ID"]
        assert per_image[ids].max() - per_image[ids].min() <= 1
    assert (jobs.groupby("source_id")["copy"].min() == 0).all()


def test_plan_oversample_multiplies_and_combines_with_balance():
    jobs = plan_jobs(plan_copies(TRAIN, 2, oversample={2: 3}))
    assert jobs.groupby("target").size().to_dict() == {0: 12, 1: 8, 2: 12}
    jobs = plan_jobs(plan_copies(TRAIN, 2, balance=True, oversample={1: 2}))
    assert jobs.groupby("target").size().to_dict() == {0: 12, 1: 24, 2: 12}
    with pytest.raises(DlClsError, match="not classes"):
        plan_copies(TRAIN, 2, oversample={9: 2}, num_classes=3)


def test_parse_oversample():
    assert parse_oversample("3=2, 4=2,14=3") == {3: 2, 4: 2, 14: 3}
    assert parse_oversample(None) == {}
    for bad in ("3", "a=2", "3=0", "3=x"):
        with pytest.raises(DlClsError, match="--oversample"):
            parse_oversample(bad)


def test_dir_name_encodes_settings():
    s = AugSettings(preset="doc", scale=10, seed=1, balance=True, oversample={4: 2, 3: 2}, size=384)
    assert s.dir_name("doc") == "doc_x10_s1_bal_os3-2-4-2_L384"
    assert AugSettings(preset="doc", scale=10).dir_name("doc") == "doc_x10_s0"


def test_derive_seed_is_stable():
    assert derive_seed(0, "a.jpg", 1) == derive_seed(0, "a.jpg", 1)
    assert len({derive_seed(0, "a.jpg", 1), derive_seed(0, "a.jpg", 2), derive_seed(1, "a.jpg", 1),
                derive_seed(0, "b.jpg", 1)}) == 4
    assert derive_seed(0, "a.jpg", 1) == 7018137809949495315  # hashlib-based: never changes between runs


# --- presets and ops -----------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("preset", available_presets())
def test_every_op_of_every_preset_runs_on_a_tiny_image(preset):
    pr = load_preset(preset)
    assert {"light", "doc", "heavy"} <= set(available_presets())
    img = _page(40, 32, 1)
    for op in pr.ops:
        draws = 8 if op.op.startswith("augraphy.") else 3
        for s in range(draws):
            out = op(img, s, None)
            assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3, op.name
            assert out.shape[0] >= 4 and out.shape[1] >= 4, op.name
        # seeded: the same op seed gives the same pixels
        assert np.array_equal(op(img, 7, None), op(img, 7, None)), op.name


def test_ops_that_change_pixels_do(data_dir):
    img = _page(120, 100, 3)
    for name in ("rotate", "rot90", "overlay", "photocopy", "shadow", "faded_ink"):
        out = Op(name=name, op=name, p=1.0).build()(img, 3, None)
        assert out.shape[2] == 3 and (out.shape != img.shape or np.abs(out.astype(int) - img).mean() > 0.5), name


def test_rotate_fills_with_paper_or_dark_never_black_default():
    img = np.full((80, 60, 3), 230, np.uint8)
    paper = Op(name="r", op="rotate", p=1, params={"angle": [45, 45], "dark_p": 0.0, "fit_p": 0.0}).build()
    assert paper(img, 1, None)[0, 0].min() >= 220
    dark = Op(name="r", op="rotate", p=1, params={"angle": [45, 45], "dark_p": 1.0, "fit_p": 0.0}).build()
    assert dark(img, 1, None)[0, 0].max() <= 70


def test_preset_errors_name_the_file_and_op(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("ops:\n  - op: albu.GaussNoise\n    p: 0.5\n    params: {var_limit: [10, 50]}\n")
    with pytest.raises(DlClsError, match=r"bad.yaml: ops\[0\].*GaussNoise"):  # a 1.x name, caught by strict=True
        load_preset(str(bad))
    bad.write_text("ops:\n  - op: augraphy.LensFlare\n    p: 0.5\n")
    with pytest.raises(DlClsError, match="curated"):
        load_preset(str(bad))
    bad.write_text("ops:\n  - op: rotate\n    p: 1.5\n  - op: nope\n    p: 0.1\n    extra: 1\n")
    with pytest.raises(DlClsError, match=r"p must be.*\n.*unknown key"):
        load_preset(str(bad))
    with pytest.raises(DlClsError, match="available: .*doc"):
        load_preset("no_such_preset")


@pytest.mark.parametrize("op, params, valid", [
    ("faded_ink", "{amout: [0.2, 0.6]}", "amount, cells"),  # ours: names from the function's signature
    ("albu.GaussianBlur", "{blur_limt: [3, 7]}", "blur_limit"),  # albumentations: the class's __init__
    ("augraphy.InkBleed", "{intensity: [0.3, 0.6]}", "intensity_range, kernel_size, severity"),
])
def test_misspelt_param_fails_when_the_preset_loads(tmp_path, op, params, valid):
    bad = tmp_path / "typo.yaml"
    bad.write_text(f"ops:\n  - op: albu.HorizontalFlip\n  - op: {op}\n    p: 0.5\n    params: {params}\n")
    # even without building the ops (`augment --list`): the file, the entry, the op and the valid names
    with pytest.raises(DlClsError, match=rf"typo.yaml: ops\[1\] .*unknown param.* for {re.escape(op)}; "
                                         rf"valid: .*{valid}"):
        load_preset(str(bad), build=False)


def test_own_op_param_of_the_wrong_kind_fails_when_the_preset_loads(tmp_path):
    bad = tmp_path / "kind.yaml"
    bad.write_text("ops:\n  - op: rotate\n    params: {angle: [30, -30], dark_p: high}\n")
    with pytest.raises(DlClsError, match=r"kind.yaml: ops\[0\] \(rotate\): rotate: angle=\[30, -30\]: expected "
                                         r"\[lo, hi\] with lo <= hi\n.*dark_p='high': expected a number"):
        load_preset(str(bad), build=False)


@pytest.mark.parametrize("preset", available_presets())
def test_shipped_presets_load(preset):
    assert load_preset(preset, build=False).ops


def test_failing_or_slow_op_is_skipped_and_counted(monkeypatch):
    def boom(img, rng, ctx):
        raise RuntimeError("kaput")

    def sleepy(img, rng, ctx):
        time.sleep(0.06)
        return 255 - img

    monkeypatch.setitem(fastops.OPS, "boom", boom)
    monkeypatch.setitem(fastops.OPS, "sleepy", sleepy)
    ops = [Op(name=n, op=n, p=1.0).build() for n in ("boom", "sleepy", "rot90")]
    img = _page(40, 30, 0)
    out, applied, records = apply_ops(ops, img, seed=1, budget_ms=30)
    assert applied == ["rot90"]
    status = {n: s for n, s, _ in records}
    assert status["boom"].startswith("failed: RuntimeError: kaput") and status["sleepy"] == "slow"
    assert out.shape == (30, 40, 3)  # rotated, not inverted: the slow op's result was discarded


def test_failing_op_never_kills_a_run(data_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(fastops.OPS, "boom", lambda img, rng, ctx: 1 / 0)
    preset = tmp_path / "flaky.yaml"
    preset.write_text("ops:\n  - op: boom\n    p: 1.0\n  - op: rot90\n    p: 1.0\n")
    manifest, log = _run(data_dir, tmp_path / "out", preset=str(preset), scale=2)
    assert len(manifest) == 28 and (tmp_path / "out" / "manifest.csv").is_file()
    assert set(manifest.loc[manifest["copy"] > 0, "ops"]) == {"rot90"}
    assert (manifest.loc[manifest["copy"] == 0, "ops"] == "none").all()
    line = next(l for l in log.splitlines() if l.strip().startswith("boom"))
    assert line.split()[1:4] == ["0", "14", "0"]  # applied 0, failed 14 (one per augmented copy), slow 0
    assert "ZeroDivisionError" in log


# --- the generator -------------------------------------------------------------------------------------------

def test_manifest_schema_and_counts(data_dir, tmp_path):
    manifest, log = _run(data_dir, tmp_path / "a", scale=3, balance=True, oversample={2: 2})
    assert list(manifest.columns) == ["ID", "target", "source_id", "copy", "ops"]
    on_disk = pd.read_csv(tmp_path / "a" / "manifest.csv", keep_default_na=False)
    assert on_disk.equals(manifest.reset_index(drop=True).astype(on_disk.dtypes.to_dict()))
    assert manifest.groupby("target").size().to_dict() == {0: 15, 1: 15, 2: 30, 3: 15}
    assert sorted(p.name for p in (tmp_path / "a" / "images").iterdir()) == sorted(manifest["ID"])
    assert "per-class totals (target:images): 0:15, 1:15, 2:30, 3:15" in log and "disk use:" in log
    first = manifest[manifest["copy"] == 0].iloc[0]
    assert first["ops"] == "none"
    orig = cv2.imread(str(data_dir / "train" / first["source_id"]))
    assert cv2.imread(str(tmp_path / "a" / "images" / first["ID"])).shape == orig.shape  # never upscaled


@pytest.mark.slow
def test_same_bytes_with_1_or_2_workers(data_dir, tmp_path):
    _run(data_dir, tmp_path / "w1", workers=1, scale=3)
    _run(data_dir, tmp_path / "w2", workers=2, scale=3)
    assert _snapshot(tmp_path / "w1") == _snapshot(tmp_path / "w2")


def test_other_settings_never_mix_into_an_existing_dir(data_dir, tmp_path):
    _run(data_dir, tmp_path / "a", scale=2)
    before = _snapshot(tmp_path / "a")
    with pytest.raises(DlClsError, match=r"other settings(.|\n)*seed: existing 0 vs now 1(.|\n)*hint"):
        _run(data_dir, tmp_path / "a", scale=2, seed=1)
    with pytest.raises(DlClsError, match="scale"):
        _run(data_dir, tmp_path / "a", scale=3)
    assert _snapshot(tmp_path / "a") == before
    from dl_cls.core.lock import Lock

    held = Lock(tmp_path / "a", "set").acquire()  # another run writing into it right now
    with pytest.raises(DlClsError, match="is being written by pid"):
        _run(data_dir, tmp_path / "a", scale=2)
    held.release()
    _run(data_dir, tmp_path / "a", scale=2)  # and once it is gone, a re-run just finishes
    assert _snapshot(tmp_path / "a") == before
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(DlClsError, match="not made by"):
        _run(data_dir, foreign, scale=2)


def test_resume_after_torn_journal_and_lost_images(data_dir, tmp_path):
    out = tmp_path / "a"
    _run(data_dir, out, scale=3)
    full = _snapshot(out)
    # simulate a crash: manifest not yet written, two images lost, one image without its journal line,
    # a torn last journal line and a leftover temp file
    (out / "manifest.csv").unlink()
    lines = (out / "journal.jsonl").read_text().splitlines()
    gone = [json.loads(l)["ID"] for l in lines[:2]]
    for name in gone:
        (out / "images" / name).unlink()
    kept = lines[:2] + lines[3:-1]  # lines[2]: an image written but killed before its journal line
    (out / "journal.jsonl").write_text("\n".join(kept) + "\n" + lines[-1][: len(lines[-1]) // 2])
    (out / "images" / ".x.jpg.123.tmp").write_bytes(b"partial")
    _, log = _run(data_dir, out, scale=3)
    assert f"resuming: {len(lines) - 4} of {len(lines)} images already complete" in log
    assert _snapshot(out) == full


@pytest.mark.slow
def test_kill_minus_9_then_resume_equals_uninterrupted(tmp_path):
    data = make_data(tmp_path / "data", per_class=(8, 8, 8, 6), size=(300, 240))
    cmd = [sys.executable, "-m", "dl_cls.cli", "augment", "--data", str(data), "--label-fixes", "none",
           "--scale", "6", "--workers", "1", "--no-progress", "--preset", "doc"]
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}
    out = tmp_path / "killed"
    proc = subprocess.Popen(cmd + ["--out", str(out)], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if (out / "images").is_dir() and len(list((out / "images").glob("*.jpg"))) >= 20:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed: " + proc.stderr.read().decode()[-500:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.csv").exists()
    n_before = len(list((out / "images").glob("*.jpg")))
    assert 20 <= n_before < 180
    res = subprocess.run(cmd + ["--out", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "resuming:" in res.stdout
    _run(data, tmp_path / "clean", scale=6)
    assert _snapshot(out) == _snapshot(tmp_path / "clean")


def test_manifest_with_folds_never_leaks_a_validation_source(data_dir, tmp_path):
    from dl_cls.data.folds import make_folds, train_rows_for_fold

    manifest, _ = _run(data_dir, tmp_path / "a", scale=3, balance=True)
    folds = make_folds(_load(data_dir).train, n_folds=2, seed=0)
    for k in sorted(folds["fold"].unique()):
        val_sources = set(folds.loc[folds["fold"] == k, "ID"])
        rows = train_rows_for_fold(manifest, folds, k)
        assert val_sources and not set(rows["source_id"]) & val_sources
        assert set(rows["source_id"]) == set(folds["ID"]) - val_sources  # and nothing else was dropped
        assert len(rows) == (~manifest["source_id"].isin(val_sources)).sum()


# --- CLI -----------------------------------------------------------------------------------------------------

def test_cli_list_preview_and_errors(data_dir, tmp_path, capsys):
    from dl_cls.cli import main

    assert main(["augment", "--list", "doc"]) == 0
    listing = capsys.readouterr().out
    assert "rotate_any" in listing and "p=0.75" in listing and "augraphy.InkBleed" in listing
    png = tmp_path / "sheet.png"
    assert main(["augment", "--preview", "doc", "--n", "2", "--copies", "2", "--data", str(data_dir),
                 "--label-fixes", "none", "--out", str(png)]) == 0
    sheet = cv2.imread(str(png))
    assert sheet is not None and sheet.shape[0] > 300 and sheet.shape[1] > 400
    assert main(["augment", "--data", str(data_dir), "--label-fixes", "none", "--work", str(tmp_path)]) == 2
    assert "--scale is required" in capsys.readouterr().err
    assert main(["augment", "--scale", "2", "--oversample", "3=x", "--data", str(data_dir)]) == 2
    assert main(["augment", "--scale", "2", "--preset", "nope", "--data", str(data_dir)]) == 2
    assert "unknown augmentation preset" in capsys.readouterr().err
