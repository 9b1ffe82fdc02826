// The pod sandbox ("pause") process of the e2e cluster's real node: it holds the pod's
// namespaces and does nothing else. As PID 1 of the pod it reaps orphans, and it exits on
// SIGTERM/SIGINT. Built static (CGO_ENABLED=0) by images/build.sh into a one-file image, since
// no registry is reachable to pull registry.k8s.io/pause.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
