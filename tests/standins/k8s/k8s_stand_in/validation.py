"""Schema validation of the objects the API endpoint stand-in stores.

Built-in kinds are checked against the JSON schemas of the `kubernetes-validate` package
(the "-local-strict" set of the matching Kubernetes minor, whose additionalProperties:false
reveals unknown fields). A package carries them as one self-contained bundle
(schemas/kubernetes-<minor>.json, written by bundle() at build time); run from the checkout the
bundle is made from the kubernetes_validate module of the running interpreter.

Custom resources are checked against the openAPIV3Schema of their CustomResourceDefinition as
stored in the cluster, with python3-jsonschema; unknown fields are those a structural schema
would prune. Messages follow the API server's field errors
("spec.x: Invalid value: ...", "strict decoding error: unknown field ...").
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from k8s_stand_in.registry import BUILTINS, Resource

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
SCHEMA_ENV = "K8S_STAND_IN_SCHEMAS"
# The definitions of an arbitrary JSON schema inside a CRD: left unchecked (the API server has
# its own rules for them, and walking them is slow).
OPEN_DEFS = ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",)
_REF_RE = re.compile(r"^(?:/api/_definitions\.json)?#/\$defs/(.+)$")


@dataclass
class Problems:
    """What validation found: field errors (422 Invalid), type errors of built-in kinds (400,
    the decoder's "cannot unmarshal"), unknown fields (400 in Strict mode)."""

    invalid: list[str]
    type_errors: list[str]
    unknown: list[str]

    def __bool__(self) -> bool:
        return bool(self.invalid or self.type_errors or self.unknown)


# --------------------------------------------------------------------------------------------
# schema bundles


def schema_filename(group: str, version: str, kind: str) -> str:
    """kubernetes-validate's naming: deployment-apps-v1.json, clusterrole-rbac-v1.json."""
    if group:
        return f"{kind.lower()}-{group.split('.')[0]}-{version}.json"
    return f"{kind.lower()}-{version}.json"


def kind_key(group: str, version: str, kind: str) -> str:
    return f"kind.{group or 'core'}.{version}.{kind}"


def _rewrite_refs(node: Any, found: set[str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("$id", "$schema"):
                continue
            if key == "$ref" and isinstance(value, str):
                m = _REF_RE.match(value)
                if m:
                    found.add(m.group(1))
                    out[key] = f"#/$defs/{m.group(1)}"
                    continue
            out[key] = _rewrite_refs(value, found)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, found) for v in node]
    return node


def bundle(schema_dir: Path, resources: Iterable[Resource] = BUILTINS) -> dict[str, Any]:
    """One self-contained schema document for the built-in kinds, from a kubernetes-validate
    directory such as .../kubernetes-json-schema/v1.32.0-local-strict."""
    all_defs = json.loads((schema_dir / "_definitions.json").read_text())["$defs"]
    out: dict[str, Any] = {}
    pending: set[str] = set()
    for r in resources:
        path = schema_dir / schema_filename(r.group, r.version, r.kind)
        if not path.is_file():
            continue
        out[kind_key(r.group, r.version, r.kind)] = _rewrite_refs(
            json.loads(path.read_text()), pending
        )
    done: set[str] = set()
    while pending:
        name = pending.pop()
        if name in done:
            continue
        done.add(name)
        if name in OPEN_DEFS:
            out[name] = {}
            continue
        found: set[str] = set()
        out[name] = _rewrite_refs(all_defs.get(name, {}), found)
        pending |= found - done
    return {"source": schema_dir.name, "$defs": out}


def kubernetes_validate_dir(minor: str) -> Path | None:
    """The -local-strict schema directory of the installed kubernetes_validate for this
    Kubernetes minor ("1.32"), or the newest older one."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.origin:
        return None
    base = Path(spec.origin).parent / "kubernetes-json-schema"
    want = tuple(int(x) for x in minor.split(".")[:2])
    best: tuple[tuple[int, ...], Path] | None = None
    for d in base.glob("v*-local-strict"):
        m = re.match(r"v(\d+)\.(\d+)\.", d.name)
        if not m:
            continue
        have = (int(m.group(1)), int(m.group(2)))
        if have <= want and (best is None or have > best[0]):
            best = (have, d)
    return best[1] if best else None


class SchemaSet:
    """The built-in schemas for one Kubernetes minor, loaded lazily, validators cached."""

    def __init__(self, minor: str) -> None:
        self.minor = minor
        self._bundle: dict[str, Any] | None = None
        self._loaded = False
        self._validators: dict[str, Any] = {}
        self.source = ""

    def _load(self) -> dict[str, Any] | None:
        if self._loaded:
            return self._bundle
        self._loaded = True
        forced = os.environ.get(SCHEMA_ENV)
        packaged = SCHEMA_DIR / f"kubernetes-{self.minor}.json"
        for candidate in ([Path(forced)] if forced else []) + [packaged]:
            if candidate.is_file():
                self._bundle = json.loads(candidate.read_text())
                self.source = str(candidate)
                return self._bundle
        directory = kubernetes_validate_dir(self.minor)
        if directory is not None:
            self._bundle = bundle(directory)
            self.source = str(directory)
        return self._bundle

    def available(self) -> bool:
        return self._load() is not None

    def validator(self, r: Resource) -> Any | None:
        data = self._load()
        key = kind_key(r.group, r.version, r.kind)
        if data is None or key not in data["$defs"]:
            return None
        if key not in self._validators:
            schema = {"$defs": data["$defs"], "$ref": f"#/$defs/{key}"}
            self._validators[key] = jsonschema.Draft202012Validator(schema)
        return self._validators[key]


# --------------------------------------------------------------------------------------------
# CRD schemas (OpenAPI v3 -> JSON schema)

_SKIP_KEYS = {"nullable", "format", "default", "example", "description", "externalDocs", "title"}


def openapi_to_jsonschema(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in _SKIP_KEYS:
            continue
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: openapi_to_jsonschema(v) for k, v in (value or {}).items()}
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [openapi_to_jsonschema(v) for v in value or []]
        elif key in ("items", "additionalProperties", "not", "additionalItems"):
            if isinstance(value, list):
                out[key] = [openapi_to_jsonschema(v) for v in value]
            else:
                out[key] = openapi_to_jsonschema(value)
        else:
            out[key] = value
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if node.get("x-kubernetes-int-or-string") and "type" not in out and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


def crd_version_schema(crd: dict[str, Any], version: str) -> dict[str, Any] | None:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if v.get("name") == version:
            return ((v.get("schema") or {}).get("openAPIV3Schema")) or None
    return None


def structural_unknown(
    value: Any, schema: Any, path: str, out: list[str], root: bool = False
) -> None:
    """Fields a structural schema would prune (x-kubernetes-preserve-unknown-fields keeps)."""
    if not isinstance(schema, dict):
        return
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(schema.get("x-kubernetes-embedded-resource"))
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        addl = schema.get("additionalProperties")
        for key, sub in value.items():
            sub_path = f"{path}.{key}" if path else key
            if root and key in ("apiVersion", "kind", "metadata"):
                continue
            if key in props:
                structural_unknown(sub, props[key], sub_path, out)
            elif isinstance(addl, dict):
                structural_unknown(sub, addl, sub_path, out)
            elif (
                preserve or addl is True or (embedded and key in ("apiVersion", "kind", "metadata"))
            ):
                continue
            else:
                out.append(sub_path)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            structural_unknown(item, schema["items"], f"{path}[{i}]", out)


def prune(obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """A copy of obj without the fields at the given paths (a.b[0].c)."""
    result = copy.deepcopy(obj)
    for path in paths:
        parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
        node: Any = result
        for part in parts[:-1]:
            node = node[int(part[1:-1])] if part.startswith("[") else node.get(part)
            if node is None:
                break
        else:
            last = parts[-1]
            if isinstance(node, dict):
                node.pop(last, None)
    return result


# --------------------------------------------------------------------------------------------
# running a validator and wording its errors like the API server


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool | int | float) or value is None:
        return json.dumps(value)
    return f'"{_type_name(value)}"'


def _expected_types(schema_types: Any) -> str:
    types = [schema_types] if isinstance(schema_types, str) else list(schema_types or [])
    types = [t for t in types if t != "null"] or types
    return ",".join(types)


def _describe(error: Any) -> tuple[str, str]:
    """(kind, message): kind is "type" for a wrong JSON type, else "invalid"."""
    where = _path(error.absolute_path)
    keyword = error.validator
    value = error.instance
    if keyword == "type":
        return "type", (
            f'{where}: Invalid value: "{_type_name(value)}": {where} in body must be of type '
            f'{_expected_types(error.validator_value)}: "{_type_name(value)}"'
        )
    if keyword in ("oneOf", "anyOf"):
        types: list[str] = []
        for sub in error.context or []:
            if sub.validator == "type":
                types += [
                    t
                    for t in (
                        [sub.validator_value]
                        if isinstance(sub.validator_value, str)
                        else sub.validator_value
                    )
                    if t != "null"
                ]
        if types:
            return "type", (
                f'{where}: Invalid value: "{_type_name(value)}": {where} in body must be of type '
                f'{",".join(dict.fromkeys(types))}: "{_type_name(value)}"'
            )
        best = jsonschema.exceptions.best_match(error.context or []) if error.context else None
        if best is not None:
            return _describe(best)
    if keyword == "required":
        missing = [k for k in error.validator_value if isinstance(value, dict) and k not in value]
        field = missing[0] if missing else "?"
        return "invalid", f"{where + '.' if where else ''}{field}: Required value"
    if keyword == "enum":
        allowed = ", ".join(json.dumps(v) for v in error.validator_value)
        return (
            "invalid",
            f"{where}: Unsupported value: {_shown(value)}: supported values: {allowed}",
        )
    if keyword == "minimum":
        return (
            "invalid",
            f"{where}: Invalid value: {_shown(value)}: {where} in body should be greater "
            f"than or equal to {error.validator_value}",
        )
    if keyword == "maximum":
        return (
            "invalid",
            f"{where}: Invalid value: {_shown(value)}: {where} in body should be less than "
            f"or equal to {error.validator_value}",
        )
    if keyword == "minLength":
        return (
            "invalid",
            f"{where}: Invalid value: {_shown(value)}: {where} in body should be at least "
            f"{error.validator_value} chars long",
        )
    if keyword == "maxLength":
        return "invalid", f"{where}: Too long: may not be longer than {error.validator_value}"
    if keyword == "pattern":
        return (
            "invalid",
            f"{where}: Invalid value: {_shown(value)}: {where} in body should match "
            f"'{error.validator_value}'",
        )
    if keyword == "minItems":
        return (
            "invalid",
            f"{where}: Invalid value: {len(value) if isinstance(value, list) else 0}: "
            f"{where} in body should have at least {error.validator_value} items",
        )
    if keyword == "maxItems":
        return (
            "invalid",
            f"{where}: Too many: {len(value) if isinstance(value, list) else 0}: must have "
            f"at most {error.validator_value} items",
        )
    return "invalid", f"{where}: Invalid value: {_shown(value)}: {error.message}"


def _additional(error: Any) -> list[str]:
    where = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = set((schema.get("properties") or {}).keys())
    patterns = [re.compile(p) for p in (schema.get("patternProperties") or {})]
    extra = [
        k
        for k in (error.instance or {})
        if k not in known and not any(p.search(k) for p in patterns)
    ]
    return [_path([*where, k]) for k in sorted(extra)]


def run(validator: Any, obj: dict[str, Any], builtin: bool, kind: str = "") -> Problems:
    problems = Problems([], [], [])
    for error in validator.iter_errors(obj):
        if (
            error.validator in ("additionalProperties", "unevaluatedProperties")
            and error.validator_value is False
        ):
            problems.unknown += _additional(error)
            continue
        if list(error.absolute_path)[:1] == ["metadata"] and not builtin:
            continue
        kind, message = _describe(error)
        if kind == "type" and builtin:
            problems.type_errors.append(_go_type_error(error, kind))
        else:
            problems.invalid.append(message)
    problems.invalid = list(dict.fromkeys(problems.invalid))
    problems.unknown = list(dict.fromkeys(problems.unknown))
    return problems


def _go_type_error(error: Any, kind: str) -> str:
    """The decoder's wording for a built-in kind (json: cannot unmarshal X into Go struct
    field Kind.path of type T)."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    gotype = schema.get("format") or _expected_types(schema.get("type")) or "value"
    value_type = _type_name(error.instance)
    go_value = {"integer": "number", "array": "array", "object": "object", "boolean": "bool"}.get(
        value_type, value_type
    )
    return (
        f"json: cannot unmarshal {go_value} into Go struct field "
        f"{kind}.{_path(error.absolute_path)} of type {gotype}"
    )


def validate_builtin(schemas: SchemaSet, r: Resource, obj: dict[str, Any]) -> Problems | None:
    validator = schemas.validator(r)
    if validator is None:
        return None
    return run(validator, obj, builtin=True, kind=r.kind)


_CR_VALIDATORS: dict[str, Any] = {}


def validate_custom(crd: dict[str, Any], version: str, obj: dict[str, Any]) -> Problems:
    schema = crd_version_schema(crd, version)
    problems = Problems([], [], [])
    if schema is None:
        return problems
    meta = crd.get("metadata") or {}
    key = f"{meta.get('uid')}/{meta.get('resourceVersion')}/{version}"
    if key not in _CR_VALIDATORS:
        if len(_CR_VALIDATORS) > 64:
            _CR_VALIDATORS.clear()
        _CR_VALIDATORS[key] = jsonschema.Draft4Validator(openapi_to_jsonschema(schema))
    checked = run(_CR_VALIDATORS[key], obj, builtin=False)
    unknown: list[str] = []
    structural_unknown(obj, schema, "", unknown, root=True)
    checked.unknown = list(dict.fromkeys(unknown))
    return checked
