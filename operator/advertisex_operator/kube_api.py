"""The few Kubernetes API calls the operator makes besides kopf's own: reading Secrets."""

from __future__ import annotations

from functools import cache

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException


@cache
def _core() -> client.CoreV1Api:
    try:
        config.load_incluster_config()
    except config.ConfigException:  # outside a pod: $KUBECONFIG or ~/.kube/config
        config.load_kube_config()
    return client.CoreV1Api()


def read_secret(namespace: str, name: str) -> dict[str, str] | None:
    """The Secret's data (base64 values), or None when it does not exist."""
    try:
        secret = _core().read_namespaced_secret(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return dict(secret.data or {})
