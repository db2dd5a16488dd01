"""timm model factory: hub weights, a local weights file for offline machines, or none."""
from __future__ import annotations

from pathlib import Path

import timm
import torch

from dl_cls.core.errors import DlClsError
from dl_cls.train.config import TrainConfig


def check_weights_source(cfg: TrainConfig) -> None:
    """Fail before any data loading when pretrained_file is set but missing."""
    if cfg.pretrained and cfg.pretrained_file and not Path(cfg.pretrained_file).is_file():
        raise DlClsError(
            f"pretrained_file {cfg.pretrained_file} not found. Point pretrained_file=PATH at a timm/PyTorch "
            f"weights file for {cfg.timm_model_name} (.pth/.bin/.safetensors), or train from scratch with "
            "pretrained=false")


def create(cfg: TrainConfig, num_classes: int, pretrained: bool | None = None) -> torch.nn.Module:
    """A timm model with a fresh K-class head. pretrained=None follows the config (False when loading our own
    checkpoint afterwards)."""
    pretrained = cfg.pretrained if pretrained is None else pretrained
    kwargs = dict(num_classes=num_classes, drop_path_rate=cfg.drop_path_rate or None)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if pretrained and cfg.pretrained_file:
        check_weights_source(cfg)
        # timm drops the pretrained classifier when num_classes differs, so the head starts fresh for K classes
        kwargs["pretrained_cfg_overlay"] = dict(file=str(Path(cfg.pretrained_file).resolve()))
    try:
        return timm.create_model(cfg.timm_model_name, pretrained=pretrained, **kwargs)
    except RuntimeError as exc:
        if pretrained and cfg.pretrained_file:
            raise DlClsError(f"pretrained_file {cfg.pretrained_file}: does not fit {cfg.timm_model_name} ({exc})") from None
        raise
    except Exception as exc:  # hub download failures come as many types (OSError, requests/hf_hub errors)
        if not pretrained or cfg.pretrained_file:
            raise
        raise DlClsError(
            f"could not get pretrained weights for {cfg.timm_model_name} from the timm/Hugging Face hub "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). Offline? Either download the "
            "weights on a connected machine and pass pretrained_file=PATH, or train from scratch with "
            "pretrained=false") from None


def normalization(model: torch.nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return tuple(cfg.get("mean", (0.485, 0.456, 0.406))), tuple(cfg.get("std", (0.229, 0.224, 0.225)))
