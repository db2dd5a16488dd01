"""What a run (or ensemble) gets wrong, from its oof.csv: per-class metrics, the confusion matrix, the most
confused pairs and suggested specialist groups. Used by `dl-cls report` and the notebook alike."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import linkage
from scipy.spatial.distance import squareform
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from dl_cls.artifacts.runs import macro_f1
from dl_cls.artifacts.runs import RunConfig, load_run, load_truth, resolve_run_dir
from dl_cls.core.errors import DataError
from dl_cls.data.contract import DataDir

GROUP_THRESHOLD = 0.03  # mean mutual confusion rate between the two halves a suggested group is joined from
GROUP_MIN_COUNT = 2  # a pair counts only with at least this many confused images: one stray error links nothing


@dataclass
class Analysis:
    run_dir: Path
    config: RunConfig
    dd: DataDir
    classes: list[int]  # original class indices covered (all, or a specialist's subset)
    ids: np.ndarray
    y_true: np.ndarray
    probs: np.ndarray  # (N, len(classes))
    missing: list[str] = field(default_factory=list)  # train IDs of the run's classes that oof.csv does not predict

    @property
    def coverage_warning(self) -> str | None:
        """Said before any figure when oof.csv lacks some of the run's train images (a cut file, a partial run):
        every score is then over fewer images than the run has."""
        if not self.missing:
            return None
        n = len(self.y_true)
        eg = ", ".join(self.missing[:3]) + (" ..." if len(self.missing) > 3 else "")
        return (f"{self.run_dir / 'oof.csv'} predicts {n} of the run's {n + len(self.missing)} train images "
                f"({len(self.missing)} missing, e.g. {eg}; a cut file or a partial run): every figure below is over "
                f"those {n} only")

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def class_names(self) -> list[str]:
        return [self.dd.class_names[c] for c in self.classes]

    @property
    def labels(self) -> list[str]:
        return [f"{c} {n}" for c, n in zip(self.classes, self.class_names)]

    @cached_property
    def y_pred(self) -> np.ndarray:
        return np.asarray(self.classes)[self.probs.argmax(axis=1)]

    @property
    def confidence(self) -> np.ndarray:
        return self.probs.max(axis=1)

    @property
    def macro_f1(self) -> float:
        return macro_f1(self.y_true, self.y_pred)

    @property
    def accuracy(self) -> float:
        return float(accuracy_score(self.y_true, self.y_pred))

    @cached_property
    def cm(self) -> np.ndarray:
        return confusion_matrix(self.y_true, self.y_pred, labels=self.classes)

    def per_class(self) -> pd.DataFrame:
        return per_class_table(self.y_true, self.y_pred, self.classes, self.class_names)

    def pairs(self, top: int = 10) -> pd.DataFrame:
        return confused_pairs(self.cm, self.classes, self.class_names, top)

    def groups(self, threshold: float = GROUP_THRESHOLD, min_count: int = GROUP_MIN_COUNT) -> list[list[int]]:
        return suggest_groups(self.cm, self.classes, threshold, min_count)

    def errors(self) -> pd.DataFrame:
        """Misclassified OOF rows, most confident mistakes first."""
        wrong = self.y_pred != self.y_true
        df = pd.DataFrame({"ID": self.ids[wrong], "true": self.y_true[wrong], "pred": self.y_pred[wrong],
                           "confidence": self.confidence[wrong]})
        return df.sort_values("confidence", ascending=False, kind="stable").reset_index(drop=True)


def load_analysis(run, work="work") -> Analysis:
    """RUN: a run or ensemble dir, or a name under WORK/runs or WORK/ensembles."""
    run = load_run(resolve_run_dir(str(run), work, ("runs", "ensembles")))
    dd = load_truth(run.config)
    truth = dd.train.set_index("ID")["target"]
    ids = run.oof["ID"].to_numpy()
    unknown = [i for i in ids if i not in truth.index]
    if unknown:
        raise DataError([f"{run.path / 'oof.csv'}: ID {i} is not in {dd.root}/train.csv" for i in unknown[:10]],
                        f"{run.path} does not match its data dir")
    y = truth.loc[ids].to_numpy(dtype=int)
    outside = ~np.isin(y, run.classes)
    if outside.any():
        raise DataError([f"{run.path / 'oof.csv'}: ID {i} has true class {t}, not one of the run's classes "
                         f"{run.classes}" for i, t in zip(ids[outside][:10], y[outside][:10])],
                        f"{run.path}: OOF rows outside the run's classes (label fixes differ?)")
    expected = dd.train.loc[dd.train["target"].isin(run.classes), "ID"]
    return Analysis(run_dir=run.path, config=run.config, dd=dd, classes=run.classes, ids=ids, y_true=y,
                    probs=run.oof_probs(), missing=sorted(set(expected) - set(ids)))


def per_class_table(y_true, y_pred, classes, names) -> pd.DataFrame:
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    return pd.DataFrame({"class": classes, "class_name": names, "precision": p, "recall": r, "f1": f,
                         "support": s})


def confused_pairs(cm: np.ndarray, classes, names, top: int = 10) -> pd.DataFrame:
    """Unordered class pairs by how many images went either way between them (rates are per true class)."""
    support = cm.sum(axis=1)
    rows = []
    for i in range(len(classes)):
        for j in range(i + 1, len(classes)):
            if cm[i, j] + cm[j, i] == 0:
                continue
            rows.append({"a": classes[i], "b": classes[j], "name_a": names[i], "name_b": names[j],
                         "a_as_b": int(cm[i, j]), "b_as_a": int(cm[j, i]), "total": int(cm[i, j] + cm[j, i]),
                         "rate_a_as_b": cm[i, j] / max(support[i], 1), "rate_b_as_a": cm[j, i] / max(support[j], 1),
                         "mutual_rate": mutual_rates(cm)[i, j]})
    cols = ["a", "b", "name_a", "name_b", "a_as_b", "b_as_a", "total", "rate_a_as_b", "rate_b_as_a", "mutual_rate"]
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values(["total", "mutual_rate"], ascending=False, kind="stable").head(top).reset_index(drop=True)


def mutual_rates(cm: np.ndarray) -> np.ndarray:
    """Symmetric confusion rate of classes i and j: images of either class predicted as the other, over the
    images of both."""
    support = cm.sum(axis=1)
    both = support[:, None] + support[None, :]
    rate = (cm + cm.T) / np.maximum(both, 1)
    np.fill_diagonal(rate, 0)
    return rate


def suggest_groups(cm: np.ndarray, classes, threshold: float = GROUP_THRESHOLD,
                   min_count: int = GROUP_MIN_COUNT) -> list[list[int]]:
    """Candidate specialist groups (CLASSES=...), nested ones included ({3,7}, {4,14} and {3,4,7,14}), the group
    with the most confused images inside it first.

    Average-linkage clustering on the mutual confusion rate: two groups join when the mean rate between their
    classes exceeds threshold. (Linking any two classes above the threshold, single linkage, chains a weak model's
    scattered errors into one group of every class.) A pair counts only if it is confused both ways and in at
    least min_count images, so a class that absorbs everyone's errors (whatever a dark, rotated page looks like)
    is not made a group-mate of them all."""
    k = len(cm)
    if k < 2:
        return []
    both_ways = (np.minimum(cm, cm.T) >= 1) & ((cm + cm.T) >= min_count)
    dist = 1.0 - np.where(both_ways, mutual_rates(cm), 0.0)
    np.fill_diagonal(dist, 0.0)
    members = {i: [i] for i in range(k)}
    groups = []
    for j, (left, right, d, _) in enumerate(linkage(squareform(dist, checks=False), "average")):
        members[k + j] = members[int(left)] + members[int(right)]
        if 1.0 - d > threshold:  # merge heights only grow, so every later merge above the threshold nests these
            groups.append(np.array(sorted(members[k + j])))
    groups.sort(key=lambda g: (-(cm[np.ix_(g, g)].sum() - np.trace(cm[np.ix_(g, g)])), len(g)))
    return [[int(classes[i]) for i in g] for g in groups]
