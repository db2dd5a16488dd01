"""How well pages read, without labels: the figures that tell whether the user's test pages read as well as the
test-like copies a text member's OOF was measured on.

On the real competition pages the family expert's test-like OOF was 0.80 but it scored 0.64 on the real test pages,
and a full-class text member's clean OOF 0.88 became 0.54: real test pages read worse (a title keyword on 31% of
family test titles against 43% of test-like copies and 63% of clean train pages). Nothing in the OOF shows that;
these figures do, on any data dir, since they need no labels.

`shrink_factor` turns the gap into the measured rule the ensemble applies: a text member's test probabilities are
pulled towards uniform by the ratio of the test pages' keyword rate to the test-like copies' (a linear blend on
probabilities then weighs the member by that much less on the test than its OOF chose; below 0.5 the ensemble also
leaves stacking and fitted weights out of its choice: dl_cls/ensemble/text_runs.py).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from dl_cls.ocr.expert import fuzzy_in, keyword_rules, rule_class, title_key

KINDS = ("clean", "testlike", "test")  # clean train pages, their test-like copies, the user's test pages
MIN_TITLE_LETTERS = 4  # a title with fewer letters read is not a title reading
WORSE = 0.9  # the test pages read worse when a rate falls below this share of the test-like copies'
MIN_RATE = 0.05  # below this on the test-like copies a rate is too rare to compare
# A rate from a handful of pages is noise: 8 test pages set the shrink to x0.00 and switched the text member off
# (ensemble 0.10 vs 0.29 without it). Below these the factor stays 1.
MIN_PAGES = 30  # test pages and test-like copies each
MIN_HITS = 5  # pages of the test-like copies the compared rate counts (the ratio's denominator)


def _keyword_found(titles, keywords: pd.DataFrame) -> np.ndarray:
    """A keyword of any class in the title, one wrong character allowed (as the rule matches the shipped list);
    unlike the rule, two classes matching still counts as found."""
    words = [title_key(k) for k in keywords["keyword"]] if len(keywords) else []
    return np.array([any(fuzzy_in(w, title_key(t), 1) for w in words) for t in titles], bool)


def letters_per_page(rows: pd.DataFrame) -> float:
    """Confident letters a page (the table's n_chars), 0 for no pages: the densest label-free sign of how pages read
    (whether a title keyword is found is rarer and noisier), so the one dl-cls ocr fits its copies' camera on."""
    return float(pd.to_numeric(rows["n_chars"], errors="coerce").fillna(0).mean()) if len(rows) else 0.0


def page_readability(rows: pd.DataFrame, shipped: pd.DataFrame, expert_keywords: pd.DataFrame) -> dict:
    """Label-free figures of one kind of page: title keyword found (the shipped list), rule firing rate (every
    keyword the expert uses), mean word confidence (pages with text), letters per page, readable-title share."""
    titles = rows["title"].fillna("").astype(str).tolist()
    conf = pd.to_numeric(rows["mean_conf"], errors="coerce").to_numpy(float)
    n = max(len(rows), 1)
    rules = keyword_rules(expert_keywords)
    fired = [rule_class(t, rules) is not None for t in titles]
    return {"pages": int(len(rows)),
            "title_keyword": round(float(_keyword_found(titles, shipped).sum()) / n, 4),
            "rule_fired": round(sum(fired) / n, 4),
            "word_conf": round(float(np.nanmean(conf[conf > 0])), 1) if (conf > 0).any() else 0.0,
            "letters": round(letters_per_page(rows), 1),
            "readable_title": round(sum(len(title_key(t)) >= MIN_TITLE_LETTERS for t in titles) / n, 4)}


SURE = 0.5  # a page the text model gives p >= this is a sure reading (on the real pages 95-97% of them were right)


def sure_share(probs: np.ndarray, pages: int) -> float:
    """The share of `pages` whose text gives a sure prediction (rows of probs: the pages with text; the rest of
    the pages have none and are not sure)."""
    return round(float((np.asarray(probs).max(1) >= SURE).sum()) / max(pages, 1), 4) if len(probs) else 0.0


def compare_rate(table: dict) -> str | None:
    """The rate the test pages are compared on: the shipped title keywords when the test-like copies find them
    often enough, else the expert's rule (learned keywords: any dataset), else none."""
    tl = table.get("testlike")
    if not tl or "test" not in table:
        return None
    for rate in ("title_keyword", "rule_fired"):
        if tl[rate] >= MIN_RATE:
            return rate
    return None


def too_few_line(table: dict) -> str | None:
    """Why the rates are not compared (too few pages or keyword hits to trust their ratio), or None."""
    rate = compare_rate(table)
    if rate is None:
        return None
    test, tl = table["test"], table["testlike"]
    hits = round(tl[rate] * tl["pages"])
    if min(test["pages"], tl["pages"]) >= MIN_PAGES and hits >= MIN_HITS:
        return None
    return (f"too few pages to compare how they read ({test['pages']} test pages, {tl['pages']} test-like copies "
            f"with {hits} {rate.replace('_', ' ')} hits; at least {MIN_PAGES} pages each and {MIN_HITS} hits): "
            "the test shrink stays x1.00")


def shrink_factor(table: dict) -> float:
    """min(1, test rate / test-like rate) on compare_rate: 1.0 when the test pages read as well as the copies, or
    when too few pages were read to tell."""
    rate = compare_rate(table)
    if rate is None or too_few_line(table):
        return 1.0
    return round(min(1.0, table["test"][rate] / table["testlike"][rate]), 3)


def worse_line(table: dict) -> str | None:
    """One line when the test pages read worse than the test-like copies the OOF was measured on."""
    rate = compare_rate(table)
    if rate is None or too_few_line(table):
        return None
    test, tl = table["test"], table["testlike"]
    if test[rate] >= WORSE * tl[rate]:
        return None
    return (f"the test pages read worse than the test-like copies the OOF was measured on ({rate.replace('_', ' ')} "
            f"{test[rate]:.0%} vs {tl[rate]:.0%}, word confidence {test['word_conf']} vs {tl['word_conf']}): "
            f"the OOF is optimistic for the test; the ensemble pulls this member's test probabilities towards "
            f"uniform by x{shrink_factor(table):.2f}")


def describe(table: dict, comparable: bool = True) -> list[str]:
    """The side-by-side table dl-cls ocr prints."""
    lines = ["label-free readability (no labels needed; test = your test pages):",
             f"  {'pages':<10} {'n':>5} {'title keyword':>13} {'rule fires':>10} {'word conf':>9} {'letters':>8} "
             f"{'readable title':>14} {'sure':>6}"]
    for kind in KINDS:
        m = table.get(kind)
        if m:
            lines.append(f"  {kind:<10} {m['pages']:>5} {m['title_keyword']:>13.0%} {m['rule_fired']:>10.0%} "
                         f"{m['word_conf']:>9} {m['letters']:>8} {m['readable_title']:>14.0%} "
                         + (f"{m['sure']:>6.0%}" if "sure" in m else f"{'-':>6}"))
    line = (too_few_line(table) or worse_line(table)) if comparable else (
        "  the test pages read are every class's, the train pages only the group's: not compared (read them with "
        "--classes all GROUP, or only the group's test pages with --test-from RUN)")
    if line:
        lines.append("  " + line.strip())
    return lines
