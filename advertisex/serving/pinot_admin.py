"""The few calls of Pinot's controller REST API that set tables up."""

from __future__ import annotations

import httpx

# The stream plugin that matches the pinot-kafka jar on the stack's Pinot class path.
KAFKA_CONSUMER_FACTORY = "org.apache.pinot.plugin.stream.kafka20.KafkaConsumerFactory"
JSON_DECODER = "org.apache.pinot.plugin.inputformat.json.JSONMessageDecoder"


class PinotError(RuntimeError):
    """The controller refused a request or could not be reached."""


class PinotAdmin:
    def __init__(self, controller_url: str, timeout: float = 30.0):
        self.url = controller_url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise PinotError(
                f"the Pinot controller at {self.url} is not reachable: start it with "
                "`advertisex stack up pinot`"
            ) from None
        if response.status_code >= 400:
            raise PinotError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json() if response.content else {}

    def add_schema(self, schema: dict) -> dict:
        return self._call("POST", "/schemas", json=schema, params={"override": "true"})

    def add_table(self, table: dict) -> dict:
        return self._call("POST", "/tables", json=table)

    def delete_table(self, name: str, table_type: str = "realtime") -> dict:
        return self._call("DELETE", f"/tables/{name}", params={"type": table_type})

    def delete_schema(self, name: str) -> dict:
        return self._call("DELETE", f"/schemas/{name}")

    def table_names(self) -> list[str]:
        return self._call("GET", "/tables")["tables"]

    def close(self) -> None:
        self._http.close()
