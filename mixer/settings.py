"""The machinery of run settings: an option is a dataclass field declared once with `option` -- its type, default,
help, choices, the rule its value must follow, the models it belongs to and when else it applies -- and a `Settings`
class is a dataclass of option groups that parses flat or grouped values (flags, a JSON or TOML `--config` file, a
saved configuration), checks them as a whole and writes them back (`flat` for checkpoints, `applicable` for
config.json). `mixer.config` declares the options themselves.

A configuration is checked as a whole before anything runs: a value of the wrong type, a value outside its rule, a
flag that does not apply to the chosen model or to the rest of the settings, or two flags that contradict each other
give a `ConfigError` whose lines name the flags and the rule.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .errors import UserError


class ConfigError(UserError, ValueError):
    """Settings that cannot make a run; each line names the flags involved and the rule."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration: " + problems[0] if len(problems) == 1 else
                         "invalid configuration:\n  " + "\n  ".join(problems))


# -- declaring options -------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Rule:
    """What a value must satisfy, and how the error says it ("must be > 0")."""

    test: Callable[[Any], bool]
    text: str


def above(bound: float) -> Rule:
    return Rule(lambda value: value > bound, f"must be > {bound}")


def at_least(bound: float) -> Rule:
    return Rule(lambda value: value >= bound, f"must be >= {bound}")


def in_range(low: float, high: float, high_included: bool = False) -> Rule:
    if high_included:
        return Rule(lambda value: low <= value <= high, f"must be in [{low}, {high}]")
    return Rule(lambda value: low <= value < high, f"must be in [{low}, {high})")


# Why an option does not apply to a configuration (None: it applies), e.g. "without --init-from-mae".
Applies = Callable[[Any], "str | None"]


def option(default: Any, help: str, *, choices: tuple[str, ...] | None = None, rule: Rule | None = None,
           models: tuple[str, ...] | None = None, applies: Applies | None = None, key: str | None = None) -> Any:
    """A dataclass field that is a run option. `key` is its name in files and flags when it differs from the field's
    (the flag is `--` + key with dashes). `models`: the models it is an option of (the values of the Settings'
    `model_key` option; None: every model); `applies` says when else it does not apply. An option that does not
    apply may not be set to anything but its default, and config.json leaves it out."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices, "rule": rule,
                                                        "models": models, "applies": applies, "key": key})


@dataclasses.dataclass(frozen=True)
class Option:
    """One option as the parser, the file reader and the checks see it."""

    group: str
    field: str
    key: str
    kind: str  # "int", "float", "str", "bool" or "path" (a string or None)
    default: Any
    help: str
    choices: tuple[str, ...] | None
    rule: Rule | None
    models: tuple[str, ...] | None
    applies: Applies | None

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    def shown(self, value: Any) -> str:
        """`--flag value` as a user would type it."""
        if isinstance(value, bool):
            return self.flag if value else "--no-" + self.flag[2:]
        return f"{self.flag} {value:g}" if isinstance(value, float) else f"{self.flag} {value}"


_KINDS = {"int": "int", "float": "float", "str": "str", "bool": "bool", "str | None": "path"}
_EXPECTED = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
             "path": "a path (a string) or null"}


_WRONG_TYPE = object()


def _check_type(option: Option, value: Any) -> Any:
    """The value converted to the option's type (an integer where a number is expected becomes a float), or
    `_WRONG_TYPE`."""
    kind, is_bool = option.kind, isinstance(value, bool)
    if kind == "bool":
        ok = is_bool
    elif kind == "int":
        ok = isinstance(value, int) and not is_bool
    elif kind == "float":
        ok = isinstance(value, int | float) and not is_bool
        value = float(value) if ok else value
    elif kind == "str":
        ok = isinstance(value, str)
    else:
        ok = value is None or isinstance(value, str)
    return value if ok else _WRONG_TYPE


def _type_name(value: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


# -- a configuration ---------------------------------------------------------------------------------------------
@functools.cache
def _options(config_class: type) -> dict[str, Option]:
    """key -> Option of a Settings class, in group order (built once per class)."""
    result = {}
    for group, group_class in config_class.group_classes().items():
        for f in dataclasses.fields(group_class):
            key = f.metadata["key"] or f.name
            result[key] = Option(group, f.name, key, _KINDS[str(f.type)], f.default, f.metadata["help"],
                                 f.metadata["choices"], f.metadata["rule"], f.metadata["models"],
                                 f.metadata["applies"])
    models = result[config_class.model_key].choices if config_class.model_key else ()
    for option in result.values():
        unknown = set(option.models or ()) - set(models or ())
        if unknown:
            raise TypeError(f"option {option.flag}: models {sorted(unknown)} are not choices of the model option")
    return result


S = TypeVar("S", bound="Settings")


class Settings:
    """A configuration made of option groups (each a dataclass of `option` fields). Subclasses are dataclasses whose
    fields are the groups, and add their cross-option rules in `_resolve`."""

    group_titles: ClassVar[dict[str, str]] = {}  # argparse group titles that differ from the group names
    model_key: ClassVar[str | None] = None  # the option that chooses the model, which options' `models` name
    # Options whose default changed after runs were saved without them: the value such a saved configuration meant.
    saved_defaults: ClassVar[dict[str, Any]] = {}

    @property
    def name(self) -> str:
        """What a fresh run folder is named after (runs/<date>-<time>-<name>)."""
        raise NotImplementedError

    @classmethod
    def group_classes(cls) -> dict[str, type]:
        return {f.name: f.default_factory for f in dataclasses.fields(cls)}  # type: ignore[misc]

    @classmethod
    def options(cls) -> dict[str, Option]:
        """key -> Option, in group order."""
        return _options(cls)

    @classmethod
    def model_options(cls, model: str) -> list[str]:
        """The keys of the options that belong to `model` alone or to a few models including it (their `models`)."""
        return [key for key, option in cls.options().items() if option.models and model in option.models]

    def not_applying(self, key: str) -> str | None:
        """Why option `key` does not apply to this configuration (None: it applies), e.g. "to --model convnext (only
        to --model mlp-mixer)"."""
        option = self.options()[key]
        if option.models is not None and self.model_key is not None:
            model = self.get(self.model_key)
            if model not in option.models:
                flag = self.options()[self.model_key].flag
                return f"to {flag} {model} (only to {flag} {', '.join(option.models)})"
        return option.applies(self) if option.applies is not None else None

    # reading ---------------------------------------------------------------------------------------------------
    @classmethod
    def typed_values(cls, values: Mapping[str, Any], source: str | None = None) -> dict[str, Any]:
        """Flat {key: value} from flat or grouped `values` (file names may use dashes), each value of its option's
        type; unknown keys and wrong types are a ConfigError naming the key and what it expects."""
        options, groups = cls.options(), cls.group_classes()
        flat: dict[str, Any] = {}
        problems = []
        prefix = f"{source}: " if source else ""

        def take(name: str, value: Any, section: str | None) -> None:
            key = name.replace("-", "_")
            option = options.get(key)
            where = f"[{section}] " if section else ""
            if option is None:
                close = difflib.get_close_matches(key, options, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(f"{prefix}unknown key {where}{name!r}{hint}")
            elif section is not None and option.group != section:
                problems.append(f"{prefix}key {name!r} belongs in [{option.group}], not [{section}]")
            elif key in flat:
                problems.append(f"{prefix}key {name!r} is given twice")
            else:
                typed = _check_type(option, value)
                if typed is _WRONG_TYPE:
                    problems.append(f"{prefix}key {where}{name!r} ({option.flag}) must be {_EXPECTED[option.kind]}"
                                    f", not {value!r} ({_type_name(value)})")
                else:
                    flat[key] = typed

        for name, value in values.items():
            section = name.replace("-", "_")
            if section in groups and isinstance(value, Mapping):
                for inner, inner_value in value.items():
                    take(inner, inner_value, section)
            else:
                take(name, value, None)
        if problems:
            raise ConfigError(problems)
        return flat

    @classmethod
    def parse(cls: type[S], values: Mapping[str, Any], given: Collection[str] | None = None) -> tuple[S, list[str]]:
        """The checked configuration from flat or grouped `values` (defaults for the rest), and notes for the user
        about what was adjusted. `given`: the keys the user set (default: all of `values`). An option given a value
        other than its default must apply to the configuration (no flag is silently ignored); a default the user did
        not set may be adjusted to fit (with a note) where a value they set is an error."""
        flat = cls.typed_values(values)
        given = set(flat) if given is None else {key.replace("-", "_") for key in given}
        options = cls.options()
        groups = {name: group_class(**{options[key].field: value for key, value in flat.items()
                                       if options[key].group == name})
                  for name, group_class in cls.group_classes().items()}
        config = cls(**groups)
        problems = []
        for key, option in options.items():
            value = config.get(key)
            if option.choices is not None and value not in option.choices:
                problems.append(f"{option.shown(value)}: must be one of {', '.join(option.choices)}")
            elif option.rule is not None and value is not None and not option.rule.test(value):
                problems.append(f"{option.shown(value)} {option.rule.text}")
        if problems:
            raise ConfigError(problems)
        notes: list[str] = []
        problems = list(config._resolve(given, notes))
        for key in sorted(given, key=list(options).index):
            option = options[key]
            reason = config.not_applying(key)
            if reason is not None and config.get(key) != option.default:
                problems.append(f"{option.flag} does not apply {reason}")
        if problems:
            raise ConfigError(problems)
        return config, notes

    @classmethod
    def saved(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """A saved configuration (a checkpoint's, cv.json's) as it was meant: options it predates take the value they
        had then (`saved_defaults`), not today's default. Flat or grouped, as `typed_values` reads it."""
        keys = {name for name, value in values.items() if not isinstance(value, Mapping)} | {
            name for value in values.values() if isinstance(value, Mapping) for name in value}
        present = {key.replace("-", "_") for key in keys}
        return {**{key: value for key, value in cls.saved_defaults.items() if key not in present}, **values}

    @classmethod
    def from_dict(cls: type[S], values: Mapping[str, Any], given: Collection[str] | None = None) -> S:
        return cls.parse(values, given)[0]

    def _resolve(self, given: set[str], notes: list[str]) -> Iterator[str]:
        """Cross-option rules: yield a problem per broken rule; adjust defaults the user did not set (with a note)."""
        return iter(())

    # writing ---------------------------------------------------------------------------------------------------
    def get(self, key: str) -> Any:
        option = self.options()[key]
        return getattr(getattr(self, option.group), option.field)

    def set(self, key: str, value: Any) -> None:
        option = self.options()[key]
        setattr(getattr(self, option.group), option.field, value)

    def flat(self) -> dict[str, Any]:
        """Every option, {key: value}: what a checkpoint stores to rebuild the run exactly."""
        return {key: self.get(key) for key in self.options()}

    def applicable(self) -> dict[str, dict[str, Any]]:
        """{group: {key: value}} of the options that apply to this configuration and are set (not None), without the
        output folder (a run's config.json sits in it): config.json, and a valid --config file."""
        result: dict[str, dict[str, Any]] = {}
        for key, option in self.options().items():
            value = self.get(key)
            if key == "out" or value is None or self.not_applying(key) is not None:
                continue
            result.setdefault(option.group, {})[key] = value
        return result


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The values of a JSON or TOML (.toml) config file, as written (checked by `Settings.typed_values`)."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError([f"config file {path} does not exist" if not file.exists() else
                           f"config file {path} is not a file"])
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"config file {path} cannot be read ({error})"]) from None
    try:
        if file.suffix == ".toml":
            import tomllib

            values = tomllib.loads(text)
        else:
            values = json.loads(text)
    except ValueError as error:  # json.JSONDecodeError and tomllib.TOMLDecodeError
        raise ConfigError([f"config file {path}: {error}"]) from None
    if not isinstance(values, dict):
        raise ConfigError([f"config file {path} must hold a table of settings, not {_type_name(values)}"])
    return values
