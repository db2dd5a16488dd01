"""Shared fixtures: a small generated sample dataset (competition format) reused by every stage's tests."""
from __future__ import annotations

import os
import shutil

import pytest

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory):
    """17 classes, 4 train + 2 test images per class, long side 96 px. Read-only: copy it before breaking it."""
    from dl_cls.data.sample import generate_sample

    out = tmp_path_factory.mktemp("sample") / "data"
    generate_sample(out, seed=0, train_per_class=4, test_per_class=2, size=96)
    return out


@pytest.fixture
def sample_copy(sample_dir, tmp_path):
    """A private, writable copy of the sample dataset."""
    dst = tmp_path / "data"
    shutil.copytree(sample_dir, dst)
    return dst
