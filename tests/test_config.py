"""Typed config loading with key=value overrides."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from dl_cls.config import load_config, parse_overrides, save_config
from dl_cls.errors import DlClsError


@dataclass
class Opt:
    lr: float = 1e-3
    name: str = "adamw"


@dataclass
class Cfg:
    epochs: int = 3
    classes: list[int] | None = None
    opt: Opt = field(default_factory=Opt)


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 7\nopt:\n  lr: 0.5\n")
    cfg = load_config(Cfg, path, ["classes=[3,4,7,14]", "opt.name=sgd", "opt.lr=1"])
    assert cfg == Cfg(epochs=7, classes=[3, 4, 7, 14], opt=Opt(lr=1.0, name="sgd"))
    save_config(cfg, tmp_path / "out.yaml")
    assert load_config(Cfg, tmp_path / "out.yaml") == cfg


def test_unknown_keys_and_bad_types_are_errors(tmp_path):
    with pytest.raises(DlClsError, match="unknown key.*epoch.*valid keys: epochs"):
        load_config(Cfg, None, ["epoch=5"])
    with pytest.raises(DlClsError, match="epochs: expected int"):
        load_config(Cfg, None, ["epochs=many"])
    with pytest.raises(DlClsError, match="not of the form"):
        parse_overrides(["epochs"])
    with pytest.raises(DlClsError, match="not found"):
        load_config(Cfg, tmp_path / "missing.yaml")


def test_float_written_without_a_dot_is_a_float(tmp_path):
    # YAML 1.1 reads 3e-4 as the string "3e-4"; a float field must still take it, from the command line or a file
    assert load_config(Cfg, None, ["opt.lr=3e-4"]).opt.lr == pytest.approx(3e-4)
    path = tmp_path / "c.yaml"
    path.write_text("opt:\n  lr: 1e-5\n")
    assert load_config(Cfg, path).opt.lr == pytest.approx(1e-5)
    with pytest.raises(DlClsError, match="opt.lr: expected float, got 'fast'"):
        load_config(Cfg, None, ["opt.lr=fast"])


def test_model_configs_compose_defaults_and_name_the_file_of_a_typo(tmp_path, capsys):
    from dl_cls.cli import main
    from dl_cls.train.config import TRAIN_DEFAULTS, compose_train_config

    cfg, sources = compose_train_config("swin_base", {"epochs": 3})
    assert cfg.timm_name == "swin_base_patch4_window7_224" and sources["timm_name"].endswith("models/swin_base.yaml")
    assert cfg.mixup_alpha == 0.8 and sources["mixup_alpha"] == str(TRAIN_DEFAULTS)  # shared, not repeated
    assert cfg.epochs == 3 and sources["epochs"] == "override"
    assert sources["testlike_seed"] == "default"
    bad = tmp_path / "m.yaml"
    bad.write_text("timm_name: resnet34\nlearning_rate: 0.1\n")
    with pytest.raises(DlClsError, match=r"m\.yaml.*learning_rate"):
        compose_train_config(str(bad))
    assert main(["config", "tiny", "lr=0.01"]) == 0
    out = capsys.readouterr().out
    assert "lr: 0.01" in out and "# override" in out and "# configs/models/tiny.yaml" in out
