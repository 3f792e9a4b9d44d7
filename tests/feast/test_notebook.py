"""The data scientist's notebook runs top to bottom against the real stack."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from txlake.settings import project_root


def test_the_feature_retrieval_notebook_runs_and_builds_a_training_set(stack, gold, applied):
    from txlake.feast import ops

    ops.materialize(stack, gold.first, gold.second)
    path = project_root() / "notebooks" / "feature_retrieval.ipynb"
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "training rows" in text
    assert any("image/png" in o.get("data", {}) for o in outputs), "the histogram is drawn"
