// go_http: a Go program that uses what Go's runtime and standard library ask of a kernel,
// with deterministic output (tests/test_go.py runs it natively and under pykern).
//
// Usage: go_http [PART...], PART one of runtime, signal, exec, http (default: all four, in
// that order). go_http child ARGS... is the child that the exec part runs.
//
//   - runtime: what Go's scheduler asks of the kernel: asynchronous preemption of a
//     goroutine spinning without calls (SIGURG sent by tgkill to the running thread),
//     a thousand goroutines sleeping on timers, threads locked to goroutines, mutexes
//     contended across threads (futexes), a garbage collection that returns memory
//     (madvise), /proc/self/exe and /proc/self/cmdline.
//   - signal: signal.Notify for SIGUSR1, SIGINT and SIGCHLD; the program sends itself
//     SIGUSR1 and SIGINT (kill and tgkill) and receives each on the channel.
//   - exec: os/exec runs this program again as a child with a stdin, reads its stdout
//     and stderr and its exit status, and sees the SIGCHLD of its exit; children joined
//     by a pipe; children ended by SIGTERM (caught), SIGKILL and a context's deadline.
//   - http: a net/http server on 127.0.0.1:0 serving from goroutines, queried by
//     several concurrent clients; the responses are printed in request order.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A part that hangs must not hang the test: the watchdog ends the program.
const watchdog = 120 * time.Second

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go_http: "+format+"\n", args...)
	os.Exit(1)
}

func child(args []string) {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("child: read stdin: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(input)), "\n")
	fmt.Printf("child: %d args %q, %d lines of stdin, last %q\n", len(args), args, len(lines), lines[len(lines)-1])
	fmt.Fprintln(os.Stderr, "child: a line on stderr")
	os.Exit(3)
}

func partRuntime() {
	// Asynchronous preemption: with one P, main runs again only if the spinner, which
	// makes no calls, is preempted by a signal.
	previous := runtime.GOMAXPROCS(1)
	var stop, spins int64
	go func() {
		for atomic.LoadInt64(&stop) == 0 {
			spins++
		}
		atomic.StoreInt64(&stop, 2)
	}()
	time.Sleep(20 * time.Millisecond)
	atomic.StoreInt64(&stop, 1)
	for atomic.LoadInt64(&stop) != 2 {
		runtime.Gosched()
	}
	fmt.Println("runtime: a spinning goroutine was preempted")
	runtime.GOMAXPROCS(previous)

	// A thousand goroutines on timers, each adding its own number.
	var wg sync.WaitGroup
	var total int64
	for i := 1; i <= 1000; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			time.Sleep(time.Duration(i%17) * time.Millisecond)
			atomic.AddInt64(&total, int64(i))
		}(i)
	}
	wg.Wait()
	fmt.Printf("runtime: 1000 sleeping goroutines summed %d\n", total)

	// Goroutines locked to their own threads, contending for one mutex.
	var mu sync.Mutex
	counter := 0
	release := make(chan struct{})
	var locked sync.WaitGroup
	for i := 0; i < 12; i++ {
		locked.Add(1)
		go func() {
			defer locked.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			<-release
			for j := 0; j < 2000; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	close(release)
	locked.Wait()
	fmt.Printf("runtime: 12 locked threads counted to %d\n", counter)

	// A ticker and a timeout in a select.
	ticker := time.NewTicker(2 * time.Millisecond)
	ticks := 0
	for ticks < 5 {
		select {
		case <-ticker.C:
			ticks++
		case <-time.After(watchdog):
			fail("runtime: the ticker stopped")
		}
	}
	ticker.Stop()
	fmt.Printf("runtime: %d ticks\n", ticks)

	// Garbage: 64 MiB allocated and dropped, collected, returned to the kernel.
	var stats runtime.MemStats
	for i := 0; i < 64; i++ {
		block := make([]byte, 1<<20)
		block[i] = byte(i)
	}
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&stats)
	fmt.Printf("runtime: collected (%v)\n", stats.NumGC > 0)

	// /proc/self: the executable and the command line.
	exe, err := os.Executable()
	if err != nil {
		fail("runtime: os.Executable: %v", err)
	}
	cmdline, err := os.ReadFile("/proc/self/cmdline")
	if err != nil {
		fail("runtime: /proc/self/cmdline: %v", err)
	}
	args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	fmt.Printf("runtime: /proc/self/exe ends in %q, cmdline matches os.Args: %v\n",
		exe[strings.LastIndex(exe, "/")+1:], strings.Join(args, " ") == strings.Join(os.Args, " "))
}

// sleeper: the child that the exec part signals. It says it is ready, then waits for
// SIGTERM (caught: it says so and exits 7) or for anything else to end it.
func sleeper() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	fmt.Println("sleeper: ready")
	select {
	case got := <-c:
		fmt.Printf("sleeper: caught %v\n", got)
		os.Exit(7)
	case <-time.After(watchdog):
		os.Exit(1)
	}
}

// signalChild starts a sleeper, waits for its ready line, sends it sig and reports how it ended.
func signalChild(self string, sig os.Signal) {
	cmd := exec.Command(self, "sleeper")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fail("exec: StdoutPipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		fail("exec: start sleeper: %v", err)
	}
	lines := bufio.NewReader(stdout)
	ready, err := lines.ReadString('\n')
	if err != nil {
		fail("exec: sleeper's ready line: %v", err)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		fail("exec: signal: %v", err)
	}
	rest, _ := io.ReadAll(lines)
	err = cmd.Wait()
	fmt.Printf("exec: sleeper sent %v: output %q, wait: %v, exit code %d\n", sig, ready+string(rest), err,
		cmd.ProcessState.ExitCode())
}

func waitSignal(c <-chan os.Signal, want os.Signal) {
	select {
	case got := <-c:
		if got != want {
			fail("signal: got %v, want %v", got, want)
		}
		fmt.Printf("signal: received %v\n", got)
	case <-time.After(watchdog):
		fail("signal: %v never arrived", want)
	}
}

func partSignal() {
	c := make(chan os.Signal, 4)
	signal.Notify(c, syscall.SIGUSR1, syscall.SIGINT)
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		fail("kill: %v", err)
	}
	waitSignal(c, syscall.SIGUSR1)
	if err := syscall.Tgkill(os.Getpid(), syscall.Gettid(), syscall.SIGINT); err != nil {
		fail("tgkill: %v", err)
	}
	waitSignal(c, syscall.SIGINT)
	signal.Stop(c)
	// Ignored, then a default action that is harmless: the program goes on.
	signal.Ignore(syscall.SIGUSR2)
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR2); err != nil {
		fail("kill: %v", err)
	}
	fmt.Println("signal: SIGUSR2 ignored")
	signal.Reset(syscall.SIGUSR1, syscall.SIGINT)
}

func partExec() {
	chld := make(chan os.Signal, 4)
	signal.Notify(chld, syscall.SIGCHLD)
	self, err := os.Executable()
	if err != nil {
		fail("os.Executable: %v", err)
	}
	var input strings.Builder
	for i := 1; i <= 5000; i++ {
		fmt.Fprintf(&input, "input line %d\n", i)
	}
	cmd := exec.Command(self, "child", "one", "two words")
	cmd.Stdin = strings.NewReader(input.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		fail("exec: want an exit status, got %v", err)
	}
	fmt.Printf("exec: stdout %q\n", out)
	fmt.Printf("exec: stderr %q\n", stderr.String())
	fmt.Printf("exec: exit status %d\n", exitErr.ExitCode())
	waitSignal(chld, syscall.SIGCHLD)
	signal.Stop(chld)

	// A pipeline between two children through an os.Pipe: the second reads the first.
	reader, writer, err := os.Pipe()
	if err != nil {
		fail("pipe: %v", err)
	}
	first := exec.Command(self, "child", "first")
	first.Stdin = strings.NewReader("a\nb\n")
	first.Stdout = writer
	second := exec.Command("/bin/cat")
	second.Stdin = reader
	var piped bytes.Buffer
	second.Stdout = &piped
	if err := second.Start(); err != nil {
		fmt.Printf("exec: /bin/cat: %v\n", err)
	}
	if err := first.Run(); err == nil {
		fail("exec: the child exited 0")
	}
	writer.Close()
	if second.Process != nil {
		if err := second.Wait(); err != nil {
			fail("exec: cat: %v", err)
		}
	}
	reader.Close()
	fmt.Printf("exec: through a pipe to cat: %q\n", piped.String())

	// Children ended by signals: caught (SIGTERM), and not catchable (SIGKILL).
	signalChild(self, syscall.SIGTERM)
	signalChild(self, syscall.SIGKILL)

	// A child that outlives its context is killed.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err = exec.CommandContext(ctx, self, "sleeper").Run()
	cancel()
	fmt.Printf("exec: a sleeper past its context's deadline: %v\n", err)

	// A program that does not exist.
	if err := exec.Command("/nonexistent/program").Run(); err != nil {
		fmt.Printf("exec: missing program: %v\n", err)
	}
}

func handler(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/square":
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil {
			http.Error(w, "bad n", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d squared is %d", n, n*n)
	case "/echo":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %d bytes: %s", r.Method, len(body), strings.ToUpper(string(body)))
	default:
		http.NotFound(w, r)
	}
}

func partHTTP() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("http: listen: %v", err)
	}
	server := &http.Server{Handler: http.HandlerFunc(handler)}
	served := make(chan error, 1)
	go func() { served <- server.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: watchdog}

	const requests = 8
	responses := make([]string, requests)
	var wg sync.WaitGroup
	for i := 0; i < requests; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var resp *http.Response
			var err error
			switch i % 3 {
			case 0:
				resp, err = client.Get(fmt.Sprintf("%s/square?n=%d", base, i*111))
			case 1:
				resp, err = client.Post(base+"/echo", "text/plain", strings.NewReader(strings.Repeat("go", i)))
			default:
				resp, err = client.Get(fmt.Sprintf("%s/missing/%d", base, i))
			}
			if err != nil {
				responses[i] = "error: " + err.Error()
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				responses[i] = "error: " + err.Error()
				return
			}
			responses[i] = fmt.Sprintf("%s, %d bytes: %q", resp.Status, len(body), strings.TrimSpace(string(body)))
		}(i)
	}
	wg.Wait()
	for i, r := range responses {
		fmt.Printf("http: request %d: %s\n", i, r)
	}

	// A raw HTTP/1.0 request over a plain TCP connection.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fail("http: dial: %v", err)
	}
	fmt.Fprintf(conn, "GET /square?n=12 HTTP/1.0\r\nHost: test\r\n\r\n")
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		fail("http: raw read: %v", err)
	}
	conn.Close()
	fmt.Printf("http: raw request: %q\n", status)

	ctx, cancel := context.WithTimeout(context.Background(), watchdog)
	defer cancel()
	if err := server.Shutdown(ctx); err != nil {
		fail("http: shutdown: %v", err)
	}
	if err := <-served; err != http.ErrServerClosed {
		fail("http: serve: %v", err)
	}
	fmt.Println("http: server shut down")
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sleeper" {
		sleeper()
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "child" {
		child(os.Args[2:])
		return
	}
	time.AfterFunc(watchdog, func() { fail("watchdog: still running after %v", watchdog) })
	parts := os.Args[1:]
	if len(parts) == 0 {
		parts = []string{"runtime", "signal", "exec", "http"}
	}
	for _, part := range parts {
		switch part {
		case "runtime":
			partRuntime()
		case "signal":
			partSignal()
		case "exec":
			partExec()
		case "http":
			partHTTP()
		default:
			fail("unknown part %q", part)
		}
	}
	fmt.Println("go_http: done")
}
