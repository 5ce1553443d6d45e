/* smp_fork: fork from one thread while two others keep rewriting shared buffers. Each
 * whole rewrite of a buffer happens under that buffer's mutex; the forking thread holds
 * the first buffer's mutex across fork() itself, and pthread_atfork handlers hold the
 * second's, so the child's copy of each buffer is one consistent pattern. With threads
 * running at once, the copy fork makes must be taken with the writers stopped (or
 * copy-on-write) so that a write on another CPU cannot tear it. The child checks both
 * buffers and that the writer threads are not in it, writes its own pattern, and exits 0;
 * the parent checks each status, and at the end that no child's pattern reached its
 * buffers. 20 times.
 * Around each fork a third thread sweeps a 1 MiB buffer with no lock, in a pure CPU loop:
 * round n stores n into words 0 and N-1, then 1 and N-2, and so on inwards. A fork is an
 * instant of that thread's program order (Linux: its stores before the fork's TLB flush
 * reach the pages the child shares, none after), so the child must see round n at the
 * two ends, as many words at each (or one more at the start), and round n-1 between: a
 * copy taken while the sweeper runs on another CPU sees more of the new round at the
 * end it copies last (about half of such copies, measured with memcpy natively). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define WRITERS 2
#define FORKS 20
#define BUF_SIZE (64 * 1024)
#define SWEEP_WORDS (1024 * 1024 / 8)

static unsigned char buf1[BUF_SIZE], buf2[BUF_SIZE];
static pthread_mutex_t lock1 = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock2 = PTHREAD_MUTEX_INITIALIZER;
static int stop;
static int writes_done[WRITERS];
static pid_t writer_tid[WRITERS];
static uint64_t sweep_buf[SWEEP_WORDS];
static int sweeping; /* the forker asks the sweeper to run */
static int sweeps;   /* rounds swept */

/* The forking thread takes both locks by spinning on trylock: it never sleeps on them, so
 * that its system calls do not depend on where the writers are (strace compares them).
 * It yields now and then, for a holder that was preempted: each call follows a wait that
 * ends with sched_yield, so strace shows those yields as one run with it. */
static void spin_lock(pthread_mutex_t *m)
{
    for (unsigned n = 1; pthread_mutex_trylock(m) != 0; n++)
        if (n % 1024 == 0)
            sched_yield();
}

static void prepare(void)
{
    spin_lock(&lock2);
}

static void in_parent(void)
{
    pthread_mutex_unlock(&lock2);
}

static void in_child(void)
{
    pthread_mutex_unlock(&lock2);
}

/* A pattern is one byte value, never 0 nor 0xee (the child's own). */
static int consistent(const unsigned char *b, unsigned char *value)
{
    unsigned char v = b[0];
    for (int i = 1; i < BUF_SIZE; i++)
        if (b[i] != v)
            return 0;
    *value = v;
    return v != 0 && v != 0xee;
}

static void write_pattern(unsigned char *b, unsigned char v)
{
    /* 8 bytes at a time through a volatile pointer: a long window for a torn copy. */
    for (int i = 0; i < BUF_SIZE; i += 8)
        *(volatile uint64_t *)(b + i) = 0x0101010101010101ull * v;
}

/* Sweeps while the forker wants it (around each fork), else sleeps on a futex. */
static void *sweeper(void *arg)
{
    (void)arg;
    volatile uint64_t *b = sweep_buf;
    uint64_t n = 1;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        if (!__atomic_load_n(&sweeping, __ATOMIC_ACQUIRE)) {
            syscall(SYS_futex, &sweeping, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
            continue;
        }
        for (int i = 0; i < SWEEP_WORDS / 2; i++) {
            b[i] = n;
            b[SWEEP_WORDS - 1 - i] = n;
        }
        n++;
        __atomic_fetch_add(&sweeps, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* Round n in lo words at the start and hi at the end (lo == hi or hi + 1), round n-1 in
 * between; or one round everywhere. */
static int one_instant(void)
{
    const uint64_t *b = sweep_buf;
    uint64_t v = b[0];
    int lo = 0, hi = 0;
    while (lo < SWEEP_WORDS && b[lo] == v)
        lo++;
    if (lo == SWEEP_WORDS)
        return 1;
    while (b[SWEEP_WORDS - 1 - hi] == v)
        hi++;
    uint64_t older = b[lo];
    if (older + 1 != v)
        return 0;
    for (int i = lo; i < SWEEP_WORDS - hi; i++)
        if (b[i] != older)
            return 0;
    return lo == hi || lo == hi + 1;
}

static void *writer(void *arg)
{
    long id = (long)arg;
    writer_tid[id] = (pid_t)syscall(SYS_gettid);
    for (unsigned n = 0; !__atomic_load_n(&stop, __ATOMIC_ACQUIRE); n++) {
        unsigned char v = (unsigned char)(1 + (n * WRITERS + (unsigned)id) % 200);
        pthread_mutex_lock(&lock1);
        write_pattern(buf1, v);
        pthread_mutex_unlock(&lock1);
        pthread_mutex_lock(&lock2);
        write_pattern(buf2, (unsigned char)(v + 1));
        pthread_mutex_unlock(&lock2);
        __atomic_store_n(&writes_done[id], (int)n + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static int child(void)
{
    unsigned char v;
    if (!consistent(buf1, &v))
        return 1;
    if (!consistent(buf2, &v))
        return 2;
    if (!one_instant())
        return 4;
    /* The writers are not in the child: their tids name no thread of it. */
    for (int w = 0; w < WRITERS; w++)
        if (syscall(SYS_tgkill, getpid(), writer_tid[w], 0) != -1 || errno != ESRCH)
            return 3;
    /* The child's own writes, and its mutexes usable. */
    pthread_mutex_lock(&lock1);
    write_pattern(buf1, 0xee);
    pthread_mutex_unlock(&lock1);
    pthread_mutex_lock(&lock2);
    write_pattern(buf2, 0xee);
    pthread_mutex_unlock(&lock2);
    return 0;
}

static void *forker(void *arg)
{
    (void)arg;
    long bad = 0;
    for (int i = 0; i < FORKS; i++) {
        /* Let both writers get going again after the last fork. */
        for (int w = 0; w < WRITERS; w++) {
            int seen = __atomic_load_n(&writes_done[w], __ATOMIC_ACQUIRE);
            sched_yield(); /* once whatever the timing, so that strace sees the same calls */
            for (unsigned n = 1; __atomic_load_n(&writes_done[w], __ATOMIC_ACQUIRE) < seen + 1; n++)
                if (n % 4096 == 0)
                    sched_yield();
        }
        spin_lock(&lock1);
        /* The sweeper is mid-round (it has finished one since it was asked) at the fork;
         * asked only now, with the writers about to sleep on lock1, so that the threads
         * that run do not outnumber the CPUs (on 2 CPUs, spinning for a lock whose holder
         * was preempted made this 3 times slower). */
        int swept = __atomic_load_n(&sweeps, __ATOMIC_ACQUIRE);
        __atomic_store_n(&sweeping, 1, __ATOMIC_RELEASE);
        syscall(SYS_futex, &sweeping, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        sched_yield();
        for (unsigned n = 1; __atomic_load_n(&sweeps, __ATOMIC_ACQUIRE) < swept + 1; n++)
            if (n % 4096 == 0)
                sched_yield();
        pid_t pid = fork();
        if (pid == 0) {
            pthread_mutex_unlock(&lock1);
            _exit(child());
        }
        pthread_mutex_unlock(&lock1);
        __atomic_store_n(&sweeping, 0, __ATOMIC_RELEASE);
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "fork %d: status 0x%x\n", i, pid < 0 ? -1 : status);
            bad++;
        }
    }
    return (void *)bad;
}

int main(void)
{
    CHECK(pthread_atfork(prepare, in_parent, in_child) == 0, "pthread_atfork");
    /* SIGCHLD blocked in every thread (they inherit the mask): which thread a child's exit
     * interrupts is a race that strace would show. */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &chld, NULL);
    pthread_t w[WRITERS], f, sw;
    pthread_create(&sw, NULL, sweeper, NULL);
    for (long i = 0; i < WRITERS; i++)
        pthread_create(&w[i], NULL, writer, (void *)i);
    pthread_create(&f, NULL, forker, NULL);
    void *bad;
    pthread_join(f, &bad);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&sweeping, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &sweeping, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(w[i], NULL);
    pthread_join(sw, NULL);
    CHECK(bad == NULL,
          "20 forks from a thread while 2 threads rewrite 64 KiB buffers: each child saw one consistent "
          "pattern in each and the unlocked sweep buffer as of one instant, had none of the writer "
          "threads, exited 0");
    unsigned char v;
    CHECK(consistent(buf1, &v) && consistent(buf2, &v),
          "the parent's buffers are consistent at the end, none holds the children's pattern");
    printf("smp_fork: ok\n");
    return 0;
}
