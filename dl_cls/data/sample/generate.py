"""The sample dataset on disk: `render` draws one page of a class and photographs it; `generate_sample` writes the
competition's layout (train/, test/, train.csv, meta.csv, sample_submission.csv, test labels and poses, a contact
sheet), the same bytes for the same arguments."""
from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from dl_cls.core.errors import DlClsError
from dl_cls.core.io import atomic_write_csv, check_made, made_dir_target, write_image, write_made_dir
from dl_cls.data import fonts
from dl_cls.data.photo import far_camera, photograph
from dl_cls.data.sample.documents import DRAW
from dl_cls.data.sample.forms import FAMILY_TITLES, medical_form
from dl_cls.imaging.testlike import corrupt_testlike

CLASS_NAMES = [
    "account_number",
    "application_for_payment_of_pregnancy_medical_expenses",
    "car_dashboard",
    "confirmation_of_admission_and_discharge",
    "diagnosis",
    "driver_lisence",  # sic, as in the competition's meta.csv
    "medical_bill_receipts",
    "medical_outpatient_certificate",
    "national_id_card",
    "passport",
    "payment_confirmation",
    "pharmaceutical_receipt",
    "prescription",
    "resume",
    "statement_of_opinion",
    "vehicle_registration_certificate",
    "vehicle_registration_plate",
]

SIZE = 640  # default long side (issue 29: at 640 the test pages read like the real ones: bench/ocr_sample_cost.py)


def render(target: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One upright document image of class `target`, long side `size`: drawn, skewed by up to 2 degrees as a
    scanner leaves it, then photographed."""
    pg = medical_form(size, rng, target) if target in FAMILY_TITLES else DRAW[target](size, rng)
    img = pg.img
    angle = float(rng.uniform(-2.0, 2.0))
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    border = tuple(int(v) for v in img[1, 1])
    img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    return photograph(img, target, rng)



def _image_id(seed: int, split: str, index: int) -> str:
    return hashlib.sha256(f"dl_cls-sample/{seed}/{split}/{index}".encode()).hexdigest()[:16] + ".jpg"


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}/{split}/{index}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def generate_sample(out, seed: int = 0, train_per_class: int = 24, test_per_class: int = 12, size: int = SIZE,
                    force: bool = False) -> Path:
    """Write a competition-format dataset into `out` (see the module doc). Same arguments -> same bytes."""
    out = made_dir_target(out, "OUT")  # a symlink is followed, a file refused: before any rendering
    if train_per_class < 1 or test_per_class < 1 or size < 32:
        raise DlClsError("need at least 1 train and 1 test image per class and --size >= 32")
    fonts.require_korean_fonts()  # before anything is written: no half sample
    if out.exists() and any(out.iterdir()):
        if not force:
            raise DlClsError(f"{out} exists and is not empty; pick another OUT or pass --force to replace it")
        check_made(out, "sample")  # --force replaces only a sample we wrote, with nothing of the user's inside
    settings = {"seed": seed, "train_per_class": train_per_class, "test_per_class": test_per_class, "size": size}

    def write(tmp: Path) -> dict:
        _write(tmp, seed, train_per_class, test_per_class, size)
        return settings

    return write_made_dir(out, "sample", write)


def _write(root: Path, seed: int, n_train: int, n_test: int, size: int) -> None:
    k = len(CLASS_NAMES)
    (root / "train").mkdir()
    (root / "test").mkdir()
    order = np.random.default_rng(seed).permutation(k * n_train)  # shuffled, not grouped by class
    train_rows, sheet = [], {}
    for i, j in enumerate(order):
        target = int(j % k)
        img = render(target, size, _rng(seed, "train", i))
        image_id = _image_id(seed, "train", i)
        write_image(root / "train" / image_id, img)
        train_rows.append((image_id, target))
        sheet.setdefault(target, img)
    test_targets = np.random.default_rng(seed + 1).permutation(np.repeat(np.arange(k), n_test))
    clean = [render(int(t), size, _rng(seed, "test", i)) for i, t in enumerate(test_targets)]
    test_rows, test_examples, poses = [], [], []
    for i, t in enumerate(test_targets):
        rng = _rng(seed, "test-corrupt", i)
        other = clean[(i + 1 + int(rng.integers(0, len(clean) - 1))) % len(clean)] if len(clean) > 1 else None
        geometry: dict = {}
        img = corrupt_testlike(far_camera(clean[i], rng), rng, other=other, geometry=geometry)
        image_id = _image_id(seed, "test", i)
        write_image(root / "test" / image_id, img)
        test_rows.append((image_id, int(t)))
        poses.append({"ID": image_id, **{k: geometry[k] for k in ("turn", "flip_h", "flip_v", "skew_deg")}})
        if len(test_examples) < 10:
            test_examples.append((img, f"test: {CLASS_NAMES[int(t)]}"))
    atomic_write_csv(pd.DataFrame(train_rows, columns=["ID", "target"]), root / "train.csv")
    atomic_write_csv(pd.DataFrame({"target": range(k), "class_name": CLASS_NAMES}), root / "meta.csv")
    test_df = pd.DataFrame(test_rows, columns=["ID", "target"])
    atomic_write_csv(test_df.assign(target=0), root / "sample_submission.csv")
    atomic_write_csv(test_df, root / "test_labels.csv")
    atomic_write_csv(pd.DataFrame(poses), root / "test_orientation.csv")  # the pose each test image was given
    _contact_sheet(root / "contact_sheet.png", sheet, test_examples)


def _contact_sheet(path: Path, train_examples: dict, test_examples: list) -> None:
    from dl_cls.imaging.viz import contact_sheet, save_png

    images = [train_examples[t] for t in sorted(train_examples)] + [img for img, _ in test_examples]
    captions = [f"{t} {CLASS_NAMES[t]}" for t in sorted(train_examples)] + [c for _, c in test_examples]
    save_png(path, contact_sheet(images, captions, ncols=9, tile=150,
                                 title="dl_cls sample: one train image per class, then degraded test images"))
