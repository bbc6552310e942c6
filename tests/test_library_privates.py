"""Other libraries' private attributes are touched only in ``fastapi_sentient/_compat/``.

The check reads the package's syntax trees (no imports, no type inference) and
looks at every way code can reach a private name — one leading underscore, not
a dunder:

- attribute access ``x._name`` (read, write or call), ``super()._name`` included;
- ``getattr``/``hasattr``/``setattr``/``delattr`` with a constant ``"_name"``;
- ``"_name" in vars(x)`` and ``vars(x)["_name"]`` (also on ``x.__dict__``);
- imports of a private module or name of another distribution
  (``from opentelemetry.instrumentation._semconv import ...``, ``from x import _y``).

How it tells ours from theirs:

- **``self``/``cls``/``super()``** (the first parameter of a method, in the
  method and the closures inside it): the name is ours when a class of our
  package related to the enclosing class by inheritance (itself, its package
  bases, their package subclasses) defines it — a ``def``, a class-body
  assignment or annotation, a ``__slots__`` entry, or ``self._name = ...`` /
  ``setattr(self, "_name", ...)`` in one of its methods.  Anything else was
  inherited from a library base class (``self._available_connections`` on a
  redis-py pool subclass) and is flagged.
- **any other receiver**: ours only when the receiver is a name imported from
  ``fastapi_sentient`` (one of our modules or classes).  Everything else —
  a library object, a module of another library, a value whose type only a
  type checker could tell — is flagged, unless it is listed in
  :data:`OWN_CROSS_OBJECT` with the package class that defines the attribute
  (checked to define it).  ruff's SLF001 flags the same sites in the editor.

What it cannot see: a value whose type only a type checker knows reaching
our own private name is flagged (not missed), but a subclass of a library
class that assigns a private name the library also uses hides the library's
attribute from the check, as it hides it at run time.  The
``test_the_checker_sees_each_kind_of_access`` case pins what is flagged, and
checking the package as it was before ``_compat`` existed flagged every site
that moved there.

A flagged site belongs in a ``fastapi_sentient/_compat/<library>.py`` function
whose docstring names the attribute and why no public API serves.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fastapi_sentient"
OURS = "fastapi_sentient"
COMPAT = PACKAGE / "_compat"

#: (module path relative to the package, receiver expression, attribute) → the
#: package class defining the attribute.  Our own private attribute reached
#: on another of our objects, where that is right; empty today.
OWN_CROSS_OBJECT: dict[tuple[str, str, str], str] = {}

#: Underscored names that are public API (the namedtuple protocol, documented stdlib functions).
PUBLIC_DESPITE_UNDERSCORE = frozenset(
    {"_replace", "_asdict", "_fields", "_make", "_field_defaults"}
)
_ATTR_FUNCTIONS = frozenset({"getattr", "hasattr", "setattr", "delattr"})


def _private(name: str) -> bool:
    return (
        name.startswith("_")
        and not name.startswith("__")
        and len(name) > 1
        and name not in PUBLIC_DESPITE_UNDERSCORE
    )


@dataclass
class ClassInfo:
    """A class of our package: where it is, its bases as written, the private names it defines."""

    module: str
    name: str
    bases: list[ast.expr]
    defines: set[str] = field(default_factory=set)
    package_bases: list[ClassInfo] = field(default_factory=list)
    foreign_bases: list[str] = field(default_factory=list)
    subclasses: list[ClassInfo] = field(default_factory=list)

    def family(self) -> Iterator[ClassInfo]:
        """This class, its package ancestors and every package subclass of any of them."""
        seen: set[int] = set()
        stack = [self]
        while stack:
            info = stack.pop()
            if id(info) in seen:
                continue
            seen.add(id(info))
            yield info
            stack.extend(info.package_bases)
            stack.extend(info.subclasses)


@dataclass
class Module:
    """One source file: its tree, its imports and its classes."""

    path: Path
    tree: ast.Module
    ours: dict[str, str] = field(default_factory=dict)  # local name -> fastapi_sentient.* source
    foreign: dict[str, str] = field(default_factory=dict)  # local name -> other module

    @property
    def relative(self) -> str:
        return self.path.relative_to(PACKAGE).as_posix()


def _source(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _self_name(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    arguments = function.args.posonlyargs + function.args.args
    decorators = {d.id for d in function.decorator_list if isinstance(d, ast.Name)}
    if not arguments or "staticmethod" in decorators:
        return None
    return arguments[0].arg


def _defined_in_class(node: ast.ClassDef) -> set[str]:
    names: set[str] = set()
    for statement in node.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(statement.name)
        targets: list[ast.expr] = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        for target in targets:
            if isinstance(target, ast.Name):
                names.add(target.id)
                if target.id == "__slots__" and statement.value is not None:
                    names.update(
                        c.value
                        for c in ast.walk(statement.value)
                        if isinstance(c, ast.Constant) and isinstance(c.value, str)
                    )
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            me = _self_name(statement)
            if me is None:
                continue
            for inner in ast.walk(statement):
                if isinstance(inner, ast.Attribute) and isinstance(inner.ctx, ast.Store):
                    if isinstance(inner.value, ast.Name) and inner.value.id == me:
                        names.add(inner.attr)
                elif (
                    isinstance(inner, ast.Call)
                    and _call_name(inner) in {"setattr", "object.__setattr__"}
                    and len(inner.args) >= 2
                    and isinstance(inner.args[0], ast.Name)
                    and inner.args[0].id == me
                    and isinstance(inner.args[1], ast.Constant)
                    and isinstance(inner.args[1].value, str)
                ):
                    names.add(inner.args[1].value)
    return names


def _call_name(call: ast.Call) -> str:
    return ast.unparse(call.func)


def load() -> tuple[list[Module], dict[str, list[ClassInfo]]]:
    """Every module outside ``_compat`` and every class of the whole package, bases resolved."""
    modules: list[Module] = []
    classes: dict[str, list[ClassInfo]] = {}
    per_module: list[tuple[Module, list[ClassInfo]]] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = Module(path, _source(path))
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ImportFrom):
                source = ("." * node.level) + (node.module or "")
                target = module.ours if node.level or source.startswith(OURS) else module.foreign
                for alias in node.names:
                    target[alias.asname or alias.name] = f"{source}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.partition(".")[0]
                    target = module.ours if alias.name.startswith(OURS) else module.foreign
                    target[local] = alias.name
        found = [
            ClassInfo(module.relative, node.name, node.bases, _defined_in_class(node))
            for node in ast.walk(module.tree)
            if isinstance(node, ast.ClassDef)
        ]
        for info in found:
            classes.setdefault(info.name, []).append(info)
        per_module.append((module, found))
        if not path.is_relative_to(COMPAT):
            modules.append(module)
    for module, found in per_module:
        local = {info.name: info for info in found}
        for info in found:
            for base in info.bases:
                written = ast.unparse(base.value if isinstance(base, ast.Subscript) else base)
                if written in local:
                    package = [local[written]]
                elif written in module.ours:
                    package = classes.get(module.ours[written].rpartition(".")[2], [])
                else:
                    package = []
                if package:
                    info.package_bases.extend(package)
                    for base_info in package:
                        base_info.subclasses.append(info)
                elif written not in {"object", "Generic", "Protocol"}:
                    info.foreign_bases.append(written)
    return modules, classes


class Finder(ast.NodeVisitor):
    """Collects the flagged sites of one module."""

    def __init__(self, module: Module, classes: dict[str, list[ClassInfo]]) -> None:
        self.module = module
        self.classes = classes
        self.class_stack: list[ClassInfo | None] = []
        self.self_names: list[str | None] = []
        self.flagged: list[str] = []

    def _flag(self, node: ast.AST, what: str) -> None:
        line = getattr(node, "lineno", 0)
        self.flagged.append(f"fastapi_sentient/{self.module.relative}:{line}: {what}")

    def _current_class(self) -> ClassInfo | None:
        return self.class_stack[-1] if self.class_stack else None

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        matches = [c for c in self.classes.get(node.name, []) if c.module == self.module.relative]
        self.class_stack.append(matches[0] if matches else None)
        self.self_names.append(None)
        self.generic_visit(node)
        self.self_names.pop()
        self.class_stack.pop()

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        in_class_body = bool(self.class_stack) and self.self_names[-1] is None
        if in_class_body:
            self.self_names[-1] = _self_name(node)
            self.generic_visit(node)
            self.self_names[-1] = None
        else:  # a closure keeps the method's self; a module function has none
            self.generic_visit(node)

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def _is_self(self, receiver: ast.expr) -> bool:
        if (
            isinstance(receiver, ast.Call)
            and isinstance(receiver.func, ast.Name)
            and receiver.func.id == "super"
        ):
            return True
        me = self.self_names[-1] if self.self_names else None
        return isinstance(receiver, ast.Name) and me is not None and receiver.id == me

    def _check(self, node: ast.AST, receiver: ast.expr, name: str) -> None:
        if not _private(name):
            return
        written = ast.unparse(receiver)
        if self._is_self(receiver):
            info = self._current_class()
            if info is None:
                self._flag(node, f"{written}.{name} outside a known class")
                return
            if any(name in member.defines for member in info.family()):
                return
            source = ", ".join(info.foreign_bases) or "no class of this package"
            self._flag(node, f"{written}.{name}: inherited from {source} ({info.name})")
            return
        if isinstance(receiver, ast.Name) and receiver.id in self.module.ours:
            return
        owner = OWN_CROSS_OBJECT.get((self.module.relative, written, name))
        if owner is not None:
            assert any(name in c.defines for c in self.classes.get(owner, [])), (
                f"OWN_CROSS_OBJECT says {owner} defines {name}; it does not"
            )
            return
        self._flag(node, f"{written}.{name} on an object that is not ours")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._check(node, node.value, node.attr)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        function = _call_name(node)
        if (
            function in _ATTR_FUNCTIONS
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            self._check(node, node.args[0], node.args[1].value)
        self.generic_visit(node)

    @staticmethod
    def _namespace(node: ast.expr) -> bool:
        return (isinstance(node, ast.Call) and _call_name(node) == "vars") or (
            isinstance(node, ast.Attribute) and node.attr == "__dict__"
        )

    def visit_Compare(self, node: ast.Compare) -> None:
        if (
            isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
            and _private(node.left.value)
            and any(self._namespace(c) for c in node.comparators)
        ):
            self._flag(node, f"{node.left.value!r} looked up in {ast.unparse(node.comparators[0])}")
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        key = node.slice
        if (
            self._namespace(node.value)
            and isinstance(key, ast.Constant)
            and isinstance(key.value, str)
            and _private(key.value)
        ):
            self._flag(node, f"{ast.unparse(node)}: a private key of another object's namespace")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        source = node.module or ""
        if not node.level and not source.startswith(OURS):
            parts = source.split(".")
            if any(_private(part) for part in parts):
                self._flag(node, f"from {source} import ...: a private module of another library")
            for alias in node.names:
                if _private(alias.name):
                    self._flag(node, f"from {source} import {alias.name}: a private name")
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not alias.name.startswith(OURS) and any(
                _private(part) for part in alias.name.split(".")
            ):
                self._flag(node, f"import {alias.name}: a private module of another library")
        self.generic_visit(node)


def scan() -> list[str]:
    """Every flagged site in the package outside ``_compat``."""
    modules, classes = load()
    flagged: list[str] = []
    for module in modules:
        finder = Finder(module, classes)
        finder.visit(module.tree)
        flagged.extend(finder.flagged)
    return flagged


def test_no_private_attribute_of_another_library_outside_compat() -> None:
    """Each flagged site names file, line and attribute; move it into fastapi_sentient/_compat."""
    assert scan() == []


def test_the_checker_sees_each_kind_of_access(tmp_path: Path) -> None:
    """A module with one of each kind is flagged once per foreign access and never for our own."""
    source = """
from redis.asyncio import BlockingConnectionPool
from opentelemetry.instrumentation._semconv import _StabilityMode
from fastapi_sentient.pools import _redis as ours


class Pool(BlockingConnectionPool):
    def __init__(self) -> None:
        self._mine = 1

    def size(self) -> int:
        return len(self._available_connections) + self._mine + len(getattr(self, "_in_use", ()))


def read(pool, loop, child):
    handlers = loop._signal_handlers
    known = "_child_samples" in vars(child)
    return pool._mine, ours._private_helper, handlers, known, hasattr(pool, "_lock")
"""
    tree = ast.parse(source)
    module = Module(PACKAGE / "probe.py", tree)
    module.ours["ours"] = "fastapi_sentient.pools._redis"
    module.foreign["BlockingConnectionPool"] = "redis.asyncio.BlockingConnectionPool"
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    info = ClassInfo("probe.py", "Pool", node.bases, _defined_in_class(node))
    info.foreign_bases.append("BlockingConnectionPool")
    finder = Finder(module, {"Pool": [info]})
    finder.visit(tree)
    found = [line.partition(": ")[2] for line in finder.flagged]
    assert found == [
        "from opentelemetry.instrumentation._semconv import ...: a private module of another library",
        "from opentelemetry.instrumentation._semconv import _StabilityMode: a private name",
        "self._available_connections: inherited from BlockingConnectionPool (Pool)",
        "self._in_use: inherited from BlockingConnectionPool (Pool)",
        "loop._signal_handlers on an object that is not ours",
        "'_child_samples' looked up in vars(child)",
        "pool._mine on an object that is not ours",
        "pool._lock on an object that is not ours",
    ]
