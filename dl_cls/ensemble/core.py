"""Combine aligned runs: every voting/stacking method scored fold-held-out, the best (or the forced) one chosen,
then specialists applied in the order given. Pure computation: the CLI does the files."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dl_cls.artifacts.runs import LoadedRun, macro_f1
from dl_cls.ensemble.cv import predict
from dl_cls.ensemble.specialists import group_f1, tune_and_refine
from dl_cls.ensemble.stacking import stack_heldout
from dl_cls.ensemble.voting import hard_vote, soft_vote, weighted_heldout, weighted_vote

TABLE_COLUMNS = ["kind", "name", "oof_macro_f1", "fitted_macro_f1", "oof_macro_f1_before", "group_f1_before",
                 "group_f1_after", "test_macro_f1", "chosen", "detail"]


@dataclass
class EnsembleResult:
    oof: np.ndarray  # (N, K) held-out OOF probabilities of the final ensemble
    test: np.ndarray  # (N_test, K)
    method: str
    table: pd.DataFrame  # members.csv


def _fmt_w(w) -> str:
    return "/".join(f"{x:.2f}" for x in np.atleast_1d(w))


@dataclass
class MethodResult:
    """What every ensemble method returns: fold-held-out OOF (what it is judged on), test, in-sample fitted OOF
    (None for methods that fit nothing) and a line for members.csv."""
    oof: np.ndarray
    test: np.ndarray
    fitted: np.ndarray | None
    detail: str


def _soft(P, P_test, y, folds, classes, seed) -> MethodResult:
    return MethodResult(soft_vote(P), soft_vote(P_test), None, "mean probability")


def _hard(P, P_test, y, folds, classes, seed) -> MethodResult:
    return MethodResult(hard_vote(P), hard_vote(P_test), None, "majority of arg-max; ties broken by summed probability")


def _weighted(P, P_test, y, folds, classes, seed) -> MethodResult:
    oof, w_all, w_folds = weighted_heldout(P, y, folds, classes, seed)
    return MethodResult(oof, weighted_vote(P_test, w_all), weighted_vote(P, w_all),
                        f"weights {_fmt_w(w_all)} fitted on all OOF (test); per held-out fold: "
                        + "; ".join(_fmt_w(w) for w in w_folds))


def _stack(P, P_test, y, folds, classes, seed) -> MethodResult:
    oof, fitted, test = stack_heldout(P, P_test, y, folds, classes)
    return MethodResult(oof, test, fitted, "logistic regression on members' probabilities, per-fold CV")


# the method registry: name -> fn(P, P_test, y, folds, classes, seed) -> MethodResult. Order matters: on a tie in
# held-out F1 the earlier (simpler) one is chosen. A new method is one function and one line here.
REGISTRY = {"soft": _soft, "hard": _hard, "weighted": _weighted, "stack": _stack}
METHODS = tuple(REGISTRY)


def _methods(P, P_test, y, folds, classes, seed) -> dict[str, MethodResult]:
    return {name: fn(P, P_test, y, folds, classes, seed) for name, fn in REGISTRY.items()}


def _method_rows(results: dict, scores: dict, chosen: str, forced: bool, y, classes, test_f1,
                 candidates: tuple[str, ...] = METHODS) -> list[dict]:
    rows = []
    for name in METHODS:
        r = results[name]
        note = "" if name != chosen else " [forced by --method]" if forced else " [best fold-held-out OOF macro F1]"
        note = note if name in candidates or forced else " [not a candidate: see the note above the table]"
        rows.append(dict(kind="method", name=name, oof_macro_f1=scores[name],
                         fitted_macro_f1=macro_f1(y, predict(r.fitted, classes)) if r.fitted is not None else np.nan,
                         test_macro_f1=test_f1(r.test), chosen=name == chosen, detail=r.detail + note))
    return rows


def _try_specialist(spec: LoadedRun, E: np.ndarray, E_test: np.ndarray, member_ids: pd.Series, y: np.ndarray,
                    folds: np.ndarray, classes, mass_threshold) -> tuple[dict, np.ndarray, np.ndarray]:
    """Blend one specialist into the ensemble; its table row says whether it is kept (only if the fold-held-out
    OOF macro F1 improves, the same rule that picks the method)."""
    id_pos = {i: n for n, i in enumerate(member_ids)}
    # the specialist's OOF rows placed among the members' rows; rows it never predicted stay NaN
    S = np.full((len(y), len(spec.classes)), np.nan)
    S[[id_pos[i] for i in spec.oof["ID"]]] = spec.oof_probs()
    before_f1, before_group = macro_f1(y, predict(E, classes)), group_f1(y, E, spec.classes)
    E_new, E_test_new, w_all, w_folds = tune_and_refine(E, E_test, S, spec.test_probs(), spec.classes, y, folds,
                                                        mass_threshold)
    after_f1, after_group = macro_f1(y, predict(E_new, classes)), group_f1(y, E_new, spec.classes)
    kept = after_f1 > before_f1
    row = dict(kind="specialist", name=spec.name, oof_macro_f1=after_f1, oof_macro_f1_before=before_f1,
               group_f1_before=" ".join(f"{c}:{v:.3f}" for c, v in before_group.items()),
               group_f1_after=" ".join(f"{c}:{v:.3f}" for c, v in after_group.items()), chosen=kept,
               detail=("" if kept else "NOT APPLIED (held-out OOF F1 did not improve); ")
               + f"G={','.join(map(str, spec.classes))} blend w={w_all:.1f} on all OOF (test); "
                 f"per held-out fold: {'/'.join(f'{w:.1f}' for w in w_folds)}")
    return row, E_new, E_test_new


def build_ensemble(members: list[LoadedRun], specialists: list[LoadedRun], y: np.ndarray, folds: np.ndarray,
                   method: str | None = None, mass_threshold: float | None = None, seed: int = 0,
                   y_test: np.ndarray | None = None, candidates: tuple[str, ...] = METHODS) -> EnsembleResult:
    """members/specialists must already be aligned (members.align_runs); y: OOF truth in member row order;
    y_test: optional test labels (reported only, never used for a choice); candidates: the methods the best
    OOF may choose among (every method is still scored in the table)."""
    classes = members[0].classes
    P = np.stack([m.oof_probs() for m in members])
    P_test = np.stack([m.test_probs() for m in members])

    def test_f1(probs):
        return macro_f1(y_test, predict(probs, classes)) if y_test is not None else np.nan

    rows = [dict(kind="member", name=m.name, oof_macro_f1=macro_f1(y, predict(m.oof_probs(), classes)),
                 test_macro_f1=test_f1(m.test_probs()), detail=str(m.path)) for m in members]
    results = _methods(P, P_test, y, folds, classes, seed)
    scores = {name: macro_f1(y, predict(r.oof, classes)) for name, r in results.items()}
    chosen = method or max(candidates, key=lambda n: (scores[n], -METHODS.index(n)))
    rows += _method_rows(results, scores, chosen, method is not None, y, classes, test_f1, candidates)
    E, E_test = results[chosen].oof, results[chosen].test
    applied = []
    for spec in specialists:
        row, E_new, E_test_new = _try_specialist(spec, E, E_test, members[0].oof["ID"], y, folds, classes,
                                                 mass_threshold)
        row["test_macro_f1"] = test_f1(E_test_new)
        rows.append(row)
        if row["chosen"]:
            E, E_test = E_new, E_test_new
            applied.append(spec.name)
    rows.append(dict(kind="ensemble", name="final", oof_macro_f1=macro_f1(y, predict(E, classes)),
                     test_macro_f1=test_f1(E_test), chosen=True,
                     detail=" + ".join([chosen] + applied)))
    table = pd.DataFrame(rows).reindex(columns=TABLE_COLUMNS)
    table["chosen"] = table["chosen"].fillna(False).astype(bool)
    return EnsembleResult(oof=E, test=E_test, method=chosen, table=table)
