"""The domain: partners, client accounts, messages, statuses, agreements and statements."""
