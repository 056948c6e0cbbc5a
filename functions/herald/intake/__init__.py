"""Intake: what the commerce and carrier platforms send, verified and turned into Herald's own words.

Pure code (no I/O): each platform's signature check over the raw body (`signatures`), and its translator from a
published payload to Herald events (Shopify, which knows the customer) or to shipment updates (the carriers,
which know only a tracking number; usecases.intake joins them to the shipment they belong to).
"""
