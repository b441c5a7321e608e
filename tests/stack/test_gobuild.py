"""Go builds: go.mod written from the pins, staging modules read from k8s.io/kubernetes."""

from advertisex.stack import gobuild
from advertisex.stack.versions import pinned_versions

KUBERNETES_GOMOD = """module k8s.io/kubernetes
require (
	k8s.io/api v0.0.0
	k8s.io/client-go v0.0.0
)
replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	k8s.io/kms => ./staging/src/k8s.io/kms
	github.com/other/thing => github.com/other/thing v1.0.0
)
"""


def test_staging_modules_are_read_from_the_replace_lines():
    assert gobuild.staging_modules(KUBERNETES_GOMOD) == [
        "k8s.io/api",
        "k8s.io/client-go",
        "k8s.io/kms",
    ]


def test_versions_come_from_the_pom():
    pins = pinned_versions()
    builds = gobuild.builds()
    assert builds["kubernetes"].requires == {"k8s.io/kubernetes": f"v{pins['kubernetes.version']}"}
    assert f"gitVersion=v{pins['kubernetes.version']}" in builds["kubernetes"].ldflags
    assert builds["etcd"].requires == {"go.etcd.io/etcd/server/v3": f"v{pins['etcd.version']}"}
    assert builds["helm"].requires == {"helm.sh/helm/v3": f"v{pins['helm.version']}"}


def test_the_go_mod_pins_each_staging_module():
    build = gobuild.builds()["kubernetes"]
    text = gobuild._gomod(build, {"k8s.io/api": "v0.37.2", "k8s.io/kms": "v0.37.2"})
    assert f"require k8s.io/kubernetes v{pinned_versions()['kubernetes.version']}\n" in text
    assert "replace k8s.io/api => k8s.io/api v0.37.2\n" in text
    assert "replace k8s.io/kms => k8s.io/kms v0.37.2\n" in text
    helm = gobuild._gomod(gobuild.builds()["helm"], {})
    assert "tool helm.sh/helm/v3/cmd/helm\n" in helm


def test_each_program_has_one_home():
    assert gobuild.binary("kube-apiserver").parent == gobuild.binary("kubectl").parent
    assert gobuild.binary("etcd").parts[-3].startswith("etcd-")
