"""moto's DynamoDB conditional writes, made atomic for the local runtime and the handler tests."""

from __future__ import annotations

import threading

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from herald_tools.local.atomic_writes import WRITE_OPERATIONS, make_dynamodb_writes_atomic

THREADS, ROUNDS = 8, 40


def test_one_conditional_update_wins_whatever_the_threads() -> None:
    # Given moto with atomic writes, and a table
    make_dynamodb_writes_atomic()
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        db.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        winners: list[int] = []
        refusals: list[str] = []
        lock = threading.Lock()

        def claim(round_number: int, barrier: threading.Barrier) -> None:
            barrier.wait()
            try:
                # The circuit's switch (adapters/dynamodb_circuit.py open_if_closed): plain moto lets several win
                db.update_item(
                    TableName="t",
                    Key={"pk": {"S": f"circuit-{round_number}"}},
                    UpdateExpression="SET #state = :open",
                    ConditionExpression="attribute_not_exists(#state) OR #state = :closed",
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues={":open": {"S": "open"}, ":closed": {"S": "closed"}},
                )
            except ClientError as error:
                with lock:
                    refusals.append(error.response["Error"]["Code"])
                return
            with lock:
                winners.append(round_number)

        # When eight threads open the same circuit at once, forty times
        for round_number in range(ROUNDS):
            barrier = threading.Barrier(THREADS)
            threads = [threading.Thread(target=claim, args=(round_number, barrier)) for _ in range(THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        # Then each was opened exactly once, as DynamoDB guarantees
        assert sorted(winners) == list(range(ROUNDS))
        assert set(refusals) == {"ConditionalCheckFailedException"}
        assert len(refusals) == ROUNDS * (THREADS - 1)


def test_wrapping_twice_wraps_once() -> None:
    # Given the backend already made atomic
    from moto.dynamodb.models import DynamoDBBackend

    make_dynamodb_writes_atomic()
    before = {name: getattr(DynamoDBBackend, name) for name in WRITE_OPERATIONS}
    # When it is made atomic again (every handler test's fixture does)
    make_dynamodb_writes_atomic()
    # Then nothing is wrapped a second time
    assert {name: getattr(DynamoDBBackend, name) for name in WRITE_OPERATIONS} == before
