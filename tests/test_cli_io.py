"""The dl-cls dispatcher and the shared I/O helpers."""
from __future__ import annotations

import numpy as np
import pytest

from dl_cls import cli
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import atomic_write_bytes, create_run_dir, read_image, write_image


def test_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in cli.COMMANDS)


def test_unknown_and_unbuilt_commands(monkeypatch, capsys):
    assert cli.main(["frobnicate"]) == 2
    monkeypatch.setitem(cli.COMMANDS, "future", ("dl_cls.not_written_yet", "later"))
    assert cli.main(["future"]) == 3
    assert "not implemented yet" in capsys.readouterr().err


def test_user_errors_exit_2_without_traceback(tmp_path, capsys):
    assert cli.main(["check-data", str(tmp_path / "nowhere")]) == 1
    assert "data dir not found" in capsys.readouterr().err
    assert cli.main(["folds", "--data", str(tmp_path / "nowhere"), "--work", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


def test_run_dir_never_reused(tmp_path):
    create_run_dir(tmp_path / "run")
    with pytest.raises(DlClsError, match="already exists"):
        create_run_dir(tmp_path / "run")


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old")
    with pytest.raises(TypeError):
        atomic_write_bytes(path, object())  # the write itself fails
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no temp file left behind


def test_image_round_trip_and_errors(tmp_path):
    img = np.zeros((20, 30, 3), np.uint8)
    img[:, :, 0] = 255  # red, to catch an RGB/BGR swap
    write_image(tmp_path / "a.png", img)
    assert np.array_equal(read_image(tmp_path / "a.png"), img)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("hello")
    for name, msg in (("missing.jpg", "not found"), ("empty.jpg", "zero-byte"), ("text.jpg", "not a readable")):
        with pytest.raises(DlClsError, match=msg):
            read_image(tmp_path / name)
