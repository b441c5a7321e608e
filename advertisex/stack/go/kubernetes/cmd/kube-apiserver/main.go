// The real kube-apiserver, built from k8s.io/kubernetes as a module (no kubelet, no Docker):
// the test fixtures and `advertisex stack up kube` run it against our own etcd.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
