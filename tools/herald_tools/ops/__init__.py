"""Operators' tools: an order's timeline, the dead-letter queues and where a stack's resources are.

Used by the `herald timeline`, `herald dlq` and `herald local` commands and by the timeline function.
"""
