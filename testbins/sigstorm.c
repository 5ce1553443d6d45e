/* sigstorm: a storm of signals from several processes at threads asleep in futex waits,
 * pipe reads and nanosleep, checking what must hold whatever the timing:
 * - no lost wake-up: every futex waiter sees the last value of its word, every pipe reader
 *   reads every byte written, every nanosleep that returns 0 slept its full time (EINTR
 *   retried with the remaining time);
 * - standard signals may merge: each kind sent at least once arrives at least once and
 *   never more often than it was sent;
 * - queued real-time signals (sigqueue to the process, rt_tgsigqueueinfo to a thread)
 *   arrive exactly once per value, a thread-directed one in its own thread;
 * - nothing deadlocks (the program ends; pykern must not report a deadlock);
 * - first, sigqueue meets RLIMIT_SIGPENDING: EAGAIN, and every accepted signal arrives.
 * Handlers run with and without SA_RESTART, so both restart and EINTR paths are taken.
 * argv[1], optional: rounds per sender (default 150; `make soak` uses thousands). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SENDERS 4
#define KINDS 3 /* futex, pipe, nanosleep */
#define PER_KIND 2
#define SLEEPERS (KINDS * PER_KIND)
#define MAX_ROUNDS 20000
#define NAP_NS 20000000L /* each nanosleep: 20 ms */

static int rounds = 150;
static pid_t tids[SLEEPERS];
static int pipes[SLEEPERS][2];
static unsigned futex_word; /* the futex waiters' condition: counts up to `final_word` */
static unsigned final_word;
static volatile int stop; /* the nanosleepers' condition */
static long bytes_written[SLEEPERS], bytes_read[SLEEPERS];
static int short_naps, naps, futex_seen_final = 1;

static int usr1_count, usr2_count[SLEEPERS], rt_process_seen[SENDERS * MAX_ROUNDS],
    rt_thread_seen[SENDERS * MAX_ROUNDS], rt_wrong_thread, rt_total;

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static int slot_of(pid_t tid)
{
    for (int i = 0; i < SLEEPERS; i++)
        if (tids[i] == tid)
            return i;
    return -1;
}

static void on_usr1(int sig) { (void)sig; __atomic_fetch_add(&usr1_count, 1, __ATOMIC_RELAXED); }

static void on_usr2(int sig)
{
    (void)sig;
    int slot = slot_of(gettid_());
    if (slot >= 0)
        __atomic_fetch_add(&usr2_count[slot], 1, __ATOMIC_RELAXED);
}

static void on_rt_process(int sig, siginfo_t *info, void *uc)
{
    (void)sig, (void)uc;
    int value = info->si_value.sival_int;
    if (value >= 0 && value < SENDERS * MAX_ROUNDS)
        __atomic_fetch_add(&rt_process_seen[value], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&rt_total, 1, __ATOMIC_RELAXED);
}

static void on_rt_thread(int sig, siginfo_t *info, void *uc)
{
    (void)sig, (void)uc;
    int value = info->si_value.sival_int;
    if (value >= 0 && value < SENDERS * MAX_ROUNDS) {
        __atomic_fetch_add(&rt_thread_seen[value], 1, __ATOMIC_RELAXED);
        if (tids[value % SLEEPERS] != gettid_())
            __atomic_fetch_add(&rt_wrong_thread, 1, __ATOMIC_RELAXED);
    }
    __atomic_fetch_add(&rt_total, 1, __ATOMIC_RELAXED);
}

static long futex(unsigned *word, int op, unsigned value)
{
    return syscall(SYS_futex, word, op, value, NULL, NULL, 0);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *sleeper(void *arg)
{
    int slot = (int)(long)arg;
    __atomic_store_n(&tids[slot], gettid_(), __ATOMIC_RELEASE);
    switch (slot % KINDS) {
    case 0: { /* futex: wait until the word reaches its final value */
        for (;;) {
            unsigned seen = __atomic_load_n(&futex_word, __ATOMIC_ACQUIRE);
            unsigned final = __atomic_load_n(&final_word, __ATOMIC_ACQUIRE);
            if (final && seen == final)
                break;
            if (futex(&futex_word, FUTEX_WAIT_PRIVATE, seen) < 0 && errno != EAGAIN && errno != EINTR) {
                perror("futex wait");
                exit(1);
            }
        }
        break;
    }
    case 1: { /* pipe: read until the writer closes */
        char buf[64];
        for (;;) {
            ssize_t n = read(pipes[slot][0], buf, sizeof buf);
            if (n == 0)
                break;
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                perror("read");
                exit(1);
            }
            bytes_read[slot] += n;
        }
        break;
    }
    default: /* nanosleep: full naps until told to stop, EINTR resumed with the remainder */
        while (!stop) {
            struct timespec want = {0, NAP_NS}, left;
            double start = now();
            while (nanosleep(&want, &left) < 0) {
                if (errno != EINTR) {
                    perror("nanosleep");
                    exit(1);
                }
                want = left;
            }
            __atomic_fetch_add(&naps, 1, __ATOMIC_RELAXED);
            if (now() - start < NAP_NS / 1e9 - 1e-4)
                __atomic_fetch_add(&short_naps, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

static void send_rt(pid_t pid, pid_t tid, int sig, int value)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = sig;
    info.si_code = SI_QUEUE;
    info.si_pid = getpid();
    info.si_uid = getuid();
    info.si_value.sival_int = value;
    for (;;) { /* the queue is bounded (RLIMIT_SIGPENDING): wait for room */
        long r = tid ? syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, &info)
                     : syscall(SYS_rt_sigqueueinfo, pid, sig, &info);
        if (r == 0)
            return;
        if (errno != EAGAIN) {
            perror("sigqueue");
            _exit(1);
        }
        usleep(1000);
    }
}

static void sender(int me, pid_t parent)
{
    for (int r = 0; r < rounds; r++) {
        int value = me * rounds + r;
        kill(parent, SIGUSR1);
        syscall(SYS_tgkill, parent, tids[(me + r) % SLEEPERS], SIGUSR2);
        send_rt(parent, 0, SIGRTMIN, value);
        send_rt(parent, tids[value % SLEEPERS], SIGRTMIN + 1, value);
    }
    _exit(0);
}

static void handle(int sig, void (*handler)(int), void (*action)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    if (action) {
        sa.sa_sigaction = action;
        sa.sa_flags = SA_SIGINFO | flags;
    } else {
        sa.sa_handler = handler;
        sa.sa_flags = flags;
    }
    sigaction(sig, &sa, NULL);
}

static int check(int ok, const char *what)
{
    printf("%s: %s\n", what, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

/* With RLIMIT_SIGPENDING at 8 and the signal blocked, sigqueue fails with EAGAIN within
 * 20 sends (Linux counts the whole user's pending signals, so natively it may come
 * earlier); once unblocked, every accepted signal is delivered. */
static int sigpending_limit(void)
{
    struct rlimit saved, low;
    getrlimit(RLIMIT_SIGPENDING, &saved);
    low = saved;
    low.rlim_cur = 8;
    setrlimit(RLIMIT_SIGPENDING, &low);
    sigset_t rt, old;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &rt, &old);
    int accepted = 0, eagain = 0;
    for (int i = 0; i < 20 && !eagain; i++) {
        union sigval value = {.sival_int = i};
        if (sigqueue(getpid(), SIGRTMIN, value) == 0)
            accepted++;
        else
            eagain = errno == EAGAIN;
    }
    sigprocmask(SIG_SETMASK, &old, NULL); /* on_rt_process counts each one */
    setrlimit(RLIMIT_SIGPENDING, &saved);
    int delivered = __atomic_exchange_n(&rt_total, 0, __ATOMIC_RELAXED);
    for (int v = 0; v < 20; v++)
        rt_process_seen[v] = 0;
    return check(eagain && accepted <= 8 && delivered == accepted,
                 "sigqueue past RLIMIT_SIGPENDING: EAGAIN, every accepted one delivered");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        rounds = atoi(argv[1]);
    if (rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "sigstorm: rounds must be 1..%d\n", MAX_ROUNDS);
        return 2;
    }
    handle(SIGUSR1, on_usr1, NULL, SA_RESTART);
    handle(SIGUSR2, on_usr2, NULL, 0);
    handle(SIGRTMIN, NULL, on_rt_process, SA_RESTART);
    handle(SIGRTMIN + 1, NULL, on_rt_thread, 0);
    int failures = sigpending_limit();

    pthread_t threads[SLEEPERS];
    for (int i = 0; i < SLEEPERS; i++) {
        if (pipe(pipes[i]) != 0) {
            perror("pipe");
            return 1;
        }
        pthread_create(&threads[i], NULL, sleeper, (void *)(long)i);
    }
    for (int i = 0; i < SLEEPERS; i++)
        while (!__atomic_load_n(&tids[i], __ATOMIC_ACQUIRE))
            usleep(1000);

    pid_t children[SENDERS];
    for (int i = 0; i < SENDERS; i++) {
        children[i] = fork();
        if (children[i] < 0) {
            perror("fork");
            return 1;
        }
        if (children[i] == 0)
            sender(i, getppid());
    }

    /* While the storm lasts, the main thread moves the sleepers' conditions on. */
    int alive = SENDERS, failed_children = 0;
    while (alive) {
        __atomic_fetch_add(&futex_word, 1, __ATOMIC_RELEASE);
        futex(&futex_word, FUTEX_WAKE_PRIVATE, SLEEPERS);
        for (int i = 1; i < SLEEPERS; i += KINDS)
            if (write(pipes[i][1], "x", 1) == 1)
                bytes_written[i]++;
        usleep(2000);
        int status;
        pid_t done;
        while ((done = waitpid(-1, &status, WNOHANG)) > 0) {
            alive--;
            failed_children += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
    }
    /* Every queued signal has been sent: wait (boundedly) for the last deliveries. */
    int expected_rt = 2 * SENDERS * rounds;
    for (int i = 0; i < 20000 && __atomic_load_n(&rt_total, __ATOMIC_ACQUIRE) < expected_rt; i++)
        usleep(1000);

    /* The final conditions: every sleeper must wake and return. */
    __atomic_store_n(&final_word, __atomic_add_fetch(&futex_word, 1, __ATOMIC_RELEASE), __ATOMIC_RELEASE);
    futex(&futex_word, FUTEX_WAKE_PRIVATE, SLEEPERS);
    for (int i = 1; i < SLEEPERS; i += KINDS)
        close(pipes[i][1]);
    stop = 1;
    for (int i = 0; i < SLEEPERS; i++)
        pthread_join(threads[i], NULL);

    printf("%d senders x %d rounds: kill SIGUSR1, tgkill SIGUSR2, sigqueue SIGRTMIN, "
           "rt_tgsigqueueinfo SIGRTMIN+1\n",
           SENDERS, rounds);
    failures += check(failed_children == 0, "senders exited 0");
    failures += check(futex_seen_final, "futex waiters woke for the final value");
    int all_bytes = 1;
    for (int i = 1; i < SLEEPERS; i += KINDS)
        all_bytes &= bytes_read[i] == bytes_written[i] && bytes_written[i] > 0;
    failures += check(all_bytes, "pipe readers read every byte");
    failures += check(naps >= PER_KIND && short_naps == 0, "nanosleep naps were never cut short");
    int sent_usr1 = SENDERS * rounds;
    failures += check(usr1_count >= 1 && usr1_count <= sent_usr1, "SIGUSR1 (kill) arrived, merged at most");
    int usr2_ok = 1;
    for (int slot = 0; slot < SLEEPERS; slot++) {
        int sent = 0;
        for (int me = 0; me < SENDERS; me++)
            for (int r = 0; r < rounds; r++)
                sent += (me + r) % SLEEPERS == slot;
        usr2_ok &= sent ? usr2_count[slot] >= 1 && usr2_count[slot] <= sent : usr2_count[slot] == 0;
    }
    failures += check(usr2_ok, "SIGUSR2 (tgkill) arrived in its thread, merged at most");
    int once_process = 1, once_thread = 1;
    for (int v = 0; v < SENDERS * rounds; v++) {
        once_process &= rt_process_seen[v] == 1;
        once_thread &= rt_thread_seen[v] == 1;
    }
    failures += check(once_process, "SIGRTMIN (sigqueue): every value exactly once");
    failures += check(once_thread && rt_wrong_thread == 0,
                      "SIGRTMIN+1 (rt_tgsigqueueinfo): every value exactly once, in its thread");
    failures += check(rt_total == expected_rt, "no real-time signal beyond those sent");
    return failures ? 1 : 0;
}
