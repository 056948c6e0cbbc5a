"""Tests and benchmarks build the notifications table from template.yaml, never from a copy of it."""

from __future__ import annotations

from herald_tools.local.tables import table_definition


def test_table_definition_is_read_from_the_template() -> None:
    # Given template.yaml; When its table definition is read
    definition = table_definition()
    # Then it has the template's keys and the provider-message index the webhooks need
    assert [k["AttributeName"] for k in definition["KeySchema"]] == ["pk", "sk"]
    assert [i["IndexName"] for i in definition["GlobalSecondaryIndexes"]] == ["by_provider_message_id"]
    assert definition["BillingMode"] == "PAY_PER_REQUEST"
