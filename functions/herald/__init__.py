"""Herald: order and shipment notifications over SQS, SendGrid and Twilio."""

__version__ = "0.1.0"
