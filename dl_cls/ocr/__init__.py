"""The OCR stage: read the documents (orientation normalisation + tesseract), cache the text per image and
settings, and build an OCR expert for a confusable class group as a class-subset run dir.

engine.py   the OCR engine interface and the tesseract engine
read.py     one document: deskew, text direction, turn x mirror chosen by the reading, title band + page text
table.py    the cached, parallel, resumable OCR table
expert.py   TF-IDF + logistic regression and learned title keywords, cross-validated
rundir.py   the expert written as a run dir the ensembler accepts
cli.py      dl-cls ocr
"""
