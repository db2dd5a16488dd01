"""Text-model variants of the OCR expert / full-class member, chosen by test-like OOF macro F1 (issue 23 item 6).

Reads a cached OCR table of a pass that read every class (`dl-cls ocr --classes all 3,4,7,14`), cross-validates
each variant on WORK/folds.csv exactly as the expert does (keyword rule included) and prints its test-like OOF
macro F1; with the sample's test_labels.csv, the test F1 on readable test pages of the group beside it (a check,
never the choice). Run alone: python bench/text_model.py DATA WORK OCR_CSV
"""
import sys
import numpy as np, pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import FunctionTransformer
from dl_cls.data.contract import load_data
from dl_cls.data.folds import load_folds
from dl_cls.ocr import expert as E
from dl_cls.ocr.rundir import group_tables
from dl_cls.ocr.table import read_table
from dl_cls.artifacts.runs import macro_f1, prob_columns

data, work, table_path = sys.argv[1:4]
dd = load_data(data, "none"); folds = load_folds(work, dd); table = read_table(table_path)
labels = pd.read_csv(f"{data}/test_labels.csv", dtype={"ID": str}).set_index("ID")["target"]

def title_only(docs): return [d.split("\x00")[0] for d in docs]
def page_only(docs): return [d.split("\x00")[1] for d in docs]

VARIANTS = {
  "base char_wb2-3 C10": lambda: make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True), LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")),
  "char_wb2-4": lambda: make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True), LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")),
  "char_wb1-5": lambda: make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True, max_features=200000), LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")),
  "char2-4 + word1-2": lambda: make_pipeline(make_union(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True), TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S\S+")), LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")),
  "char2-4 + title field": lambda: make_pipeline(make_union(make_pipeline(FunctionTransformer(page_only), TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)), make_pipeline(FunctionTransformer(title_only), TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True))), LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")),
  "char2-4 + word + title": lambda: make_pipeline(make_union(make_pipeline(FunctionTransformer(page_only), TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)), make_pipeline(FunctionTransformer(title_only), TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)), TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S\S+")), LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")),
}
E.document = lambda title, text: f"{title}\x00{text}".upper()
orig_fit = E.OcrExpert.fit
for groups in ([3, 4, 7, 14], list(range(dd.num_classes))):
    pages, test = group_tables(table, dd, folds, groups)
    kw = E.load_keyword_file("default", groups)
    for name, make in VARIANTS.items():
        def fit(self, titles, texts, y, make=make):
            y = np.asarray(y, int)
            self.keywords = pd.concat([E.learn_keywords(titles, y), self.file_keywords], ignore_index=True)
            self.model = make(); self.model.fit([E.document(a, b) for a, b in zip(titles, texts)], y); return self
        E.OcrExpert.fit = fit
        oofs = E.cross_validate(pages, groups, kw)
        tl = oofs["testlike"][0]; truth = pages["testlike"].set_index("ID")["target"]
        pred = np.asarray(groups)[tl[prob_columns(groups)].to_numpy().argmax(1)]
        f1_tl = macro_f1(truth.loc[tl["ID"]].to_numpy(), pred)
        probs, readable, fired, *_ = E.predict_test(pages, test, groups, kw)
        tp = np.asarray(groups)[probs[prob_columns(groups)].to_numpy().argmax(1)]
        y = labels.loc[test["ID"]].to_numpy(); m = np.isin(y, groups) & readable
        print(f"{len(groups):>2} classes {name:<26} test-like OOF F1 {f1_tl:.3f} | test F1 (readable, in group) {macro_f1(y[m], tp[m]):.3f}", flush=True)
