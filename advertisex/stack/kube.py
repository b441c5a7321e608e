"""A Kubernetes control plane without a kubelet: etcd and the real kube-apiserver.

Both are built from Go modules (advertisex.stack.gobuild). The API server serves on
loopback with a self-signed certificate (in its --cert-dir), authenticates one admin by a
static token, and authorizes by RBAC, as a cluster does. `kubeconfig()` writes the file
that kubectl, helm, kopf and the tests use. Nothing runs pods: what is asserted is what the
API server holds.
"""

from __future__ import annotations

import secrets
import shutil
import ssl
import subprocess
import urllib.request
from pathlib import Path

import yaml

from advertisex.stack import gobuild
from advertisex.stack.config import StackConfig
from advertisex.stack.service import Launch, Service
from advertisex.stack.tools import MissingTool

ADMIN_USER = "advertisex-admin"
# The Go build (advertisex.stack.gobuild) each server's program comes from.
GO_BUILD_OF = {"etcd": "etcd", "kube-apiserver": "kubernetes"}


def _openssl() -> str:
    found = shutil.which("openssl")
    if not found:
        raise MissingTool(
            "openssl was not found: the local kube-apiserver signs service-account tokens with "
            "a key it makes. Install it (apt-get install openssl)."
        )
    return found


def kube_home(cfg: StackConfig) -> Path:
    return cfg.state_dir / "kube-apiserver"


def admin_token(cfg: StackConfig) -> str:
    """The admin's bearer token, made once per state folder."""
    path = kube_home(cfg) / "admin.token"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(24))
        path.chmod(0o600)
    return path.read_text().strip()


def kubeconfig_path(cfg: StackConfig) -> Path:
    return kube_home(cfg) / "kubeconfig"


def kubeconfig(cfg: StackConfig) -> Path:
    """Write (again) the kubeconfig of the local API server's admin and return its path."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                # The serving certificate is self-signed by the API server for loopback.
                "cluster": {"server": cfg.kube_apiserver_url, "insecure-skip-tls-verify": True},
                "name": "advertisex-local",
            }
        ],
        "users": [{"name": ADMIN_USER, "user": {"token": admin_token(cfg)}}],
        "contexts": [
            {
                "context": {
                    "cluster": "advertisex-local",
                    "user": ADMIN_USER,
                    "namespace": "default",
                },
                "name": "advertisex-local",
            }
        ],
        "current-context": "advertisex-local",
    }
    path = kubeconfig_path(cfg)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def etcd_service(cfg: StackConfig) -> Service:
    home = cfg.state_dir / "etcd"

    def prepare() -> Launch:
        binary = gobuild.ensure_built("etcd") / "bin" / "etcd"
        home.mkdir(parents=True, exist_ok=True)
        client = f"http://{cfg.host}:{cfg.etcd_port}"
        peer = f"http://{cfg.host}:{cfg.etcd_peer_port}"
        return Launch(
            [
                str(binary),
                "--name=advertisex",
                f"--data-dir={home / 'data'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=advertisex={peer}",
                # A test control plane: durability is not worth a fsync per write.
                "--unsafe-no-fsync",
                "--quota-backend-bytes=1073741824",
                "--log-level=warn",
            ]
        )

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(
                f"http://{cfg.host}:{cfg.etcd_port}/health", timeout=2
            ) as response:
                return b'"health":"true"' in response.read()
        except OSError:
            return False

    return Service(
        name="etcd",
        home=home,
        prepare=prepare,
        healthy=healthy,
        ports={"etcd_port": cfg.etcd_port, "etcd_peer_port": cfg.etcd_peer_port},
        url=f"http://{cfg.host}:{cfg.etcd_port}",
    )


def kube_apiserver_service(cfg: StackConfig) -> Service:
    home = kube_home(cfg)

    def prepare() -> Launch:
        binary = gobuild.ensure_built("kubernetes") / "bin" / "kube-apiserver"
        home.mkdir(parents=True, exist_ok=True)
        key = home / "service-account.key"
        if not key.exists():
            subprocess.run(
                [_openssl(), "genrsa", "-out", str(key), "2048"], check=True, capture_output=True
            )
        tokens = home / "tokens.csv"
        tokens.write_text(f'{admin_token(cfg)},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        kubeconfig(cfg)
        return Launch(
            [
                str(binary),
                f"--etcd-servers=http://{cfg.host}:{cfg.etcd_port}",
                f"--cert-dir={home / 'certs'}",
                f"--secure-port={cfg.kube_apiserver_port}",
                f"--bind-address={cfg.host}",
                f"--advertise-address={cfg.host}",
                # The `kubernetes` Service's endpoints may not point at loopback; no pod
                # needs that Service here.
                "--endpoint-reconciler-type=none",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={key}",
                f"--service-account-signing-key-file={key}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                # No controller manager runs to make service-account tokens.
                "--disable-admission-plugins=ServiceAccount",
                "--allow-privileged=true",
                "--v=0",
            ]
        )

    def healthy() -> bool:
        request = urllib.request.Request(
            f"{cfg.kube_apiserver_url}/readyz",
            headers={"Authorization": f"Bearer {admin_token(cfg)}"},
        )
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(request, timeout=3, context=context) as response:
                return response.status == 200
        except OSError:
            return False

    return Service(
        name="kube-apiserver",
        home=home,
        prepare=prepare,
        healthy=healthy,
        ports={"kube_apiserver_port": cfg.kube_apiserver_port},
        after=("etcd",),
        url=cfg.kube_apiserver_url,
    )


def kube_services(cfg: StackConfig) -> list[Service]:
    return [etcd_service(cfg), kube_apiserver_service(cfg)]
