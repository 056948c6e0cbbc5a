"""The published JSON Schema files: generated from the models, committed, and describing the samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from herald.contract.models import EventType
from herald_tools.contract import schemas

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = ROOT / "schemas"
EVENTS_DIR = ROOT / "events"


def test_committed_schemas_equal_freshly_generated_ones() -> None:
    # Given the schema files in schemas/ / When they are compared with what the models generate
    stale = schemas.stale_files(SCHEMAS_DIR)
    # Then none differs
    assert stale == [], f"schemas/ is stale ({stale}): run `python -m herald_tools.contract.schemas` and commit it"


def test_there_is_one_schema_per_event_type_plus_the_envelope() -> None:
    # Given the committed schema files / When they are listed
    names = {p.name for p in SCHEMAS_DIR.glob("*.schema.json")}
    # Then each event type and the envelope has exactly one
    assert names == {f"{t.value}.schema.json" for t in EventType} | {"envelope.schema.json"}


@pytest.mark.parametrize("name", ["envelope", *[t.value for t in EventType]])
def test_each_schema_names_its_dialect_id_and_title(name: str) -> None:
    # Given one committed schema
    schema = json.loads((SCHEMAS_DIR / f"{name}.schema.json").read_text())
    # Then it is a valid 2020-12 schema with a stable $id and a title naming the event
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:herald:events:v1:{name}"
    assert name in schema["title"] or name == "envelope"


def test_schema_files_are_sorted_indented_and_end_with_a_newline() -> None:
    # Given one committed file / When it is rendered again from its own content
    text = (SCHEMAS_DIR / "order.placed.schema.json").read_text()
    # Then the text is unchanged: sorted keys, two-space indent, trailing newline
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert text.endswith("}\n")


@pytest.mark.parametrize("event_type", [t.value for t in EventType])
def test_each_sample_event_is_valid_against_its_published_schema(event_type: str) -> None:
    # Given the sample event and the schema a storefront would validate it with
    schema = json.loads((SCHEMAS_DIR / f"{event_type}.schema.json").read_text())
    envelope = json.loads((SCHEMAS_DIR / "envelope.schema.json").read_text())
    event = json.loads((EVENTS_DIR / f"{event_type}.json").read_text())
    # When it is validated / Then neither the type's schema nor the envelope's finds an error
    for candidate in (schema, envelope):
        errors = [e.message for e in Draft202012Validator(candidate, format_checker=FormatChecker()).iter_errors(event)]
        assert errors == []


def test_published_schema_refuses_an_event_missing_its_order() -> None:
    # Given the order.placed schema and an event without data.order
    schema = json.loads((SCHEMAS_DIR / "order.placed.schema.json").read_text())
    event = json.loads((EVENTS_DIR / "invalid" / "missing-order.json").read_text())
    # When it is validated / Then the schema reports the missing property
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(event)]
    assert errors == ["'order' is a required property"]


def test_check_mode_exits_1_and_lists_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a freshly generated directory in which one file was edited by hand
    assert schemas._main(["--out", str(tmp_path)]) == 0
    edited = tmp_path / "order.placed.schema.json"
    edited.write_text(edited.read_text().replace('"maxLength": 254', '"maxLength": 100'))
    # When --check runs
    code = schemas._main(["--check", "--out", str(tmp_path)])
    # Then it fails, names the file and says how to fix it, and wrote nothing
    err = capsys.readouterr().err
    assert code == 1
    assert "order.placed.schema.json" in err
    assert "python -m herald_tools.contract.schemas" in err
    assert '"maxLength": 100' in edited.read_text()


def test_check_mode_flags_a_schema_file_no_model_produces(tmp_path: Path) -> None:
    # Given a generated directory plus the file of an event type that no longer exists
    schemas.write_schemas(tmp_path)
    (tmp_path / "order.shipped.schema.json").write_text("{}\n")
    # When the directory is checked / Then the extra file is stale, and regenerating removes it
    assert schemas.stale_files(tmp_path) == ["order.shipped.schema.json"]
    assert schemas.write_schemas(tmp_path) == ["order.shipped.schema.json"]
    assert not (tmp_path / "order.shipped.schema.json").exists()
    assert schemas._main(["--check", "--out", str(tmp_path)]) == 0
