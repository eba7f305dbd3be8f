//go:build linux

package publish

import (
	"bytes"
	"context"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkImportAmplified imports a bundle of about 64 KB whose
// chunks.jsonl inflates to 64 MiB of blank lines, and reports the heap's
// high-water mark during the import (sampled every millisecond), the bytes
// allocated, and the process's peak RSS (getrusage).
func BenchmarkImportAmplified(b *testing.B) {
	data := amplified(b, 64)
	var peak atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		target, _ := emptyTarget(b)
		runtime.GC()
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var ms runtime.MemStats
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		b.StartTimer()
		bd, err := Read(bytes.NewReader(data), int64(len(data)), DefaultLimits)
		if err == nil {
			_, err = bd.Install(context.Background(), target, ImportOptions{})
		}
		b.StopTimer()
		close(stop)
		<-sampled
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MiB") // Linux reports KiB
	}
	b.ReportMetric(float64(len(data))/1024, "bundle-KB")
}
