"""The tutorials in notebooks/ run top to bottom in a fresh kernel."""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    if path.name == "01_quickstart.ipynb":
        # summary() renders as HTML in Jupyter; fit's progress bar renders too.
        html = [o for o in outputs if "text/html" in o.get("data", {})]
        assert any("Param #" in o["data"]["text/html"] for o in html)
        assert any("image/png" in o.get("data", {}) for o in outputs)  # history.plot()
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)  # tqdm widget


def test_notebooks_exist():
    assert NOTEBOOKS, "notebooks/ must hold at least one tutorial"
