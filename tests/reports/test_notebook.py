"""The report notebook: runs with its own defaults, and keeps its shape (parameters cell, thin cells)."""

from __future__ import annotations

import nbformat
import pytest

from cpap_lib.reports import DEFAULT_NOTEBOOK, current_env_kernel


def test_parameters_cell_is_tagged_and_cells_only_call_cpap_lib():
    nb = nbformat.read(DEFAULT_NOTEBOOK, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code[0].metadata.tags == ["parameters"]
    assert len(code) <= 10
    imports = [line for cell in code for line in cell.source.splitlines() if line.startswith(("import ", "from "))]
    assert imports and all(line.startswith("from cpap_lib") for line in imports)
    assert not any("print(" in cell.source for cell in code)


@pytest.mark.slow
def test_notebook_runs_with_its_defaults(tmp_path):
    import papermill

    out = tmp_path / "defaults.ipynb"
    papermill.execute_notebook(
        str(DEFAULT_NOTEBOOK),
        str(out),
        kernel_name=current_env_kernel(),
        progress_bar=False,
        cwd=str(DEFAULT_NOTEBOOK.parent),
        shutdown_kernel="immediate",
    )
    nb = nbformat.read(out, as_version=4)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if 'src="data:image/png;base64,' in o.get("data", {}).get("text/html", "")]
    assert len(images) == 4  # overview, worst events, AHI per hour, breath rate
    assert not list(tmp_path.glob("*.summary.json")) and not list(DEFAULT_NOTEBOOK.parent.glob("*.summary.json"))
