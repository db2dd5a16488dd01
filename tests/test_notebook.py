"""notebooks/confusion_matrix.ipynb is committed without outputs and runs headlessly on a tiny run dir."""
from __future__ import annotations

import pytest

from pathlib import Path

import nbformat
from nbclient import NotebookClient
from builders import make_project

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "confusion_matrix.ipynb"


def test_notebook_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert "# parameters" in code[0].source


@pytest.mark.slow  # a few seconds: make test runs it, make test-fast skips it
def test_notebook_executes_on_a_run_dir(tmp_path, monkeypatch):
    p = make_project(tmp_path)
    monkeypatch.setenv("DL_CLS_RUN", str(p["work"] / "runs" / "a"))  # the kernel inherits the environment
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # kernel "python3": jupyter_client runs its "python" argv with this interpreter (sys.executable)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) >= 3  # confusion matrix, gallery, one error in detail
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    assert str(p["work"] / "runs" / "a") in text  # the env var chose the run, not the parameters cell
    assert "make train CLASSES=2,3,4" in text  # the runs were built to confuse 2/3/4
    assert "true " in text and "predicted " in text
