"""The OCR expert: OCR text -> class probabilities within a class group, written as a class-subset run dir.

Features: char 2-3-gram TF-IDF + logistic regression on title + page text, and a title-keyword rule that comes
first when it fires. Keywords are learned from train titles (character n-grams of the title that are pure for one
class, inside each CV fold from that fold's training rows only), plus an optional shipped list
(configs/ocr_keywords.csv: class,keyword) matched with one wrong character allowed, as OCR often misreads one.

Rows without readable text give no prediction, never a guess: they are left out of oof.csv (the ensemble keeps
its own prediction for OOF rows a specialist did not predict) and get uniform probabilities in test_probs.csv
(the loader needs every test ID; a uniform row only shrinks the ensemble's distribution inside the group towards
uniform, so with any blend weight it keeps the ensemble's ranking there, i.e. its prediction).
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from dl_cls.artifacts.runs import prob_columns
from dl_cls.core.config import CONFIG_DIR
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import read_csv
from dl_cls.ocr.table import ALT_TYPES

DEFAULT_KEYWORDS = CONFIG_DIR / "ocr_keywords.csv"
RULE_WEIGHT = 0.8  # a firing keyword rule: 0.8 on its class + 0.2 x the TF-IDF model's probabilities
MIN_CHARS = 2  # fewer confident letters than this = no readable text


def title_key(title: str) -> str:
    """Letters only, upper case: spacing and punctuation vary between readings of one title (진 단 서)."""
    return "".join(ch for ch in str(title).upper() if ch.isalpha())


def ngrams(key: str, n_min: int = 2, n_max: int = 8) -> set[str]:
    return {key[i : i + n] for n in range(n_min, n_max + 1) for i in range(len(key) - n + 1)}


def learn_keywords(titles, y, min_support: float = 0.3, per_class: int = 10) -> pd.DataFrame:
    """Title n-grams found in no other class's titles and in at least `min_support` of this class's: class,keyword.
    Longer n-grams first among equal support, since they are the more specific."""
    sets = [ngrams(title_key(t)) for t in titles]
    y = np.asarray(y)
    seen_in = {}
    for grams, c in zip(sets, y):
        for g in grams:
            seen_in.setdefault(g, Counter())[int(c)] += 1
    by_class = {}  # class -> the n-grams seen in its titles only (one pass: a pass per class took 15 s a run)
    for g, cnt in seen_in.items():
        if len(cnt) == 1:
            by_class.setdefault(next(iter(cnt)), []).append(g)
    rows = []
    for c in np.unique(y):
        n_c = int((y == c).sum())
        pure = [(seen_in[g][int(c)] / n_c, len(g), g) for g in by_class.get(int(c), [])]
        pure = sorted((p for p in pure if p[0] >= min_support), reverse=True)[:per_class]
        rows += [{"class": int(c), "keyword": g, "support": round(s, 3), "source": "learned"} for s, _, g in pure]
    return pd.DataFrame(rows, columns=["class", "keyword", "support", "source"])


def load_keyword_file(spec, classes, class_names: list[str] | None = None, log=print) -> pd.DataFrame:
    """--keywords default|none|FILE -> class,keyword rows of the group's classes (default: the shipped list,
    when it exists). With `class_names` (meta.csv's), rows whose class_name column names another class are
    skipped, and `log` says so."""
    if spec in (None, "none"):
        return pd.DataFrame(columns=["class", "keyword", "source"])
    path = DEFAULT_KEYWORDS if spec == "default" else Path(spec)
    if spec == "default" and not path.is_file():
        return pd.DataFrame(columns=["class", "keyword", "source"])
    df = read_csv(path, "keyword list not found", dtype={"keyword": str}, comment="#")
    if not {"class", "keyword"} <= set(df.columns):
        raise DlClsError(f"{path}: needs columns class,keyword (has {', '.join(map(str, df.columns))})")
    bad = pd.to_numeric(df["class"], errors="coerce").isna() | df["keyword"].isna()
    if bad.any():
        raise DlClsError(f"{path}: line {int(bad.to_numpy().argmax()) + 2}: class must be an integer and keyword non-empty")
    df = df.assign(**{"class": df["class"].astype(int), "keyword": df["keyword"].map(title_key), "source": "file"})
    df = df[df["class"].isin(classes) & (df["keyword"] != "")]
    if class_names is not None and "class_name" in df.columns:
        df = _same_class_names(df, class_names, path, log)
    return df[["class", "keyword", "source"]]


def _same_class_names(df: pd.DataFrame, class_names: list[str], path, log) -> pd.DataFrame:
    """The rows whose class_name is meta.csv's name of their class: the shipped list numbers the competition's
    classes, and a renumbered or other dataset would have them fire the wrong class."""
    named = df["class_name"].fillna("").astype(str).str.strip()
    theirs = df["class"].map(lambda c: class_names[c] if 0 <= c < len(class_names) else None)
    wrong = (named != "") & (named != theirs)
    if wrong.any():
        bad = df[wrong].drop_duplicates("class")
        what = "; ".join(f"{c} is {t!r} in meta.csv, {n!r} in the list"
                         for c, n, t in zip(bad["class"], named[wrong].loc[bad.index], theirs.loc[bad.index]))
        log(f"note: {path}: {int(wrong.sum())} keyword(s) skipped, their class has another name here ({what}); "
            "give your own list with --keywords FILE")
    return df[~wrong]


def fuzzy_in(keyword: str, text: str, max_wrong: int) -> bool:
    """keyword occurs in text with at most `max_wrong` substituted characters."""
    if keyword in text:
        return True
    n = len(keyword)
    if max_wrong == 0 or n < 3:
        return False
    return any(sum(a != b for a, b in zip(keyword, text[i : i + n])) <= max_wrong for i in range(len(text) - n + 1))


def keyword_rules(keywords: pd.DataFrame) -> list[tuple[int, str, int]]:
    """(class, keyword, wrong characters allowed) of each keyword: learned ones match exactly, shipped ones with one
    wrong character. Made once per keyword table: rule_class runs on every reading of every page."""
    return [(int(c), kw, 1 if source == "file" else 0)
            for c, kw, source in keywords[["class", "keyword", "source"]].itertuples(index=False)]


def rule_class(title: str, rules: list[tuple[int, str, int]]) -> int | None:
    """The class whose keyword rules (keyword_rules of a keyword table) match the title most often, None when none
    match or two classes tie."""
    key = title_key(title)
    votes = Counter()
    for c, kw, wrong in rules:
        if fuzzy_in(kw, key, wrong):
            votes[c] += 1
    top = votes.most_common(2)
    if not top or (len(top) == 2 and top[0][1] == top[1][1]):
        return None
    return top[0][0]


def document(title: str, text: str) -> str:
    return f"{title} {text}".upper()


class OcrExpert:
    """Fit on (title, text, class) rows of the group; predict_proba over `classes` in their order."""

    def __init__(self, classes, file_keywords: pd.DataFrame, seed: int = 0):
        self.classes, self.file_keywords, self.seed = [int(c) for c in classes], file_keywords, seed

    def fit(self, titles, texts, y) -> "OcrExpert":
        y = np.asarray(y, dtype=int)
        if len(np.unique(y)) < 2:
            raise DlClsError(f"OCR expert: readable train text for only {len(np.unique(y))} class(es) of "
                             f"{self.classes}; cannot learn to tell them apart")
        self.keywords = pd.concat([learn_keywords(titles, y), self.file_keywords], ignore_index=True)
        self.rules = keyword_rules(self.keywords)
        self.model = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True, min_df=1),
            LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced", random_state=self.seed))
        self.model.fit([document(a, b) for a, b in zip(titles, texts)], y)
        return self

    def predict_proba(self, titles, texts) -> tuple[np.ndarray, np.ndarray]:
        """(N, len(classes)) probabilities and whether the keyword rule fired per row."""
        probs = np.zeros((len(titles), len(self.classes)))
        fitted = self.model.predict_proba([document(a, b) for a, b in zip(titles, texts)])
        for j, c in enumerate(self.model.classes_):
            probs[:, self.classes.index(int(c))] = fitted[:, j]
        fired = np.zeros(len(titles), bool)
        for i, title in enumerate(titles):
            c = rule_class(title, self.rules)
            if c is not None:
                probs[i] = (1 - RULE_WEIGHT) * probs[i]
                probs[i, self.classes.index(c)] += RULE_WEIGHT
                fired[i] = True
        return probs, fired


PREDICTED = ("clean", "testlike")  # the kinds of page an OOF is predicted on; other kinds are only trained on


def has_text(table: pd.DataFrame) -> np.ndarray:
    return (table["n_chars"].to_numpy() >= MIN_CHARS) & (table["title"].str.len() + table["text"].str.len() > 0).to_numpy()


def _readable(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[has_text(rows)]


TEXT_COLUMNS = tuple(ALT_TYPES)  # the columns of one reading of a page


def surest_readings(expert: OcrExpert, rows: pd.DataFrame) -> pd.DataFrame:
    """`rows` with each page's reading replaced by the one `expert` is surest about (highest top probability)
    among the row's own and its `alts`, the other poses read on a page the pose model doubted; readings without
    text are never chosen. `chosen_alt` marks the rows changed. Done alike on copies and test pages."""
    rows = rows.reset_index(drop=True).assign(chosen_alt=False)
    columns = list(TEXT_COLUMNS)
    with_alts = [(i, alts) for i, alts in enumerate(rows["alts"].fillna("") if "alts" in rows.columns else [])
                 if alts]
    if not with_alts:
        return rows
    own = rows[columns].to_dict("records")
    listed = [(i, j, reading) for i, alts in with_alts
              for j, reading in enumerate([own[i], *json.loads(alts)])]  # the row's own reading first
    readings = pd.DataFrame([r for _, _, r in listed], columns=columns)
    keep = has_text(readings)
    if not keep.any():
        return rows
    # every page's readings in one call: a call a page was most of a text run's time at competition size
    probs, _ = expert.predict_proba(list(readings["title"][keep]), list(readings["text"][keep]))
    best: dict[int, tuple[float, int]] = {}  # page -> (top probability, its listed index); the first among equals
    for k, p in zip(np.flatnonzero(keep), probs.max(axis=1)):
        i = listed[k][0]
        if i not in best or p > best[i][0]:
            best[i] = (p, k)
    changed = [(i, k) for i, (_, k) in best.items() if listed[k][1] != 0]
    if changed:
        at = [i for i, _ in changed]
        for c in columns:
            rows.loc[at, c] = [readings[c].iloc[k] for _, k in changed]
        rows.loc[at, "chosen_alt"] = True
    return rows


def cross_validate(pages: dict[str, pd.DataFrame], classes, file_keywords, seed: int = 0) -> dict:
    """OOF per kind of page ('clean' train pages, and their 'testlike' copies when given): for each fold, one model
    fitted on the other folds' readable rows of every kind (the 'extra<k>' copies too: read to train on, never
    predicted) predicts the fold's readable clean pages and copies.
    Returns kind -> (frame ID,fold,chosen_alt,p_..., rule-fired flags); chosen_alt: another pose's reading was
    surer (surest_readings)."""
    return cross_validate_judging(pages, None, classes, file_keywords, seed)[0]


def cross_validate_judging(pages: dict[str, pd.DataFrame], judged: pd.DataFrame | None, classes, file_keywords,
                           seed: int = 0) -> tuple[dict, list[tuple[np.ndarray, np.ndarray]]]:
    """cross_validate, and each fold's model's (probabilities, readable mask) on every row of `judged`
    (test_probs_of; none when None): the test pages judged by the very models that judge the copies, for a
    like-for-like comparison."""
    folds = sorted(pd.concat(list(pages.values()))["fold"].unique())
    predicted = {kind: rows for kind, rows in pages.items() if kind in PREDICTED}
    out: dict = {kind: ([], []) for kind in predicted}
    judgements = []
    for k in folds:
        fit = _readable(pd.concat([p[p["fold"] != k] for p in pages.values()], ignore_index=True))
        expert = OcrExpert(classes, file_keywords, seed).fit(fit["title"], fit["text"], fit["target"])
        for kind, rows in predicted.items():
            held = _readable(surest_readings(expert, rows[rows["fold"] == k]))
            probs, fired = expert.predict_proba(list(held["title"]), list(held["text"]))
            out[kind][0].append(pd.concat([held[["ID", "fold", "chosen_alt"]].reset_index(drop=True),
                                           pd.DataFrame(probs, columns=prob_columns(classes))], axis=1))
            out[kind][1].append(fired)
        if judged is not None:
            judgements.append(test_probs_of(expert, judged)[:2])
    if not any(len(f) for frames, _ in out.values() for f in frames):
        raise DlClsError("OCR expert: no train image of the group has readable text")
    oofs = {kind: (pd.concat(frames, ignore_index=True), np.concatenate(fired)) for kind, (frames, fired) in out.items()}
    return oofs, judgements


def test_probs_of(expert: OcrExpert, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """(probabilities, readable mask, rule-fired mask, the rows as read) of test rows by `expert`, each on its surest
    reading; rows without text are uniform."""
    test = surest_readings(expert, test)
    n = len(expert.classes)
    probs = np.full((len(test), n), 1.0 / n)
    readable = has_text(test)
    fired = np.zeros(len(test), bool)
    if readable.any():
        probs[readable], fired[readable] = expert.predict_proba(list(test["title"][readable]),
                                                                list(test["text"][readable]))
    return probs, readable, fired, test


def predict_test(pages: dict[str, pd.DataFrame], test: pd.DataFrame, classes, file_keywords, seed: int = 0):
    """Test probabilities from a model fitted on every readable train row (clean and test-like), on each page's
    surest reading; rows without text are uniform. Returns (probs frame ID,p_..., readable mask, rule-fired mask,
    the fitted expert, mask of pages whose surest reading was another pose's)."""
    rows = _readable(pd.concat(list(pages.values()), ignore_index=True))
    expert = OcrExpert(classes, file_keywords, seed).fit(rows["title"], rows["text"], rows["target"])
    probs, readable, fired, test = test_probs_of(expert, test)
    frame = pd.concat([test[["ID"]].reset_index(drop=True), pd.DataFrame(probs, columns=prob_columns(classes))],
                      axis=1)
    return frame, readable, fired, expert, test["chosen_alt"].to_numpy(bool)
