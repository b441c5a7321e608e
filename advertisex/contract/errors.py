"""The one error a record that breaks the data contract raises."""

from __future__ import annotations

import base64


class ContractError(ValueError):
    """A record broke the contract.

    `reason` is a stable code that dead letters carry and dashboards count
    (`missing_field:<field>`, `bad_type:<field>`, `bad_timestamp`, `bad_enum:<field>`,
    `negative_value:<field>`, `bad_number:<field>`, `bad_country`, `bad_currency`,
    `bad_host:<field>`, `malformed_json`, `malformed_csv`, `malformed_avro`);
    `detail` is human text naming the field and what was wrong.
    """

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def __reduce__(self):
        # Picklable with both arguments (PyFlink ships exceptions between processes).
        return (type(self), (self.reason, self.detail))


def raw_payload(payload: bytes, binary: bool) -> tuple[str, str]:
    """The payload as a dead letter carries it: UTF-8 text where it is text, else base64;
    (text, "text" or "base64")."""
    if not binary:
        try:
            return payload.decode("utf-8"), "text"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(payload).decode("ascii"), "base64"
