"""Local mail and SMS sinks for development and tests (`python -m devstack.sinks`).

One process serves a real SMTP server (aiosmtpd) and a Twilio-compatible Messages API (FastAPI on uvicorn).
Everything accepted is written under the data dir (`mail/*.eml`, `mail.jsonl`, `sms.jsonl`) and can be read
back over HTTP (`GET /mail`, `GET /sms`); `/_control/*` injects temporary failures into either channel.
"""
