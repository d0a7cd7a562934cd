"""The import graph of the course's own modules: no cycle, counting the imports inside functions too
(a cycle hidden in a function still ties two modules together); the lessons' package never imports
the machinery, and neither does a notebook; the registry of lessons imports only the stacks'
names."""

import ast
import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("helpers", "course_tools")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(source: str, modules: set[str]) -> set[str]:
    """The project modules a source imports anywhere in it (``from helpers import x`` counts as
    helpers.x)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in modules}


def import_graph() -> dict[str, set[str]]:
    files = {
        module_name(path): path for package in PACKAGES for path in (REPO / package).rglob("*.py")
    }
    packages = {name for name, path in files.items() if path.name == "__init__.py"}
    return {
        name: project_imports(path.read_text(), set(files)) - {name} - packages
        for name, path in files.items()
    }


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == "open":
                return stack[stack.index(child) :] + [child]
            if child not in state and (found := visit(child)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_course_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 25 and "helpers.lessons" in graph["course_tools.runner"]
    assert cycle(graph) is None, " -> ".join(cycle(graph))


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None
    source = (
        "def f():\n    from course_tools.runner import run_course\n    from helpers import "
        "lessons\n"
    )
    assert project_imports(source, {"course_tools.runner", "helpers.lessons"}) == {
        "course_tools.runner",
        "helpers.lessons",
    }


def test_the_lessons_package_and_the_notebooks_never_import_the_machinery():
    graph = import_graph()
    machinery = {name for name in graph if name.startswith("course_tools")}
    lessons = {
        name: imports & machinery for name, imports in graph.items() if name.startswith("helpers")
    }
    assert not any(lessons.values()), {name: found for name, found in lessons.items() if found}
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        code = "\n".join(
            "".join(cell["source"])
            for cell in json.loads(notebook.read_text())["cells"]
            if cell["cell_type"] == "code"
        )
        code = "\n".join(
            line for line in code.splitlines() if not line.lstrip().startswith(("!", "%"))
        )
        imports = project_imports(code, set(graph))
        assert imports and not imports & machinery, (
            f"{notebook.name} imports {sorted(imports & machinery)}"
        )


def test_the_lessons_registry_imports_nothing_of_the_course_but_the_names_of_the_stacks():
    assert import_graph()["helpers.lessons"] == {"helpers.env"}


def test_each_package_index_names_every_module():
    import course_tools
    import helpers

    for package in (helpers, course_tools):
        indexed = {
            line.split()[0] for line in package.__doc__.splitlines() if line.startswith("    ")
        }
        folder = REPO / package.__name__
        modules = {path.stem for path in folder.glob("*.py") if path.stem != "__init__"}
        modules |= {path.name for path in folder.iterdir() if (path / "__init__.py").exists()}
        assert modules <= indexed, (
            f"{package.__name__}/__init__.py does not index {sorted(modules - indexed)}"
        )
