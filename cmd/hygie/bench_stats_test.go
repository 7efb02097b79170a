package main

import (
	"os"
	"testing"
	"time"
)

// TestMedianPercentile checks the summary statistics.
func TestMedianPercentile(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median of 3 values = %v, want 2", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 4 values = %v, want 2.5", got)
	}
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(101-i)*time.Millisecond)
	}
	if got := percentile(ds, 0.5); got != 50*time.Millisecond {
		t.Errorf("p50 = %v, want 50ms", got)
	}
	if got := percentile(ds, 0.99); got != 99*time.Millisecond {
		t.Errorf("p99 = %v, want 99ms", got)
	}
}

// TestProcSelf reads this process's own /proc entries.
func TestProcSelf(t *testing.T) {
	pid := os.Getpid()
	if _, err := procCPU(pid); err != nil {
		t.Fatal(err)
	}
	hwm, err := procPeakRSS(pid)
	if err != nil || hwm <= 0 {
		t.Fatalf("peak RSS %d, %v", hwm, err)
	}
	if hostBusyCPU() <= 0 {
		t.Error("hostBusyCPU = 0")
	}
}
