"""The local SMS sink for development and tests (`python -m devstack.sinks`): a Twilio-compatible Messages
API.

Everything accepted is appended to `sms.jsonl` under the data dir and can be read back over HTTP (`GET /sms`);
`/_control/sms` injects temporary failures. Mail goes to Mailpit (`devstack.mailpit`).
"""
