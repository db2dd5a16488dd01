"""Which test images get a pseudo-label: the source's top class where it is confident, per class capped, only for
classes whose OOF precision at the same threshold is high enough.

Guards against confirming its own errors: (1) the threshold; (2) the per-class cap, so easy classes do not
swamp the rest; (3) the OOF precision at that threshold: the share of train pages the source predicted with at
least that probability that were right, per predicted class, an honest estimate because OOF rows were predicted
by models that never trained on them; a class below the floor, or with too few such rows to know, gets none.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dl_cls.artifacts.runs import LoadedRun
from dl_cls.core.config import CONFIG_DIR
from dl_cls.core.errors import DlClsError
from dl_cls.data.contract import DataDir

DEFAULT_CONFIG = CONFIG_DIR / "pseudo" / "default.yaml"


@dataclass
class PseudoConfig:
    threshold: float = 0.9
    cap_ratio: float = 1.0
    min_precision: float = 0.9
    min_oof: int = 5

    def problems(self) -> list[str]:
        """Each message starts with its key: dl_cls.core.config blames it on the file or the override it came from
        (NaN and inf never get here: every float key must be finite)."""
        checks = [(0 < self.threshold < 1, f"threshold {self.threshold} must be between 0 and 1"),
                  (self.cap_ratio > 0, f"cap_ratio {self.cap_ratio} must be > 0"),
                  (0 <= self.min_precision <= 1, f"min_precision {self.min_precision} must be in 0..1"),
                  (self.min_oof >= 1, f"min_oof {self.min_oof} must be >= 1")]
        return [msg for ok, msg in checks if not ok]


def _top(probs: np.ndarray, classes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(classes)[probs.argmax(1)], probs.max(1)


def oof_precision(source: LoadedRun, dd: DataDir, threshold: float) -> pd.DataFrame:
    """Per predicted class: OOF rows with top probability >= threshold (oof_n) and the share right."""
    truth = dict(zip(dd.train["ID"], dd.train["target"]))
    y = source.oof["ID"].map(truth)
    if y.isna().any():
        raise DlClsError(f"{source.path / 'oof.csv'}: ID {source.oof['ID'][y.isna()].iloc[0]} is not in "
                         f"{dd.root / 'train.csv'}; the source was made from other data")
    pred, p = _top(source.oof_probs(), source.classes)
    sure = p >= threshold
    rows = []
    for c in source.classes:
        m = sure & (pred == c)
        rows.append({"class": c, "oof_n": int(m.sum()),
                     "oof_precision": float((y.to_numpy()[m] == c).mean()) if m.any() else math.nan})
    return pd.DataFrame(rows)


def choose(source: LoadedRun, dd: DataDir, cfg: PseudoConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(chosen test images: ID,target,prob, most confident first per class; the per-class table)."""
    pred, p = _top(source.test_probs(), source.classes)
    test = pd.DataFrame({"ID": source.test["ID"].to_numpy(), "target": pred, "prob": p})
    table = oof_precision(source, dd, cfg.threshold)
    counts = dd.train["target"].value_counts()
    chosen, notes = [], []
    for row in table.itertuples(index=False):
        cand = test[(test["target"] == row[0]) & (test["prob"] >= cfg.threshold)].sort_values("prob", ascending=False,
                                                                                             kind="stable")
        cap = max(1, math.ceil(cfg.cap_ratio * int(counts.get(row[0], 0))))
        note = _skip_reason(row.oof_n, row.oof_precision, cfg)
        take = cand.iloc[:0] if note else cand.iloc[:cap]
        if not note and len(cand) > cap:
            note = f"capped at {cap}"
        chosen.append(take)
        notes.append((len(cand), len(take), float(take["prob"].mean()) if len(take) else math.nan, note))
    table[["candidates", "taken", "mean_prob", "note"]] = pd.DataFrame(notes, index=table.index)
    table.insert(1, "name", [dd.class_names[c] for c in table["class"]])
    return pd.concat(chosen, ignore_index=True), table


def _skip_reason(oof_n: int, precision: float, cfg: PseudoConfig) -> str:
    if oof_n < cfg.min_oof:
        return f"skipped: {oof_n} OOF rows at p>={cfg.threshold:g} (< min_oof {cfg.min_oof})"
    if precision < cfg.min_precision:
        return f"skipped: OOF precision {precision:.3f} < {cfg.min_precision:g}"
    return ""


def closest(source: LoadedRun, dd: DataDir, n: int = 3) -> str:
    """The n classes whose test pages came closest to a threshold: per class, the best top probability of the
    pages predicted as it, highest first: '1 (name) 0.990, 0 (name) 0.980'."""
    pred, p = _top(source.test_probs(), source.classes)
    best = pd.Series(p).groupby(pred).max().sort_values(ascending=False, kind="stable").head(n)
    return ", ".join(f"{c} ({dd.class_names[c]}) {v:.3f}" for c, v in best.items())


def format_table(table: pd.DataFrame) -> str:
    shown = table[["class", "name", "candidates", "taken", "mean_prob", "oof_n", "oof_precision", "note"]]
    return shown.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-")
