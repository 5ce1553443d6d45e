/* futex_ops: the non-PI futex operations. FUTEX_WAKE_OP with every operation and
 * comparison, REQUEUE/CMP_REQUEUE, WAIT_BITSET/WAKE_BITSET, absolute timeouts on
 * CLOCK_REALTIME and CLOCK_MONOTONIC, a relative FUTEX_WAIT timeout, EINTR, shared
 * futexes across fork and between two mappings of one memfd (keyed by the memory, not
 * the address; a private futex is keyed by the address), and Linux's errno for bad input. */
#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "deadline.h"

static long futex(uint32_t *uaddr, int op, uint32_t val, const void *timeout, uint32_t *uaddr2, uint32_t val3)
{
    return syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}


/* Waiter threads: each waits on a word (with a bitset) and records its result. */
struct waiter {
    uint32_t *uaddr;
    int op;
    uint32_t bitset;
    long result;
    pthread_t thread;
};

static volatile int started;

static void *wait_thread(void *p)
{
    struct waiter *w = p;
    __atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
    w->result = futex(w->uaddr, w->op, *w->uaddr, NULL, NULL, w->bitset);
    return NULL;
}

static void start_waiters(struct waiter *ws, int n)
{
    started = 0;
    for (int i = 0; i < n; i++)
        pthread_create(&ws[i].thread, NULL, wait_thread, &ws[i]);
    while (started < n)
        sleep_ms(1);
    sleep_ms(30); /* they are in the kernel now */
}

static void join_waiters(struct waiter *ws, int n)
{
    for (int i = 0; i < n; i++)
        pthread_join(ws[i].thread, NULL);
}

static uint32_t f1, f2;

static int wake_op(uint32_t *a, int nr1, uint32_t *b, int nr2, int op, int oparg, int cmp, int cmparg)
{
    return futex(a, FUTEX_WAKE_OP_PRIVATE, nr1, (void *)(long)nr2, b, FUTEX_OP(op, oparg, cmp, cmparg));
}

static void on_alarm(int sig) { (void)sig; }

int main(void)
{
    /* WAKE_OP: every operation changes *uaddr2 as documented (no waiters: returns 0). */
    f2 = 10;
    CHECK(wake_op(&f1, 1, &f2, 1, FUTEX_OP_SET, 5, FUTEX_OP_CMP_EQ, 0) == 0 && f2 == 5, "WAKE_OP SET");
    CHECK(wake_op(&f1, 1, &f2, 1, FUTEX_OP_ADD, 3, FUTEX_OP_CMP_EQ, 0) == 0 && f2 == 8, "WAKE_OP ADD");
    CHECK(wake_op(&f1, 1, &f2, 1, FUTEX_OP_ADD, -9, FUTEX_OP_CMP_EQ, 0) == 0 && f2 == 0xffffffff,
          "WAKE_OP ADD of a negative oparg");
    f2 = 0x10;
    CHECK(wake_op(&f1, 1, &f2, 1, FUTEX_OP_OR, 0x3, FUTEX_OP_CMP_EQ, 0) == 0 && f2 == 0x13, "WAKE_OP OR");
    CHECK(wake_op(&f1, 1, &f2, 1, FUTEX_OP_ANDN, 0x1, FUTEX_OP_CMP_EQ, 0) == 0 && f2 == 0x12, "WAKE_OP ANDN");
    CHECK(wake_op(&f1, 1, &f2, 1, FUTEX_OP_XOR, 0xff, FUTEX_OP_CMP_EQ, 0) == 0 && f2 == 0xed, "WAKE_OP XOR");
    CHECK(wake_op(&f1, 1, &f2, 1, FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT, 4, FUTEX_OP_CMP_EQ, 0) == 0 && f2 == 16,
          "WAKE_OP SET with FUTEX_OP_OPARG_SHIFT (1<<4)");
    CHECK(wake_op(&f1, 1, &f2, 1, 5, 0, FUTEX_OP_CMP_EQ, 0) == -1 && errno == ENOSYS && f2 == 16,
          "WAKE_OP with an unknown op: ENOSYS, nothing written");
    CHECK(wake_op(&f1, 1, &f2, 1, FUTEX_OP_SET, 7, 6, 0) == -1 && errno == ENOSYS && f2 == 7,
          "WAKE_OP with an unknown comparison: ENOSYS after the write");

    /* WAKE_OP comparisons decide whether uaddr2's waiters wake (the old value is 7). */
    static const struct {
        int cmp, cmparg, wakes;
        const char *what;
    } cmps[] = {
        {FUTEX_OP_CMP_EQ, 7, 1, "WAKE_OP CMP_EQ true wakes uaddr2"},
        {FUTEX_OP_CMP_EQ, 6, 0, "WAKE_OP CMP_EQ false"},
        {FUTEX_OP_CMP_NE, 6, 1, "WAKE_OP CMP_NE true"},
        {FUTEX_OP_CMP_LT, 8, 1, "WAKE_OP CMP_LT true"},
        {FUTEX_OP_CMP_LT, 7, 0, "WAKE_OP CMP_LT false"},
        {FUTEX_OP_CMP_LE, 7, 1, "WAKE_OP CMP_LE true"},
        {FUTEX_OP_CMP_GT, 6, 1, "WAKE_OP CMP_GT true"},
        {FUTEX_OP_CMP_GT, 7, 0, "WAKE_OP CMP_GT false"},
        {FUTEX_OP_CMP_GE, 7, 1, "WAKE_OP CMP_GE true"},
        {FUTEX_OP_CMP_GE, -1, 1, "WAKE_OP CMP_GE of a negative cmparg"},
    };
    for (unsigned i = 0; i < sizeof cmps / sizeof cmps[0]; i++) {
        f1 = 0;
        f2 = 7;
        struct waiter w[2] = {{&f1, FUTEX_WAIT_PRIVATE, 0, 0, 0}, {&f2, FUTEX_WAIT_PRIVATE, 0, 0, 0}};
        start_waiters(w, 2);
        int n = wake_op(&f1, 1, &f2, 1, FUTEX_OP_SET, 7, cmps[i].cmp, cmps[i].cmparg);
        if (!cmps[i].wakes)
            futex(&f2, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        join_waiters(w, 2);
        CHECK(n == 1 + cmps[i].wakes && w[0].result == 0 && w[1].result == 0, cmps[i].what);
    }

    /* FUTEX_WAKE counts: 0 or a negative count still wakes one, as Linux does. */
    f1 = 0;
    struct waiter three[3];
    for (int i = 0; i < 3; i++)
        three[i] = (struct waiter){&f1, FUTEX_WAIT_PRIVATE, 0, -1, 0};
    start_waiters(three, 3);
    CHECK(futex(&f1, FUTEX_WAKE_PRIVATE, 0, NULL, NULL, 0) == 1, "FUTEX_WAKE of 0 wakes one");
    CHECK(futex(&f1, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0) == 2, "FUTEX_WAKE of INT_MAX wakes the rest");
    join_waiters(three, 3);

    /* REQUEUE and CMP_REQUEUE */
    start_waiters(three, 3);
    CHECK(futex(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1L, &f2, 1) == -1 && errno == EAGAIN,
          "CMP_REQUEUE with a changed value: EAGAIN");
    CHECK(futex(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)-1L, &f2, 0) == -1 && errno == EINVAL,
          "CMP_REQUEUE of a negative count: EINVAL");
    CHECK(futex(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1L, &f2, 0) == 2,
          "CMP_REQUEUE wakes 1 and moves 1 (2)");
    CHECK(futex(&f2, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0) == 1, "the moved waiter wakes on the second word");
    CHECK(futex(&f1, FUTEX_REQUEUE_PRIVATE, 0, (void *)5L, &f2, 0) == 1, "REQUEUE moves the last one");
    CHECK(futex(&f1, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0) == 0, "nobody left on the first word");
    CHECK(futex(&f2, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0) == 1, "... it is on the second");
    join_waiters(three, 3);
    CHECK(three[0].result == 0 && three[1].result == 0 && three[2].result == 0, "all three returned 0");

    /* Bitsets */
    struct waiter bits[2] = {{&f1, FUTEX_WAIT_BITSET_PRIVATE, 0x1, -1, 0},
                             {&f1, FUTEX_WAIT_BITSET_PRIVATE, 0x2, -1, 0}};
    start_waiters(bits, 2);
    CHECK(futex(&f1, FUTEX_WAKE_BITSET_PRIVATE, 10, NULL, NULL, 0x2) == 1, "WAKE_BITSET 0x2 wakes only its waiter");
    pthread_join(bits[1].thread, NULL);
    CHECK(futex(&f1, FUTEX_WAKE_BITSET_PRIVATE, 10, NULL, NULL, 0x4) == 0, "WAKE_BITSET 0x4 wakes nobody");
    CHECK(futex(&f1, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0) == 1, "FUTEX_WAKE matches any bitset");
    pthread_join(bits[0].thread, NULL);
    CHECK(futex(&f1, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EINVAL, "WAIT_BITSET 0: EINVAL");
    CHECK(futex(&f1, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0) == -1 && errno == EINVAL, "WAKE_BITSET 0: EINVAL");

    /* Timeouts */
    struct timespec deadline = in_ms(CLOCK_REALTIME, 40);
    CHECK(futex(&f1, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &deadline, NULL, FUTEX_BITSET_MATCH_ANY) ==
                  -1 && errno == ETIMEDOUT && reached(CLOCK_REALTIME, deadline),
          "WAIT_BITSET|FUTEX_CLOCK_REALTIME: absolute realtime timeout");
    deadline = in_ms(CLOCK_MONOTONIC, 40);
    CHECK(futex(&f1, FUTEX_WAIT_BITSET_PRIVATE, 0, &deadline, NULL, FUTEX_BITSET_MATCH_ANY) == -1 &&
              errno == ETIMEDOUT && reached(CLOCK_MONOTONIC, deadline),
          "WAIT_BITSET: absolute monotonic timeout");
    struct timespec past = {1, 0};
    CHECK(futex(&f1, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &past, NULL, FUTEX_BITSET_MATCH_ANY) ==
                  -1 && errno == ETIMEDOUT,
          "WAIT_BITSET with a deadline in the past: ETIMEDOUT at once");
    struct timespec rel = {0, 40 * 1000000}, start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    CHECK(futex(&f1, FUTEX_WAIT_PRIVATE, 0, &rel, NULL, 0) == -1 && errno == ETIMEDOUT, "FUTEX_WAIT relative timeout");
    struct timespec end_ = start;
    end_.tv_nsec += rel.tv_nsec;
    if (end_.tv_nsec >= 1000000000L) {
        end_.tv_sec++;
        end_.tv_nsec -= 1000000000L;
    }
    CHECK(reached(CLOCK_MONOTONIC, end_), "... not before 40 ms");
    CHECK(futex(&f1, FUTEX_WAIT_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &rel, NULL, 0) == -1 && errno == ENOSYS,
          "FUTEX_WAIT|FUTEX_CLOCK_REALTIME: ENOSYS");
    CHECK(futex(&f1, FUTEX_WAKE_PRIVATE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0) == -1 && errno == ENOSYS,
          "FUTEX_WAKE|FUTEX_CLOCK_REALTIME: ENOSYS");
    struct timespec bad = {0, -1};
    CHECK(futex(&f1, FUTEX_WAIT_PRIVATE, 0, &bad, NULL, 0) == -1 && errno == EINVAL, "negative tv_nsec: EINVAL");
    bad = (struct timespec){-1, 0};
    CHECK(futex(&f1, FUTEX_WAIT_PRIVATE, 0, &bad, NULL, 0) == -1 && errno == EINVAL, "negative tv_sec: EINVAL");
    CHECK(futex(&f1, FUTEX_WAIT_PRIVATE, 0, (void *)8, NULL, 0) == -1 && errno == EFAULT, "bad timeout pointer: EFAULT");

    /* EAGAIN, EINTR, bad addresses and commands */
    f1 = 1;
    CHECK(futex(&f1, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EAGAIN, "FUTEX_WAIT on a changed value: EAGAIN");
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm; /* no SA_RESTART */
    sigaction(SIGALRM, &sa, NULL);
    ualarm(30000, 0);
    CHECK(futex(&f1, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0) == -1 && errno == EINTR, "FUTEX_WAIT interrupted: EINTR");
    sa.sa_flags = SA_RESTART; /* a timed wait still ends with EINTR (ERESTART_RESTARTBLOCK) */
    sigaction(SIGALRM, &sa, NULL);
    ualarm(30000, 0);
    struct timespec long_wait = {5, 0};
    CHECK(futex(&f1, FUTEX_WAIT_PRIVATE, 1, &long_wait, NULL, 0) == -1 && errno == EINTR,
          "timed FUTEX_WAIT interrupted under SA_RESTART: EINTR");
    CHECK(futex((uint32_t *)((char *)&f1 + 2), FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EINVAL,
          "misaligned address: EINVAL");
    CHECK(futex((uint32_t *)((char *)&f1 + 2), FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == -1 && errno == EINVAL,
          "misaligned wake: EINVAL");
    CHECK(futex(NULL, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EFAULT, "FUTEX_WAIT on NULL: EFAULT");
    CHECK(futex(NULL, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0, "private FUTEX_WAKE on NULL: 0 (no lookup)");
    CHECK(futex(NULL, FUTEX_WAKE, 1, NULL, NULL, 0) == -1 && errno == EFAULT, "shared FUTEX_WAKE on NULL: EFAULT");
    void *gone = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(gone, 4096);
    CHECK(futex(gone, FUTEX_WAKE, 1, NULL, NULL, 0) == -1 && errno == EFAULT, "shared FUTEX_WAKE on unmapped memory: EFAULT");
    void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(futex(none, FUTEX_WAKE, 1, NULL, NULL, 0) == -1 && errno == EFAULT, "shared FUTEX_WAKE on PROT_NONE: EFAULT");
    CHECK(futex(&f1, FUTEX_REQUEUE_PRIVATE, 1, (void *)1L, gone, 0) == 0, "private REQUEUE to unmapped memory: 0");
    CHECK(futex(&f1, FUTEX_REQUEUE, 1, (void *)1L, gone, 0) == -1 && errno == EFAULT, "shared REQUEUE to unmapped memory: EFAULT");
    CHECK(futex(&f1, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, gone, 0) == -1 && errno == EFAULT, "WAKE_OP on unmapped uaddr2: EFAULT");
    CHECK(futex(&f1, 2 | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0) == -1 && errno == ENOSYS, "FUTEX_FD: ENOSYS");
    CHECK(futex(&f1, 14, 0, NULL, NULL, 0) == -1 && errno == ENOSYS, "command 14: ENOSYS");
    CHECK(futex(&f1, 99, 0, NULL, NULL, 0) == -1 && errno == ENOSYS, "command 99: ENOSYS");

    /* Shared futexes: across fork in MAP_SHARED memory ... */
    uint32_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    shared[0] = 0;
    shared[1] = 0;
    pid_t child = fork();
    if (child == 0) {
        __atomic_store_n(&shared[1], 1, __ATOMIC_SEQ_CST);
        long r = futex(&shared[0], FUTEX_WAIT, 0, NULL, NULL, 0);
        _exit(r == 0 && shared[0] == 1 ? 0 : 1);
    }
    while (!__atomic_load_n(&shared[1], __ATOMIC_SEQ_CST))
        sleep_ms(1);
    sleep_ms(30);
    shared[0] = 1;
    int woke = 0;
    for (int i = 0; i < 200 && !woke; i++) {
        woke = futex(&shared[0], FUTEX_WAKE, 1, NULL, NULL, 0);
        if (!woke)
            sleep_ms(1);
    }
    int status;
    waitpid(child, &status, 0);
    CHECK(woke == 1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "a shared futex wakes a child process");

    /* ... and between two mappings of one memfd at different addresses. */
    int fd = memfd_create("futex_ops", 0);
    ftruncate(fd, 4096);
    uint32_t *a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    uint32_t *b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(a != b, "one memfd mapped twice");
    struct waiter mw[1] = {{&a[3], FUTEX_WAIT, 0, -1, 0}};
    start_waiters(mw, 1);
    CHECK(futex(&b[3], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0, "a private wake at the other address finds nobody");
    CHECK(futex(&b[3], FUTEX_WAKE, 1, NULL, NULL, 0) == 1, "a shared wake at the other address wakes it");
    join_waiters(mw, 1);
    struct waiter pw[1] = {{&f1, FUTEX_WAIT_PRIVATE, 0, -1, 0}};
    start_waiters(pw, 1);
    CHECK(futex(&f1, FUTEX_WAKE, 1, NULL, NULL, 0) == 0, "a shared wake does not wake a private waiter");
    CHECK(futex(&f1, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 1, "the private wake does");
    join_waiters(pw, 1);
    return 0;
}
