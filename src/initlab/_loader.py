"""Loading a student's files as the grader needs them: their definitions, nothing else.

A submission is notebooks and ``.py`` files, loaded by the same rules:

- Only definitions run: imports, functions, classes, and names bound to literal
  values or to other names (``_he = initialize_parameters_he``). Training runs,
  plots, test calls and prints at top level are left out.
- IPython syntax (``%magic``, ``!shell``, ``obj?``, cell magics) is left out, and a
  cell indented as a whole is dedented, as IPython does.
- An import that cannot be satisfied costs nothing by itself: its names stand for
  a placeholder that fails, naming the import, only when a graded function uses
  it. Imports of modules not loaded yet are deferred to their first use, so a
  notebook's ``matplotlib`` or ``sklearn`` costs no time unless a function uses it.
- A cell (or file) that does not parse is split at its top-level statements, and
  only the functions of the part that does not parse are lost; so is a function
  whose definition raises while it is loaded. Each loss is recorded with the cell
  and line where it happened.
- ``.py`` files beside them (helpers such as ``init_utils.py``) are importable,
  loaded by the same rules.

Every function of a graded file is recorded with its state: implemented, a stub
(its body only raises ``NotImplementedError``), or broken (and why).

This module runs in the child process, before and with student code: it imports
nothing but the standard library.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.util
import json
import linecache
import re
import sys
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Cell magics whose body is Python: the body is kept, the magic line is not.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}
MAX_SOURCE_BYTES = 5 * 1024 * 1024
_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_TOP_DEF = re.compile(r"^(?:async\s+)?def\s+([A-Za-z_]\w*)", re.MULTILINE)
_CONTINUATION = re.compile(r"^(?:else\b|elif\b|except\b|finally\b|case\b|[)\]}])")

# What loading says, by message id, with named parameters. This file runs in the
# sandbox, where the catalogs cannot be read: the grader puts each template in the
# language it speaks into the plan (``TEMPLATES``); English otherwise.
MESSAGES = {
    "loader.not_available": "{module} is not available while grading",
    "loader.needs": "{module} could not be imported: it needs {missing}, which is not available",
    "loader.import_failed": "{module} could not be imported: {error}",
    "loader.set_by_script": (
        " ({name} is set by top-level code, {where}, which is not run while grading: "
        "compute it inside the function, or pass it in)"
    ),
    "loader.star_import": (
        " (it may come from `from {modules} import *`, not available while grading)"
    ),
    "loader.cell": "{notebook}, code cell {number}",
    "loader.cell_run": "{notebook}, code cell {number} (In [{count}])",
    "loader.line": " (line {line}: {code})",
    "loader.does_not_parse": "{where} does not parse: {error}{line}",
    "loader.cannot_read": "{where} cannot be read: {error}",
    "loader.name_of": "{file}'s {name}",
    "loader.at_line": "{where}, line {line}",
    "loader.skipped": "{where}, line {line} {why}",
    "loader.raised": "{where} raised {error} while it was loaded",
    "loader.has_no": "{module} has no {attribute}",
    "loader.place": " ({where}, line {line}{code})",
    "loader.imported_from": "it is imported from {module}, not written",
    "loader.not_loaded": "the submission could not be loaded: {error}",
    "loader.file_not_loaded": "{file} could not be loaded ({error})",
    "loader.timeout": "{function} did not finish in {seconds:g} s",
}
TEMPLATES: dict[str, str] = {}  # the grader's translations of MESSAGES, by id


def say(message_id: str, /, **params: object) -> str:
    """A message of loading, in the grader's language."""
    return TEMPLATES.get(message_id, MESSAGES[message_id]).format(**params)


class UnavailableName(Exception):
    """Student code used a name whose import could not be satisfied while grading."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name, self.reason = name, reason


class _Unavailable:
    """What a failed import binds: any use of it raises UnavailableName."""

    def __init__(self, name: str, reason: str):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_reason", reason)

    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return _Unavailable(f"{self._name}.{attribute}", self._reason)

    def _fail(self, *args, **kwargs):
        raise UnavailableName(self._name, self._reason)

    def __repr__(self) -> str:
        return f"<{self._name}: not available while grading>"

    __call__ = __setattr__ = __getitem__ = __setitem__ = __iter__ = __len__ = __bool__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = _fail
    __rtruediv__ = __pow__ = __rpow__ = __matmul__ = __rmatmul__ = __neg__ = _fail
    __lt__ = __le__ = __gt__ = __ge__ = __float__ = __int__ = __index__ = _fail


class _Deferred(types.ModuleType):
    """A module imported on first use: ``import name`` binding ``bound``."""

    def __init__(self, name: str, bound: str):
        super().__init__(bound)
        self.__dict__["_initlab_deferred"] = (name, bound)

    def _load(self):
        name, bound = self.__dict__["_initlab_deferred"]
        try:
            module = importlib.import_module(name)
        except BaseException as error:  # noqa: BLE001 - any failure is the import's
            raise UnavailableName(bound, import_failure(name, error)) from None
        return sys.modules.get(bound, module) if bound != name else module

    def __getattr__(self, attribute: str):
        if attribute.startswith("__") and attribute.endswith("__"):
            raise AttributeError(attribute)
        try:
            return getattr(self._load(), attribute)
        except UnavailableName as error:
            raise UnavailableName(f"{error.name}.{attribute}", error.reason) from None

    def __repr__(self) -> str:
        return f"<module {self.__dict__['_initlab_deferred'][0]} (imported on first use)>"


def import_failure(name: str, error: BaseException) -> str:
    """Why the import of name failed, in a student's words."""
    top = name.lstrip(".").split(".")[0]
    if isinstance(error, ModuleNotFoundError) and error.name:
        missing = error.name
        if missing == top or name.startswith(missing):
            return say("loader.not_available", module=missing)
        return say("loader.needs", module=top, missing=missing)
    return say("loader.import_failed", module=top, error=f"{type(error).__name__}: {error}")


@dataclass
class Unit:
    """One notebook cell, or a whole .py file: the smallest piece loaded on its own."""

    label: str  # "Initialization.ipynb, code cell 7 (In [12])" or "initialization.py"
    key: str  # the same in every run: "Initialization.ipynb#7" or "initialization.py"
    filename: str  # what tracebacks name; its lines are in linecache
    text: str  # as the student wrote it
    python: str  # the same lines, with IPython syntax blanked out


@dataclass
class Definition:
    """The last definition of a top-level function in a file."""

    status: str  # "implemented", "stub" or "broken"
    where: str  # the unit's label
    error: str = ""


@dataclass
class Source:
    """One loaded file: its namespace and the functions it defines."""

    name: str
    namespace: dict
    definitions: dict[str, Definition] = field(default_factory=dict)
    imported: dict[str, str] = field(default_factory=dict)  # name -> the import that binds it
    star_failures: list[str] = field(default_factory=list)  # "from m import *" that failed
    # names that top-level code (not run while grading) sets, and where
    script_names: dict[str, str] = field(default_factory=dict)

    def explain(self, error: BaseException) -> str:
        """A hint for a NameError: a name the file's top-level code sets, which is not
        run while grading, or one a failed ``from m import *`` may have given."""
        if not isinstance(error, NameError):
            return ""
        where = self.script_names.get(getattr(error, "name", None) or "")
        if where:
            return say("loader.set_by_script", name=error.name, where=where)
        if self.star_failures:
            return say("loader.star_import", modules=", ".join(self.star_failures))
        return ""


# Statement ids ("<unit key>:<line>") the grader asked to skip, with why: each ended
# the process or never finished while an earlier run loaded it.
Skip = dict[str, str]
Announce = Callable[[str, str, list[str]], None]


def python_of_cell(text: str) -> str:
    """The cell's Python, line for line: IPython syntax becomes ``pass``, a cell magic
    whose body is not Python becomes empty lines, a cell indented as a whole is
    dedented."""
    lines = text.splitlines()
    if not lines:
        return ""
    first = lines[0].strip()
    if first.startswith("%%"):
        magic = first[2:].split()[0] if first[2:].split() else ""
        if magic not in PYTHON_CELL_MAGICS:
            return "\n" * len(lines)
        lines[0] = ""
    out = []
    for line in lines:
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if (
            stripped.startswith(("%", "!", "?"))
            or re.fullmatch(r"[\w.\[\]()'\"]+\?{1,2}", stripped)
            or re.fullmatch(r"[\w\s,]+=\s*[%!].*", stripped)
        ):
            out.append(indent + "pass")
        else:
            out.append(line)
    first_code = next((line for line in out if line.strip()), "")
    prefix = first_code[: len(first_code) - len(first_code.lstrip())]
    if prefix:  # IPython removes the first line's indentation from every line
        out = [line[len(prefix) :] if line.startswith(prefix) else line for line in out]
    return "\n".join(out)


def notebook_units(path: Path, name: str) -> list[Unit]:
    """The code cells of a notebook, numbered from 1 as code cells."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook.get("cells", []) if isinstance(notebook, dict) else []
    units, number = [], 0
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        number += 1
        source = cell.get("source", "")
        text = (
            "".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else source
        )
        if not isinstance(text, str):
            continue
        count = cell.get("execution_count")
        if isinstance(count, int):
            label = say("loader.cell_run", notebook=name, number=number, count=count)
        else:
            label = say("loader.cell", notebook=name, number=number)
        units.append(
            Unit(label, f"{name}#{number}", f"{path}#cell{number}", text, python_of_cell(text))
        )
    return units


def file_units(path: Path, name: str) -> list[Unit]:
    text = path.read_bytes()[:MAX_SOURCE_BYTES].decode("utf-8", "replace")
    return [Unit(name, name, str(path), text, text)]


def _chunks(text: str) -> list[tuple[int, str]]:
    """The text cut where a top-level statement starts: (first line, chunk) pairs."""
    lines = text.splitlines()
    starts = [0]
    for number, line in enumerate(lines):
        if number == 0 or not line or line[0] in " \t#" or _CONTINUATION.match(line):
            continue
        if lines[number - 1].startswith("@"):
            continue  # a decorator stays with what it decorates
        starts.append(number)
    starts.append(len(lines))
    return [
        (a + 1, "\n".join(lines[a:b])) for a, b in zip(starts, starts[1:], strict=False) if a < b
    ]


def _syntax_error(unit: Unit, error: SyntaxError) -> str:
    line = ""
    if error.lineno and 0 < error.lineno <= len(unit.text.splitlines()):
        code = unit.text.splitlines()[error.lineno - 1].strip()
        line = say("loader.line", line=error.lineno, code=code)
    error_text = f"{type(error).__name__}: {error.msg}"
    return say("loader.does_not_parse", where=unit.label, error=error_text, line=line)


def _parse(unit: Unit) -> tuple[list[ast.stmt], dict[str, str]]:
    """The unit's statements, and the functions lost to the parts that do not parse."""
    try:
        return ast.parse(unit.python, unit.filename).body, {}
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    statements, lost = [], {}
    for first, chunk in _chunks(unit.python):
        try:
            statements += ast.parse("\n" * (first - 1) + chunk, unit.filename).body
        except SyntaxError as error:
            for match in _TOP_DEF.finditer(chunk):
                lost[match.group(1)] = _syntax_error(unit, error)
        except (ValueError, RecursionError, MemoryError) as error:
            for match in _TOP_DEF.finditer(chunk):
                lost[match.group(1)] = say(
                    "loader.cannot_read", where=unit.label, error=type(error).__name__
                )
    return statements, lost


def _is_definition(node: ast.stmt) -> bool:
    if isinstance(node, _DEFINITIONS):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = getattr(node, "targets", [getattr(node, "target", None)])
        return all(isinstance(t, ast.Name) for t in targets) and (
            _literal(node.value) or _reference(node.value)
        )
    return False


def _reference(value: ast.expr | None) -> bool:
    """A name or a chain of attributes (``_he = initialize_parameters_he``): no call."""
    while isinstance(value, ast.Attribute):
        value = value.value
    return isinstance(value, ast.Name)


def _literal(value: ast.expr | None) -> bool:
    try:
        ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def is_stub(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the function is not written yet: its body is only a docstring, ``pass``
    or ``...``, or it still holds the stub's bare ``raise NotImplementedError()``
    (a raise with a message, for an unsupported option, is the student's own)."""
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if all(
        isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        for s in body
    ):
        return True
    for statement in ast.walk(node):
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            raised = statement.exc
            bare = not isinstance(raised, ast.Call) or not (raised.args or raised.keywords)
            name = raised.func if isinstance(raised, ast.Call) else raised
            if bare and isinstance(name, ast.Name) and name.id == "NotImplementedError":
                return True
    return False


def _assigned(node: ast.stmt) -> list[str]:
    """The plain names a top-level statement that is not run would have set."""
    targets = []
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = getattr(node, "targets", [getattr(node, "target", None)])
    elif isinstance(node, (ast.For, ast.With)):
        targets = [node.target] if isinstance(node, ast.For) else []
    names = []
    for target in targets:
        for part in ast.walk(target) if target is not None else []:
            if isinstance(part, ast.Name):
                names.append(part.id)
    return names


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name.split(".")[0]) for a in node.names if a.name != "*"]
    targets = getattr(node, "targets", [getattr(node, "target", None)])
    return [t.id for t in targets if isinstance(t, ast.Name)]


class Loader:
    """Loads the files of one submission (its folder is root) into namespaces."""

    def __init__(
        self,
        root: Path,
        skip: Skip | None = None,
        announce: Announce | None = None,
        labels: dict[str, str] | None = None,
        stand_ins: dict[str, str] | None = None,
    ):
        self.root = root
        # module -> source: what a course helper file (planar_utils) gives graded
        # functions, used when the submission does not hand the file in
        self.stand_ins = stand_ins or {}
        self.made: dict[str, types.ModuleType] = {}
        self.skip = skip or {}
        self.announce = announce or (lambda statement, label, names: None)
        # filename -> how the student knows it ("...ipynb, code cell 7"), for error messages
        self.labels = {} if labels is None else labels
        self.sources: dict[str, Source] = {}
        self.local = {p.stem for p in root.glob("*.py")} | {
            p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").is_file()
        }

    def install(self) -> None:
        """Make the submission's own .py files importable, loaded by these rules."""
        sys.path.insert(0, str(self.root))
        sys.meta_path.insert(0, _Finder(self))

    def source(self, name: str) -> Source:
        """The file root/name loaded (once): a notebook, or a module of the submission
        (imported, so that its other files importing it share it)."""
        if name not in self.sources:
            if name.endswith(".py") and "/" not in name and Path(name).stem in self.local:
                sys.modules.pop(Path(name).stem, None)
                importlib.import_module(Path(name).stem)
            else:
                self.load(name)
        return self.sources[name]

    def load(self, name: str, module: types.ModuleType | None = None) -> Source:
        """Load the file root/name (a notebook or a .py file) into module."""
        path = self.root / name
        if module is None:
            module = types.ModuleType(Path(name).stem)
            module.__file__ = str(path)
        source = self.sources[name] = Source(name, module.__dict__)
        units = notebook_units(path, name) if name.endswith(".ipynb") else file_units(path, name)
        for unit in units:
            self.labels[unit.filename] = unit.label
            linecache.cache[unit.filename] = (
                len(unit.text), None, unit.text.splitlines(True), unit.filename
            )  # fmt: skip
            self._load_unit(unit, source)
        return source

    def _load_unit(self, unit: Unit, source: Source) -> None:
        statements, lost = _parse(unit)
        for name, why in lost.items():
            source.definitions[name] = Definition("broken", unit.label, why)
            source.namespace[name] = _Unavailable(
                say("loader.name_of", file=source.name, name=name), why
            )
        for node in statements:
            if not _is_definition(node):
                for name in _assigned(node):
                    at = say("loader.at_line", where=unit.label, line=node.lineno)
                    source.script_names.setdefault(name, at)
                continue
            names = _bound_names(node)
            line = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            statement = f"{unit.key}:{line}"
            if statement in self.skip:
                why = say("loader.skipped", where=unit.label, line=line, why=self.skip[statement])
                self._lost(source, node, names, why, unit.label)
                continue
            self.announce(statement, unit.label, names)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                try:
                    self._import(node, unit, source)
                except Exception as error:  # an import the rules above did not foresee
                    why = say("loader.raised", where=unit.label, error=describe(error, self.labels))
                    self._lost(source, node, names, why, unit.label)
                continue
            try:
                exec(compile(ast.Module([node], []), unit.filename, "exec"), source.namespace)
            except BaseException as error:  # noqa: BLE001 - the student's, recorded
                why = say("loader.raised", where=unit.label, error=describe(error, self.labels))
                self._lost(source, node, names, why, unit.label)
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                status = "stub" if is_stub(node) else "implemented"
                source.definitions[node.name] = Definition(status, unit.label)
            for name in names:
                source.imported.pop(name, None)

    def _lost(self, source: Source, node: ast.stmt, names: list[str], why: str, label: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            source.definitions[node.name] = Definition("broken", label, why)
        for name in names:
            source.namespace[name] = _Unavailable(
                say("loader.name_of", file=source.name, name=name), why
            )

    def _import(self, node: ast.Import | ast.ImportFrom, unit: Unit, source: Source) -> None:
        """Each name of the import bound on its own; one that fails binds a placeholder."""
        namespace = source.namespace
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                bound = alias.asname or top
                if alias.name in sys.modules or top in self.local:
                    self._exec_import(ast.Import([alias]), node, unit, source, alias.name, bound)
                elif alias.name in self.stand_ins and alias.name == top:
                    namespace[bound] = self._stand_in(alias.name)
                    source.imported[bound] = alias.name
                else:
                    deferred = alias.name if alias.asname else top
                    namespace[bound] = _Deferred(alias.name, deferred)
                    source.imported[bound] = alias.name
            return
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            single = ast.ImportFrom(node.module, [alias], node.level)
            if alias.name == "*":
                if not self._exec_import(single, node, unit, source, module, None):
                    source.star_failures.append(module)
                continue
            bound = alias.asname or alias.name
            self._exec_import(single, node, unit, source, module, bound, alias.name)

    def _exec_import(self, statement, node, unit, source, module, bound, attribute=None) -> bool:
        ast.copy_location(statement, node)
        try:
            exec(compile(ast.Module([statement], []), unit.filename, "exec"), source.namespace)
        except BaseException as error:  # noqa: BLE001 - a failed import binds a placeholder
            if isinstance(error, ImportError) and attribute and module.split(".")[0] in sys.modules:
                reason = say("loader.has_no", module=module, attribute=attribute)
            else:
                reason = import_failure(module, error)
            stand_in = self._stand_in(module)
            if bound is not None and stand_in is not None:
                if attribute is None or hasattr(stand_in, attribute):
                    source.namespace[bound] = (
                        getattr(stand_in, attribute) if attribute else stand_in
                    )
                    source.imported[bound] = f"{module}.{attribute}" if attribute else module
                    return True
            if bound is not None:
                name = f"{module}.{attribute}" if attribute else module
                source.namespace[bound] = _Unavailable(name, reason)
                source.imported[bound] = name
            return False
        if bound is not None:
            source.imported[bound] = f"{module}.{attribute}" if attribute else module
        return True

    def _stand_in(self, module: str) -> types.ModuleType | None:
        """The grader's stand-in for a course helper module the submission lacks."""
        if module not in self.stand_ins:
            return None
        if module not in self.made:
            made = types.ModuleType(module)
            exec(self.stand_ins[module], made.__dict__)
            self.made[module] = made
        return self.made[module]


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the submission's own modules (``init_utils.py`` beside the notebook)."""

    def __init__(self, loader: Loader):
        self.loader = loader

    def find_spec(self, fullname, path=None, target=None):
        if "." in fullname or fullname not in self.loader.local:
            return None
        file = self.loader.root / f"{fullname}.py"
        if not file.is_file():
            return None  # a package folder: the usual import
        return importlib.util.spec_from_file_location(fullname, file, loader=_ModuleLoader(self))


class _ModuleLoader(importlib.abc.Loader):
    def __init__(self, finder: _Finder):
        self.finder = finder

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        self.finder.loader.load(Path(module.__file__).name, module)


def describe(error: BaseException, labels: dict[str, str]) -> str:
    """``Type: message (where, line N: code)``, where is the student's innermost frame."""
    frames = traceback.extract_tb(error.__traceback__)
    where = next((f for f in reversed(frames) if f.filename in labels), None)
    place = ""
    if where is not None:
        code = f": {where.line}" if where.line else ""
        place = say("loader.place", where=labels[where.filename], line=where.lineno, code=code)
    return f"{type(error).__name__}: {error}{place}"[:2000]


@dataclass
class Choice:
    """Where a graded function comes from: its source and its state there."""

    function: object = None
    source: Source | None = None
    status: str = "missing"  # "implemented", "stub", "broken" or "missing"
    error: str = ""


def choose(name: str, sources: list[Source]) -> Choice:
    """The file a function is graded from, among sources in order of preference: the
    first that implements it; else the first where its definition is broken; else
    the first where it is a stub; else it is missing (and the message says where an
    import binds it, if one does)."""
    for wanted in ("implemented", "broken", "stub"):
        for source in sources:
            definition = source.definitions.get(name)
            if definition is None or definition.status != wanted:
                continue
            function = source.namespace.get(name) if wanted != "broken" else None
            if wanted != "broken" and not callable(function):
                continue
            return Choice(function, source, wanted, definition.error)
    imported = next((s.imported[name] for s in sources if name in s.imported), "")
    why = say("loader.imported_from", module=imported.rsplit(".", 1)[0]) if imported else ""
    return Choice(status="missing", error=why)
