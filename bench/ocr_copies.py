"""Does the text runs' test-like OOF predict their test score? The copies as configured vs fitted to the test pages
(issue 29), on a data dir whose test labels are known (the sample's test_labels.csv).

Runs `dl-cls ocr --classes all 3,4,7,14` once per pass on one cache, each in its own work dir (sharing WORK's
folds.csv and orientation model): WORK/copies-config with `--copies config` (the baseline, as before issue 29),
WORK/copies-fit with `--copies fit` (the default now), and fit+1, fit+2 with 1 or 2 more copies of each train page to
train the text model on (`--train-copies`), fit-doubt, which reads a doubted page's 2-3 likeliest poses and lets
the text model keep the surest reading (`--pose-sure 0.9`; the default reads the pose model's pick alone, one engine
call a page), fit-ocrchoice, where the most confident of those readings wins (the reader before version 5), and
the fit on two other seeds of the copies (how far the figures move with the copies'
random draws alone); a pass whose run dirs exist is reused (its pose mix is then not printed). Then prints, for
each, the member's and the family expert's test-like OOF beside their test F1 (the gap is the figure to shrink), the
sure-reading shares, the pose mix of test pages vs copies, and CPU seconds a page by kind with the tail.

    python bench/ocr_copies.py --data work/demo/sample --work work/bench-copies [--workers 2] [--member RUN_DIR]

Run alone on the machine (the OCR's CPU seconds are per page, but tesseract slows when the cores are shared).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from dl_cls.artifacts.runs import macro_f1, prob_columns
from dl_cls.pose.mix import mix_gap, pose_mix

FAMILY = [3, 4, 7, 14]
# pass name -> dl-cls ocr arguments (each pass its own work dir, one shared cache)
MODES = {"config": ["--copies", "config"], "fit": ["--copies", "fit"],
         "fit+1": ["--copies", "fit", "--train-copies", "1"], "fit+2": ["--copies", "fit", "--train-copies", "2"],
         # a doubted page's 2-3 likeliest poses read (the default reads the pick alone), the text model choosing ...
         "fit-doubt": ["--copies", "fit", "--pose-sure", "0.9"],
         # ... or the most confident reading, as the reader before version 5
         "fit-ocrchoice": ["--copies", "fit", "--pose-sure", "0.9", "--pose-choice", "ocr"],
         "fit-rules": ["--copies", "fit", "--drop-rules"],  # table rules whitened before reading
         "fit-norules": ["--copies", "fit", "--no-drop-rules"],
         # the same fit on other seeds of the copies: how much the figures move with the copies' draws alone
         "fit-s1235": ["--copies", "fit", "--testlike-seed", "1235"],
         "fit-s1236": ["--copies", "fit", "--testlike-seed", "1236"]}


def _prepare(work: Path, name: str) -> Path:
    """WORK/<name>: WORK's folds and orientation runs copied in, so every pass shares them."""
    out = work / name
    (out / "runs").mkdir(parents=True, exist_ok=True)
    for name in ("folds.csv", "folds.json"):
        if (work / name).is_file() and not (out / name).exists():
            shutil.copy2(work / name, out / name)
    for run in (work / "runs").glob("orient-*"):
        if run.is_dir() and not (out / "runs" / run.name).exists():
            shutil.copytree(run, out / "runs" / run.name)
    return out


def _ocr(data: Path, work: Path, cache: Path, mode: str, workers: int) -> bool:
    """Run one pass unless its run dirs exist; whether it ran (its table is then the cache's ocr.csv)."""
    if (work / "runs" / "ocr-all" / "summary.json").is_file():
        print(f"{mode}: reusing {work / 'runs'}", flush=True)
        return False
    cmd = [str(Path(sys.executable).parent / "dl-cls"), "ocr", "--data", str(data), "--work", str(work),
           "--classes", "all", ",".join(map(str, FAMILY)), "--label-fixes", "none", "--cache", str(cache),
           "--no-progress", "--workers", str(workers), *MODES[mode]]
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return True


def _test_f1(run: Path, labels: pd.Series, classes: list[int]) -> tuple[float, float]:
    """Test macro F1 of a run: every test page (the member), or the readable test pages of the group (an expert,
    as its OOF counts readable copies); and the share of those pages."""
    probs = pd.read_csv(run / "test_probs.csv", dtype={"ID": str}).set_index("ID")
    y = labels.loc[probs.index].to_numpy()
    p = probs[prob_columns(classes)].to_numpy()
    pred = np.asarray(classes)[p.argmax(1)]
    keep = np.isin(y, classes) & (p.max(1) > 1.0 / len(classes) + 1e-6) if len(classes) < len(labels.unique()) \
        else np.ones(len(y), bool)
    return macro_f1(y[keep], pred[keep]), float(keep.mean())


def _oof_f1(run: Path, train: pd.Series, classes: list[int]) -> float:
    """The OOF macro F1 the ensemble sees: oof.csv's rows (every train page for the member, uniform where no text
    was read, as on the test; an expert's readable copies), scored as the test rows are."""
    oof = pd.read_csv(run / "oof.csv", dtype={"ID": str})
    pred = np.asarray(classes)[oof[prob_columns(classes)].to_numpy().argmax(1)]
    return macro_f1(train.loc[oof["ID"]].to_numpy(), pred)


def _row(work: Path, labels: pd.Series, train: pd.Series) -> dict:
    out = {}
    for name, classes in (("member", sorted(labels.unique().tolist())), ("family", FAMILY)):
        run = work / "runs" / ("ocr-all" if name == "member" else "ocr-" + "-".join(map(str, FAMILY)))
        summary = json.loads((run / "summary.json").read_text())
        f1, share = _test_f1(run, labels, classes)
        out[name] = {"oof": _oof_f1(run, train, classes), "test": f1, "test_share": share,
                     "sure": {k: v.get("sure") for k, v in summary["readability"].items()},
                     "letters": {k: v["letters"] for k, v in summary["readability"].items()},
                     "keyword": {k: v["title_keyword"] for k, v in summary["readability"].items()},
                     "shrink": summary.get("test_shrink"),
                     "orient": {k: summary[k]["orientation_right"] for k in ("testlike", "clean") if k in summary},
                     "poses": (summary.get("ocr") or {}).get("poses_read_per_image"),
                     "cpu": summary.get("cpu_seconds_per_page")}
    return out


def _ensembles(work: Path, member: Path, data: Path) -> dict:
    """{shrink: (chosen method, OOF F1, test F1)} of `dl-cls ensemble MEMBER ocr-all --specialist <family expert>`."""
    if not (work / "runs" / member.name).exists():
        shutil.copytree(member, work / "runs" / member.name)
    out = {}
    for shrink in ("auto", "off"):
        name = f"bench-{shrink}"
        if not (work / "ensembles" / name).exists():
            subprocess.run([str(Path(sys.executable).parent / "dl-cls"), "ensemble", member.name, "ocr-all",
                            "--specialist", "ocr-" + "-".join(map(str, FAMILY)), "--work", str(work), "--name", name,
                            "--text-shrink", shrink, "--test-labels", str(data / "test_labels.csv")],
                           check=True, stdout=subprocess.DEVNULL)
        m = pd.read_csv(work / "ensembles" / name / "members.csv")
        final = m[m["kind"] == "ensemble"].iloc[0]
        method = m[(m["kind"] == "method") & (m["oof_macro_f1"] == final["oof_macro_f1"])]["name"]
        out[shrink] = (method.iloc[0] if len(method) else "?", final["oof_macro_f1"], final["test_macro_f1"])
    return out


def _pct(x) -> str:
    return "-" if x is None else f"{x:.0%}"


def _table(work: Path) -> pd.DataFrame:
    import yaml

    config = yaml.safe_load((work / "runs" / "ocr-all" / "config.yaml").read_text())
    return pd.read_csv(Path(config["ocr_dir"]) / "ocr.csv", dtype={"ID": str}, keep_default_na=False)


def _seconds(cache: Path) -> pd.DataFrame:
    """CPU seconds of every page read into the cache, by reader settings (a dir of the cache: passes with other
    reader settings read apart) and kind (test-like copies of every corruption together)."""
    rows = []
    for entry in cache.glob("*/cache/*/*.json"):
        row = json.loads(entry.read_text())["row"]
        rows.append({"settings": entry.parents[2].name, "kind": entry.parent.name.split("-")[0],
                     "cpu": row.get("cpu_seconds", np.nan)})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    ap.add_argument("--member", type=Path, help="a CNN run dir of the same data and folds: each pass also ensembles "
                    "it with the text runs (dl-cls ensemble, --text-shrink auto and off) and prints the test F1")
    a = ap.parse_args()
    cache = a.work / "ocr-cache"
    labels = pd.read_csv(a.data / "test_labels.csv", dtype={"ID": str}).set_index("ID")["target"]
    rows, mixes, ensembles = {}, {}, {}
    train = pd.read_csv(a.data / "train.csv", dtype={"ID": str}).set_index("ID")["target"]
    for mode in a.modes:
        w = _prepare(a.work, f"copies-{mode}")
        if _ocr(a.data, w, cache, mode, a.workers):  # the cache's ocr.csv is this pass's until the next one
            t = _table(w)
            mixes[mode] = {k: pose_mix(t.loc[t["split"] == s, "orientation"], t.loc[t["split"] == s, "mirrored"])
                           for k, s in (("test pages", "test"), ("copies", "testlike"))}
        rows[mode] = _row(w, labels, train)
        if a.member:
            ensembles[mode] = _ensembles(w, a.member, a.data)
    print("\ncopies   run     test-like OOF  test F1  gap (OOF - test)  sure copies/test  letters copies/test  "
          "keyword copies/test  shrink")
    for mode, r in rows.items():
        for name in ("member", "family"):
            m = r[name]
            print(f"{mode:<8} {name:<7} {m['oof']:>13.3f} {m['test']:>8.3f} {m['oof'] - m['test']:>17.3f}  "
                  f"{_pct(m['sure'].get('testlike')):>7} / {_pct(m['sure'].get('test')):<5}  "
                  f"{m['letters'].get('testlike', 0):>9} / {m['letters'].get('test', 0):<7}  "
                  f"{m['keyword'].get('testlike', 0):>9.0%} / {m['keyword'].get('test', 0):<7.0%}  {m['shrink']}")
    for mode, m in mixes.items():
        cells = {k: " ".join(f"{x:.0%}" for x in v["turns"]) + f" | mirrored {v['mirrored']:.0%}" for k, v in m.items()}
        print(f"pose mix ({mode}; turns 0/90/180/270): test pages {cells['test pages']}; copies {cells['copies']}; "
              f"largest gap {100 * mix_gap(m['test pages'], m['copies']):.0f} points")
    print("\ncopies   pose right: copies / clean pages   poses read a page   CPU s a page (pages read by the pass)")
    for mode, r in rows.items():
        m = r["member"]
        print(f"{mode:<8} {_pct(m['orient'].get('testlike')):>19} / {_pct(m['orient'].get('clean')):<13} "
              f"{m['poses'] if m['poses'] is not None else '-':>19}   {m['cpu'] if m['cpu'] is not None else '-'}")
    for mode, e in ensembles.items():
        print(f"ensemble ({mode}): " + "; ".join(f"shrink {sh}: {m} OOF {o:.3f} test {t:.3f}"
                                                 for sh, (m, o, t) in e.items()))
    secs = _seconds(cache)
    print("\nCPU s a page by reader settings and kind (every page in the cache):")
    for (settings, kind), g in secs.groupby(["settings", "kind"]):
        c = g["cpu"].dropna().to_numpy()
        print(f"  {settings} {kind:<9} n {len(c):>5}  mean {c.mean():.2f}  median {np.median(c):.2f}  p99 "
              f"{np.percentile(c, 99):.2f}  max {c.max():.2f}  over 5 s {(c > 5).mean():.1%}")


if __name__ == "__main__":
    main()
