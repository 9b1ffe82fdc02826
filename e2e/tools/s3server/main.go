// s3server: a real S3 API server for the tests, on loopback. It is rclone's fork of gofakes3
// (github.com/rclone/gofakes3, pinned in go.mod) with its in-memory backend and AWS Signature
// V4 authentication on: every request must be signed with the access key and secret given in
// the environment, as against AWS. This file only wires it up: flags, buckets, the listener.
//
//	S3_ACCESS_KEY_ID=... S3_SECRET_ACCESS_KEY=... s3server -listen 127.0.0.1:0 -bucket models
//
// Prints one JSON line {"endpoint":"http://127.0.0.1:PORT"} on stdout once it accepts
// connections; stops on SIGTERM / SIGINT.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rclone/gofakes3"
	"github.com/rclone/gofakes3/s3mem"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (loopback only)")
	buckets := flag.String("bucket", "", "comma-separated buckets to create at start")
	flag.Parse()

	access, secret := os.Getenv("S3_ACCESS_KEY_ID"), os.Getenv("S3_SECRET_ACCESS_KEY")
	if access == "" || secret == "" {
		log.Fatal("s3server: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set (requests are SigV4-authenticated)")
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		log.Fatalf("s3server: -listen %q: %v", *listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		log.Fatalf("s3server: -listen %q is not a loopback address", *listen)
	}

	backend := s3mem.New()
	for _, b := range strings.Split(*buckets, ",") {
		if b = strings.TrimSpace(b); b != "" {
			if err := backend.CreateBucket(context.Background(), b); err != nil {
				log.Fatalf("s3server: create bucket %q: %v", b, err)
			}
		}
	}
	faker := gofakes3.New(backend, gofakes3.WithV4Auth(map[string]string{access: secret}), gofakes3.WithoutVersioning())

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("s3server: listen %s: %v", *listen, err)
	}
	srv := &http.Server{Handler: faker.Server(), ReadHeaderTimeout: 10 * time.Second}
	line, _ := json.Marshal(map[string]string{"endpoint": "http://" + ln.Addr().String()})
	fmt.Println(string(line))

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatalf("s3server: %v", err)
	}
}
