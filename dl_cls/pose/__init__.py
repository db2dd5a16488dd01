"""The page-pose model (turn x mirror, learned from the user's own upright train pages): shared by the OCR reader
(dl_cls.ocr) and the upright image members (dl_cls.train, `--pose upright`), so it lives below both stages."""
