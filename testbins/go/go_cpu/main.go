// go_cpu: real CPU work across goroutines, with a deterministic result line.
//
// Usage: go_cpu [ROUNDS]. Each round encodes 200,000 pseudo-random numbers as JSON and
// decodes them again, sorts them, and hashes chunks of them with SHA-256 on a pool of
// goroutines (GOMAXPROCS=2). It prints one line per round and a final digest, the same on
// every run and on every kernel: the bench (make bench's go_cpu) compares it with native.
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
)

const count = 200000
const chunks = 64

func round(seed int64) [32]byte {
	rng := rand.New(rand.NewSource(seed))
	numbers := make([]int64, count)
	for i := range numbers {
		numbers[i] = rng.Int63n(1 << 40)
	}
	encoded, err := json.Marshal(numbers)
	if err != nil {
		panic(err)
	}
	var decoded []int64
	if err := json.Unmarshal(encoded, &decoded); err != nil {
		panic(err)
	}
	sort.Slice(decoded, func(a, b int) bool { return decoded[a] < decoded[b] })

	// A pool of workers hashes the chunks; results land in their chunk's slot.
	sums := make([][32]byte, chunks)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0)*2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8)
			for c := range jobs {
				h := sha256.New()
				per := len(decoded) / chunks
				for _, n := range decoded[c*per : (c+1)*per] {
					binary.LittleEndian.PutUint64(buf, uint64(n))
					h.Write(buf)
				}
				copy(sums[c][:], h.Sum(nil))
			}
		}()
	}
	for c := 0; c < chunks; c++ {
		jobs <- c
	}
	close(jobs)
	wg.Wait()

	total := sha256.New()
	for _, s := range sums {
		total.Write(s[:])
	}
	var out [32]byte
	copy(out[:], total.Sum(nil))
	fmt.Printf("round %d: %d bytes of JSON, min %d max %d median %d sha256 %x\n",
		seed, len(encoded), decoded[0], decoded[count-1], decoded[count/2], out[:8])
	return out
}

func main() {
	runtime.GOMAXPROCS(2)
	rounds := 1
	if len(os.Args) > 1 {
		n, err := strconv.Atoi(os.Args[1])
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "usage: %s [ROUNDS]\n", os.Args[0])
			os.Exit(2)
		}
		rounds = n
	}
	digest := sha256.New()
	for r := 1; r <= rounds; r++ {
		sum := round(int64(r))
		digest.Write(sum[:])
	}
	fmt.Printf("go_cpu: %d rounds, digest %x\n", rounds, digest.Sum(nil)[:8])
}
