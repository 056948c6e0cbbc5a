"""The send functions an engineer would write from the Powertools documentation, for Herald to be measured against.

Not shipped, not Herald code: plain, idiomatic Powertools (BatchProcessor over SQS, the idempotency utility on the
record handler, DynamoDBPersistenceLayer) with the same SendGrid and Twilio SDKs, sending a batch's records one
after the other. See README.md beside this file.
"""
