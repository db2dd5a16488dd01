"""The embedded sample dataset: 17 procedurally drawn document classes in the competition's format.

Shapes are drawn with OpenCV, text with PIL on Korean font files (dl_cls.data.fonts: fonts-nanum, fonts-noto-cjk;
without one the sample stops with the install line), dense Korean print in several faces and sizes like the
competition's pages, with big bold titles and seals pressed over text; then photographed (dl_cls.data.photo) so
the pages profile like real train images. Train images are upright; test images go through
`corrupt_testlike`, like the competition's test set. Classes 3, 4, 7 and 14 share one form family and differ only
in the title and one field block, so the demo has real confusion to show.

    page.py       the Page canvas: relative coordinates, OpenCV shapes, PIL text, ink colours, page shapes
    forms.py      the form family (classes 3, 4, 7, 14): one medical form, a title and one field block per class
    documents.py  the other 13 classes, one drawing function each (DRAW)
    generate.py   render (draw, skew, photograph) and generate_sample (the dataset on disk)
"""
from dl_cls.data.sample.documents import DRAW
from dl_cls.data.sample.forms import FAMILY_TITLES, medical_form
from dl_cls.data.sample.generate import CLASS_NAMES, SIZE, generate_sample, render
from dl_cls.data.sample.page import Page

__all__ = ["CLASS_NAMES", "DRAW", "FAMILY_TITLES", "SIZE", "Page", "generate_sample", "medical_form", "render"]
