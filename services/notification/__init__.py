"""Notification: message centre, in-site inbox, email and SMS deliveries that are never lost or doubled."""
