"""Ops behind the preset YAML names, and the per-image pipeline that applies them.

An op is named in a preset as `albu.<Transform>` (albumentations 2.x), `augraphy.<Effect>` (a curated subset,
see CURATED_AUGRAPHY) or one of our own (dl_cls.augment.fastops.OPS). Each is called with p=1: the preset's `p`
is drawn by the pipeline, so the manifest's `ops` column names exactly the ops that ran.

Randomness: every image gets a numpy Generator seeded from sha256(seed, source_id, copy). For each op, in preset
order, the pipeline draws (u, op_seed) whether or not the op runs, so one op's outcome never shifts another's
stream. The op is then seeded with op_seed: albumentations through `set_random_seed`, augraphy through the global
`random` and `np.random` states and numba's own RNG (its jitted helpers read that one), our own ops through a
fresh Generator. Nothing depends on the
worker or the order images are processed in.
"""
from __future__ import annotations

import hashlib
import inspect
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from dl_cls.augment import fastops
from dl_cls.core.errors import DlClsError

# Augraphy effects measured fast enough (< ~20 ms on a 512-px page with our parameters, numba JIT warmed up)
# and surviving 1000 random draws (bench/augment_speed.py --draws). Left out on purpose:
#   LensFlare (~100 s), BadPhotoCopy (0.15-5 s; fastops.photocopy), DotMatrix/BookBinding/DepthSimulatedBlur/
#   Letterpress/Stains/ReflectedLight/Voronoi/Delaunay/PatternGenerator (0.1-2 s), ShadowCast (fastops.shadow),
#   InkShifter/Hollow (fastops.faded_ink), Scribbles (crashes: matplotlib.font_manager), PaperFactory (np.int0).
CURATED_AUGRAPHY = (
    "InkBleed", "LowInkRandomLines", "LowInkPeriodicLines", "DirtyDrum", "DirtyRollers", "Folding",
    "NoiseTexturize", "BrightnessTexturize", "ColorPaper", "SubtleNoise", "LinesDegradation", "InkMottling",
    "LightingGradient", "Faxify", "Markup", "NoisyLines", "PageBorder",
)


def derive_seed(seed: int, source_id: str, copy: int) -> int:
    """A 63-bit seed from (seed, source_id, copy); stable across processes and Python versions (no hash())."""
    digest = hashlib.sha256(f"{int(seed)}|{source_id}|{int(copy)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _to_rgb_uint8(out, like: np.ndarray) -> np.ndarray:
    if isinstance(out, (list, tuple)):
        out = out[0]
    out = np.asarray(out)
    if out.dtype != np.uint8:
        out = np.clip(out, 0, 255).astype(np.uint8)
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=2)
    elif out.shape[2] == 4:
        out = out[..., :3]
    elif out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    if out.shape[0] < 4 or out.shape[1] < 4:
        raise ValueError(f"op returned a degenerate image {out.shape} from {like.shape}")
    return np.ascontiguousarray(out)


@dataclass
class Op:
    """One preset entry: `name` (unique label), `op` (albu.<Transform>, augraphy.<Effect> or an own op; the
    prefix says which library builds it), probability `p`, its `params`; build() makes the callable."""

    name: str
    op: str
    p: float
    params: dict = field(default_factory=dict)
    _impl: object = None

    def build(self) -> "Op":
        problems = param_problems(self.op, self.params, self.name)
        if problems:
            raise DlClsError(f"op {self.name!r}: " + "; ".join(problems))
        target = op_target(self.op, self.name)
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in self.params.items()}
        kind = self.op.partition(".")[0]
        if kind == "albu":
            # strict=True: albumentations 2.x would otherwise only warn about 1.x argument names and ignore them
            self._impl = target(**params, p=1.0, strict=True)
        elif kind == "augraphy":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._impl = target(**params, p=1.0)
        else:
            self._impl = (target, params)
        return self

    def __call__(self, img: np.ndarray, op_seed: int, ctx=None) -> np.ndarray:
        kind = self.op.partition(".")[0]
        if kind == "albu":
            self._impl.set_random_seed(op_seed)
            return _to_rgb_uint8(self._impl(image=img)["image"], img)
        if kind == "augraphy":
            from dl_cls.augment._numba_seed import seed_augraphy

            seed_augraphy(op_seed % 2**32)  # python, numpy and numba RNGs (its jitted helpers use numba's)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return _to_rgb_uint8(self._impl(img.copy(), force=True), img)
        fn, params = self._impl
        return _to_rgb_uint8(fn(img, np.random.default_rng(op_seed), ctx, **params), img)


@dataclass
class OpStats:
    applied: int = 0
    failed: int = 0
    slow: int = 0
    total_ms: float = 0.0

    def add(self, other: "OpStats") -> None:
        self.applied += other.applied
        self.failed += other.failed
        self.slow += other.slow
        self.total_ms += other.total_ms


def apply_ops(ops: list[Op], img: np.ndarray, seed: int, budget_ms: float, ctx=None, clock=time.perf_counter):
    """Run the preset's ops on img. Returns (image, applied names, records) where records is a list of
    (name, status, ms) with status "ok", "failed: <error>" or "slow"; a failed or over-budget op's result is
    discarded and the image goes on unchanged by it.

    The budget is checked after the op returns: a hard stop of a hung op is impossible without killing the
    process, so the curated ops are all far below the budget and the budget only guards against rare slow draws.
    Because wall time is not deterministic, an over-budget discard is the one thing that can make two runs
    differ; the summary counts it ("slow") so it is visible.
    """
    rng = np.random.default_rng(seed)
    applied: list[str] = []
    records: list[tuple[str, str, float]] = []
    for op in ops:
        u = rng.random()
        op_seed = int(rng.integers(0, 2**63 - 1))
        if u >= op.p:
            continue
        t0 = clock()
        try:
            out = op(img, op_seed, ctx)
        except Exception as exc:  # an op that raises is skipped for this image, never kills the run
            ms = (clock() - t0) * 1000.0
            records.append((op.name, f"failed: {type(exc).__name__}: {exc}"[:200], ms))
            continue
        ms = (clock() - t0) * 1000.0
        if ms > budget_ms:
            records.append((op.name, "slow", ms))
            continue
        img = out
        applied.append(op.name)
        records.append((op.name, "ok", ms))
    return img, applied, records


# ---------------------------------------------------------------------------------------------- the op registry
_GIVEN = {"self", "img", "rng", "ctx", "p"}  # passed by the pipeline, never by a preset's params


def op_target(op: str, name: str | None = None):
    """What a preset's `op:` builds: an albumentations transform class, a curated augraphy effect class or one of
    our own functions (fastops.OPS). Anything else is a DlClsError."""
    kind, _, attr = op.partition(".")
    label = repr(name or op)
    if kind == "albu":
        import albumentations as A  # noqa: N812

        target = getattr(A, attr, None)
        if target is None:
            raise DlClsError(f"op {label}: albumentations has no transform {attr!r}")
        return target
    if kind == "augraphy":
        if attr not in CURATED_AUGRAPHY:
            raise DlClsError(f"op {label}: augraphy.{attr} is not in the curated fast set "
                             f"({', '.join(CURATED_AUGRAPHY)}); see dl_cls/augment/ops.py for why the others are left out")
        import augraphy

        return getattr(augraphy, attr)
    if op in fastops.OPS:
        return fastops.OPS[op]
    raise DlClsError(f"op {label}: unknown op {op!r}; use albu.<Transform>, augraphy.<Effect> or one of "
                     f"{', '.join(sorted(fastops.OPS))}")


def param_names(target) -> list[str] | None:
    """The params a preset may give an op: its signature (a class's __init__) less what the pipeline passes;
    None when it takes **kwargs (nothing to check against)."""
    sig = inspect.signature(target.__init__ if inspect.isclass(target) else target)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return [n for n, p in sig.parameters.items() if n not in _GIVEN and p.kind is not p.VAR_POSITIONAL]


def param_problems(op: str, params: dict, name: str | None = None) -> list[str]:
    """What is wrong with a preset entry's params, found without building the op: a name the op does not take
    (albumentations 2.x may only warn), and for our own ops a value of the wrong kind (fastops.param_problem)."""
    valid = param_names(op_target(op, name))
    unknown = sorted(set(params) - set(valid)) if valid is not None else []
    problems = [f"unknown param(s) {', '.join(unknown)} for {op}; valid: {', '.join(valid) or 'none'}"] if unknown else []
    declared = fastops.PARAMS.get(op, {})
    for key, value in params.items():
        why = fastops.param_problem(declared[key], value) if key in declared else None
        if why:
            problems.append(f"{op}: {key}={value!r}: {why}")
    return problems
