"""The package's shape: no import cycle, unique module names, light modules stay light, one version.

The layer rules themselves are import-linter contracts (``pyproject.toml``), run by ``.ci/run``;
these tests check what the contracts cannot express.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections import Counter

import grimp
import pytest
from click.testing import CliRunner

import falsr_zoo
from falsr_zoo._optional import require
from falsr_zoo.errors import MissingDependencyError


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # grimp records every import statement, function-level ones included.
    return grimp.build_graph("falsr_zoo", cache_dir=None)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_the_cycle_finder_finds_a_cycle() -> None:
    fake = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")):
        fake.add_import(importer=a, imported=b)
    assert _cycles(fake) == [["p.a", "p.b", "p.c"]]


def test_no_import_cycle(graph) -> None:
    assert _cycles(graph) == []


def test_no_two_modules_share_a_name(graph) -> None:
    # but in the search package, whose family folders mirror each other (and the core facade) by
    # design: search/falsr/config.py and search/renas/config.py are each family's config
    leaves = [m for m in graph.modules if not graph.find_children(m) and not m.startswith("falsr_zoo.search.")]
    names = Counter(m.rsplit(".", 1)[-1] for m in leaves)
    assert [name for name, count in names.items() if count > 1 and not name.startswith("__")] == []


def test_every_family_module_lives_in_its_family_folder(graph) -> None:
    # what was scattered over models/, export/ and the top level now sits under families/<name>/
    flat = {m for m in graph.modules if m.count(".") == 1}
    assert not {"falsr_zoo.genome", "falsr_zoo.renas_genome", "falsr_zoo.zoo_renas", "falsr_zoo.models",
                "falsr_zoo.convert", "falsr_zoo.tf_graph", "falsr_zoo.color"} & flat
    for family in ("falsr", "renas"):
        assert any(m.startswith(f"falsr_zoo.families.{family}.") for m in graph.modules)


@pytest.mark.parametrize("module", [
    "falsr_zoo",
    "falsr_zoo.imageio",
    "falsr_zoo.families.table",
    "falsr_zoo.cli",
    "falsr_zoo.cli.search_cli",
    "falsr_zoo.cli.run_options",
    "falsr_zoo.api",
    "falsr_zoo.zoo.model_dir",
    "falsr_zoo.zoo.weights_store",
    "falsr_zoo.cli.cache_command",
    "falsr_zoo.torch_hub",
    "falsr_zoo.runtime.threads",
    "falsr_zoo.search.config",
    "falsr_zoo.search.falsr.config",
    "falsr_zoo.search.renas.config",
])
def test_light_modules_do_not_import_torch(module) -> None:
    code = f"import sys, {module}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_one_version_everywhere() -> None:
    assert importlib.metadata.version("falsr-zoo") == falsr_zoo.__version__
    from falsr_zoo.cli import main

    assert CliRunner().invoke(main, ["--version"]).output.strip() == f"falsr, version {falsr_zoo.__version__}"


def test_optional_dependency_guard_names_the_extra() -> None:
    with pytest.raises(MissingDependencyError, match=r"^ONNX export needs no_such_module_xyz; install the extra: "
                                                     r"pip install 'falsr-zoo\[onnx\]'$"):
        require("no_such_module_xyz", "onnx", "ONNX export")
    assert require("json", "core", "a test").dumps([]) == "[]"


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "falsr_zoo", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "Usage: falsr" in result.stdout and "upscale" in result.stdout


def test_the_search_core_contract_lists_every_core_module() -> None:
    """import-linter's "the search core names no family" contract must cover every core module."""
    import tomllib
    from pathlib import Path

    search = Path(falsr_zoo.__file__).parent / "search"
    core = {f"falsr_zoo.search.{p.stem}" for p in search.glob("*.py") if p.stem != "__init__"}
    config = tomllib.loads((Path(falsr_zoo.__file__).parent.parent / "pyproject.toml").read_text())
    [contract] = [c for c in config["tool"]["importlinter"]["contracts"] if c["name"].startswith("The search core")]
    assert set(contract["source_modules"]) == core
    assert set(contract["forbidden_modules"]) == {f"falsr_zoo.search.{p.name}" for p in search.iterdir()
                                                   if p.is_dir() and (p / "__init__.py").exists()}


def test_no_search_module_carries_a_family_prefix_and_there_is_one_config_parser() -> None:
    import ast
    from pathlib import Path

    from falsr_zoo.search.table import SEARCH_FAMILIES

    search = Path(falsr_zoo.__file__).parent / "search"
    names = [p.stem for p in search.rglob("*.py")]
    assert not [n for n in names if any(n.startswith(f"{family}_") for family in SEARCH_FAMILIES)]
    parsers = []
    for path in search.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and "parse" in node.name:
                parsers.append(f"{path.relative_to(search)}:{node.name}")
    # the one parser of raw config values and its helpers; family code parses genomes through
    # the model families' grammars (a method named parse on a search space is that, not a config parser)
    assert sorted(p for p in parsers if not p.endswith(":parse")) == ["config.py:_parse", "config.py:parse_values"]


def test_every_search_family_row_resolves_to_a_complete_family() -> None:
    from falsr_zoo.search.config import SearchConfigBase
    from falsr_zoo.search.reports import __doc__ as contract
    from falsr_zoo.search.table import SEARCH_FAMILIES

    required = ("status", "status_lines", "best_rows", "table", "generation_line", "plot", "pick", "pick_help",
                "export", "retrain")
    assert all(f"``{name}" in contract for name in required if name != "pick_help")
    for row in SEARCH_FAMILIES.values():
        cls = row.config_class()
        assert issubclass(cls, SearchConfigBase) and cls.from_values.__func__ is SearchConfigBase.from_values.__func__
        assert cls().family == row.name and row.default_preset in row.preset_values()
        assert callable(row.evaluator_class()) and callable(row.estimate_budget())
        module = row.report_module()
        assert [name for name in required if not hasattr(module, name)] == []
