"""The training recipe of one model: configs/models/<name>.yaml loaded into TrainConfig.

A run's config.yaml holds these fields plus the contract keys of every run dir (artifacts.runs.RunConfig: data_dir,
aug_dir, class names, ...); `recipe_from_run` reads both back for resume / predict / merge.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from dl_cls.artifacts.runs import RunConfig, read_run_config
from dl_cls.core.config import CONFIG_DIR, compose_config, config_to_dict, load_config
from dl_cls.core.errors import DlClsError

MODELS_DIR = CONFIG_DIR / "models"
TRAIN_DEFAULTS = CONFIG_DIR / "train" / "defaults.yaml"  # shared by every model file


@dataclass
class TrainConfig:
    # model
    timm_name: str = "resnet34"
    pretrained: bool = True
    pretrained_tag: str | None = None  # e.g. "a1_in1k" -> timm "resnet34.a1_in1k"; None = timm's default tag
    pretrained_file: str | None = None  # local weights for offline machines (timm pretrained_cfg_overlay file=)
    drop_path_rate: float = 0.0
    img_size: int = 224
    # optimisation
    batch_size: int = 32
    epochs: int = 10
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.05
    scheduler: str = "cosine"
    warmup_epochs: float = 1.0
    warmup_lr: float = 1e-6
    min_lr: float = 1e-6
    grad_accum: int = 1
    grad_clip: float = 1.0  # max grad norm; 0 = off
    label_smoothing: float = 0.1
    # timm Mixup: applied to mixup_prob of the batches, cutmix instead of mixup with mixup_switch_prob
    mixup_alpha: float = 0.8
    cutmix_alpha: float = 1.0
    mixup_prob: float = 0.33
    mixup_switch_prob: float = 0.5
    ema: bool = True
    ema_decay: float = 0.999
    # device
    amp: str = "auto"  # auto (bf16 if supported else fp16 on CUDA; off on CPU) | bf16 | fp16 | off
    channels_last: bool = True  # CUDA only
    compile: bool = False
    num_workers: int = -1  # -1: auto (CPU: 0 with the image cache; CUDA: min(8, cores))
    cache_images: str = "auto"  # auto | true | false: decode + resize every image once and keep it in RAM
    cache_max_gb: float = 8.0
    # validation
    patience: int = 5  # early-stopping patience in epochs; 0 = off
    select_metric: str = "testlike"  # testlike | clean: picks best.pt and drives early stopping
    testlike_seed: int = 1234
    # corruption YAML of the test-like validation (None: configs/testlike/default.yaml); `profile --fit` writes one
    testlike_config: str | None = None
    oof_on: str = "testlike"  # the val images that oof.csv predicts: testlike (what the test looks like) | clean
    # augmentation online (on top of the offline AUG set): auto = light with AUG, strong on plain originals;
    # upright = photometric + small shifts only (no flip, no turn), for crop_band; skew = upright + skew to +-35 deg
    online_aug: str = "auto"  # auto | none | light | strong | upright | skew
    # all: the member learns every page in all 8 poses (4 turns x mirror) and averages the TTA views below;
    # upright: it learns upright pages only and each test page is straightened first by the pose model
    # (dl_cls.train.posed: the few likeliest poses, mixed by their posterior); tta_rotations/tta_hflip unused
    pose: str = "all"  # all | upright
    # the pose model of an upright member (dl_cls.pose.model.OrientSettings keys, e.g. {steps: 2000}); {} = defaults
    pose_model: dict = field(default_factory=dict)
    # TTA for oof.csv / test_probs.csv: every rotation, each also horizontally flipped if tta_hflip
    tta_rotations: list[int] = field(default_factory=lambda: [0, 90, 180, 270])
    tta_hflip: bool = True
    # data selection
    n_folds: int = 5  # used when WORK/folds.csv does not exist yet
    folds_seed: int = 42
    classes: list[int] | None = None  # specialist: train on these original targets only
    focus: str | None = None  # "3,4,7,14:3": keep all classes, oversample these x3
    fraction: float = 1.0  # seeded, class-stratified fraction of the augmented copies (copy > 0)
    seed: int = 42
    eval_batch_size: int = 0  # 0 = 2 x batch_size
    # [top, bottom]: keep only these rows of every page (fractions of its height) before resizing, e.g. [0.0, 0.33]
    # = the title band; for upright pages only (train originals, normalised test images: see test_dir)
    crop_band: list[float] | None = None
    # folder of the test images to predict instead of DATA/test, same file names (e.g. `dl-cls ocr
    # --write-normalised DIR`'s orientation-normalised pages); recorded absolute in config.yaml
    test_dir: str | None = None
    tensorboard: bool = False

    def problems(self) -> list[str]:
        """What is wrong with the values, each message starting with its key: dl_cls.core.config blames each on
        the file or the key=value override it came from."""
        checks = [
            (self.amp in ("auto", "bf16", "fp16", "off"), f"amp must be auto|bf16|fp16|off, got {self.amp!r}"),
            (self.select_metric in ("testlike", "clean"), f"select_metric must be testlike|clean, got {self.select_metric!r}"),
            (self.oof_on in ("testlike", "clean"), f"oof_on must be testlike|clean, got {self.oof_on!r}"),
            (self.online_aug in ("auto", "none", "light", "strong", "upright", "skew"),
             f"online_aug must be auto|none|light|strong|upright|skew, got {self.online_aug!r}"),
            (self.pose in ("all", "upright"), f"pose must be all|upright, got {self.pose!r}"),
            (self.cache_images in ("auto", "true", "false"), f"cache_images must be auto|true|false, got {self.cache_images!r}"),
            (0 < self.fraction <= 1, f"fraction must be in (0, 1], got {self.fraction}"),
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.img_size >= 16, f"img_size must be >= 16 (pixels of the model's input side), got {self.img_size}"),
            (self.batch_size >= 2, f"batch_size must be >= 2 (mixup pairs images), got {self.batch_size}"),
            (self.grad_accum >= 1, f"grad_accum must be >= 1, got {self.grad_accum}"),
            (all(r in (0, 90, 180, 270) for r in self.tta_rotations) and self.tta_rotations,
             f"tta_rotations must be a non-empty list of 0/90/180/270, got {self.tta_rotations}"),
            (self.classes is None or len(set(self.classes)) >= 2, f"classes needs at least 2 classes, got {self.classes}"),
        ]
        bad = [msg for ok, msg in checks if not ok] + self._band_problems()
        try:
            parse_focus(self.focus)
        except DlClsError as exc:  # "focus '3,x': expected ..."
            bad.append(str(exc))
        if self.pose_model:
            from dl_cls.pose.model import pose_settings

            try:
                pose_settings(self.pose_model)  # an unknown key fails now, before any run dir
            except DlClsError as exc:
                bad.append(str(exc))
        return bad

    def validate(self) -> None:
        """The check that reads a file (compose_config has run `problems` already)."""
        if self.testlike_config:
            from dl_cls.imaging.testlike import load_testlike_config

            load_testlike_config(self.testlike_config)  # a missing file or a typo fails now, before any run dir

    def _band_problems(self) -> list[str]:
        """A band of rows means the title only on an upright page: no test-like (turned) validation, no turned or
        flipped TTA views or online augmentation."""
        band = self.crop_band
        if band is None:
            return []
        if len(band) != 2 or not 0 <= band[0] < band[1] <= 1:
            return [f"crop_band must be [top, bottom] with 0 <= top < bottom <= 1, got {band}"]
        wrong = {"oof_on": self.oof_on != "clean", "select_metric": self.select_metric != "clean",
                 "tta_rotations": self.tta_rotations != [0], "tta_hflip": self.tta_hflip,
                 "online_aug": self.online_aug not in ("none", "upright")}
        if not any(wrong.values()):
            return []
        got = ", ".join(f"{k}={getattr(self, k)}" for k, bad in wrong.items() if bad)
        return [f"crop_band {band} crops upright pages only: it needs oof_on=clean select_metric=clean "
                f"tta_rotations=[0] tta_hflip=false online_aug=none|upright (got {got})"]

    @property
    def timm_model_name(self) -> str:
        return f"{self.timm_name}.{self.pretrained_tag}" if self.pretrained_tag else self.timm_name


def parse_focus(focus) -> tuple[list[int], float]:
    """'3,4,7,14:3' -> ([3, 4, 7, 14], 3.0); None -> ([], 1.0)."""
    if focus is None or focus == "":
        return [], 1.0
    text = str(focus)
    classes, sep, factor = text.partition(":")
    try:
        ids = [int(c) for c in classes.replace(" ", "").split(",") if c]
        mult = float(factor) if sep else 2.0
    except ValueError:
        raise DlClsError(f"focus {text!r}: expected CLASSES:FACTOR like 3,4,7,14:3") from None
    if not ids or mult < 1:
        raise DlClsError(f"focus {text!r}: expected CLASSES:FACTOR like 3,4,7,14:3 with FACTOR >= 1")
    return ids, mult


def model_config_path(model: str) -> Path:
    """--model NAME -> configs/models/NAME.yaml; a path to a YAML file is used as is."""
    path = Path(model)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise DlClsError(f"model config {path} not found")
        return path
    path = MODELS_DIR / f"{model}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in MODELS_DIR.glob("*.yaml"))
        raise DlClsError(f"unknown model {model!r}: no {path}; available: {', '.join(names)}")
    return path


def compose_train_config(model: str, overrides: list[str] | dict | None = None) -> tuple[TrainConfig, dict]:
    """configs/train/defaults.yaml, then the model's file (only what differs), then overrides; with the source
    of every value."""
    cfg, sources = compose_config(TrainConfig, [TRAIN_DEFAULTS, model_config_path(model)], overrides)
    cfg.validate()
    return cfg, sources


def load_train_config(model: str, overrides: list[str] | dict | None = None) -> TrainConfig:
    return compose_train_config(model, overrides)[0]


def recipe_from_run(run_dir: Path) -> tuple[TrainConfig, RunConfig]:
    """(TrainConfig, the typed config.yaml) of an existing run."""
    saved = read_run_config(run_dir)
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = load_config(TrainConfig, None, {k: v for k, v in saved.to_dict().items() if k in names})
    return cfg, saved


def recipe_dict(cfg: TrainConfig) -> dict:
    return config_to_dict(cfg)
