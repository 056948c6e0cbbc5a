"""Provider webhooks: signature checks (SendGrid, Twilio) and the delivery states their callbacks report."""
