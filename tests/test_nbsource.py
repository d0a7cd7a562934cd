"""scripts/nbsource.py: every course notebook survives export to text and back unchanged."""

import importlib.util

import nbformat
import pytest

from .conftest import REPO

spec = importlib.util.spec_from_file_location("nbsource", REPO / "scripts" / "nbsource.py")
nbsource = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nbsource)


@pytest.mark.parametrize("path", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_export_then_build_gives_the_same_notebook(path, tmp_path):
    original = nbformat.read(path, as_version=4)
    (tmp_path / "source.py").write_text(nbsource.export(str(path)))
    nbsource.build(
        str(tmp_path / "source.py"),
        str(tmp_path / path.name),
        original.metadata["kernelspec"]["name"],
    )
    rebuilt = nbformat.read(tmp_path / path.name, as_version=4)
    assert [(c.cell_type, c.source, c.metadata) for c in rebuilt.cells] == [
        (c.cell_type, c.source, c.metadata) for c in original.cells
    ]
    assert rebuilt.metadata["kernelspec"] == original.metadata["kernelspec"]
