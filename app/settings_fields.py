"""How settings are declared and loaded, shared by the job (app/settings.py) and the deploy (deploy/databricks/):
a field that names its environment variable, coercion of env strings to the field's type, secrets masked, and a
frozen dataclass (with nested groups) built from an environ mapping.
"""

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, Field, field, fields
from functools import cache
from typing import Any, NoReturn, TypeVar, cast, get_origin, get_type_hints

T = TypeVar("T")
MASK = "***"
# Secrets that hide inside values that are not secret as a whole: a URL's user:password, a JVM -D option.
_URL_PASSWORD = re.compile(r"(//[^/:@\s]*:)[^/@\s]*@")
_JVM_SECRET = re.compile(r"(-D[\w.\-]*(?:password|secret|token|credential|key)[\w.\-]*=)\S*", re.IGNORECASE)
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


class SettingsError(ValueError):
    """A setting has a bad value; the message names its environment variable."""


def setting(
    env: str, default: Any = MISSING, *, secret: bool = False, doc: str = "", parse: Callable[[str], Any] | None = None
) -> Any:
    """A field read from `env`; `parse` turns its string when the type alone does not say how."""
    return field(default=default, metadata={"env": env, "secret": secret, "doc": doc, "parse": parse})


def group(cls: type) -> Any:
    """A field holding a nested group of settings, its own frozen dataclass."""
    return field(default_factory=cls, metadata={"group": cls})


def walk(cls: type, prefix: str = "") -> Iterator[tuple[str, Field[Any]]]:
    """Every setting of a settings class with its dotted path (kafka.input_topic), groups depth first."""
    for f in fields(cls):
        if "group" in f.metadata:
            yield from walk(f.metadata["group"], f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", f


def mask(value: str) -> str:
    """A value with the secrets it may embed replaced by ***."""
    return _JVM_SECRET.sub(rf"\1{MASK}", _URL_PASSWORD.sub(rf"\1{MASK}@", value))


def shown(f: Field[Any], value: Any) -> Any:
    """The value as it may be printed: a secret as ***, secrets inside a string masked."""
    if f.metadata.get("secret"):
        return MASK if value else value
    return mask(value) if isinstance(value, str) else value


def describe(settings: object) -> dict[str, Any]:
    """{dotted path: value}, secrets masked: what the start-up log and repr() show."""
    out: dict[str, Any] = {}
    for path, f in walk(type(settings)):
        value: Any = settings
        for name in path.split("."):
            value = getattr(value, name)
        out[path] = shown(f, value)
    return out


def masked_repr(settings: object) -> str:
    """A settings class's __repr__: its fields with secrets masked."""
    return f"{type(settings).__name__}({', '.join(f'{k}={v!r}' for k, v in describe(settings).items())})"


def fail(settings: object, name: str, why: str) -> NoReturn:
    """Refuse the value of field `name`, naming its environment variable and never echoing a secret."""
    f = next(f for f in fields(cast(Any, settings)) if f.name == name)
    raise SettingsError(f"setting {f.metadata['env']}={shown(f, getattr(settings, name))!r}: {why}")


def from_environ(cls: type, environ: Mapping[str, str], *, blank_is_unset: bool = False) -> dict[str, Any]:
    """The raw values the environment sets, nested like the class's groups: {"kafka": {"input_topic": "x"}}."""
    values: dict[str, Any] = {}
    for f in fields(cls):
        if "group" in f.metadata:
            if nested := from_environ(f.metadata["group"], environ, blank_is_unset=blank_is_unset):
                values[f.name] = nested
        elif f.metadata["env"] in environ and (environ[f.metadata["env"]] or not blank_is_unset):
            values[f.name] = environ[f.metadata["env"]]
    return values


def merged(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Nested values, a later layer winning key by key (defaults < file < environment)."""
    out: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            both = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
            out[key] = merged(out[key], value) if both else value
    return out


def unknown(cls: type, values: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted names in `values` that are no setting of `cls` (a typo in a file)."""
    known = {f.name: f for f in fields(cls)}
    out = []
    for key, value in values.items():
        f = known.get(key)
        if f is None or ("group" in f.metadata) != isinstance(value, Mapping):
            out.append(f"{prefix}{key}")
        elif "group" in f.metadata:
            out += unknown(f.metadata["group"], value, f"{prefix}{key}.")
    return out


def build(cls: type[T], values: Mapping[str, Any]) -> T:
    """`cls` from nested raw values (env strings or file values) coerced to each field's type; each group is built,
    and checks its own rules, before the class that holds it checks the rules across groups."""
    hints = _hints(cast(type, cls))
    kwargs: dict[str, Any] = {}
    for f in fields(cast(Any, cls)):
        if f.name not in values:
            continue
        raw = values[f.name]
        kwargs[f.name] = build(f.metadata["group"], raw) if "group" in f.metadata else coerce(f, hints[f.name], raw)
    return cls(**kwargs)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)  # the real types, also under `from __future__ import annotations`


def coerce(f: Field[Any], kind: Any, raw: Any) -> Any:
    """`raw` (an env string, or a value from a file) as the field's type, or a SettingsError naming the variable."""
    try:
        if f.metadata.get("parse") and isinstance(raw, str):
            return f.metadata["parse"](raw)
        return _as(kind, raw)
    except ValueError as exc:
        msg = f"setting {f.metadata['env']}={shown(f, raw)!r}: {exc}"
        raise SettingsError(msg) from None


def _as(kind: Any, raw: Any) -> Any:
    if kind is bool:
        lowered = str(raw).strip().lower()
        if not isinstance(raw, bool) and lowered not in _TRUE | _FALSE:
            raise ValueError("expected true or false")
        return raw if isinstance(raw, bool) else lowered in _TRUE
    if kind is int:
        if isinstance(raw, bool) or not re.fullmatch(r"\s*[-+]?\d[\d_]*\s*", str(raw)):
            raise ValueError("expected int")
        return int(raw)
    if kind is float:
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise ValueError("expected float") from None
        if not math.isfinite(number):
            raise ValueError("expected a finite number")
        return number
    if get_origin(kind) is tuple:
        items = raw.split(",") if isinstance(raw, str) else raw
        return tuple(i.strip() if isinstance(i, str) else i for i in items if not isinstance(i, str) or i.strip())
    return str(raw)
