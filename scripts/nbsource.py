"""Edit notebooks as plain text: export a notebook to a percent-format script, build it back.

    python scripts/nbsource.py export notebooks/03_ppo_on_sft_model.ipynb > /tmp/03.py
    python scripts/nbsource.py build /tmp/03.py notebooks/03_ppo_on_sft_model.ipynb rlhf-legacy

Cells are separated by '# %%' (code) and '# %% [markdown]' (markdown, each line commented with
'# '); words after either are the cell's tags: '# %% parameters' (the papermill parameters cell),
'# %% setup' (the Colab setup cell), '# %% [markdown] exercises' (and 'troubleshooting',
'real-run': the roles tests/test_budgets.py counts apart from the lesson). Built notebooks have no
outputs, stable cell ids and the course kernel named.
"""

import sys

import nbformat

KERNELS = {"rlhf-modern": "RLHF course (modern stack)", "rlhf-legacy": "RLHF course (legacy stack)"}


def export(path: str) -> str:
    chunks = []
    for cell in nbformat.read(path, as_version=4).cells:
        tags = "".join(f" {tag}" for tag in cell.metadata.get("tags", []))
        if cell.cell_type == "markdown":
            body = "\n".join(f"# {line}" if line else "#" for line in cell.source.splitlines())
            chunks.append(f"# %% [markdown]{tags}\n{body}")
        else:
            chunks.append(f"# %%{tags}\n{cell.source}")
    return "\n\n".join(chunks) + "\n"


def build(source: str, out: str, kernel: str) -> int:
    cells = []
    for chunk in ("\n" + open(source).read()).split("\n# %%")[1:]:
        header, _, body = chunk.partition("\n")
        body = body.strip("\n")
        tags = header.split()
        if tags[:1] == ["[markdown]"]:
            tags = tags[1:]
            lines = [
                line[2:] if line.startswith("# ") else line.lstrip("#")
                for line in body.splitlines()
            ]
            cell = nbformat.v4.new_markdown_cell("\n".join(lines))
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": kernel,
        "display_name": KERNELS[kernel],
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:02d}"
    nbformat.validate(notebook)
    nbformat.write(notebook, out)
    return len(cells)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "export":
        sys.stdout.write(export(sys.argv[2]))
    elif len(sys.argv) == 5 and sys.argv[1] == "build":
        print(f"{sys.argv[3]}: {build(sys.argv[2], sys.argv[3], sys.argv[4])} cells")
    else:
        sys.exit(__doc__)
