// The e2e cluster's cert-manager controller: cert-manager's own controllers (the Certificate
// life cycle, CertificateRequest approval, the CA and SelfSigned issuers, Issuer and
// ClusterIssuer readiness) from the github.com/cert-manager/cert-manager module at the version
// pinned in e2e/tools/versions.env. cert-manager publishes its controller's main package
// (cmd/controller) as a separate module that the Go module proxy does not serve, so this file
// wires the library's registered controllers the way that main package does, limited to the
// issuers the e2e flow uses (no ACME, Vault, Venafi, Gateway or Ingress shims; no webhook or
// cainjector: nothing in the flow needs defaulting, conversion or CA injection).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	controller "github.com/cert-manager/cert-manager/pkg/controller"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"k8s.io/klog/v2"

	// Registered controllers (init functions call controller.Register).
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	// Issuer types the issuers/clusterissuers controllers can set up.
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

var controllers = []string{
	"issuers", "clusterissuers",
	"certificates-trigger", "certificates-key-manager", "certificates-request-manager",
	"certificates-issuing", "certificates-readiness", "certificates-revision-manager",
	"certificaterequests-approver", "certificaterequests-issuer-ca", "certificaterequests-issuer-selfsigned",
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the API server")
	clusterNS := flag.String("cluster-resource-namespace", "cert-manager", "namespace of the Secrets ClusterIssuers refer to")
	workers := flag.Int("workers", 2, "workers per controller")
	klog.InitFlags(nil)
	flag.Parse()
	logf.InitLogs()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, logf.Log.WithName("cert-manager"))

	opts := controller.ContextOptions{
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   50,
		KubernetesAPIBurst: 100,
		IssuerOptions:      controller.IssuerOptions{ClusterResourceNamespace: *clusterNS},
		CertificateOptions: controller.CertificateOptions{
			EnableOwnerRef:                           true,
			CertificateRequestMinimumBackoffDuration: 5 * time.Second,
			CertificateRequestMaximumBackoffDuration: time.Minute,
		},
	}
	factory, err := controller.NewContextFactory(ctx, opts)
	if err != nil {
		fail("building the controller context: %v", err)
	}
	known := controller.Known()
	var started []controller.Interface
	for _, name := range controllers {
		ctor, ok := known[name]
		if !ok {
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			sort.Strings(names)
			fail("controller %q is not registered (known: %v)", name, names)
		}
		c, err := ctor(factory)
		if err != nil {
			fail("constructing %s: %v", name, err)
		}
		started = append(started, c)
	}
	shared, err := factory.Build()
	if err != nil {
		fail("building the shared context: %v", err)
	}
	shared.KubeSharedInformerFactory.Start(ctx.Done())
	shared.SharedInformerFactory.Start(ctx.Done())
	shared.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())

	var wg sync.WaitGroup
	for i, c := range started {
		wg.Add(1)
		go func(name string, c controller.Interface) {
			defer wg.Done()
			if err := c.Run(*workers, ctx); err != nil {
				klog.Errorf("controller %s: %v", name, err)
				stop()
			}
		}(controllers[i], c)
	}
	klog.Infof("cert-manager controllers running: %v", controllers)
	<-ctx.Done()
	wg.Wait()
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "cert-manager: "+format+"\n", args...)
	os.Exit(1)
}
