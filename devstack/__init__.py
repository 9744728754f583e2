"""Local infrastructure for development and tests: Kafka from Maven jars, SecantusDB, Keycloak, Mailpit and an
SMS sink.

Nothing here is used in production; the services only ever see `KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI`,
and the SMTP / Twilio endpoints from their settings.
"""
