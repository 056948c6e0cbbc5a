"""Herald's tools: what runs on a developer's or operator's machine, never in a Lambda function.

The local runtime and provider stand-ins, the `herald` command line, the DLQ and stack tools, the publisher,
the generators of committed files and fault injection. `herald` (functions/) is what the functions execute;
this package may import it, never the other way round (`make lint` checks the contract in pyproject.toml).
"""
