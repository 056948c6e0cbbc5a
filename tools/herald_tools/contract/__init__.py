"""Generators of the contract's committed files (schemas/, events/sqs/) from the models in herald.contract."""
