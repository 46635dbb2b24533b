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
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    pngs = sum("image/png" in o.get("data", {}) for o in outputs)
    if path.name == "02_functional_api.ipynb":
        assert html.count("Param #") >= 3  # the multi-task, siamese and nested encoder summaries
        assert "digit_accuracy" in text and "ink_mae" in text  # per-output metrics of the multi-output model
        assert pngs >= 1
    if path.name == "03_custom_training_step.ipynb":
        assert "d_loss" in text and "g_loss" in text
        assert pngs >= 4  # samples before, loss curves, snapshots, samples after
    if path.name == "04_callbacks_checkpoints_tensorboard.ipynb":
        assert "early stopping" in text and "ReduceLROnPlateau reducing learning rate" in text
        assert "best.kerasish" in text and "orbax_ckpts" in text and "events.out.tfevents" in text
    if path.name == "05_saving_loading_resuming.ipynb":
        assert "fit died: simulated crash" in text
        assert "allclose: True" in text and "bitwise:  True" in text  # resumed == uninterrupted, on CPU
        assert "FileFormatError" in text
    if path.name == "06_recipes_from_a_notebook.ipynb":
        assert "Run directory:" in text and "config.yaml" in text and "history.csv" in text
        assert text.count("ConfigError:") >= 4 and "fit.epochs" in text
        assert "Param #" in html  # the model loaded from the run directory
    if path.name == "07_distributed_training.ipynb":
        for line in ("1 process(es), 1 device(s)", "1 process(es), 8 device(s)", "2 process(es), 4 device(s)"):
            assert line in text
        assert "process 1 printed: ''" in text  # output from process 0 only
        assert text.count("max |difference|") == 2
    if path.name == "08_deep_dream.ipynb":
        assert "Weights: " in text and pngs >= 2  # which weights; the input, then before/after
        assert text.count("octave ") == 3 and "loss increased: True" in text  # gradient ascent on the image works
    if path.name == "09_filter_visualization.ipynb":
        assert "Weights: " in text and pngs >= 1  # the grid of patterns
        assert text.count("activation ") >= 8 and "activation increased for every filter: True" in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_notebooks_exist():
    assert NOTEBOOKS, "notebooks/ must hold at least one tutorial"
