"""OOF and (sample-only) test precision/coverage of the ensemble's top class per threshold; last line: the lowest
threshold whose OOF precision is >= 0.95 (chosen from OOF only; the test columns only check it)."""
import sys
import numpy as np, pandas as pd
ens, data = sys.argv[1], sys.argv[2]
oof = pd.read_csv(f"{ens}/oof.csv", dtype={"ID": str}); test = pd.read_csv(f"{ens}/test_probs.csv", dtype={"ID": str})
train = pd.read_csv(f"{data}/train.csv", dtype={"ID": str}).set_index("ID")["target"]
tl = pd.read_csv(f"{data}/test_labels.csv", dtype={"ID": str}).set_index("ID")["target"]
cols = [c for c in oof.columns if c.startswith("p_")]
def stats(df, y):
    p = df[cols].to_numpy(); top = p.argmax(1); m = p.max(1)
    return top, m, y.loc[df["ID"]].to_numpy()
ot, om, oy = stats(oof, train); tt, tm, ty = stats(test, tl)
print("threshold  oof_cover  oof_prec  test_cover  test_prec")
chosen = None
for thr in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
    a, b = om >= thr, tm >= thr
    op = (ot[a] == oy[a]).mean() if a.any() else float("nan"); tp = (tt[b] == ty[b]).mean() if b.any() else float("nan")
    print(f"{thr:9.2f}  {a.mean():9.3f}  {op:8.3f}  {b.mean():10.3f}  {tp:9.3f}")
    if chosen is None and a.sum() >= 20 and op >= 0.95:
        chosen = thr
print(chosen or 0.9)
