"""DynamoDB's typed attribute values and conditional-write errors, as every table adapter writes and reads them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

Item = dict[str, dict[str, Any]]
"""An item in the low-level client's form: {"name": {"S": "value"}}."""


def str_attr(value: str) -> dict[str, str]:
    return {"S": value}


def num_attr(value: float) -> dict[str, str]:
    return {"N": str(value)}


def text(item: Item, name: str) -> str | None:
    """A string attribute of `item`, or None when it is absent."""
    value = item.get(name, {}).get("S")
    return str(value) if value is not None else None


def conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def old_item(error: ClientError) -> Item:
    """The item as it was when a condition failed (ReturnValuesOnConditionCheckFailure=ALL_OLD)."""
    item: Item = error.response.get("Item", {})  # type: ignore[assignment]
    return item


def condition_held(write: Callable[..., Any], **request: Any) -> bool:
    """Run one conditional write (a client's put_item, update_item or delete_item); False when its condition
    did not hold. Any other error is raised."""
    try:
        write(**request)
    except ClientError as error:
        if conditional_failed(error):
            return False
        raise
    return True


def put_if_absent(client: Any, table: str, item: Item) -> Item | None:
    """Put `item` unless an item with its key exists. None when it was put; else the item already there."""
    try:
        client.put_item(
            TableName=table,
            Item=item,
            ConditionExpression="attribute_not_exists(sk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if not conditional_failed(error):
            raise
        return old_item(error)
    return None
