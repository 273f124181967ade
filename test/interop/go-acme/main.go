// go-acme drives golang.org/x/crypto/acme — the ACME client of Go's autocert and the base of
// cert-manager's — against an ACME server, for akamu's interop tests (test/interop/go-acme.test.ts).
//
// It registers (with an external account binding when -eab-kid is given), obtains one certificate for -http-names over http-01 (answering on -http-port) and one
// for -alpn-name over tls-alpn-01 (answering on -alpn-port with the package's own RFC 8737 certificate),
// downloads the first again, revokes it twice (the package takes alreadyRevoked as done), rolls the account key over and
// deactivates the account. Each step prints one JSON line; any unexpected error exits 1.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
)

var (
	directory = flag.String("directory", "", "ACME directory URL")
	rootFile  = flag.String("root", "", "PEM root the server's HTTPS certificate chains to")
	httpPort  = flag.Int("http-port", 0, "port to answer http-01 on")
	alpnPort  = flag.Int("alpn-port", 0, "port to answer tls-alpn-01 on")
	httpNames = flag.String("http-names", "", "comma-separated names for the http-01 certificate")
	alpnName  = flag.String("alpn-name", "", "name for the tls-alpn-01 certificate")
	outDir    = flag.String("out", "", "directory for the issued chains (http01.pem, alpn.pem)")
	eabKID    = flag.String("eab-kid", "", "external account binding key id (RFC 8555 §7.3.4), if required")
	eabKey    = flag.String("eab-key", "", "external account binding MAC key, base64url")
)

func report(step string, fields map[string]any) {
	fields["step"] = step
	line, _ := json.Marshal(fields)
	fmt.Println(string(line))
}

func fail(step string, err error) {
	report(step, map[string]any{"error": err.Error()})
	os.Exit(1)
}

func main() {
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	roots := x509.NewCertPool()
	rootPEM, err := os.ReadFile(*rootFile)
	if err != nil || !roots.AppendCertsFromPEM(rootPEM) {
		fail("root", fmt.Errorf("cannot read a root from %s: %v", *rootFile, err))
	}
	accountKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	client := &acme.Client{
		Key:          accountKey,
		DirectoryURL: *directory,
		UserAgent:    "akamu-interop-go-acme",
		HTTPClient: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		},
	}

	newAccount := &acme.Account{Contact: []string{"mailto:admin@example.com"}}
	if *eabKID != "" {
		key, err := base64.RawURLEncoding.DecodeString(*eabKey)
		if err != nil {
			fail("eab", err)
		}
		newAccount.ExternalAccountBinding = &acme.ExternalAccountBinding{KID: *eabKID, Key: key}
	}
	account, err := client.Register(ctx, newAccount, acme.AcceptTOS)
	if err != nil {
		fail("register", err)
	}
	report("register", map[string]any{"status": account.Status, "uri": account.URI})

	// http-01: one server answering every token handed to it.
	var tokens sync.Map
	httpListener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *httpPort))
	if err != nil {
		fail("http-listen", err)
	}
	httpServer := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if answer, ok := tokens.Load(r.URL.Path); ok {
				w.Write([]byte(answer.(string)))
				return
			}
			http.NotFound(w, r)
		}),
	}
	go httpServer.Serve(httpListener)
	defer httpServer.Close()

	// tls-alpn-01: a TLS listener that negotiates acme-tls/1 and serves the challenge certificate.
	var alpnCerts sync.Map
	alpnListener, err := tls.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *alpnPort), &tls.Config{
		NextProtos: []string{acme.ALPNProto},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if cert, ok := alpnCerts.Load(hello.ServerName); ok {
				return cert.(*tls.Certificate), nil
			}
			return nil, fmt.Errorf("no tls-alpn-01 certificate for %q", hello.ServerName)
		},
	})
	if err != nil {
		fail("alpn-listen", err)
	}
	defer alpnListener.Close()
	go func() {
		for {
			conn, err := alpnListener.Accept()
			if err != nil {
				return
			}
			go func() {
				conn.(*tls.Conn).HandshakeContext(ctx)
				conn.Close()
			}()
		}
	}()

	solveHTTP := func(chal *acme.Challenge, _ string) error {
		answer, err := client.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			return err
		}
		tokens.Store(client.HTTP01ChallengePath(chal.Token), answer)
		return nil
	}
	solveALPN := func(chal *acme.Challenge, name string) error {
		cert, err := client.TLSALPN01ChallengeCert(chal.Token, name)
		if err != nil {
			return err
		}
		alpnCerts.Store(name, &cert)
		return nil
	}

	httpChain := obtain(ctx, client, strings.Split(*httpNames, ","), "http-01", solveHTTP, "http01")
	obtain(ctx, client, []string{*alpnName}, "tls-alpn-01", solveALPN, "alpn")

	// RFC 8555 §7.4.2: fetch the certificate again, as a bundle.
	again, err := client.FetchCert(ctx, httpChain.url, true)
	if err != nil {
		fail("fetch", err)
	}
	report("fetch", map[string]any{"certificates": len(again), "same": string(again[0]) == string(httpChain.der[0])})

	if err := client.RevokeCert(ctx, nil, httpChain.der[0], acme.CRLReasonKeyCompromise); err != nil {
		fail("revoke", err)
	}
	report("revoke", map[string]any{})
	// x/crypto/acme takes the alreadyRevoked problem of a second revocation as success (RevokeCert).
	if err := client.RevokeCert(ctx, nil, httpChain.der[0], acme.CRLReasonKeyCompromise); err != nil {
		fail("revoke-again", err)
	}
	report("revoke-again", map[string]any{})

	newKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err := client.AccountKeyRollover(ctx, newKey); err != nil {
		fail("key-rollover", err)
	}
	rolled, err := client.GetReg(ctx, "")
	if err != nil {
		fail("key-rollover", err)
	}
	// The old key no longer finds an account.
	withOld := &acme.Client{Key: accountKey, DirectoryURL: *directory, HTTPClient: client.HTTPClient}
	_, oldErr := withOld.GetReg(ctx, "")
	report("key-rollover", map[string]any{"uri": rolled.URI, "oldKey": fmt.Sprint(oldErr)})

	if err := client.DeactivateReg(ctx); err != nil {
		fail("deactivate", err)
	}
	_, err = client.AuthorizeOrder(ctx, acme.DomainIDs(*alpnName))
	var problem *acme.Error
	if !errors.As(err, &problem) {
		fail("deactivated-order", fmt.Errorf("a deactivated account's order did not fail with a problem: %v", err))
	}
	report("deactivated-order", map[string]any{"type": problem.ProblemType, "status": problem.StatusCode})
}

type issued struct {
	url string
	der [][]byte
}

// obtain runs one order to a certificate with the given challenge type and writes its chain as PEM.
func obtain(ctx context.Context, client *acme.Client, names []string, challengeType string,
	solve func(*acme.Challenge, string) error, label string) issued {
	order, err := client.AuthorizeOrder(ctx, acme.DomainIDs(names...))
	if err != nil {
		fail(label+"-order", err)
	}
	for _, authzURL := range order.AuthzURLs {
		authz, err := client.GetAuthorization(ctx, authzURL)
		if err != nil {
			fail(label+"-authz", err)
		}
		var chal *acme.Challenge
		for _, c := range authz.Challenges {
			if c.Type == challengeType {
				chal = c
			}
		}
		if chal == nil {
			fail(label+"-authz", fmt.Errorf("no %s challenge offered for %s", challengeType, authz.Identifier.Value))
		}
		if err := solve(chal, authz.Identifier.Value); err != nil {
			fail(label+"-solve", err)
		}
		if _, err := client.Accept(ctx, chal); err != nil {
			fail(label+"-accept", err)
		}
		if _, err := client.WaitAuthorization(ctx, authzURL); err != nil {
			fail(label+"-wait-authz", err)
		}
	}
	if order, err = client.WaitOrder(ctx, order.URI); err != nil {
		fail(label+"-wait-order", err)
	}
	certKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, certKey)
	if err != nil {
		fail(label+"-csr", err)
	}
	der, certURL, err := client.CreateOrderCert(ctx, order.FinalizeURL, csr, true)
	if err != nil {
		fail(label+"-finalize", err)
	}
	var out []byte
	for _, d := range der {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
	}
	if err := os.WriteFile(filepath.Join(*outDir, label+".pem"), out, 0o644); err != nil {
		fail(label+"-write", err)
	}
	report(label, map[string]any{"certificates": len(der), "url": certURL})
	return issued{url: certURL, der: der}
}
