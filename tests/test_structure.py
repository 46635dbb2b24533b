"""The package's structure, read from its source: who may touch the engine's state, and which way imports flow."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kerasish"

# What code outside kerasish/engine may import from it: the Model's trainer mixin, the compilation-cache
# switches, and engine/state.py's public accessors (never its EngineState or the model's engine attribute).
ALLOWED_ENGINE_IMPORTS = {
    "kerasish.engine.trainer": {"Trainer"},
    "kerasish.engine.compilation_cache": {"disable_compilation_cache", "enable_compilation_cache"},
    "kerasish.engine.state": {"seed_state", "set_seed_state", "step_count", "build_optimizer", "optimizer_current"},
}
# Attributes the engine kept on models before it had one state object; none may come back anywhere.
OLD_INTERNALS = {"_opt_state", "_opt_partition", "_step_count", "_state_vars", "_fn_cache", "_tx", "_compiled_loss",
                 "_compiled_metrics", "_compile_args", "_steps_decisions", "_batch_augmentation"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        yield name, path, ast.parse(path.read_text(), filename=str(path))


def _outside_engine():
    return [(name, path, tree) for name, path, tree in _modules() if not name.startswith("kerasish.engine")]


def test_no_module_outside_the_engine_touches_its_internals():
    problems = []
    for name, path, tree in _outside_engine():
        state_aliases = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kerasish.engine"):
                for alias in node.names:
                    module = f"{node.module}.{alias.name}"
                    if module in ALLOWED_ENGINE_IMPORTS:  # `from kerasish.engine import state as s`
                        if module == "kerasish.engine.state":
                            state_aliases.add(alias.asname or alias.name)
                        continue
                    if alias.name not in ALLOWED_ENGINE_IMPORTS.get(node.module, set()):
                        problems.append(f"{name}: imports {alias.name} from {node.module}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("kerasish.engine") and alias.name not in ALLOWED_ENGINE_IMPORTS:
                        problems.append(f"{name}: imports {alias.name}")
            elif isinstance(node, ast.Attribute):
                if node.attr == "_engine" or node.attr in OLD_INTERNALS:
                    problems.append(f"{name}:{node.lineno}: touches .{node.attr}")
            elif isinstance(node, ast.Constant) and node.value == "_engine":
                problems.append(f"{name}:{node.lineno}: names '_engine'")
        for node in ast.walk(tree):  # only the state module's public accessors
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in state_aliases:
                if node.attr not in ALLOWED_ENGINE_IMPORTS["kerasish.engine.state"]:
                    problems.append(f"{name}:{node.lineno}: uses {node.value.id}.{node.attr}")
    assert not problems, "\n".join(problems)


def _imports_of(name: str, tree: ast.Module) -> set[str]:
    """kerasish modules ``name`` imports, at its top or inside its functions (a deferred import is an
    import all the same: a circle through one is still a circle)."""
    out = set()
    package = name if (PACKAGE / Path(*name.split(".")[1:]) / "__init__.py").exists() else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if not base.startswith("kerasish"):
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.add(full if (PACKAGE.parent / Path(*full.split("."))).with_suffix(".py").exists()
                        or (PACKAGE.parent / Path(*full.split(".")) / "__init__.py").exists() else base)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("kerasish"))
    return out


def _import_graph() -> dict[str, set[str]]:
    modules = {name: tree for name, _, tree in _modules()}
    graph = {}
    for name, tree in modules.items():
        deps = set()
        for dep in _imports_of(name, tree):
            # importing a.b.c imports the packages a and a.b first
            parts = dep.split(".")
            deps.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    graph = _import_graph()
    # A package's __init__ re-exports its modules, and importing a.b.c runs a/__init__ first: edges into
    # the packages that contain a module are how Python imports, not dependencies. Left out: edges from a
    # module to the __init__ of a package above it, and edges into the top package kerasish/__init__.
    for name, deps in graph.items():
        graph[name] = {d for d in deps if not name.startswith(d + ".") and d != "kerasish"}
    assert _cycles(graph) == []


def _imports_anywhere(tree: ast.Module) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kerasish"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("kerasish"))
    return out


@pytest.mark.parametrize("module, forbidden", [
    ("kerasish/saving/registry.py", ("kerasish.layers", "kerasish.models", "kerasish.engine")),
    ("kerasish/engine", ("kerasish.callbacks.backup", "kerasish.callbacks.history", "kerasish.callbacks.progress",
                         "kerasish.callbacks.checkpoint", "kerasish.callbacks.early_stopping")),
    ("kerasish/layers", ("kerasish.models", "kerasish.engine", "kerasish.callbacks")),
    ("kerasish/metrics", ("kerasish.models", "kerasish.engine", "kerasish.callbacks", "kerasish.layers")),
    ("kerasish/optimizers", ("kerasish.models", "kerasish.engine", "kerasish.layers", "kerasish.callbacks")),
    ("kerasish/losses", ("kerasish.models", "kerasish.engine", "kerasish.callbacks", "kerasish.layers")),
])
def test_imports_flow_one_way(module, forbidden):
    paths = [PACKAGE.parent / module] if module.endswith(".py") else sorted((PACKAGE.parent / module).rglob("*.py"))
    problems = [f"{p.relative_to(PACKAGE.parent)} imports {imp}" for p in paths
                for imp in _imports_anywhere(ast.parse(p.read_text()))
                if any(imp == f or imp.startswith(f + ".") for f in forbidden)]
    assert not problems, "\n".join(problems)


def test_no_file_in_the_package_is_over_600_lines():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 600}
    assert not long, long
