"""Ensembler: each method on hand-built probability tables with known answers, specialists, run alignment, CLI."""
from __future__ import annotations

import re
from argparse import Namespace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from builders import K, make_project, make_run, noisy_probs

from dl_cls.artifacts.runs import EnsembleOptions, RunConfig, macro_f1, macro_f1_sd, read_run_config, write_run_config
from dl_cls.cli import main
from dl_cls.core.errors import DlClsError
from dl_cls.ensemble.cv import predict
from dl_cls.ensemble.specialists import refine, tune_and_refine
from dl_cls.ensemble.stacking import stack_heldout
from dl_cls.ensemble.voting import hard_vote, soft_vote, weighted_heldout, weighted_vote


def test_macro_f1_sd_is_the_noise_of_the_rows_draw():
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(4), 100)
    pred = np.where(rng.random(len(y)) < 0.3, (y + 1) % 4, y)  # 30% wrong
    assert macro_f1_sd(y, y) == 0.0  # every draw of right rows is perfect
    few, many = macro_f1_sd(y[::4], pred[::4]), macro_f1_sd(y, pred)
    assert 0.03 < few < 0.12 and 0.35 < many / few < 0.7  # 4x the rows: about half the noise (1/sqrt(4))
    assert macro_f1_sd(y, pred) == many and macro_f1_sd(y, pred, seed=1) != many  # seeded


def test_soft_vote_is_the_mean():
    P = np.array([[[0.6, 0.4]], [[0.2, 0.8]]])
    np.testing.assert_allclose(soft_vote(P), [[0.4, 0.6]])


def test_hard_vote_majority_beats_summed_probability():
    # two members vote 2 weakly, one votes 0 with near-certainty: the mean favours 0, the majority says 2
    P = np.array([[[0.3, 0.3, 0.4]], [[0.3, 0.3, 0.4]], [[0.98, 0.01, 0.01]]])
    assert soft_vote(P).argmax() == 0
    assert hard_vote(P).argmax() == 2


@pytest.mark.parametrize("rows, winner", [
    # one vote each for 0 and 1: the summed probability decides (0: 0.5+0.2, 1: 0.4+0.7 -> 1)
    ([[0.5, 0.4, 0.1], [0.2, 0.7, 0.1]], 1),
    # one vote each again, but now class 0 has the larger sum (0.9+0.45 vs 0.05+0.5)
    ([[0.9, 0.05, 0.05], [0.45, 0.5, 0.05]], 0),
])
def test_hard_vote_ties_broken_by_summed_probability(rows, winner):
    P = np.array(rows)[:, None, :]
    scores = hard_vote(P)
    assert scores.argmax() == winner
    np.testing.assert_allclose(scores.sum(axis=1), 1.0)


def _two_members_one_right_per_fold(n_per_fold=12, K=3, held_fold=4):
    """Member A is right on folds 0-3 and wrong on fold 4; member B the opposite."""
    folds = np.repeat(np.arange(5), n_per_fold)
    y = np.tile(np.arange(K), len(folds) // K)
    right, wrong = np.eye(K)[y] * 0.8 + 0.2 / K, np.eye(K)[(y + 1) % K] * 0.8 + 0.2 / K
    in_held = (folds == held_fold)[:, None]
    A = np.where(in_held, wrong, right)
    B = np.where(in_held, right, wrong)
    return np.stack([A, B]), y, folds


def test_weighted_weights_fitted_on_other_folds_and_reported_honestly():
    P, y, folds = _two_members_one_right_per_fold()
    oof, w_all, per_fold = weighted_heldout(P, y, folds, classes=range(3))
    # on all OOF member A is right on 4/5 of the rows: the fitted weights favour A
    assert w_all[0] > w_all[1]
    fitted = macro_f1(y, predict(weighted_vote(P, w_all), range(3)))
    heldout = macro_f1(y, predict(oof, range(3)))
    assert fitted == pytest.approx(0.8, abs=0.05)
    # fold 4 was scored with weights fitted on folds 0-3 (which favour A, wrong there): all of fold 4 is wrong
    assert (predict(oof, range(3))[folds == 4] != y[folds == 4]).all()
    assert per_fold[4][0] > per_fold[4][1]
    assert heldout <= fitted


def test_weighted_finds_the_good_member():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 25)
    folds = np.arange(100) % 5
    good = np.eye(4)[y] * 0.7 + 0.3 * rng.dirichlet(np.ones(4), 100)
    bad = rng.dirichlet(np.ones(4) * 0.3, 100)
    oof, w_all, _ = weighted_heldout(np.stack([bad, good]), y, folds, classes=range(4))
    assert w_all[1] > 0.6
    assert macro_f1(y, predict(oof, range(4))) == 1.0


def test_stacking_learns_a_permutation_the_votes_cannot():
    # the single member always puts its mass on (y + 1) % K: voting scores 0, stacking can map it back
    K = 3
    y = np.tile(np.arange(K), 30)
    folds = np.arange(len(y)) % 5
    member = np.eye(K)[(y + 1) % K] * 0.9 + 0.1 / K
    P, P_test = member[None], (np.eye(K)[(np.arange(K) + 1) % K] * 0.9 + 0.1 / K)[None]
    assert macro_f1(y, predict(soft_vote(P), range(K))) == 0.0
    oof, fitted, test = stack_heldout(P, P_test, y, folds, list(range(K)))
    assert macro_f1(y, predict(oof, range(K))) == 1.0
    assert predict(test, range(K)).tolist() == [0, 1, 2]
    np.testing.assert_allclose(oof.sum(axis=1), 1.0)


def _confused_case(seed=0):
    """K=5; the ensemble confuses classes 1<->2 about half the time, a specialist on {1,2} is right."""
    rng = np.random.default_rng(seed)
    K, G = 5, [1, 2]
    y = np.repeat(np.arange(K), 40)
    folds = np.arange(len(y)) % 5
    E = noisy_probs(y, K, 0.55, rng, confuse={1: [2], 2: [1], 0: [3], 3: [0], 4: [0]})
    in_g = np.isin(y, G)
    S = np.full((len(y), 2), np.nan)
    S[in_g] = np.eye(2)[np.searchsorted(G, y[in_g])] * 0.8 + 0.1
    return E, S, y, folds, G


def test_specialist_changes_only_rows_predicted_inside_the_group_and_improves_f1():
    E, S, y, folds, G = _confused_case()
    out = refine(E, S, G, w=0.7)
    top_in_g = np.isin(E.argmax(axis=1), G)
    changed = ~np.isclose(out, E).all(axis=1)
    assert changed.any() and not changed[~top_in_g].any()
    outside = [c for c in range(5) if c not in G]
    np.testing.assert_allclose(out[:, outside], E[:, outside])  # mass outside G untouched
    np.testing.assert_allclose(out.sum(axis=1), 1.0)

    oof, _, w_all, per_fold = tune_and_refine(E, E, S, np.nan_to_num(S, nan=0.5), G, y, folds)
    assert w_all > 0 and len(per_fold) == 5
    assert macro_f1(y, predict(oof, range(5))) > macro_f1(y, predict(E, range(5))) + 0.05
    assert not (~np.isclose(oof, E).all(axis=1))[~top_in_g].any()


def test_specialist_mass_threshold_also_selects_rows_with_enough_mass_on_the_group():
    E = np.array([[0.45, 0.30, 0.25]])  # top class 0 is outside G={1,2}, but G holds 0.55
    S = np.array([[0.0, 1.0]])
    np.testing.assert_allclose(refine(E, S, [1, 2], w=1.0), E)
    np.testing.assert_allclose(refine(E, S, [1, 2], w=1.0, mass_threshold=0.5), [[0.45, 0.0, 0.55]])


# --- runs on disk and the CLI ---------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path)


@pytest.mark.slow  # a few seconds: make test runs it, make test-fast skips it
def test_cli_writes_ensemble_dir_and_member_table(project, capsys):
    work = project["work"]
    rc = main(["ensemble", "a", "b", "c", "--specialist", "spec", "--work", str(work), "--name", "e1"])
    assert rc == 0
    out = work / "ensembles/e1"
    table = pd.read_csv(out / "members.csv")
    assert table.loc[table.kind == "member", "name"].tolist() == ["a", "b", "c"]
    methods = table[table.kind == "method"]
    assert set(methods["name"]) == {"soft", "hard", "weighted", "stack"}
    assert methods["chosen"].sum() == 1
    chosen = methods.loc[methods["chosen"], "oof_macro_f1"].iloc[0]
    assert chosen == methods["oof_macro_f1"].max()  # the best held-out score is the one kept
    assert methods.set_index("name").loc[["weighted", "stack"], "fitted_macro_f1"].notna().all()
    spec = table[table.kind == "specialist"].iloc[0]
    assert spec["oof_macro_f1_before"] == pytest.approx(chosen, abs=1e-4)
    assert set(s.split(":")[0] for s in spec["group_f1_after"].split()) == {"2", "3", "4"}
    assert spec["chosen"] and spec["oof_macro_f1"] > chosen  # a 90%-right specialist helps and is kept

    oof = pd.read_csv(out / "oof.csv")
    assert oof["ID"].tolist() == project["ids"] and (oof["fold"] == project["folds"]).all()
    assert macro_f1(project["y"], predict(oof.iloc[:, 2:].to_numpy(), range(K))) == pytest.approx(
        table["oof_macro_f1"].iloc[-1], abs=1e-4)
    sub = pd.read_csv(out / "submission.csv")
    probs = pd.read_csv(out / "test_probs.csv")
    assert sub["ID"].tolist() == project["test_ids"] == probs["ID"].tolist()
    assert (sub["target"] == probs.iloc[:, 1:].to_numpy().argmax(axis=1)).all()
    assert "weighted" in capsys.readouterr().out  # the table is printed

    before = (out / "config.yaml").read_bytes()  # the typed config rewrites the ensembler's file as is
    write_run_config(out, read_run_config(out))
    assert (out / "config.yaml").read_bytes() == before
    assert read_run_config(out).ensemble.members == [str((work / "runs" / n).resolve()) for n in "abc"]

    # never overwritten
    rc = main(["ensemble", "a", "b", "--work", str(work), "--name", "e1"])
    assert rc == 2 and "already exists" in capsys.readouterr().err


@pytest.mark.slow  # a few seconds: make test runs it, make test-fast skips it
def test_cli_forced_method_and_test_labels(project, capsys):
    labels = project["tmp"] / "test_labels.csv"
    pd.DataFrame({"ID": project["test_ids"], "target": np.arange(12) % K}).to_csv(labels, index=False)
    rc = main(["ensemble", "a", "b", "--method", "hard", "--work", str(project["work"]), "--name", "e2",
               "--test-labels", str(labels)])
    assert rc == 0
    table = pd.read_csv(project["work"] / "ensembles/e2/members.csv")
    assert table.loc[table.chosen & (table.kind == "method"), "name"].tolist() == ["hard"]
    assert table["test_macro_f1"].notna().all()


def _rewrite(run_dir, fn):
    oof = pd.read_csv(run_dir / "oof.csv")
    fn(oof).to_csv(run_dir / "oof.csv", index=False)


def test_mismatched_ids_is_an_error_naming_the_run(project, capsys):
    _rewrite(project["work"] / "runs/b", lambda df: df.iloc[1:])
    rc = main(["ensemble", "a", "b", "--work", str(project["work"]), "--name", "bad"])
    err = capsys.readouterr().err
    assert rc == 2 and "run b" in err and "lacks 1 train IDs" in err and project["ids"][0] in err
    assert not (project["work"] / "ensembles/bad").exists()


def test_mismatched_folds_is_an_error_naming_both_runs(project, capsys):
    _rewrite(project["work"] / "runs/c", lambda df: df.assign(fold=(df["fold"] + 1) % 5))
    rc = main(["ensemble", "a", "c", "--work", str(project["work"]), "--name", "bad"])
    err = capsys.readouterr().err
    assert rc == 2 and "runs a and c disagree on the fold" in err
    assert not (project["work"] / "ensembles/bad").exists()


def test_subset_run_as_member_and_bad_probabilities_are_errors(project, capsys):
    work = str(project["work"])
    assert main(["ensemble", "a", "spec", "--work", work]) == 2
    assert "spec is a class-subset run" in capsys.readouterr().err
    _rewrite(project["work"] / "runs/b", lambda df: df.assign(p_0=df["p_0"] + 0.5))
    assert main(["ensemble", "a", "b", "--work", work]) == 2
    err = capsys.readouterr().err
    assert "oof.csv: line 2" in err and "sum to 1" in err


@pytest.mark.slow  # a few seconds: make test runs it, make test-fast skips it
def test_a_specialist_that_hurts_is_not_applied(project):
    # a specialist on {2,3,4} that is confidently wrong: the held-out tuning cannot make it help
    y, folds, ids = project["y"], project["folds"], np.array(project["ids"])
    G = [2, 3, 4]
    m = np.isin(y, G)
    wrong = np.eye(3)[(np.searchsorted(G, y[m]) + 1) % 3] * 0.97 + 0.01
    make_run(project["work"] / "runs/badspec", project["data"], ids[m], folds[m], wrong, project["test_ids"],
             np.full((12, 3), 1 / 3), classes=G, num_classes=K)
    work = str(project["work"])
    assert main(["ensemble", "a", "b", "--method", "soft", "--work", work, "--name", "plain"]) == 0
    assert main(["ensemble", "a", "b", "--method", "soft", "--specialist", "badspec", "--work", work,
                 "--name", "withbad"]) == 0
    table = pd.read_csv(project["work"] / "ensembles/withbad/members.csv").set_index("kind")
    assert not table.loc["specialist", "chosen"] and "NOT APPLIED" in table.loc["specialist", "detail"]
    assert table.loc["ensemble", "detail"] == "soft"
    for f in ("oof.csv", "test_probs.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(project["work"] / "ensembles/plain" / f),
                                      pd.read_csv(project["work"] / "ensembles/withbad" / f))


def test_ensemble_options_are_written_as_before_read_back_typed_and_a_typo_is_named(tmp_path):
    from dl_cls.artifacts.runstate import ensemble_info
    from dl_cls.ensemble.cli import CONFIG_KEYS, options

    runs = {n: SimpleNamespace(path=tmp_path / n) for n in ("a", "b", "s")}
    args = Namespace(method=None, mass_threshold=0.4, seed=3)  # what argparse gives the ensembler
    config = RunConfig(data_dir="/d", kind="ensemble", num_classes=2, class_names=["여권", "y"], key_order=CONFIG_KEYS,
                       ensemble=options(args, "stack", [runs["a"], runs["b"]], [runs["s"]]))
    out = tmp_path / "ens"
    out.mkdir()
    write_run_config(out, config)
    paths = {n: str(r.path.resolve()) for n, r in runs.items()}
    assert (out / "config.yaml").read_text(encoding="utf-8") == yaml.safe_dump(  # the file the ensembler always wrote
        {"data_dir": "/d", "label_fixes": "default", "kind": "ensemble", "method": "stack", "method_forced": False,
         "members": [paths["a"], paths["b"]], "specialists": [paths["s"]], "mass_threshold": 0.4, "num_classes": 2,
         "class_names": ["여권", "y"], "classes": None, "seed": 3}, sort_keys=False, allow_unicode=True)
    back = read_run_config(out)
    assert back == config and back.ensemble == EnsembleOptions("stack", False, [paths["a"], paths["b"]],
                                                               [paths["s"]], 0.4, 3)
    assert ensemble_info(out).model == "stack: 2 members + 1 specialist"
    text = (out / "config.yaml").read_text(encoding="utf-8")
    for typo, message in ((text.replace("method:", "methd:"), "unknown key(s) methd; valid keys: method,"),
                          (text.replace("seed: 3", "seed: three"), "seed: expected int, got 'three'"),
                          (text.replace("method_forced: false\n", ""), "missing key(s) method_forced")):
        (out / "config.yaml").write_text(typo, encoding="utf-8")
        with pytest.raises(DlClsError, match=re.escape(f"{out / 'config.yaml'}: {message}")):
            read_run_config(out)
        assert ensemble_info(out).state == "failed"  # the ledger lists it as failed, saying why


def test_oof_pages_note_only_for_a_specialist_on_cleaner_pages():
    from types import SimpleNamespace

    from dl_cls.artifacts.runs import RunConfig
    from dl_cls.ensemble.cli import oof_pages_note

    def run(name, **keys):
        return SimpleNamespace(name=name, config=RunConfig.from_dict({"data_dir": "/d", **keys}))

    testlike, clean = run("m"), run("c", oof_on="clean")
    ocr = run("ocr", kind="ocr", classes=[3, 4])
    assert "ocr, band" in oof_pages_note([testlike], [ocr, run("band", oof_on="clean", classes=[3, 4])])
    assert oof_pages_note([testlike], [run("s", classes=[3, 4])]) is None  # both test-like
    assert oof_pages_note([clean], [ocr]) is None  # members on clean pages too: nothing flatters the specialist
