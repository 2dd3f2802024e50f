// goclient: a Go program using only the standard library that profiles itself with
// runtime/pprof and posts its CPU, heap, mutex, block and goroutine profiles to /ingest the
// way pyroscope-go does (multipart/form-data with a "profile" part and a
// "sample_type_config" part, from/until in unix nanoseconds, spyName=gospy). Each posted
// profile is also written to <outdir>/<kind>.pb.gz so the test can read it with
// `go tool pprof -raw`.
package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"sync"
	"time"
)

var sink []byte

func burn(d time.Duration) {
	end := time.Now().Add(d)
	h := sha256.Sum256([]byte("ember"))
	for time.Now().Before(end) {
		h = sha256.Sum256(h[:])
		xs := make([]int, 2000)
		for i := range xs {
			xs[i] = int(h[i%32]) * (i + 1) % 977
		}
		sort.Ints(xs)
		sink = append(sink[:0], h[:]...)
	}
}

func contend(d time.Duration) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				mu.Lock()
				time.Sleep(200 * time.Microsecond)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// Same sample_type_config as pyroscope-go sends for each kind (upstream/remote).
var configs = map[string]string{
	"cpu":       "",
	"heap":      `{"alloc_objects":{"units":"objects"},"alloc_space":{"units":"bytes"},"inuse_objects":{"units":"objects","aggregation":"average"},"inuse_space":{"units":"bytes","aggregation":"average"}}`,
	"mutex":     `{"contentions":{"display-name":"mutex_count","units":"lock_samples","cumulative":false},"delay":{"display-name":"mutex_duration","units":"lock_nanoseconds","cumulative":false}}`,
	"block":     `{"contentions":{"display-name":"block_count","units":"lock_samples","cumulative":false},"delay":{"display-name":"block_duration","units":"lock_nanoseconds","cumulative":false}}`,
	"goroutine": `{"goroutine":{"display-name":"goroutines","units":"goroutines","aggregation":"average"}}`,
}

func post(server, app, kind string, prof []byte, from, until time.Time) error {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	fw, err := w.CreateFormFile("profile", "profile.pprof")
	if err != nil {
		return err
	}
	fw.Write(prof)
	if cfg := configs[kind]; cfg != "" {
		fw, err = w.CreateFormFile("sample_type_config", "sample_type_config.json")
		if err != nil {
			return err
		}
		fw.Write([]byte(cfg))
	}
	w.Close()
	rate := "100"
	if kind != "cpu" && kind != "heap" {
		rate = "0"
	}
	url := fmt.Sprintf("%s/ingest?name=%s%%7Bprocess.runtime.name%%3Dgo%%7D&from=%d&until=%d&spyName=gospy&sampleRate=%s&units=&aggregationType=",
		server, app, from.UnixNano(), until.UnixNano(), rate)
	req, err := http.NewRequest("POST", url, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return fmt.Errorf("%s: HTTP %d: %s", kind, resp.StatusCode, b.String())
	}
	return nil
}

func main() {
	server, outdir := os.Args[1], os.Args[2]
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	from := time.Now()
	var cpu bytes.Buffer
	pprof.StartCPUProfile(&cpu)
	burn(1500 * time.Millisecond)
	contend(300 * time.Millisecond)
	pprof.StopCPUProfile()
	until := time.Now()
	profiles := map[string][]byte{"cpu": cpu.Bytes()}
	for _, kind := range []string{"heap", "mutex", "block", "goroutine"} {
		var b bytes.Buffer
		if err := pprof.Lookup(kind).WriteTo(&b, 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		profiles[kind] = b.Bytes()
	}
	for kind, prof := range profiles {
		if err := os.WriteFile(filepath.Join(outdir, kind+".pb.gz"), prof, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := post(server, "goapp", kind, prof, from, until); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	fmt.Println("posted", len(profiles), "profiles")
}
