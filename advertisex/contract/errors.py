"""The one error a record that breaks the data contract raises."""

from __future__ import annotations


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
