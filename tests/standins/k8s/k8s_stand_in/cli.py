"""Command-line parsing in the style of cobra/pflag, shared by the stand-ins:
--flag=value, --flag value, -f, boolean flags with an optional =true|false, repeatable flags,
comma-separated slice flags, and the flags' errors as cobra prints them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class UsageError(Exception):
    pass


@dataclass
class FlagSpec:
    kind: str = "str"  # str | bool | int | list (repeatable) | csv (comma-separated slice)
    short: str = ""
    default: Any = None


@dataclass
class Parsed:
    values: dict[str, Any] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)


def parse(argv: list[str], specs: dict[str, FlagSpec], interspersed: bool = True) -> Parsed:
    out = Parsed()
    for name, spec in specs.items():
        if spec.default is not None:
            out.values[name] = spec.default
        elif spec.kind in ("list", "csv"):
            out.values[name] = []
    shorts = {spec.short: name for name, spec in specs.items() if spec.short}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            out.args += argv[i:]
            break
        if arg.startswith("--") or (arg.startswith("-") and len(arg) > 1 and not _is_number(arg)):
            if arg.startswith("--"):
                name, eq, value = arg[2:].partition("=")
            else:
                short, eq, value = (
                    arg[1:2],
                    arg[2:3] == "=",
                    arg[3:] if arg[2:3] == "=" else arg[2:],
                )
                if short not in shorts:
                    raise UsageError(f"unknown shorthand flag: '{short}' in {arg}")
                name = shorts[short]
                if value and not eq:
                    eq = "="  # -oshort, -v5
            if name not in specs:
                raise UsageError(f"unknown flag: --{name}")
            spec = specs[name]
            if spec.kind == "bool":
                if eq:
                    if value.lower() not in ("true", "false", "1", "0", "t", "f"):
                        raise UsageError(
                            f'invalid argument "{value}" for "--{name}" flag: '
                            f'strconv.ParseBool: parsing "{value}": invalid syntax'
                        )
                    out.values[name] = value.lower() in ("true", "1", "t")
                else:
                    out.values[name] = True
            else:
                if not eq:
                    if i >= len(argv):
                        raise UsageError(f"flag needs an argument: --{name}")
                    value = argv[i]
                    i += 1
                if spec.kind == "int":
                    try:
                        out.values[name] = int(value)
                    except ValueError:
                        raise UsageError(
                            f'invalid argument "{value}" for "--{name}" flag: '
                            f'strconv.ParseInt: parsing "{value}": invalid syntax'
                        ) from None
                elif spec.kind == "list":
                    out.values.setdefault(name, []).append(value)
                elif spec.kind == "csv":
                    out.values.setdefault(name, []).extend(v for v in value.split(",") if v)
                else:
                    out.values[name] = value
            if name not in out.changed:
                out.changed.append(name)
        else:
            out.args.append(arg)
            if not interspersed:
                out.args += argv[i:]
                break
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
