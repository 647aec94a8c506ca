// webhook_loadgen: the load generator of bench/webhook_load.py, built there with Debian's
// golang-go (standard library only: net/http, crypto/tls). It costs far less CPU per request
// than a Python client, which matters when client and server share two cores.
//
// Closed loop (-rate 0): -conns goroutines, each on its own keep-alive HTTPS connection,
// send -requests requests in total, each waiting for the previous answer.
// Open loop (-rate R): requests are scheduled at a fixed R per second whatever the answers
// do, and spread over -conns keep-alive connections; a request's latency counts from its
// scheduled time, so time spent waiting for a free connection is included (no coordinated
// omission).
//
// Every answer must be HTTP 200 and contain -expect. Prints one JSON object: count, errors,
// elapsed seconds, latency percentiles in milliseconds and the generator's own CPU seconds.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"
)

type result struct {
	Count       int     `json:"count"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	ElapsedS    float64 `json:"elapsed_s"`
	RatePerS    float64 `json:"rate_per_s"`
	P50Ms       float64 `json:"p50_ms"`
	P90Ms       float64 `json:"p90_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	CPUUserS    float64 `json:"cpu_user_s"`
	CPUSystemS  float64 `json:"cpu_system_s"`
	OfferedPerS float64 `json:"offered_per_s,omitempty"`
}

type recorder struct {
	mu         sync.Mutex
	latencies  []time.Duration
	errors     int
	firstError string
}

func (r *recorder) add(latency time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errors++
		if r.firstError == "" {
			r.firstError = err.Error()
		}
		return
	}
	r.latencies = append(r.latencies, latency)
}

func newClient(pool *x509.CertPool) *http.Client {
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, ClientSessionCache: tls.NewLRUClientSessionCache(4)},
		MaxIdleConnsPerHost: 1,
		MaxConnsPerHost:     1,
		DisableCompression:  true,
		IdleConnTimeout:     60 * time.Second,
	}
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}
}

func post(client *http.Client, url string, body []byte, expect []byte) error {
	response, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	answer, err := io.ReadAll(response.Body)
	response.Body.Close()
	if err != nil {
		return err
	}
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %.200s", response.StatusCode, answer)
	}
	if !bytes.Contains(answer, expect) {
		return fmt.Errorf("answer without %q: %.300s", expect, answer)
	}
	return nil
}

func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	index := int(float64(len(sorted))*q+0.5) - 1
	if index < 0 {
		index = 0
	}
	if index >= len(sorted) {
		index = len(sorted) - 1
	}
	return float64(sorted[index]) / float64(time.Millisecond)
}

func seconds(t syscall.Timeval) float64 {
	return float64(t.Sec) + float64(t.Usec)/1e6
}

func main() {
	url := flag.String("url", "", "https://host:port/validate")
	caFile := flag.String("cacert", "", "PEM CA certificate of the server")
	bodyFile := flag.String("body", "", "request body file")
	expect := flag.String("expect", `"allowed":true`, "substring every answer must contain")
	conns := flag.Int("conns", 50, "keep-alive connections (closed loop: concurrent clients)")
	requests := flag.Int("requests", 2000, "requests to send in total")
	rate := flag.Float64("rate", 0, "open loop: requests per second (0: closed loop)")
	warmup := flag.Int("warmup", 2, "unrecorded requests per connection first (TLS handshake, caches)")
	flag.Parse()
	if *url == "" || *caFile == "" || *bodyFile == "" || *conns < 1 || *requests < 1 {
		fmt.Fprintln(os.Stderr, "usage: webhook_loadgen -url URL -cacert FILE -body FILE [-conns N] [-requests N] [-rate R]")
		os.Exit(2)
	}
	pem, err := os.ReadFile(*caFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		fmt.Fprintln(os.Stderr, "no certificate in", *caFile)
		os.Exit(2)
	}
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	want := []byte(*expect)
	clients := make([]*http.Client, *conns)
	for i := range clients {
		clients[i] = newClient(pool)
	}
	var warm sync.WaitGroup
	warmRecorder := &recorder{}
	for _, client := range clients {
		warm.Add(1)
		go func(client *http.Client) {
			defer warm.Done()
			for n := 0; n < *warmup; n++ {
				warmRecorder.add(0, post(client, *url, body, want))
			}
		}(client)
	}
	warm.Wait()
	if warmRecorder.errors > 0 {
		fmt.Fprintln(os.Stderr, "warm-up failed:", warmRecorder.firstError)
		os.Exit(1)
	}

	var before syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	rec := &recorder{latencies: make([]time.Duration, 0, *requests)}
	var wg sync.WaitGroup
	started := time.Now()
	if *rate <= 0 {
		per := *requests / *conns
		extra := *requests % *conns
		for i, client := range clients {
			count := per
			if i < extra {
				count++
			}
			wg.Add(1)
			go func(client *http.Client, count int) {
				defer wg.Done()
				for n := 0; n < count; n++ {
					sent := time.Now()
					err := post(client, *url, body, want)
					rec.add(time.Since(sent), err)
				}
			}(client, count)
		}
	} else {
		scheduled := make(chan time.Time, *requests)
		for _, client := range clients {
			wg.Add(1)
			go func(client *http.Client) {
				defer wg.Done()
				for at := range scheduled {
					err := post(client, *url, body, want)
					rec.add(time.Since(at), err)
				}
			}(client)
		}
		interval := time.Duration(float64(time.Second) / *rate)
		for n := 0; n < *requests; n++ {
			at := started.Add(time.Duration(n) * interval)
			if wait := time.Until(at); wait > 0 {
				time.Sleep(wait)
			}
			scheduled <- at
		}
		close(scheduled)
	}
	wg.Wait()
	elapsed := time.Since(started)
	var after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)

	sort.Slice(rec.latencies, func(a, b int) bool { return rec.latencies[a] < rec.latencies[b] })
	out := result{
		Count:      len(rec.latencies),
		Errors:     rec.errors,
		FirstError: rec.firstError,
		ElapsedS:   elapsed.Seconds(),
		RatePerS:   float64(len(rec.latencies)) / elapsed.Seconds(),
		P50Ms:      percentile(rec.latencies, 0.50),
		P90Ms:      percentile(rec.latencies, 0.90),
		P99Ms:      percentile(rec.latencies, 0.99),
		MaxMs:      percentile(rec.latencies, 1.0),
		CPUUserS:   seconds(after.Utime) - seconds(before.Utime),
		CPUSystemS: seconds(after.Stime) - seconds(before.Stime),
	}
	if *rate > 0 {
		out.OfferedPerS = *rate
	}
	encoded, _ := json.Marshal(out)
	fmt.Println(string(encoded))
	if rec.errors > 0 {
		os.Exit(1)
	}
}
