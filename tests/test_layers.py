"""The import graph holds the declared layers: ``cli -> geo_pix2pix -> tiles``, no cycles, no torch in tiles.

Every module of the three source roots is parsed with ``ast`` and every import in it counts: at
module level, inside functions and under ``if TYPE_CHECKING:``, because each is a dependency a
reader must follow and a lazy import only hides a cycle until someone moves it up. Module names
come from ``setup.py``'s ``ROOTS`` (``tiles/`` installs as ``geo_pix2pix.tiles``, ``cli/`` as
``geo_pix2pix.cli``), so the graph is the installed one. An edge goes to the most specific module
of the tree an import names (``from geo_pix2pix.files import runs`` -> ``geo_pix2pix.files.runs``).

The rules:
- no cycle between modules (the cycle is printed, each edge with its file and line);
- ``geo_pix2pix.tiles`` imports nothing of ``geo_pix2pix`` outside itself, and nothing imports
  ``geo_pix2pix.cli`` but the CLI itself (its one other user is the console entry point);
  a module path written as a string (``importlib.import_module`` tables) counts here too;
- ``geo_pix2pix.tiles`` imports no torch, nor a library that is torch (torchvision, smp,
  ``safetensors.torch``), so rasters can be tiled and mosaicked without it.

The ``test_checker_*`` tests plant each kind of violation in a small tree so the checks can fail.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: the declared layers: a module of the key may import modules of these layers
ALLOWED = {"cli": {"cli", "geo_pix2pix", "tiles"}, "geo_pix2pix": {"geo_pix2pix", "tiles"}, "tiles": {"tiles"}}
#: top-level names (or dotted prefixes) that are torch or load it on import
TORCH = ("torch", "torchvision", "segmentation_models_pytorch", "safetensors.torch", "kornia", "timm")


@dataclass(frozen=True)
class Import:
    """One import in one module: ``source`` imports ``target`` at ``where`` (``path:line``)."""

    source: str
    target: str
    where: str
    literal: bool = False  # a module path written as a string, not an import statement


def package_roots(repo: Path = REPO) -> dict[str, str]:
    """``setup.py``'s ``ROOTS`` (installed package -> folder), read without running setup()."""
    tree = ast.parse((repo / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ROOTS" for t in node.targets):
            return dict(ast.literal_eval(node.value))
    raise AssertionError("setup.py has no ROOTS mapping")


def source_modules(repo: Path, roots: dict[str, str]) -> dict[str, Path]:
    """Installed module name -> file, for every ``.py`` file under each root folder."""
    found: dict[str, Path] = {}
    for package, folder in roots.items():
        for path in sorted((repo / folder).rglob("*.py")):
            parts = list(path.relative_to(repo / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def _base(module: str, path: Path, level: int, name: str | None) -> str:
    """The absolute module a (possibly relative) ``from`` import starts from."""
    if level == 0:
        return name or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    parts = package.split(".")
    parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([name] if name else []))


def imports_of(module: str, path: Path, known: set[str], repo: Path) -> list[Import]:
    """Every import in one file, wherever it stands, as edges to the most specific module named."""
    where = f"{path.relative_to(repo)}"
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, f"{where}:{node.lineno}") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, path, node.level, node.module)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                target = sub if sub in known or layer(base) is None else base
                found.append(Import(module, target, f"{where}:{node.lineno}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in known:
            found.append(Import(module, node.value, f"{where}:{node.lineno}", literal=True))
    return found


def import_graph(repo: Path = REPO) -> tuple[dict[str, Path], list[Import]]:
    """The modules of the source tree and all their imports."""
    modules = source_modules(repo, package_roots(repo))
    known = set(modules)
    imports = [imp for name, path in modules.items() for imp in imports_of(name, path, known, repo)]
    return modules, imports


def packages_run(imports: list[Import], known: set[str]) -> list[Import]:
    """Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first: an edge to each package
    above the target that is not also above the importer (those have run already)."""
    found: list[Import] = []
    for imp in imports:
        parts = imp.target.split(".")
        for i in range(1, len(parts)):
            package = ".".join(parts[:i])
            if package in known and not imp.source.startswith(package + ".") and package != imp.source:
                found.append(Import(imp.source, package, imp.where, imp.literal))
    return found


def layer(module: str) -> str | None:
    """``cli``, ``tiles`` or ``geo_pix2pix`` for a module of the tree; None for a library."""
    for name, prefix in (("cli", "geo_pix2pix.cli"), ("tiles", "geo_pix2pix.tiles"), ("geo_pix2pix", "geo_pix2pix")):
        if module == prefix or module.startswith(prefix + "."):
            return name
    return None


def find_cycles(imports: list[Import], modules: set[str]) -> list[tuple[list[str], list[Import]]]:
    """Each strongly connected group of modules (Tarjan) with one shortest cycle through it, as edges;
    the packages an import runs count as imported (:func:`packages_run`)."""
    edges: dict[str, dict[str, Import]] = {m: {} for m in modules}
    for imp in imports + packages_run(imports, modules):
        if not imp.literal and imp.target in modules and imp.target != imp.source:
            edges[imp.source].setdefault(imp.target, imp)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while not group or group[-1] != v:
                group.append(stack.pop())
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(modules):
        if v not in index:
            visit(v)
    return [(group, _shortest_cycle(group[0], set(group), edges)) for group in sorted(groups)]


def _shortest_cycle(start: str, group: set[str], edges: dict[str, dict[str, Import]]) -> list[Import]:
    """The shortest path from ``start`` back to itself inside one strongly connected group."""
    came: dict[str, Import] = {}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        for w, imp in sorted(edges[v].items()):
            if w in group and w not in came:
                came[w] = imp
                if w == start:
                    path = [imp]
                    while path[0].source != start:
                        path.insert(0, came[path[0].source])
                    return path
                queue.append(w)
    raise AssertionError(f"no cycle through {start}")


def layer_violations(imports: list[Import]) -> list[str]:
    """Imports against ``cli -> geo_pix2pix -> tiles``."""
    bad = []
    for imp in imports:
        src, dst = layer(imp.source), layer(imp.target)
        if src is not None and dst is not None and dst not in ALLOWED[src]:
            bad.append(f"{imp.where}: {imp.source} ({src}) imports {imp.target} ({dst})")
    return sorted(bad)


def torch_imports(imports: list[Import]) -> list[str]:
    """Imports of torch (or a torch library) by ``geo_pix2pix.tiles``."""
    return sorted(f"{imp.where}: {imp.source} imports {imp.target}" for imp in imports
                  if layer(imp.source) == "tiles" and not imp.literal
                  and any(imp.target == t or imp.target.startswith(t + ".") for t in TORCH))


def describe(group: list[str], cycle: list[Import]) -> str:
    """``a (a.py:3) -> b (b.py:7) -> a``, and the whole group when it is larger than that cycle."""
    text = " -> ".join(f"{imp.source} ({imp.where})" for imp in cycle) + f" -> {cycle[0].source}"
    return text if len(group) == len(cycle) else f"{text}; all {len(group)} in the cycle group: {', '.join(group)}"


def test_every_root_has_modules() -> None:
    modules, imports = import_graph()
    for package in package_roots():
        assert package in modules, f"{package} has no __init__.py"
    assert len(imports) > 100  # the walk found the imports (a parser that sees none passes every rule)


def test_no_import_cycles() -> None:
    modules, imports = import_graph()
    cycles = find_cycles(imports, set(modules))
    assert not cycles, "import cycles:\n" + "\n".join(describe(*c) for c in cycles)


def test_imports_follow_the_layers() -> None:
    _, imports = import_graph()
    bad = layer_violations(imports)
    assert not bad, "imports against cli -> geo_pix2pix -> tiles:\n" + "\n".join(bad)


def test_tiles_never_imports_torch() -> None:
    _, imports = import_graph()
    bad = torch_imports(imports)
    assert not bad, "geo_pix2pix.tiles must not import torch:\n" + "\n".join(bad)


PLANTED = {
    "setup.py": 'ROOTS = {"geo_pix2pix": "geo_pix2pix", "geo_pix2pix.tiles": "tiles", "geo_pix2pix.cli": "cli"}\n',
    "geo_pix2pix/__init__.py": "",
    "geo_pix2pix/a.py": "from geo_pix2pix import b\n",
    "geo_pix2pix/b.py": "def f():\n    from .c import x\n",
    "geo_pix2pix/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import geo_pix2pix.a\n",
    "geo_pix2pix/d.py": "import importlib\nMAIN = importlib.import_module('geo_pix2pix.cli.main')\n",
    "geo_pix2pix/e.py": "from geo_pix2pix.tiles import t\nfrom geo_pix2pix.cli.main import run\n",
    "tiles/__init__.py": "",
    "tiles/t.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import A\n",
    "tiles/u.py": "from .t import g\n\ndef h():\n    import torch.nn\n    from safetensors import torch\n",
    "cli/__init__.py": "",
    "cli/main.py": "from geo_pix2pix.a import x\nfrom geo_pix2pix.tiles.u import h\n",
}


def _planted(tmp_path: Path) -> tuple[dict[str, Path], list[Import]]:
    for name, text in PLANTED.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return import_graph(tmp_path)


def test_checker_finds_a_cycle_through_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    modules, imports = _planted(tmp_path)
    cycles = find_cycles(imports, set(modules))
    assert [[imp.source for imp in c] for _, c in cycles] == [["geo_pix2pix.a", "geo_pix2pix.b", "geo_pix2pix.c"]]
    assert describe(*cycles[0]).endswith("geo_pix2pix.c (geo_pix2pix/c.py:3) -> geo_pix2pix.a")


def test_checker_finds_imports_against_the_layers(tmp_path: Path) -> None:
    _, imports = _planted(tmp_path)
    assert layer_violations(imports) == [
        "geo_pix2pix/d.py:2: geo_pix2pix.d (geo_pix2pix) imports geo_pix2pix.cli.main (cli)",
        "geo_pix2pix/e.py:2: geo_pix2pix.e (geo_pix2pix) imports geo_pix2pix.cli.main (cli)",
        "tiles/t.py:3: geo_pix2pix.tiles.t (tiles) imports geo_pix2pix.a (geo_pix2pix)",
    ]


def test_checker_finds_torch_in_tiles(tmp_path: Path) -> None:
    _, imports = _planted(tmp_path)
    assert torch_imports(imports) == ["tiles/u.py:4: geo_pix2pix.tiles.u imports torch.nn",
                                      "tiles/u.py:5: geo_pix2pix.tiles.u imports safetensors.torch"]


def test_checker_counts_the_package_an_import_runs(tmp_path: Path) -> None:
    """``p.m`` imports ``q.n``; ``q/__init__`` imports ``p.k``: a cycle p.m -> q -> p.k only if the
    package run by the import counts, and it does (the cycle the ONNX engine and export once had)."""
    files = {
        "setup.py": 'ROOTS = {"geo_pix2pix": "geo_pix2pix"}\n',
        "geo_pix2pix/__init__.py": "",
        "geo_pix2pix/p/__init__.py": "",
        "geo_pix2pix/p/m.py": "from geo_pix2pix.q.n import x\n",
        "geo_pix2pix/p/k.py": "def f():\n    from geo_pix2pix.p.m import y\n",
        "geo_pix2pix/q/__init__.py": "from geo_pix2pix.p.k import f\n",
        "geo_pix2pix/q/n.py": "x = 1\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    modules, imports = import_graph(tmp_path)
    cycles = find_cycles(imports, set(modules))
    assert [sorted(group) for group, _ in cycles] == [["geo_pix2pix.p.k", "geo_pix2pix.p.m", "geo_pix2pix.q"]]
