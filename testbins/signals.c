/* signals: user handlers and the signal frame. raise/kill/sigqueue with SA_SIGINFO
 * (si_code, si_pid, si_value), masks while a handler runs, SA_NODEFER, SA_RESETHAND,
 * blocked signals pending and delivered at unblock, sigpending, sigsuspend, pause,
 * sigtimedwait (and its timeout), registers and SSE state preserved across a handler
 * interrupting a computation, SIGSEGV caught with si_addr and left with siglongjmp,
 * an alternate signal stack (SS_ONSTACK inside the handler), EINTR vs SA_RESTART for a
 * blocking read, nanosleep interrupted with the time left, SIGPIPE caught, SIGCHLD
 * ignored or SA_NOCLDWAIT (children reap themselves). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static volatile sig_atomic_t hits, last_sig, last_code, last_pid, nested_blocked, value;
static volatile void *last_addr;
static sigjmp_buf recover;
static volatile int *volatile bad_pointer = (int *)8;
static char altstack[65536];
static volatile int on_altstack, altstack_flag;

static void on_info(int sig, siginfo_t *info, void *uc)
{
    (void)uc;
    hits++;
    last_sig = sig;
    last_code = info->si_code;
    last_pid = info->si_pid;
    value = info->si_value.sival_int;
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    nested_blocked = sigismember(&now, sig);
}

static void on_plain(int sig)
{
    hits++;
    last_sig = sig;
}

static void on_segv(int sig, siginfo_t *info, void *uc)
{
    (void)uc;
    last_sig = sig;
    last_code = info->si_code;
    last_addr = info->si_addr;
    siglongjmp(recover, 1);
}

static void on_alt(int sig)
{
    int local;
    stack_t now;
    last_sig = sig;
    on_altstack = (char *)&local >= altstack && (char *)&local < altstack + sizeof altstack;
    sigaltstack(NULL, &now);
    altstack_flag = now.ss_flags;
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0, "sigaction");
}

static void install_plain(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa = {0};
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0, "sigaction (plain)");
}

/* A child that sleeps `ms` then sends `sig` to its parent (and optionally writes a byte). */
static pid_t signal_later(int sig, int ms, int fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec ts = {0, ms * 1000000L};
        nanosleep(&ts, NULL);
        kill(parent, sig);
        if (fd >= 0) {
            nanosleep(&ts, NULL);
            (void)!write(fd, "x", 1);
        }
        _exit(0);
    }
    return pid;
}

static void reap(pid_t pid)
{
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status), "helper child reaped");
}

int main(void)
{
    /* raise: tgkill, SI_TKILL, our pid; the signal is blocked inside its handler. */
    install(SIGUSR1, on_info, 0);
    raise(SIGUSR1);
    CHECK(hits == 1 && last_sig == SIGUSR1, "raise runs the handler once");
    CHECK(last_code == SI_TKILL && last_pid == getpid(), "raise: si_code SI_TKILL, si_pid ours");
    CHECK(nested_blocked, "the signal is blocked while its handler runs");

    /* kill: SI_USER. SA_NODEFER leaves it unblocked. */
    install(SIGUSR2, on_info, SA_NODEFER);
    kill(getpid(), SIGUSR2);
    CHECK(hits == 2 && last_sig == SIGUSR2 && last_code == SI_USER, "kill: si_code SI_USER");
    CHECK(!nested_blocked, "SA_NODEFER: not blocked in its handler");

    /* sigqueue carries a value. */
    union sigval sv = {.sival_int = 42};
    CHECK(sigqueue(getpid(), SIGUSR1, sv) == 0, "sigqueue");
    CHECK(hits == 3 && last_code == SI_QUEUE && value == 42, "sigqueue: SI_QUEUE and si_value");

    /* The mask is restored after the handler returns. */
    sigset_t mask, old, pending;
    sigprocmask(SIG_BLOCK, NULL, &old);
    CHECK(!sigismember(&old, SIGUSR1), "mask restored after the handler");

    /* Blocked: pending, then delivered when unblocked (before sigprocmask returns). */
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    raise(SIGUSR1);
    CHECK(hits == 3, "a blocked signal waits");
    sigpending(&pending);
    CHECK(sigismember(&pending, SIGUSR1), "sigpending shows it");
    raise(SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
    CHECK(hits == 4, "unblocked: delivered once (standard signals do not queue)");

    /* Real-time signals queue every instance, lowest number first. */
    install(SIGRTMIN, on_info, 0);
    install(SIGRTMIN + 1, on_info, 0);
    sigemptyset(&mask);
    sigaddset(&mask, SIGRTMIN);
    sigaddset(&mask, SIGRTMIN + 1);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    raise(SIGRTMIN + 1);
    raise(SIGRTMIN);
    raise(SIGRTMIN);
    hits = 0;
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
    CHECK(hits == 3, "real-time signals queue: three deliveries");
    /* Delivery order: SIGRTMIN's frame first; with it blocked in its handler, SIGRTMIN+1's
     * frame nests on top and runs first; the second SIGRTMIN comes after the first returns. */
    CHECK(last_sig == SIGRTMIN, "the last handler to run is the second SIGRTMIN");

    /* SA_RESETHAND: one shot, then SIG_DFL. */
    install_plain(SIGWINCH, on_plain, SA_RESETHAND);
    hits = 0;
    raise(SIGWINCH);
    struct sigaction now;
    sigaction(SIGWINCH, NULL, &now);
    CHECK(hits == 1 && now.sa_handler == SIG_DFL, "SA_RESETHAND: back to SIG_DFL");
    raise(SIGWINCH); /* default: ignored */
    CHECK(hits == 1, "SIGWINCH's default action is to ignore");

    /* SIG_IGN drops it. */
    signal(SIGUSR2, SIG_IGN);
    raise(SIGUSR2);
    CHECK(1, "an ignored signal is dropped");

    /* Registers and SSE state survive a handler that interrupts a computation. */
    install_plain(SIGUSR1, on_plain, 0);
    hits = 0;
    pid_t helper = signal_later(SIGUSR1, 20, -1);
    uint64_t x = 1, steps = 0;
    double f = 1.0;
    while (!hits) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        f = f * 1.0000001 + 1e-9;
        steps++;
    }
    uint64_t y = 1;
    double g = 1.0;
    for (uint64_t i = 0; i < steps; i++) {
        y = y * 6364136223846793005ULL + 1442695040888963407ULL;
        g = g * 1.0000001 + 1e-9;
    }
    CHECK(x == y && f == g, "registers and SSE state survive the handler");
    reap(helper);

    /* A fault caught: si_addr, SEGV_MAPERR, siglongjmp out of the handler. */
    install(SIGSEGV, on_segv, 0);
    if (sigsetjmp(recover, 1) == 0) {
        *bad_pointer = 1;
        CHECK(0, "the store should have faulted");
    }
    CHECK(last_sig == SIGSEGV && last_code == SEGV_MAPERR && last_addr == (void *)8,
          "SIGSEGV handler: si_code SEGV_MAPERR, si_addr 0x8");
    sigprocmask(SIG_BLOCK, NULL, &old);
    CHECK(!sigismember(&old, SIGSEGV), "siglongjmp restored the mask");

    /* The alternate signal stack. */
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack");
    install_plain(SIGUSR2, on_alt, SA_ONSTACK);
    raise(SIGUSR2);
    CHECK(on_altstack && altstack_flag == SS_ONSTACK, "SA_ONSTACK: the handler runs on the alternate stack");
    stack_t cur;
    sigaltstack(NULL, &cur);
    CHECK(cur.ss_flags == 0 && cur.ss_sp == altstack, "off the alternate stack again");
    ss.ss_size = 100;
    CHECK(sigaltstack(&ss, NULL) == -1 && errno == ENOMEM, "sigaltstack: too small is ENOMEM");
    ss.ss_flags = SS_DISABLE;
    CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack: disable");

    /* EINTR: a blocking read interrupted by a handler without SA_RESTART. */
    int fds[2];
    char c;
    CHECK(pipe(fds) == 0, "pipe");
    install_plain(SIGUSR1, on_plain, 0);
    helper = signal_later(SIGUSR1, 20, fds[1]);
    errno = 0;
    CHECK(read(fds[0], &c, 1) == -1 && errno == EINTR, "read interrupted: EINTR");
    CHECK(read(fds[0], &c, 1) == 1, "read again gets the byte");
    reap(helper);

    /* SA_RESTART: the read is restarted and returns the byte. */
    install_plain(SIGUSR1, on_plain, SA_RESTART);
    hits = 0;
    helper = signal_later(SIGUSR1, 20, fds[1]);
    CHECK(read(fds[0], &c, 1) == 1 && hits == 1, "SA_RESTART: read restarted after the handler");
    reap(helper);

    /* nanosleep interrupted: EINTR and the time left. */
    install_plain(SIGUSR1, on_plain, SA_RESTART);
    helper = signal_later(SIGUSR1, 20, -1);
    struct timespec req = {5, 0}, rem = {0, 0};
    CHECK(nanosleep(&req, &rem) == -1 && errno == EINTR, "nanosleep interrupted: EINTR even with SA_RESTART");
    CHECK(rem.tv_sec >= 3 && rem.tv_sec <= 5, "nanosleep: rem holds the time left");
    reap(helper);

    /* pause returns after a handler ran. */
    hits = 0;
    helper = signal_later(SIGUSR1, 20, -1);
    CHECK(pause() == -1 && errno == EINTR && hits == 1, "pause: EINTR after the handler");
    reap(helper);

    /* sigsuspend: wait with the signal unblocked; the old mask comes back. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    hits = 0;
    helper = signal_later(SIGUSR1, 20, -1);
    sigset_t empty;
    sigemptyset(&empty);
    CHECK(sigsuspend(&empty) == -1 && errno == EINTR && hits == 1, "sigsuspend: EINTR after the handler");
    sigprocmask(SIG_BLOCK, NULL, &old);
    CHECK(sigismember(&old, SIGUSR1), "sigsuspend restored the mask");
    reap(helper);

    /* sigtimedwait takes a blocked signal without running its handler. */
    hits = 0;
    raise(SIGUSR1);
    siginfo_t si;
    /* (glibc reports raise's SI_TKILL as SI_USER here, as POSIX wants) */
    CHECK(sigtimedwait(&mask, &si, NULL) == SIGUSR1 && si.si_code == SI_USER && hits == 0,
          "sigtimedwait: takes the signal, no handler");
    struct timespec short_wait = {0, 10000000};
    CHECK(sigtimedwait(&mask, &si, &short_wait) == -1 && errno == EAGAIN, "sigtimedwait: EAGAIN on timeout");
    helper = signal_later(SIGUSR1, 20, -1);
    CHECK(sigwaitinfo(&mask, &si) == SIGUSR1 && si.si_code == SI_USER, "sigwaitinfo: wakes for a sent signal");
    reap(helper);
    sigprocmask(SIG_UNBLOCK, &mask, NULL);

    /* SIGPIPE caught: write fails with EPIPE after the handler. */
    install_plain(SIGPIPE, on_plain, 0);
    hits = 0;
    close(fds[0]);
    errno = 0;
    CHECK(write(fds[1], "x", 1) == -1 && errno == EPIPE && hits == 1 && last_sig == SIGPIPE,
          "SIGPIPE handler ran; write fails with EPIPE");

    /* SIGCHLD ignored: children reap themselves and wait fails with ECHILD once they are
     * gone. With SA_NOCLDWAIT and a handler, the handler still runs. */
    signal(SIGCHLD, SIG_IGN);
    pid_t kid = fork();
    if (kid == 0) {
        usleep(20000);
        _exit(3);
    }
    int st;
    errno = 0;
    CHECK(waitpid(-1, &st, 0) == -1 && errno == ECHILD, "SIGCHLD ignored: wait ends with ECHILD");
    install_plain(SIGCHLD, on_plain, SA_NOCLDWAIT);
    hits = 0;
    kid = fork();
    if (kid == 0) {
        usleep(20000);
        _exit(3);
    }
    errno = 0;
    CHECK(waitpid(-1, &st, 0) == -1 && errno == ECHILD && hits == 1 && last_sig == SIGCHLD,
          "SA_NOCLDWAIT: ECHILD, and the handler ran");

    /* sigtimedwait for SIGCHLD, whose default action is to ignore: blocked, it queues. */
    signal(SIGCHLD, SIG_DFL);
    sigset_t chld_set;
    sigemptyset(&chld_set);
    sigaddset(&chld_set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld_set, NULL);
    kid = fork();
    if (kid == 0) {
        usleep(20000);
        _exit(4);
    }
    struct timespec second = {1, 0};
    CHECK(sigtimedwait(&chld_set, &si, &second) == SIGCHLD && si.si_pid == kid && si.si_status == 4,
          "sigtimedwait takes a blocked SIGCHLD (default: ignored)");
    CHECK(waitpid(kid, &st, 0) == kid && WEXITSTATUS(st) == 4, "and the child is reaped");
    sigprocmask(SIG_UNBLOCK, &chld_set, NULL);

    /* Bad arguments get Linux's errors. */
    void *bad = (void *)8;
    CHECK(syscall(SYS_rt_sigaction, SIGUSR1, bad, NULL, 8) == -1 && errno == EFAULT, "rt_sigaction bad act: EFAULT");
    CHECK(syscall(SYS_rt_sigaction, SIGUSR1, NULL, bad, 8) == -1 && errno == EFAULT, "rt_sigaction bad oldact: EFAULT");
    CHECK(syscall(SYS_rt_sigaction, SIGUSR1, NULL, NULL, 4) == -1 && errno == EINVAL, "rt_sigaction bad size: EINVAL");
    CHECK(syscall(SYS_rt_sigaction, SIGKILL, &(struct sigaction){0}, NULL, 8) == -1 && errno == EINVAL,
          "rt_sigaction SIGKILL: EINVAL");
    CHECK(syscall(SYS_rt_sigaction, 65, NULL, NULL, 8) == -1 && errno == EINVAL, "rt_sigaction signal 65: EINVAL");
    CHECK(syscall(SYS_rt_sigprocmask, SIG_BLOCK, bad, NULL, 8) == -1 && errno == EFAULT, "sigprocmask bad set: EFAULT");
    CHECK(syscall(SYS_rt_sigprocmask, 7, &mask, NULL, 8) == -1 && errno == EINVAL, "sigprocmask bad how: EINVAL");
    CHECK(syscall(SYS_rt_sigpending, bad, 8) == -1 && errno == EFAULT, "sigpending bad pointer: EFAULT");
    CHECK(syscall(SYS_rt_sigsuspend, bad, 8) == -1 && errno == EFAULT, "sigsuspend bad mask: EFAULT");
    CHECK(syscall(SYS_rt_sigtimedwait, bad, NULL, NULL, 8) == -1 && errno == EFAULT, "sigtimedwait bad set: EFAULT");
    struct timespec bad_ts = {0, -1};
    CHECK(syscall(SYS_rt_sigtimedwait, &mask, NULL, &bad_ts, 8) == -1 && errno == EINVAL,
          "sigtimedwait bad timeout: EINVAL");
    CHECK(syscall(SYS_sigaltstack, bad, NULL) == -1 && errno == EFAULT, "sigaltstack bad ss: EFAULT");
    CHECK(syscall(SYS_kill, getpid(), 65) == -1 && errno == EINVAL, "kill signal 65: EINVAL");
    CHECK(kill(0x7ffffff0, 0) == -1 && errno == ESRCH, "kill no such process: ESRCH");
    CHECK(syscall(SYS_tgkill, getpid(), 0x7ffffff0, SIGUSR1) == -1 && errno == ESRCH, "tgkill no such thread: ESRCH");
    CHECK(syscall(SYS_tgkill, 0, gettid(), SIGUSR1) == -1 && errno == EINVAL, "tgkill tgid 0: EINVAL");
    CHECK(syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, bad) == -1 && errno == EFAULT,
          "rt_sigqueueinfo bad info: EFAULT");
    CHECK(kill(getpid(), 0) == 0, "kill signal 0: the process exists");

    printf("signals: ok\n");
    return 0;
}
