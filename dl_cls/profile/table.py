"""The side-by-side table: one row per statistic, one column per folder.

Distributions read `median [q25–q75] (p10–p90)`; shares read as a percentage."""
from __future__ import annotations

import numpy as np
import pandas as pd

from dl_cls.imaging.imgstats import GREY_SAT

# statistic -> (label, decimals) for distributions
DISTRIBUTIONS = {
    "skew_abs": ("residual skew, abs deg", 1),
    "lap_var": ("Laplacian variance", 0),
    "noise_mad": ("fine noise, 3x3 MAD", 2),
    "mean_grey": ("mean grey", 0),
    "near_black": ("near-black share (<= 40)", 3),
    "dark_padding": ("dark flat border area", 3),
    "saturation": ("mean saturation", 1),
    "cast": ("background colour cast", 1),
    "long_side": ("long side, px", 0),  # as stored; every statistic above is measured at imgstats' one size
}
# share rows: label -> per-image 0/1 from a folder's measurements
SHARES = {
    "sideways (90/270)": lambda d: d["sideways"],
    "frame = a reference size": lambda d: d["frame_match"],
    "skew within 2 deg": lambda d: d["skew_abs"] <= 2,
    "mean grey < 150": lambda d: d["mean_grey"] < 150,
    "near-grey (saturation < 8)": lambda d: d["saturation"] < GREY_SAT,
    "dark padding > 1% of area": lambda d: d["dark_padding"] > 0.01,
}


def summarise(folders: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Long table: statistic, label, folder, n, median, q25, q75, p10, p90, share (shares only)."""
    rows = []
    for name, d in folders.items():
        for stat, (label, _) in DISTRIBUTIONS.items():
            q = np.percentile(d[stat].to_numpy(float), [50, 25, 75, 10, 90])
            rows.append(dict(statistic=stat, label=label, folder=name, n=len(d), median=q[0], q25=q[1], q75=q[2],
                             p10=q[3], p90=q[4], share=np.nan))
        for label, fn in SHARES.items():
            rows.append(dict(statistic="share", label=label, folder=name, n=len(d), median=np.nan, q25=np.nan,
                             q75=np.nan, p10=np.nan, p90=np.nan, share=float(np.mean(fn(d)))))
    return pd.DataFrame(rows)


def _cell(r, decimals: int) -> str:
    if r["statistic"] == "share":
        return f"{100 * r['share']:.1f}%"
    f = f"{{:.{decimals}f}}"
    return (f"{f.format(r['median'])} [{f.format(r['q25'])}–{f.format(r['q75'])}] "
            f"({f.format(r['p10'])}–{f.format(r['p90'])})")


def side_by_side(summary: pd.DataFrame) -> pd.DataFrame:
    """Wide table for printing: index = statistic label, one column per folder (input order)."""
    decimals = {label: dec for label, dec in DISTRIBUTIONS.values()}
    cells = summary.assign(cell=[_cell(r, decimals.get(r["label"], 1)) for _, r in summary.iterrows()])
    wide = cells.pivot(index="label", columns="folder", values="cell")
    order = [lab for lab, _ in DISTRIBUTIONS.values()] + list(SHARES)
    return wide.loc[order, list(dict.fromkeys(summary["folder"]))]


def format_table(wide: pd.DataFrame) -> str:
    n_rows = wide.reset_index().rename(columns={"label": "statistic (median [IQR] (p10–p90))"})
    widths = {c: max(len(str(c)), *(len(str(v)) for v in n_rows[c])) for c in n_rows.columns}
    lines = ["  ".join(str(c).ljust(widths[c]) for c in n_rows.columns)]
    lines.append("  ".join("-" * widths[c] for c in n_rows.columns))
    for _, r in n_rows.iterrows():
        lines.append("  ".join(str(r[c]).ljust(widths[c]) for c in n_rows.columns))
    return "\n".join(lines)
