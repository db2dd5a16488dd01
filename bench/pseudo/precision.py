"""Precision of the pseudo-labels taken (sample test labels), and each run's OOF vs test macro F1."""
import json, sys, glob
import pandas as pd
from sklearn.metrics import f1_score
work, data = sys.argv[1], sys.argv[2]
tl = pd.read_csv(f"{data}/test_labels.csv", dtype={"ID": str}).set_index("ID")["target"]
for m in glob.glob(f"{work}/pseudo/*/manifest.csv"):
    df = pd.read_csv(m, dtype={"ID": str}); right = df["target"].to_numpy() == tl.loc[df["ID"]].to_numpy()
    print(f"pseudo set {m.split('/')[-2]}: {len(df)} of {len(tl)} test images, precision {right.mean():.3f}, "
          f"mean prob {df['prob'].mean():.3f}; wrong per class: "
          + ", ".join(f"{c}:{int((~right[df['target'] == c]).sum())}" for c in sorted(df["target"].unique()) if (~right[df['target'] == c]).any()))
for run in ("tiny", "tiny-pseudo"):
    s = json.load(open(f"{work}/runs/{run}/summary.json"))
    t = pd.read_csv(f"{work}/runs/{run}/test_probs.csv", dtype={"ID": str}); cols = [c for c in t.columns if c.startswith("p_")]
    pred = t[cols].to_numpy().argmax(1); f1 = f1_score(tl.loc[t["ID"]], pred, average="macro")
    print(f"{run}: OOF macro F1 {s['oof_f1']:.4f}  test macro F1 {f1:.4f}  gap {s['oof_f1'] - f1:+.4f}  "
          f"train time {s['total_train_time_s']:.0f} s")
