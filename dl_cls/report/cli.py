"""dl-cls report RUN_OR_ENSEMBLE: confusion matrix, per-class F1, confused pairs, suggested specialist groups
and a gallery of misclassified OOF images, written to RUN/report/ (report-2/, ... if that exists)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from dl_cls.core.cli_options import add_work
from dl_cls.core.io import atomic_write_csv, atomic_write_text, new_output_dir
from dl_cls.core.lock import Lock
from dl_cls.imaging.viz import save_png
from dl_cls.report.analysis import GROUP_MIN_COUNT, GROUP_THRESHOLD, Analysis, load_analysis


def add_arguments(parser) -> None:
    parser.add_argument("run", metavar="RUN_OR_ENSEMBLE",
                        help="a run/ensemble dir, or a name under WORK/runs or WORK/ensembles")
    add_work(parser)
    parser.add_argument("--out", help="output dir, must not exist (default: RUN/report, or report-2, ...)")
    parser.add_argument("--threshold", type=float, default=GROUP_THRESHOLD,
                        help=f"mean mutual confusion rate at which two groups of classes join (default {GROUP_THRESHOLD})")
    parser.add_argument("--min-count", type=int, default=GROUP_MIN_COUNT,
                        help=f"images confused between two classes to link them (default {GROUP_MIN_COUNT})")
    parser.add_argument("--top", type=int, default=10, help="confused pairs listed (default 10)")
    parser.add_argument("--max-errors", type=int, default=40, help="images in errors.png (default 40)")
    parser.add_argument("--html", action="store_true",
                        help="also write report.html: one offline file with the images inlined, to share")


def next_report_dir(run_dir: Path) -> Path:
    """report/, then report-2/, report-3/...: an earlier report is never overwritten."""
    out, n = run_dir / "report", 1
    while out.exists():
        n += 1
        out = run_dir / f"report-{n}"
    return out


def groups_table(a: Analysis, groups: list[list[int]]) -> pd.DataFrame:
    names, pos = a.dd.class_names, {c: i for i, c in enumerate(a.classes)}
    inside = []  # images of the group's classes predicted as another class of the group
    for g in groups:
        idx = [pos[c] for c in g]
        block = a.cm[np.ix_(idx, idx)]
        inside.append(int(block.sum() - np.trace(block)))
    return pd.DataFrame({"group": range(1, len(groups) + 1),
                         "classes": [",".join(map(str, g)) for g in groups],
                         "confused_inside": inside,
                         "class_names": ["; ".join(names[c] for c in g) for g in groups]})


def summary_text(a: Analysis, per_class: pd.DataFrame, pairs: pd.DataFrame, groups, threshold, min_count) -> str:
    lines = [f"# Report: {a.run_dir}", ""] + ([f"**Warning:** {a.coverage_warning}", ""] if a.missing else []) + [
             f"OOF macro F1 {a.macro_f1:.4f}, accuracy {a.accuracy:.4f}, {len(a.y_true)} images, "
             f"{len(a.classes)} classes, {int((a.y_pred != a.y_true).sum())} misclassified", "",
             "## Per class (worst F1 first)", "",
             per_class.sort_values("f1").to_string(index=False, float_format=lambda v: f"{v:.3f}"), "",
             "## Most confused pairs", ""]
    lines.append(pairs.drop(columns=["name_a", "name_b"]).to_string(index=False, float_format=lambda v: f"{v:.3f}")
                 if len(pairs) else "(none)")
    lines += ["", f"## Suggested specialist groups (average-linkage mutual confusion > {threshold}, pairs confused "
              f"both ways in >= {min_count} images; nested groups listed too)", ""]
    table = groups_table(a, groups)
    lines += [f"- CLASSES={r.classes}   {r.confused_inside} confused inside   ({r.class_names})"
              for r in table.itertuples()] or ["(none)"]
    return "\n".join(lines) + "\n"


def _gallery_note(a: Analysis, max_errors: int, written: bool) -> str:
    if written:
        return " errors.png"
    if max_errors <= 0:
        return " (no errors.png: --max-errors 0)"
    return " (no misclassified images)"


def run(args) -> int:
    a = load_analysis(args.run, args.work)
    if a.coverage_warning:  # loud, before the work: the figures to come are over fewer images than the run has
        print(f"warning: {a.coverage_warning}", file=sys.stderr, flush=True)
    with Lock(a.run_dir, f"report of {a.run_dir}", name=".report.lock"):
        out = Path(args.out) if args.out else next_report_dir(a.run_dir)
        with new_output_dir(out):  # no half-written report
            per_class = a.per_class()
            pairs = a.pairs(args.top)
            groups = a.groups(args.threshold, args.min_count)
            from dl_cls.report.plots import confusion_figure, error_gallery  # matplotlib only here
            from dl_cls.imaging.viz import save_figure

            save_figure(confusion_figure(a), out / "confusion_matrix.png")
            atomic_write_csv(per_class, out / "per_class.csv", float_format="%.4f")
            atomic_write_csv(pairs, out / "confused_pairs.csv", float_format="%.4f")
            atomic_write_csv(groups_table(a, groups), out / "suggested_groups.csv")
            gallery = error_gallery(a, args.max_errors) if args.max_errors > 0 else None
            if gallery is not None:
                save_png(out / "errors.png", gallery)
            text = summary_text(a, per_class, pairs, groups, args.threshold, args.min_count)
            atomic_write_text(out / "summary.md", text)
            if args.html:
                from dl_cls.report.html import report_html

                atomic_write_text(out / "report.html", report_html(out, f"Report: {a.run_dir.name}"))
    print(text)
    written = "confusion_matrix.png per_class.csv confused_pairs.csv suggested_groups.csv summary.md"
    print(f"wrote {out}/: {written}" + _gallery_note(a, args.max_errors, gallery is not None)
          + (" report.html (offline, images inlined)" if args.html else ""))
    return 0
