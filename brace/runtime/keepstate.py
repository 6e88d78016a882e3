"""Whether a reload may keep the live model instance and only change its class.

A new instance means running `__init__` and `load()` again: seconds to minutes with
real weights. Truss's hot reload never runs them again: it sets `instance.__class__` to
the new class, so an edit to load() silently keeps the old weights. brace keeps the
instance only when the code that built it is unchanged: `__new__`, `__init__`,
`setup_environment` and `load` themselves and everything they reach by name, followed
through the class and its bases, the functions' globals, the user's modules, closures
and default values. So editing a helper that load() calls, a class it instantiates, or
a `MODEL_ID = "..."` constant it reads makes a new instance. The request-path methods
(`predict`, `preprocess`, `postprocess`, `is_healthy`, the OpenAI-style endpoints) are
not followed from the model class: they are what a reload is usually for, and a
warm-up call to predict() in load() should not turn every predict edit into a full
load.

Functions are compared as bytecode (instructions, names, constants, recursively), never
as text: moving a method or editing a comment above it changes nothing, and linecache
(trusted by mtime and size, like .pyc files) is never read. Only the user's modules are
re-imported, so library objects are the very same objects in both versions and
anything that differs by identity was made by the user's code. Plain data (numbers,
strings, containers of them) is compared by value; other objects cannot be, and are
taken as unchanged. Everything here is pure: nothing is mutated.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import CellType, CodeType, FunctionType, ModuleType

BUILDERS = ("__new__", "__init__", "setup_environment", "load")
REQUEST_METHODS = frozenset(
    {
        "predict",
        "preprocess",
        "postprocess",
        "is_healthy",
        "chat_completions",
        "completions",
        "embeddings",
        "messages",
        "responses",
    }
)
MAX_COMPARISONS = 20_000  # beyond this, give up and build a new instance

_SCALARS = (type(None), bool, int, float, complex, str, bytes)
# Class attributes that differ between two definitions of the same class by nature.
_CLASS_BOOKKEEPING = frozenset(
    {"__dict__", "__weakref__", "__doc__", "__firstlineno__", "__static_attributes__"}
)
_EMPTY_CELL = object()

Owners = tuple[type, type] | None  # the classes `self` belongs to, old and new


def _code_key(code: CodeType) -> tuple[object, ...]:
    return (
        code.co_code,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags,
        code.co_exceptiontable,
    )


def same_code(old: CodeType, new: CodeType) -> bool:
    """Same instructions, names and constants; line numbers and file names aside."""
    if _code_key(old) != _code_key(new) or len(old.co_consts) != len(new.co_consts):
        return False
    for a, b in zip(old.co_consts, new.co_consts, strict=True):
        if isinstance(a, CodeType) and isinstance(b, CodeType):
            if not same_code(a, b):
                return False
        elif a is not b and (type(a) is not type(b) or a != b):
            return False
    return True


def _names(code: CodeType) -> Iterator[str]:
    """Every global and attribute name the code (or code nested in it) uses."""
    yield from code.co_names
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            yield from _names(constant)


def _cell(cell: CellType) -> object:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return _EMPTY_CELL


def _same_class_identity(old: type, new: type) -> bool:
    return old is new or (old.__module__, old.__qualname__) == (new.__module__, new.__qualname__)


class _Walk:
    """Compares pairs of (old, new) objects, queueing what each pair reaches."""

    def __init__(self, root: tuple[type, type]) -> None:
        self.root = root
        self.pending: list[tuple[object, object, Owners]] = []
        self.seen: set[tuple[int, int]] = {(id(root[0]), id(root[1]))}
        self.alive: list[tuple[object, object]] = []  # keeps ids in `seen` unique

    def push(self, old: object, new: object, owners: Owners = None) -> None:
        if old is not new:
            self.pending.append((old, new, owners))

    def run(self) -> bool:
        while self.pending:
            old, new, owners = self.pending.pop()
            key = (id(old), id(new))
            if key in self.seen:
                continue
            self.seen.add(key)
            self.alive.append((old, new))
            if len(self.seen) > MAX_COMPARISONS or not self._compare(old, new, owners):
                return False
        return True

    def follow_class_name(self, name: str, owners: tuple[type, type]) -> bool:
        """Queue what `self.<name>` means in both versions (every level of the MRO)."""
        if owners == self.root and name in REQUEST_METHODS:
            return True
        old_mro, new_mro = owners[0].__mro__, owners[1].__mro__
        if len(old_mro) != len(new_mro):
            return False
        for old_level, new_level in zip(old_mro, new_mro, strict=True):
            if not _same_class_identity(old_level, new_level):
                return False
            old_vars, new_vars = vars(old_level), vars(new_level)
            if (name in old_vars) != (name in new_vars):
                return False
            if name in old_vars:
                self.push(old_vars[name], new_vars[name], owners)
        return True

    def _compare(self, old: object, new: object, owners: Owners) -> bool:
        if type(old) is not type(new):
            return False
        if isinstance(old, (staticmethod, classmethod)):
            assert isinstance(new, (staticmethod, classmethod))
            self.push(old.__func__, new.__func__, owners)
            return True
        if isinstance(old, property):
            assert isinstance(new, property)
            for accessor in ("fget", "fset", "fdel"):
                self.push(getattr(old, accessor), getattr(new, accessor), owners)
            return True
        if isinstance(old, FunctionType):
            assert isinstance(new, FunctionType)
            return self._function(old, new, owners)
        if isinstance(old, type):
            assert isinstance(new, type)
            return self._class(old, new)
        if isinstance(old, ModuleType):
            return True  # a re-imported user module: followed by name from the code
        if isinstance(old, _SCALARS):
            return old == new
        if isinstance(old, (tuple, list)):
            assert isinstance(new, (tuple, list))
            if len(old) != len(new):
                return False
            for a, b in zip(old, new, strict=True):
                self.push(a, b)
            return True
        if isinstance(old, dict):
            assert isinstance(new, dict)
            if old.keys() != new.keys():
                return False
            for key, value in old.items():
                self.push(value, new[key])
            return True
        if isinstance(old, (set, frozenset)):
            return old == new
        return True  # an object we cannot compare: taken as unchanged

    def _function(self, old: FunctionType, new: FunctionType, owners: Owners) -> bool:
        if not same_code(old.__code__, new.__code__):
            return False
        self.push(old.__defaults__, new.__defaults__)
        self.push(old.__kwdefaults__, new.__kwdefaults__)
        for a, b in zip(old.__closure__ or (), new.__closure__ or (), strict=True):
            self.push(_cell(a), _cell(b))
        names = sorted(set(_names(old.__code__)))
        modules: list[tuple[ModuleType, ModuleType]] = []
        for name in names:
            if owners is not None and not self.follow_class_name(name, owners):
                return False
            if not self._follow(name, old.__globals__, new.__globals__, modules):
                return False
        # `helpers.make_weights()`: the code's names, looked up in the modules it uses.
        index = 0
        while index < len(modules):
            old_module, new_module = modules[index]
            for name in names:
                if not self._follow(name, vars(old_module), vars(new_module), modules):
                    return False
            index += 1
        return True

    def _follow(
        self,
        name: str,
        old_space: dict[str, object],
        new_space: dict[str, object],
        modules: list[tuple[ModuleType, ModuleType]],
    ) -> bool:
        if (name in old_space) != (name in new_space):
            return False
        if name not in old_space:
            return True  # a builtin, or an attribute of something else
        old, new = old_space[name], new_space[name]
        if (
            isinstance(old, ModuleType)
            and isinstance(new, ModuleType)
            and old is not new
            and (old, new) not in modules
        ):
            modules.append((old, new))
        self.push(old, new)
        return True

    def _class(self, old: type, new: type) -> bool:
        if not _same_class_identity(old, new) or len(old.__mro__) != len(new.__mro__):
            return False
        for old_base, new_base in zip(old.__mro__[1:], new.__mro__[1:], strict=True):
            self.push(old_base, new_base)
        old_vars, new_vars = vars(old), vars(new)
        if old_vars.keys() - _CLASS_BOOKKEEPING != new_vars.keys() - _CLASS_BOOKKEEPING:
            return False
        for name, value in old_vars.items():
            if name not in _CLASS_BOOKKEEPING:
                self.push(value, new_vars[name], (old, new))
        return True


def may_keep_instance(old: type, new: type) -> bool:
    """Whether an instance built by `old` is exactly what `new` would build."""
    walk = _Walk((old, new))
    if not all(walk.follow_class_name(name, (old, new)) for name in BUILDERS):
        return False
    return walk.run()


def can_assign_class(old: type, new: type) -> bool:
    """Whether Python allows `instance.__class__ = new` for an instance of `old`.

    Tried on a blank instance (object.__new__, no __init__), never on the live one.
    """
    try:
        probe: object = object.__new__(old)
        probe.__class__ = new
    except TypeError:
        return False
    return True
