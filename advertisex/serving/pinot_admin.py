"""The few calls of Pinot's controller REST API that set tables up."""

from __future__ import annotations

import time

import httpx

# The stream plugin that matches the pinot-kafka jar on the stack's Pinot class path.
KAFKA_CONSUMER_FACTORY = "org.apache.pinot.plugin.stream.kafka20.KafkaConsumerFactory"
JSON_DECODER = "org.apache.pinot.plugin.inputformat.json.JSONMessageDecoder"


class PinotError(RuntimeError):
    """The controller refused a request or could not be reached."""


class PinotUnreachable(PinotError):
    """No controller answers at the URL."""


class PinotAdmin:
    def __init__(self, controller_url: str, timeout: float = 30.0):
        self.url = controller_url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def __enter__(self) -> PinotAdmin:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method: str, path: str, missing_ok: bool = False, **kwargs) -> dict | None:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError:
            raise PinotUnreachable(
                f"the Pinot controller at {self.url} is not reachable: start it with "
                "`advertisex stack up pinot`"
            ) from None
        if missing_ok and response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise PinotError(f"{method} {path} -> {response.status_code}: {_message(response)}")
        return response.json() if response.content else {}

    # Schemas

    def add_schema(self, schema: dict) -> dict:
        return self._call("POST", "/schemas", json=schema, params={"override": "true"})

    def get_schema(self, name: str) -> dict | None:
        """The schema as Pinot keeps it; None when there is none of that name."""
        return self._call("GET", f"/schemas/{name}", missing_ok=True)

    def update_schema(self, schema: dict, reload: bool = True) -> dict:
        """Replace a schema; Pinot refuses changes that are not backward compatible. With
        reload, segments of its tables are reloaded so that new columns appear."""
        return self._call(
            "PUT",
            f"/schemas/{schema['schemaName']}",
            json=schema,
            params={"reload": str(reload).lower()},
        )

    def delete_schema(self, name: str) -> dict:
        return self._call("DELETE", f"/schemas/{name}")

    # Tables

    def add_table(self, table: dict) -> dict:
        return self._call("POST", "/tables", json=table)

    def get_table(self, name: str, table_type: str = "realtime") -> dict | None:
        """The table config as Pinot keeps it; None when there is no such table."""
        found = self._call("GET", f"/tables/{name}", missing_ok=True, params={"type": table_type})
        return (found or {}).get(table_type.upper())

    def validate_table(self, table: dict) -> tuple[dict, dict]:
        """The table config as Pinot would store it (defaults filled in), without storing
        it, and the keys Pinot does not know (path -> value). Its schema must exist."""
        answer = self._call("POST", "/tables/validate", json=table)
        return answer[table["tableType"].upper()], answer.get("unrecognizedProperties") or {}

    def update_table(self, table: dict) -> dict:
        return self._call("PUT", f"/tables/{table['tableName']}", json=table)

    def reload_table(self, name: str, table_type: str = "realtime") -> dict:
        """Reload the table's completed segments: they get indexes added since they were
        built (consuming segments get them when they commit)."""
        return self._call("POST", f"/segments/{name}/reload", params={"type": table_type})

    def delete_table(self, name: str, table_type: str = "realtime") -> dict:
        return self._call("DELETE", f"/tables/{name}", params={"type": table_type})

    def drop_table(self, name: str, timeout: float = 120.0) -> None:
        """Delete a REALTIME table and wait until no server holds it any more (its
        external view is gone), so that a table of the same name can be created."""
        self.delete_table(name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get_table(name) is None and not self._external_view(name):
                return
            time.sleep(0.5)
        raise PinotError(f"table {name} was deleted but is still served after {timeout:.0f} s")

    def _external_view(self, name: str) -> dict:
        view = self._call("GET", f"/tables/{name}/externalview", missing_ok=True)
        return (view or {}).get("REALTIME") or {}

    def table_names(self) -> list[str]:
        return self._call("GET", "/tables")["tables"]

    def close(self) -> None:
        self._http.close()


def _message(response: httpx.Response) -> str:
    """Pinot's error text: the `error` field of its JSON answer, else the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])
    return response.text
