"""Typed config loading with key=value overrides; a run dir's typed config.yaml (dl_cls.artifacts.runs.RunConfig)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd
import pytest
import yaml

from dl_cls.artifacts.runs import read_run_config, write_run_config
from dl_cls.core.config import load_config, parse_overrides, save_config
from dl_cls.core.errors import DlClsError


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


# --- a run dir's config.yaml: dl_cls.artifacts.runs.RunConfig -------------------------------------------------

def _write_as_before(run_dir, data: dict) -> bytes:
    """config.yaml as write_run_config wrote a plain dict before the config was typed."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_bytes(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode("utf-8"))
    return (run_dir / "config.yaml").read_bytes()


def test_run_config_of_fake_trainer_runs_round_trips_byte_for_byte(tmp_path):
    from builders import make_project

    work = make_project(tmp_path)["work"]
    for name in ("a", "spec"):
        before = (work / "runs" / name / "config.yaml").read_bytes()
        config = read_run_config(work / "runs" / name)
        write_run_config(work / "runs" / name, config)
        assert (work / "runs" / name / "config.yaml").read_bytes() == before, name
    spec = read_run_config(work / "runs/spec")
    assert spec.subset == [2, 3, 4] and spec.num_classes == 6 and spec.label_fixes is None
    assert spec.recipe == {"model": "fake", "seed": 0} and spec.get("model") == "fake"
    assert read_run_config(work / "runs/a").subset is None


def test_run_config_of_the_ocr_expert_round_trips_and_a_new_key_goes_last(tmp_path):
    from types import SimpleNamespace

    from dl_cls.ocr.rundir import _config

    dd = SimpleNamespace(root=tmp_path, num_classes=3, class_names=["여권", "진단서", "receipt"])  # non-ASCII names
    folds = pd.DataFrame({"ID": ["a.jpg", "b.jpg"], "fold": [0, 1]})
    info = {"label_fixes": "default", "ocr_dir": "/ocr", "settings": {"lang": "kor", "psm": 6}, "test_from": None}
    before = _write_as_before(tmp_path / "ocr", _config(dd, tmp_path, [1, 2], folds, "default", info, "testlike"))
    config = read_run_config(tmp_path / "ocr")
    assert config.kind == "ocr" and config.subset == [1, 2] and config.folds == [0, 1]
    assert config.get("ocr_settings") == {"lang": "kor", "psm": 6}
    write_run_config(tmp_path / "ocr", config)
    assert (tmp_path / "ocr/config.yaml").read_bytes() == before
    config.folds_requested = [0]  # a contract key the file lacks: appended, as {**old, key: value} did
    assert list(config.to_dict())[-1] == "folds_requested"


@pytest.mark.parametrize("data, message", [
    ({"num_classes": 3}, "missing key(s) data_dir"),
    ({"data_dir": "/d", "num_classes": "three"}, "num_classes: expected int, got 'three'"),
    ({"data_dir": "/d", "class_names": "abc"}, "class_names: expected a list"),
    ({"data_dir": "/d", "classes": [1, "x"]}, "classes[1]: expected int"),
])
def test_run_config_missing_or_mistyped_key_names_the_file_and_key(tmp_path, data, message):
    _write_as_before(tmp_path / "r", data)
    with pytest.raises(DlClsError, match=re.escape(f"{tmp_path / 'r' / 'config.yaml'}: {message}")):
        read_run_config(tmp_path / "r")
