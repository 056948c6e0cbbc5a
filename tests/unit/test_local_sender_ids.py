"""The emulator names each SQS message's SenderId after the IAM user whose access key sent it, as SQS does."""

from __future__ import annotations

import boto3

from herald_tools.local.emulator import LocalAws
from herald_tools.local.sender_ids import LOCAL_OPERATOR_SENDER_ID, aws_style_user_id


def test_two_publishers_with_their_own_access_keys_are_two_sender_ids() -> None:
    with LocalAws() as aws:
        # Given an IAM user with an access key in the emulator, and the local operator's fixed key
        iam = aws.client("iam")
        iam.create_user(UserName="publisher-globex")
        key = iam.create_access_key(UserName="publisher-globex")["AccessKey"]
        user_id = iam.get_user(UserName="publisher-globex")["User"]["UserId"]
        operator = aws.client("sqs")
        queue = operator.create_queue(QueueName="sender-ids")["QueueUrl"]
        globex = boto3.client(
            "sqs",
            endpoint_url=aws.endpoint_url,
            region_name=aws.region,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        # When each sends a message (one alone, one in a batch)
        operator.send_message(QueueUrl=queue, MessageBody="operator")
        globex.send_message_batch(QueueUrl=queue, Entries=[{"Id": "1", "MessageBody": "globex"}])
        received = operator.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"])
        # Then each message names its own sender, the user's id written as AWS writes one
        senders = {m["Body"]: m["Attributes"]["SenderId"] for m in received["Messages"]}
        assert senders == {"operator": LOCAL_OPERATOR_SENDER_ID, "globex": aws_style_user_id(user_id)}
        assert senders["globex"].startswith("AIDA")
        assert len(senders["globex"]) == 21
