/* futex_waitv: futex_waitv(2) waits on several futexes and returns the index of the one
 * woken; EAGAIN when a value differs; absolute timeouts on CLOCK_MONOTONIC and
 * CLOCK_REALTIME; shared and private entries; EINTR; and the argument checks (flags,
 * FUTEX_32 only, the reserved field, the count, the clock, alignment, bad pointers). */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "deadline.h"

static long waitv(struct futex_waitv *w, unsigned n, unsigned flags, struct timespec *timeout, clockid_t clock)
{
    return syscall(SYS_futex_waitv, w, n, flags, timeout, clock);
}


static uint32_t words[4];
static struct futex_waitv vec[4];
static volatile int waiting;
static long result;

static void *waiter(void *arg)
{
    (void)arg;
    waiting = 1;
    result = waitv(vec, 4, 0, NULL, 0);
    return NULL;
}

static void fill(int private_flag)
{
    for (int i = 0; i < 4; i++) {
        words[i] = i;
        vec[i] = (struct futex_waitv){.val = i, .uaddr = (uintptr_t)&words[i],
                                      .flags = FUTEX_32 | (private_flag ? FUTEX_PRIVATE_FLAG : 0)};
    }
}

static void on_alarm(int sig) { (void)sig; }

int main(void)
{
    /* Wake each of four in turn: the index comes back. */
    for (int target = 0; target < 4; target++) {
        fill(target % 2);
        waiting = 0;
        pthread_t t;
        pthread_create(&t, NULL, waiter, NULL);
        while (!waiting)
            sleep_ms(1);
        sleep_ms(30);
        int op = target % 2 ? FUTEX_WAKE_PRIVATE : FUTEX_WAKE;
        long n = syscall(SYS_futex, &words[target], op, 1, NULL, NULL, 0);
        pthread_join(t, NULL);
        char what[80];
        snprintf(what, sizeof what, "woken on futex %d: futex_waitv returns %d", target, target);
        CHECK(n == 1 && result == target, what);
    }
    fill(1);
    words[2] = 99;
    CHECK(waitv(vec, 4, 0, NULL, 0) == -1 && errno == EAGAIN, "a value that differs: EAGAIN");

    /* Timeouts: absolute, on the clock asked for. */
    fill(1);
    struct timespec deadline = in_ms(CLOCK_MONOTONIC, 40);
    CHECK(waitv(vec, 4, 0, &deadline, CLOCK_MONOTONIC) == -1 && errno == ETIMEDOUT &&
              reached(CLOCK_MONOTONIC, deadline),
          "CLOCK_MONOTONIC deadline: ETIMEDOUT");
    deadline = in_ms(CLOCK_REALTIME, 40);
    CHECK(waitv(vec, 4, 0, &deadline, CLOCK_REALTIME) == -1 && errno == ETIMEDOUT &&
              reached(CLOCK_REALTIME, deadline),
          "CLOCK_REALTIME deadline: ETIMEDOUT");
    struct timespec past = {0, 0};
    CHECK(waitv(vec, 1, 0, &past, CLOCK_MONOTONIC) == -1 && errno == ETIMEDOUT, "a past deadline: ETIMEDOUT");

    /* EINTR */
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    ualarm(30000, 0);
    CHECK(waitv(vec, 4, 0, NULL, 0) == -1 && errno == EINTR, "interrupted by a signal: EINTR");

    /* Argument checks */
    fill(1);
    CHECK(waitv(vec, 4, 1, NULL, 0) == -1 && errno == EINVAL, "flags != 0: EINVAL");
    CHECK(waitv(vec, 0, 0, NULL, 0) == -1 && errno == EINVAL, "no futexes: EINVAL");
    CHECK(waitv(vec, FUTEX_WAITV_MAX + 1, 0, NULL, 0) == -1 && errno == EINVAL, "129 futexes: EINVAL");
    CHECK(waitv(NULL, 1, 0, NULL, 0) == -1 && errno == EINVAL, "NULL vector: EINVAL");
    CHECK(waitv((void *)8, 1, 0, NULL, 0) == -1 && errno == EFAULT, "unmapped vector: EFAULT");
    deadline = in_ms(CLOCK_MONOTONIC, 10);
    CHECK(waitv(vec, 4, 0, &deadline, CLOCK_BOOTTIME) == -1 && errno == EINVAL, "CLOCK_BOOTTIME: EINVAL");
    CHECK(waitv(vec, 4, 0, (void *)8, CLOCK_MONOTONIC) == -1 && errno == EFAULT, "bad timeout pointer: EFAULT");
    struct timespec bad = {0, 1000000000L};
    CHECK(waitv(vec, 4, 0, &bad, CLOCK_MONOTONIC) == -1 && errno == EINVAL, "tv_nsec out of range: EINVAL");
    vec[1].flags = FUTEX_PRIVATE_FLAG;
    CHECK(waitv(vec, 4, 0, NULL, 0) == -1 && errno == EINVAL, "an entry without FUTEX_32: EINVAL");
    vec[1].flags = FUTEX_32 | 4;
    CHECK(waitv(vec, 4, 0, NULL, 0) == -1 && errno == EINVAL, "an unknown entry flag: EINVAL");
    vec[1].flags = FUTEX_32;
    vec[1].__reserved = 1;
    CHECK(waitv(vec, 4, 0, NULL, 0) == -1 && errno == EINVAL, "a non-zero reserved field: EINVAL");
    vec[1].__reserved = 0;
    vec[1].uaddr = (uintptr_t)&words[1] + 1;
    CHECK(waitv(vec, 4, 0, NULL, 0) == -1 && errno == EINVAL, "a misaligned address: EINVAL");
    vec[1].uaddr = 8;
    CHECK(waitv(vec, 4, 0, NULL, 0) == -1 && errno == EFAULT, "an unmapped address: EFAULT");
    void *gone = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(gone, 4096);
    vec[1].uaddr = (uintptr_t)gone;
    vec[1].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;
    CHECK(waitv(vec, 4, 0, NULL, 0) == -1 && errno == EFAULT, "an unmapped private address: EFAULT");
    return 0;
}
