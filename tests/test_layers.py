"""The dependency direction of shared ARCHITECTURE.md, checked by parsing every module's imports.

    pykern.abi  <-  pykern.loader  <-  pykern (core)  <-  pykern.syscalls  <-  pykern.cli

A module may import its own layer and the layers below it, never one above. Every import
counts, a function-level (lazy) one too: deferring an import hides a loop from Python but
not the dependency. Only imports under `if TYPE_CHECKING:` are exempt (they never run).
The top layer is cli, explore, api (pykern.run) and the pytest plugin, which build the kernel from
the syscall table, `python -m pykern`, and the package's __init__ (the facade for pykern.run).
"""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Folder in the source tree -> its import name (pyproject's package-dir).
PACKAGES = {"pykern": "pykern", "loader": "pykern.loader", "syscalls": "pykern.syscalls"}

ABI, LOADER, CORE, SYSCALLS, TOP = range(5)
LAYER_NAMES = ["abi", "loader", "core", "syscalls", "cli"]
# pykern/__init__.py is the public facade: its lazy __getattr__ hands out pykern.run from api.
TOP_MODULES = {"pykern", "pykern.cli", "pykern.api", "pykern.pytest_plugin", "pykern.__main__", "pykern.explore"}

# Imports that break the rule today: (importer, imported) -> why. Each is a to-do; the
# test fails when one of them goes away, so the list shrinks with the code.
KNOWN_EXCEPTIONS = {
}


def layer(module):
    if module in ("pykern.abi", "pykern.abi_tables") or module.startswith("pykern.abi."):
        return ABI
    if module == "pykern.loader" or module.startswith("pykern.loader."):
        return LOADER
    if module == "pykern.syscalls" or module.startswith("pykern.syscalls."):
        return SYSCALLS
    if module in TOP_MODULES:
        return TOP
    return CORE


def modules():
    """(import name, path, is_package) of every module of the three packages."""
    for folder, package in PACKAGES.items():
        base = os.path.join(ROOT, folder)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            rel = os.path.relpath(dirpath, base)
            prefix = package if rel == "." else package + "." + rel.replace(os.sep, ".")
            for name in sorted(filenames):
                if not name.endswith(".py"):
                    continue
                path = os.path.join(dirpath, name)
                if name == "__init__.py":
                    yield prefix, path, True
                else:
                    yield prefix + "." + name[:-3], path, False


def is_type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def run_time_imports(tree):
    """The Import and ImportFrom nodes of tree, skipping the bodies of `if TYPE_CHECKING:`."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        todo.extend(ast.iter_child_nodes(node))


def imported_names(module, is_package, node):
    """The pykern module names one import statement refers to (its own modules, for `from X import y`)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        parts = module.split(".")
        if not is_package:
            parts = parts[:-1]
        parts = parts[:len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    else:
        base = node.module
    # `from pykern import signal` names the module pykern.signal; `from pykern.x import f` names pykern.x.
    names = [base]
    for alias in node.names:
        sub = base + "." + alias.name
        if _is_module(sub):
            names.append(sub)
    return names


_KNOWN = None


def _is_module(name):
    global _KNOWN
    if _KNOWN is None:
        _KNOWN = {m for m, _, _ in modules()}
    return name in _KNOWN


def upward_imports():
    """{(importer, imported): line} for every import of a higher layer."""
    found = {}
    for module, path, is_package in modules():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in run_time_imports(tree):
            for name in imported_names(module, is_package, node):
                # The bare package is the namespace every submodule import loads, not a layer.
                if not name.startswith("pykern."):
                    continue
                if layer(name) > layer(module):
                    found.setdefault((module, name), node.lineno)
    return found


def test_every_folder_is_seen():
    names = {m for m, _, _ in modules()}
    assert {"pykern.abi", "pykern.kernel", "pykern.loader.elf", "pykern.syscalls.table",
            "pykern.fs.namei", "pykern.cli"} <= names


def test_layer_of():
    assert layer("pykern.abi") == ABI
    assert layer("pykern.loader.stack") == LOADER
    assert layer("pykern.fs.namei") == CORE
    assert layer("pykern.syscalls.file") == SYSCALLS
    assert layer("pykern.api") == TOP


def test_imports_are_resolved():
    tree = ast.parse("from .task import Task\nfrom . import signal\nfrom ..abi import EINTR\n"
                     "import pykern.mm\nif TYPE_CHECKING:\n    from pykern.syscalls import table\n"
                     "def f():\n    from pykern.syscalls.table import TABLE\n")
    names = [n for node in run_time_imports(tree)
             for n in imported_names("pykern.fs.namei", False, node)]
    assert sorted(names) == sorted(["pykern.fs.task", "pykern.fs", "pykern.abi", "pykern.mm",
                                    "pykern.syscalls.table"])
    assert imported_names("pykern.fs", True, tree.body[0]) == ["pykern.fs.task"]


def test_imports_point_down():
    found = upward_imports()
    new = {pair: line for pair, line in found.items() if pair not in KNOWN_EXCEPTIONS}
    assert not new, "a lower layer imports a higher one:\n" + "\n".join(
        f"  {a} ({LAYER_NAMES[layer(a)]}, line {line}) imports {b} ({LAYER_NAMES[layer(b)]})"
        for (a, b), line in sorted(new.items()))
    fixed = set(KNOWN_EXCEPTIONS) - set(found)
    assert not fixed, f"fixed, remove from KNOWN_EXCEPTIONS: {sorted(fixed)}"


def test_signal_types_are_a_leaf():
    """task.py holds signal state (pykern.sigtypes) but never runs pykern.signal, which needs
    the task types: the old task <-> signal import loop stays broken."""
    by_name = {m: (path, is_package) for m, path, is_package in modules()}

    def imports_of(module):
        path, is_package = by_name[module]
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        return {n for node in run_time_imports(tree) for n in imported_names(module, is_package, node)}

    assert imports_of("pykern.sigtypes") <= {"pykern.abi", "typing", "struct", "__future__"}
    assert "pykern.signal" not in imports_of("pykern.task")


def _module_level_names(path):
    """The names bound by a file's module-level assignments."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        names.update(n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def test_guest_constants_have_one_home():
    """A name pykern.abi defines is not assigned again anywhere else: the other modules
    import it (SYSCALL_INSN_LEN, SA_RESTORER, TASK_SIZE... once had two or three copies)."""
    abi_names = _module_level_names(os.path.join(ROOT, "pykern", "abi.py"))
    copies = sorted(f"{module}: {name}" for module, path, _ in modules()
                    if module not in ("pykern.abi", "pykern.abi_tables")
                    for name in _module_level_names(path) & abi_names)
    assert not copies, "copies of pykern.abi's constants (import them instead):\n  " + "\n  ".join(copies)


def _forwards(body):
    """The body only calls a method of one of self's subsystems (`self.sched.wake(task)`),
    perhaps under one `if`: a forwarder."""
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if len(body) != 1:
        return False
    statement = body[0]
    if isinstance(statement, ast.If) and not statement.orelse:
        return _forwards(statement.body)
    call = statement.value if isinstance(statement, (ast.Expr, ast.Return)) else None
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Attribute)
            and isinstance(call.func.value.value, ast.Name) and call.func.value.value.id == "self")


def test_kernel_holds_tables_not_forwarders():
    """Kernel keeps the tables, init, spawning and the run loop; a caller names the
    subsystem that does the work (`kernel.sched.wake`, `kernel.signals.send`)."""
    with open(os.path.join(ROOT, "pykern", "kernel.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    kernel = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Kernel")
    forwarders = [node.name for node in kernel.body
                  if isinstance(node, ast.FunctionDef) and _forwards(node.body)]
    assert not forwarders, f"Kernel methods that only forward: {forwarders}"
    assert _forwards(ast.parse("def f(self, task):\n    self.sched.wake(task)\n").body[0].body)
    assert _forwards(ast.parse("def f(self, g):\n    if self.tracer:\n        self.tracer.x(g)\n").body[0].body)
    assert not _forwards(ast.parse("def f(self, n):\n    return os.urandom(n)\n").body[0].body)
