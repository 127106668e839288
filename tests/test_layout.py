"""The layers of the package hold: imports flow one way and never in a circle.

Every ``import`` in sknn's source counts, at module level or inside a
function. The rules are those of ``docs/architecture.rst``.
"""

import ast
from pathlib import Path

import pytest

import sknn

PACKAGE = Path(sknn.__file__).parent

# What each layer may import of sknn, besides itself.
ALLOWED = {
    "sknn._utils": set(),
    "sknn._version": set(),
    "sknn.modules": set(),
    "sknn._training": {"sknn._utils"},
    "sknn._core": {"sknn._training", "sknn._utils", "sknn.modules"},
    "sknn._input": {"sknn._core", "sknn._training", "sknn._utils", "sknn.modules"},
    "sknn._lifecycle": {"sknn._input", "sknn._core", "sknn._training", "sknn._utils",
                        "sknn.modules"},
    "sknn._io": {"sknn._core", "sknn._training", "sknn._utils", "sknn._version"},
    "sknn._estimators": {"sknn._lifecycle", "sknn._input", "sknn._core", "sknn._training",
                         "sknn._utils", "sknn.modules"},
}
PUBLIC_FACADES = {"sknn.callbacks", "sknn.compression", "sknn.export", "sknn.inspection",
                  "sknn.stream", "sknn.text"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    """The sknn modules ``path`` imports anywhere in its code (not in docstrings)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {name for name in names if _is_module(name)}
    return found


def _is_module(name: str) -> bool:
    if name != "sknn" and not name.startswith("sknn."):
        return False
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").exists() or (PACKAGE / relative).is_dir()


GRAPH = {_module_name(path): _imports(path) for path in PACKAGE.rglob("*.py")}


def _layer(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _third_party_imports(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
    return roots


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _layer(m) in ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(module):
    layer = _layer(module)
    wrong = {target for target in GRAPH[module]
             if _layer(target) != layer and _layer(target) not in ALLOWED[layer]}
    assert not wrong, f"{module} ({layer}) imports {sorted(wrong)}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "modules").glob("*.py")),
                         ids=lambda p: p.name)
def test_torch_modules_need_no_scikit_learn(path):
    assert not _third_party_imports(path) & {"sklearn", "skorch", "pandas"}


def test_the_command_line_uses_only_the_public_api():
    for module, targets in GRAPH.items():
        if _layer(module) == "sknn._cli":
            private = {t for t in targets if _layer(t) not in {"sknn", "sknn._cli"}
                       and t not in PUBLIC_FACADES and _layer(t) not in PUBLIC_FACADES}
            assert not private, f"{module} imports {sorted(private)}"


def test_no_import_circles():
    # A circle through the package itself (``import sknn`` in a doc example or
    # the CLI) is fine: that is the public entry point.
    edges = {m: {t for t in targets if t != "sknn" and t != m} for m, targets in GRAPH.items()}
    state, circles = {}, []

    def visit(module, path):
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                circles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not circles, circles


def test_no_module_is_too_large_to_read():
    sizes = {path.name: len(path.read_text().splitlines()) for path in PACKAGE.rglob("*.py")}
    assert max(sizes.values()) <= 600, sorted(sizes.items(), key=lambda item: -item[1])[:3]


def test_estimator_families_do_not_import_each_other():
    # Shared docs live in sknn._core._docs, shared checks in sknn._core._params;
    # the distilled estimators' default student is the one exception.
    families = {m for m in GRAPH if _layer(m) == "sknn._estimators"}
    crossing = {(m, t) for m in families for t in GRAPH[m] & families
                if m != t and not t.endswith("_architecture")
                and not (m.endswith("._distill") and t.endswith("._mlp"))}
    assert not crossing, sorted(crossing)


def test_a_missing_shared_doc_entry_fails_loudly():
    from sknn._core._docs import param_docs

    assert param_docs(["alpha"]).startswith("\n    alpha : float")
    with pytest.raises(KeyError, match="documents no shared parameter \\['alpah'\\]; add it "
                       "there"):
        param_docs(["alpah"])


def test_input_kinds_are_adapters_held_by_the_estimators_not_mixins():
    # Each input kind is one InputAdapter object; no estimator inherits its input
    # handling (the table and sequence layers are strategies, not base classes).
    import sknn
    from sknn._input._adapter import InputAdapter

    families = [sknn.MLPClassifier, sknn.MLPRegressor, sknn.CNNClassifier,
                sknn.CNNRegressor, sknn.RNNClassifier, sknn.RNNRegressor,
                sknn.TransformerClassifier, sknn.TransformerRegressor]
    for cls in families:
        inherited = [base.__qualname__ for base in cls.__mro__
                     if base.__module__ in ("sknn._input._tabular", "sknn._input._sequence")]
        assert not inherited, f"{cls.__name__} inherits input handling from {inherited}"
    assert isinstance(sknn.MLPClassifier()._input, InputAdapter)
    assert isinstance(sknn.CNNRegressor()._input, InputAdapter)
    for path in ["_lifecycle/_export.py", "_lifecycle/_finetune.py",
                 "inspection/_network_input.py"]:
        source = (PACKAGE / path).read_text()
        for family in ("_RNNArchitecture", "_TransformerArchitecture", "InputMixin",
                       "_step_mask_channel"):
            assert family not in source, f"sknn/{path} asks for {family}"


def test_no_private_name_is_imported_across_subpackages():
    # The leading underscore is on the subpackage; what one subpackage takes from
    # another is a name without one.
    crossing = []
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module
                    and node.module.startswith("sknn")):
                continue
            for alias in node.names:
                if (alias.name.startswith("_") and alias.name != "__version__"
                        and _layer(node.module) != _layer(module)
                        and not _is_module(f"{node.module}.{alias.name}")):
                    crossing.append(f"{module} imports {node.module}.{alias.name}")
    assert not crossing, crossing


# The tools that take a fitted model, and the one interface they read it through.
TOOLS = ["sknn/inspection", "sknn/_lifecycle/_export.py", "sknn/_lifecycle/_compression.py",
         "sknn/_io", "sknn/_estimators/_distill.py", "sknn/_cli"]
# scikit-learn's own methods of every estimator (the command line checks parameters
# as fit does).
SKLEARN_METHODS = {"_validate_params"}


def _imported_modules(tree) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {alias.asname or alias.name for alias in node.names}
    return names


def test_tools_read_fitted_models_through_the_fitted_network_interface():
    files = []
    for tool in TOOLS:
        path = PACKAGE.parent / tool
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    private = []
    for path in files:
        tree = ast.parse(path.read_text())
        modules = _imported_modules(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.attr.startswith("_") and not node.attr.startswith("__")
                    and node.value.id not in {"self", "cls"} | modules
                    and node.attr not in SKLEARN_METHODS):
                private.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    assert not private, private


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor", "CNNClassifier",
                                  "CNNRegressor", "RNNClassifier", "RNNRegressor",
                                  "TransformerClassifier", "TransformerRegressor"])
def test_estimators_are_the_estimator_one_base_and_scikit_learns_mixins(name):
    # Behaviour is composed (an Architecture object, TrainingFeature objects), not
    # inherited: the only sknn classes in the MRO are the estimator and its base.
    import sknn
    from sknn._core._architecture import Architecture

    cls = getattr(sknn, name)
    own = [base.__name__ for base in cls.__mro__ if base.__module__.startswith("sknn")]
    kind = "BaseNeuralClassifier" if name.endswith("Classifier") else "BaseNeuralRegressor"
    assert own == [name, kind, "BaseNeuralEstimator"]
    assert isinstance(cls._architecture, Architecture)
