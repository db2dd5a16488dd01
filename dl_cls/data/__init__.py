"""Data layer: the competition data contract, label fixes, folds and the embedded sample dataset."""
from dl_cls.data.contract import CheckReport, DataDir, check_data, load_data

__all__ = ["CheckReport", "DataDir", "check_data", "load_data"]
