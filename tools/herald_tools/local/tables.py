"""The notifications table as template.yaml declares it, for tests and benchmarks that create it outside CloudFormation.

template.yaml is the one description of the topology (docs/architecture.md): a test that created the table by hand
would drift from it (a missing index, a renamed key) and pass against a table production never has.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from herald_tools.local.stack import load_template

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
TABLE_RESOURCE = "NotificationsTable"


@cache
def table_definition(template: Path = TEMPLATE) -> dict[str, Any]:
    """CreateTable arguments (keys, attribute definitions, indexes, billing) of the template's notifications table."""
    properties = load_template(template)["Resources"][TABLE_RESOURCE]["Properties"]
    definition: dict[str, Any] = {
        "BillingMode": properties["BillingMode"],
        "KeySchema": properties["KeySchema"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
    }
    if properties.get("GlobalSecondaryIndexes"):
        definition["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    return definition


def create_notifications_table(dynamodb: Any, table_name: str, template: Path = TEMPLATE) -> None:
    """Create `table_name` with the template's key schema and indexes (moto, or a scratch table)."""
    dynamodb.create_table(TableName=table_name, **table_definition(template))
