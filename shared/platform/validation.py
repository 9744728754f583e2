"""Input types validated by proper libraries: email-validator for addresses, libphonenumber for phones."""

from typing import Annotated

from pydantic_extra_types.phone_numbers import PhoneNumberValidator

# Accepts a parseable international number and normalises it to E.164 (+8613800001234).
E164Phone = Annotated[str, PhoneNumberValidator(number_format="E164")]
