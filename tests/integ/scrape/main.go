// A Go program for the pull-mode test: net/http/pprof on the address given as the first
// argument, a CPU-hot function, steady allocations, mutex contention and channel blocking.
package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"sync"
	"time"
)

var sink []byte

//go:noinline
func hotLoop() uint64 {
	var x uint64 = 1
	for i := 0; i < 50000000; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

//go:noinline
func allocLoop() {
	for {
		for i := 0; i < 1000; i++ {
			sink = make([]byte, 4096)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func contention() {
	var mu sync.Mutex
	for i := 0; i < 4; i++ {
		go func() {
			for {
				mu.Lock()
				time.Sleep(time.Millisecond)
				mu.Unlock()
			}
		}()
	}
	ch := make(chan int)
	go func() {
		for {
			time.Sleep(2 * time.Millisecond)
			ch <- 1
		}
	}()
	go func() {
		for range ch {
		}
	}()
}

func main() {
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	go allocLoop()
	contention()
	go func() {
		for {
			hotLoop()
		}
	}()
	go func() {
		// Keep the heap profile current (it reports as of the last GC).
		for {
			time.Sleep(100 * time.Millisecond)
			runtime.GC()
		}
	}()
	if err := http.ListenAndServe(os.Args[1], nil); err != nil {
		panic(err)
	}
}
