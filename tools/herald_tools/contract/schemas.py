"""The published JSON Schema of the event contract, and the check that it only grows compatibly.

`python -m herald_tools.contract.schemas [--check] [--out schemas]` writes one schema per event type
(`order.placed.schema.json`, ...) plus `envelope.schema.json`, all generated from
herald.contract.models. `--check` writes nothing and exits 1 when a committed file is stale.

`incompatibilities(old, new)` compares two schemas of the same event the way a storefront sees
them: every event that the old schema described must still be accepted, and mean the same, under
the new one. `contract_incompatibilities` does it for a whole contract (a name -> schema mapping)
and also reports event types that disappeared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from herald.contract.models import EVENT_MODELS, Envelope, EventType
from herald_tools.contract.generated import generator_main

CONTRACT_VERSION = "1"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_NAME = "envelope"
SCHEMA_SUFFIX = ".schema.json"

Schema = dict[str, Any]


# --- generation ------------------------------------------------------------------------------


def schema_id(name: str) -> str:
    """The `$id` of one published schema. A URN: stable, and it promises no web address we do not own."""
    return f"urn:herald:events:v{CONTRACT_VERSION}:{name}"


def _finish(name: str, title: str, generated: Schema) -> Schema:
    # The identifying keys first, then pydantic's output; key order below the top is fixed by
    # sort_keys when the file is written, so regenerating never produces a diff by accident.
    generated.pop("title", None)
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": schema_id(name), "title": title, **generated}


def generate_schemas() -> dict[str, Schema]:
    """Every published schema, keyed by name (`envelope` and each event type), freshly generated."""
    schemas: dict[str, Schema] = {
        ENVELOPE_NAME: _finish(
            ENVELOPE_NAME,
            f"Herald event envelope (CloudEvents 1.0), contract v{CONTRACT_VERSION}",
            Envelope.model_json_schema(by_alias=True),
        )
    }
    for event_type in EventType:
        model = EVENT_MODELS[event_type]
        schemas[event_type.value] = _finish(
            event_type.value,
            f"Herald {event_type.value} event, contract v{CONTRACT_VERSION}",
            model.model_json_schema(by_alias=True),
        )
    return schemas


def render(schema: Schema) -> str:
    """The exact text of a schema file: sorted keys (stable), two-space indent, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_filename(name: str) -> str:
    return f"{name}{SCHEMA_SUFFIX}"


def expected_files() -> dict[str, str]:
    """File name -> text of every file `schemas/` should hold."""
    return {schema_filename(name): render(schema) for name, schema in generate_schemas().items()}


def stale_files(out_dir: Path) -> list[str]:
    """Names of files under `out_dir` that differ from, are missing from, or are extra to the generated set."""
    expected = expected_files()
    stale = [
        name
        for name, text in expected.items()
        if not (out_dir / name).is_file() or (out_dir / name).read_text(encoding="utf-8") != text
    ]
    if out_dir.is_dir():
        stale += sorted(p.name for p in out_dir.glob(f"*{SCHEMA_SUFFIX}") if p.name not in expected)
    return sorted(stale)


def write_schemas(out_dir: Path) -> list[str]:
    """Write every schema under `out_dir`, remove schema files no model produces; return the names changed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    changed = stale_files(out_dir)
    expected = expected_files()
    for name in changed:
        if name in expected:
            (out_dir / name).write_text(expected[name], encoding="utf-8")
        else:
            (out_dir / name).unlink()
    return changed


def load_schemas(directory: Path) -> dict[str, Schema]:
    """A published contract read back from disk: name -> schema."""
    return {
        path.name.removesuffix(SCHEMA_SUFFIX): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob(f"*{SCHEMA_SUFFIX}"))
    }


# --- backward compatibility --------------------------------------------------------------------

_JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")
# Keywords whose larger value accepts less (upper bounds) and whose smaller value accepts less.
_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_LOWER_BOUNDS = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")
# Keywords that are either the same or a possibly-stricter rule we cannot compare: any change counts.
_OPAQUE_RULES = ("pattern", "format", "multipleOf")


class _Side:
    """One schema document: resolves its own `#/$defs/...` references."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        seen: set[str] = set()
        while "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/") or ref in seen:
                raise ValueError(f"unsupported or circular $ref {ref!r}")
            seen.add(ref)
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            # Keywords next to a $ref apply too (2020-12); the local ones win over the target's.
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **siblings}
        return node

    def branches(self, node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The alternatives a value may match, each with at most one JSON type."""
        node = self.resolve(node)
        if "allOf" in node:
            merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
            for part in node["allOf"]:
                merged.update(self.resolve(part))
            node = merged
        for key in ("anyOf", "oneOf"):
            if key in node:
                outer = {k: v for k, v in node.items() if k not in (key, "default", "title", "description")}
                return [branch for alt in node[key] for branch in self.branches(_conjoin(outer, alt))]
        types = node.get("type")
        if isinstance(types, list):
            return [{**node, "type": t} for t in types]
        return [node]


def _conjoin(outer: Mapping[str, Any], alt: Mapping[str, Any]) -> dict[str, Any]:
    """A value matching both `outer` and `alt` (an anyOf beside its siblings is a conjunction): an alternative's
    `properties` and `required` add to the siblings' rather than replace them (a rule such as "email or phone
    required" beside the object's own properties)."""
    merged = {**outer, **alt}
    if isinstance(outer.get("properties"), Mapping) and isinstance(alt.get("properties"), Mapping):
        properties = dict(outer["properties"])
        for name, rule in alt["properties"].items():
            properties[name] = {"allOf": [properties[name], rule]} if name in properties else rule
        merged["properties"] = properties
    if "required" in outer and "required" in alt:
        merged["required"] = sorted({*outer["required"], *alt["required"]})
    return merged


def _types(branch: Mapping[str, Any]) -> frozenset[str]:
    """The JSON types a single branch accepts (`integer` counted inside `number`)."""
    if "type" in branch:
        found = frozenset([branch["type"]])
    elif "const" in branch or "enum" in branch:
        values = [branch["const"]] if "const" in branch else branch["enum"]
        found = frozenset(_json_type(v) for v in values)
    else:
        return frozenset(_JSON_TYPES)
    return found | {"integer"} if "number" in found else found


def _json_type(value: Any) -> str:
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
    return "array" if isinstance(value, list) else "object"


def _allowed_values(branch: Mapping[str, Any]) -> list[Any] | None:
    if "const" in branch:
        return [branch["const"]]
    if "enum" in branch:
        return list(branch["enum"])
    return None


def _describe_types(types: frozenset[str]) -> str:
    if types == frozenset(_JSON_TYPES):
        return "any"
    shown = sorted(types - {"integer"}) if "number" in types else sorted(types)
    return "|".join(shown)


class _Comparer:
    def __init__(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        self.old = _Side(old)
        self.new = _Side(new)
        self._active: set[tuple[Any, Any]] = set()

    def node(self, path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
        # A recursive schema reaches the same pair of definitions again: it is being compared above.
        refs = (old.get("$ref"), new.get("$ref"))
        if refs[0] is not None and refs[1] is not None:
            if refs in self._active:
                return []
            self._active.add(refs)
        try:
            return self._alternatives(path, old, new)
        finally:
            self._active.discard(refs)

    def _alternatives(self, path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
        # Each old alternative must be accepted by at least one new alternative. When none does,
        # the closest one of the same JSON type explains why; with none of that type, the type shrank.
        problems: list[str] = []
        old_branches, new_branches = self.old.branches(old), self.new.branches(new)
        for old_branch in old_branches:
            same_type = [b for b in new_branches if _types(old_branch) <= _types(b)]
            if not same_type:
                problems.append(_type_problem(path, old_branches, new_branches))
                continue
            candidates: list[list[str]] = [self._branch(path, old_branch, b) for b in same_type]
            if all(candidates):
                fewest: list[str] = min(candidates, key=len)
                problems.extend(fewest)
        return list(dict.fromkeys(problems))  # one message per rule, even if several alternatives break it

    def _branch(self, path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
        old_types = _types(old)
        problems: list[str] = []
        old_values, new_values = _allowed_values(old), _allowed_values(new)
        if new_values is not None:
            if old_values is None:
                problems.append(f"{path}: enum {new_values!r} added to an unrestricted value")
            else:
                removed = [v for v in old_values if v not in new_values]
                if removed:
                    problems.append(f"{path}: enum value(s) {removed!r} removed")
        for keyword in _UPPER_BOUNDS:
            problems += _bound(path, keyword, old.get(keyword), new.get(keyword), new_is_stricter=lambda o, n: n < o)
        for keyword in _LOWER_BOUNDS:
            problems += _bound(path, keyword, old.get(keyword), new.get(keyword), new_is_stricter=lambda o, n: n > o)
        for keyword in _OPAQUE_RULES:
            if keyword in new and old.get(keyword) != new[keyword]:
                verb = "added" if keyword not in old else "changed"
                problems.append(f"{path}: {keyword} {verb} ({old.get(keyword)!r} -> {new[keyword]!r})")
        if "uniqueItems" in new and new["uniqueItems"] and not old.get("uniqueItems"):
            problems.append(f"{path}: uniqueItems added")
        if "object" in old_types:
            problems += self._object(path, old, new)
        if "array" in old_types:
            problems += self._array(path, old, new)
        return problems

    def _object(self, path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
        problems: list[str] = []
        old_props: Mapping[str, Any] = old.get("properties", {})
        new_props: Mapping[str, Any] = new.get("properties", {})
        prefix = f"{path}." if path else ""
        for name in old_props:
            if name not in new_props:
                problems.append(f"{prefix}{name}: property removed")
        newly_required = sorted(set(new.get("required", [])) - set(old.get("required", [])))
        problems += [f"{prefix}{name}: property became required" for name in newly_required]
        old_extra, new_extra = old.get("additionalProperties", True), new.get("additionalProperties", True)
        if new_extra is False and old_extra is not False:
            problems.append(f"{path or '(root)'}: additionalProperties closed")
        elif isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
            problems += self.node(f"{prefix}*", old_extra, new_extra)
        for name, old_prop in old_props.items():
            if name in new_props:
                problems += self.node(f"{prefix}{name}", old_prop, new_props[name])
        return problems

    def _array(self, path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
        old_items, new_items = old.get("items"), new.get("items")
        if isinstance(new_items, Mapping):
            return self.node(f"{path}[]", old_items if isinstance(old_items, Mapping) else {}, new_items)
        return []


def _type_problem(path: str, old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> str:
    old_types = frozenset().union(*(_types(b) for b in old))
    new_types = frozenset().union(*(_types(b) for b in new))
    verb = "narrowed" if old_types & new_types else "changed"
    return f"{path or '(root)'}: type {verb} from {_describe_types(old_types)} to {_describe_types(new_types)}"


def _bound(path: str, keyword: str, old: Any, new: Any, *, new_is_stricter: Any) -> list[str]:
    if new is None:
        return []
    if old is None:
        return [f"{path}: {keyword} {new!r} added"]
    if new_is_stricter(old, new):
        return [f"{path}: {keyword} tightened from {old!r} to {new!r}"]
    return []


def incompatibilities(old_schema: Mapping[str, Any], new_schema: Mapping[str, Any]) -> list[str]:
    """What a producer that follows `old_schema` would break on under `new_schema` (empty: compatible).

    Reported: a removed property, a property that became required, a type narrowed or changed,
    an enum (or const) value removed, a pattern/format added or changed, a length, item, or numeric
    bound tightened or added, additionalProperties closed. Adding optional properties, enum values
    or alternatives, and loosening bounds, are compatible.
    """
    return _Comparer(old_schema, new_schema).node("", old_schema, new_schema)


def contract_incompatibilities(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """`incompatibilities` for every schema of a contract (name -> schema), plus removed event types."""
    problems: list[str] = []
    for name, old_schema in sorted(old.items()):
        if name not in new:
            problems.append(f"{name}: event type removed")
            continue
        problems += [f"{name}: {problem}" for problem in incompatibilities(old_schema, new[name])]
    return problems


# --- command line ----------------------------------------------------------------------------


def _main(argv: Sequence[str] | None = None) -> int:
    return generator_main(
        argv,
        prog="python -m herald_tools.contract.schemas",
        description="Generate the JSON Schema files of the Herald event contract from its models.",
        option="--out",
        default=Path("schemas"),
        option_help="directory to write (default: schemas)",
        stale=stale_files,
        write=write_schemas,
        shown=lambda directory, name: directory / name,
        make_target="schemas",
    )


if __name__ == "__main__":
    raise SystemExit(_main())

__all__ = [
    "CONTRACT_VERSION",
    "contract_incompatibilities",
    "expected_files",
    "generate_schemas",
    "incompatibilities",
    "load_schemas",
    "render",
    "stale_files",
    "write_schemas",
]
