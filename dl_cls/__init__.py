"""dl_cls: document-image classification toolkit. The version lives in pyproject.toml only."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dl_cls")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "unknown"
