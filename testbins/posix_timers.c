/* POSIX timers: timer_create's clocks and sigevents (EINVAL for bad ones, NULL sevp:
 * SIGALRM with the id as value), SIGEV_SIGNAL with SI_TIMER, si_value, si_timerid and
 * si_overrun (read by a handler and by sigwaitinfo), overruns while the signal is blocked
 * and timer_getoverrun, SIGEV_THREAD_ID to a chosen thread, SIGEV_NONE with gettime,
 * TIMER_ABSTIME, old values, disarming, a CPU-time timer, timer_delete (EINVAL after),
 * and that timers are not inherited by fork nor kept across exec. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define MS 1000000L

static volatile sig_atomic_t fired, fired_code, fired_value, fired_tid;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    fired++;
    fired_code = si->si_code;
    fired_value = si->si_value.sival_int;
    fired_tid = syscall(SYS_gettid);
}

static struct itimerspec spec(long value_ns, long interval_ns)
{
    struct itimerspec its = {
        .it_value = {value_ns / 1000000000L, value_ns % 1000000000L},
        .it_interval = {interval_ns / 1000000000L, interval_ns % 1000000000L},
    };
    return its;
}

static long ns(struct timespec ts)
{
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void nap(long nsec)
{
    struct timespec ts = {nsec / 1000000000L, nsec % 1000000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static int raw_create(clockid_t clock, struct sigevent *sev, int *id)
{
    return syscall(SYS_timer_create, clock, sev, id);
}

static volatile int thread_calls, thread_value;
static volatile pid_t thread_tid;

static void on_thread_timer(union sigval value)
{
    thread_value = value.sival_int;
    thread_tid = syscall(SYS_gettid);
    thread_calls++;
}

static volatile int thread_ready;
static pid_t worker_tid;

static void *worker(void *arg)
{
    (void)arg;
    worker_tid = syscall(SYS_gettid);
    thread_ready = 1;
    while (!fired)
        nap(1 * MS);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "after-exec") == 0) {
        /* the timer of the image before is gone: no signal, and its id is unknown */
        struct itimerspec cur;
        CHECK(syscall(SYS_timer_gettime, atoi(argv[2]), &cur) == -1 && errno == EINVAL,
              "after exec: the old timer id is EINVAL");
        nap(2100 * MS);
        puts("after exec: no SIGALRM came");
        return 0;
    }
    struct sigaction sa = {.sa_sigaction = on_rt, .sa_flags = SA_SIGINFO};
    sigaction(SIGRTMIN, &sa, NULL);
    int id;
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN};
    sev.sigev_value.sival_int = 77;

    CHECK(raw_create(99, &sev, &id) == -1 && errno == EINVAL, "unknown clock: EINVAL");
    CHECK(raw_create(CLOCK_MONOTONIC_RAW, &sev, &id) == -1 && errno == EOPNOTSUPP, "MONOTONIC_RAW: EOPNOTSUPP");
    sev.sigev_notify = 99;
    CHECK(raw_create(CLOCK_MONOTONIC, &sev, &id) == -1 && errno == EINVAL, "bad sigev_notify: EINVAL");
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = 65;
    CHECK(raw_create(CLOCK_MONOTONIC, &sev, &id) == -1 && errno == EINVAL, "signal 65: EINVAL");
    sev.sigev_signo = SIGRTMIN;
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev._sigev_un._tid = 4000000;
    CHECK(raw_create(CLOCK_MONOTONIC, &sev, &id) == -1 && errno == EINVAL, "SIGEV_THREAD_ID of no thread: EINVAL");
    sev.sigev_notify = SIGEV_SIGNAL;
    CHECK(raw_create(CLOCK_MONOTONIC, &sev, (int *)8) == -1 && errno == EFAULT, "bad timerid pointer: EFAULT");

    /* one shot, delivered to a handler */
    timer_t t;
    CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0, "timer_create(CLOCK_MONOTONIC, SIGRTMIN)");
    struct itimerspec its = spec(300 * MS, 0), old, cur;
    CHECK(timer_gettime(t, &cur) == 0 && ns(cur.it_value) == 0, "new timer: disarmed");
    struct itimerspec bad = spec(MS, 0);
    bad.it_value.tv_nsec = -1;
    CHECK(timer_settime(t, 0, &bad, NULL) == -1 && errno == EINVAL, "negative tv_nsec: EINVAL");
    CHECK(timer_settime(t, 0, &its, &old) == 0 && ns(old.it_value) == 0, "arm 300 ms");
    CHECK(timer_gettime(t, &cur) == 0 && ns(cur.it_value) > 0 && ns(cur.it_value) <= 300 * MS, "gettime: <= 300 ms");
    while (!fired)
        pause();
    CHECK(fired == 1 && fired_code == SI_TIMER && fired_value == 77, "handler: SI_TIMER, si_value 77");
    CHECK(timer_getoverrun(t) == 0, "no overrun");
    CHECK(timer_gettime(t, &cur) == 0 && ns(cur.it_value) == 0, "one shot: disarmed after");

    /* blocked: expirations become overruns of the one queued signal */
    sigset_t rt, oldmask;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &rt, &oldmask);
    its = spec(2 * MS, 2 * MS);
    CHECK(timer_settime(t, 0, &its, NULL) == 0, "arm 2 ms every 2 ms, signal blocked");
    nap(30 * MS);
    siginfo_t si;
    CHECK(sigwaitinfo(&rt, &si) == SIGRTMIN, "sigwaitinfo takes it");
    CHECK(si.si_code == SI_TIMER && si.si_value.sival_int == 77, "SI_TIMER, value 77");
    CHECK(si.si_overrun >= 5, "si_overrun counts the expirations while queued");
    CHECK(timer_getoverrun(t) == si.si_overrun, "timer_getoverrun agrees");
    CHECK(si.si_timerid == *(int *)&t || si.si_timerid == (int)(intptr_t)t, "si_timerid is the kernel's id");
    its = spec(0, 0);
    CHECK(timer_settime(t, 0, &its, &old) == 0 && ns(old.it_interval) == 2 * MS, "disarm: old interval 2 ms");
    struct timespec no_wait = {0, 0};
    CHECK(sigtimedwait(&rt, &si, &no_wait) == -1 && errno == EAGAIN,
          "a signal queued before the disarm is never received");
    CHECK(timer_delete(t) == 0, "timer_delete");
    CHECK(timer_gettime(t, &cur) == -1 && errno == EINVAL, "gettime after delete: EINVAL");
    CHECK(timer_delete(t) == -1 && errno == EINVAL, "delete twice: EINVAL");
    CHECK(timer_getoverrun(t) == -1 && errno == EINVAL, "getoverrun after delete: EINVAL");
    /* deleted with its signal queued: still pending, but dropped when taken */
    CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0, "another timer");
    its = spec(MS, 0);
    timer_settime(t, 0, &its, NULL);
    nap(20 * MS);
    sigset_t pending;
    CHECK(sigpending(&pending) == 0 && sigismember(&pending, SIGRTMIN), "its signal is pending");
    CHECK(timer_delete(t) == 0, "delete it");
    CHECK(sigpending(&pending) == 0 && sigismember(&pending, SIGRTMIN), "still shown pending");
    CHECK(sigtimedwait(&rt, &si, &no_wait) == -1 && errno == EAGAIN, "but never received");
    sigprocmask(SIG_SETMASK, &oldmask, NULL);
    CHECK(fired == 1, "nor delivered when unblocked");

    /* SIGEV_NONE: nothing is sent, gettime counts down; absolute time */
    struct sigevent none = {.sigev_notify = SIGEV_NONE};
    CHECK(timer_create(CLOCK_REALTIME, &none, &t) == 0, "SIGEV_NONE on CLOCK_REALTIME");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    its = spec(0, 0);
    its.it_value.tv_sec = now.tv_sec + 100;
    its.it_value.tv_nsec = now.tv_nsec;
    CHECK(timer_settime(t, TIMER_ABSTIME, &its, NULL) == 0, "TIMER_ABSTIME 100 s ahead");
    CHECK(timer_gettime(t, &cur) == 0 && ns(cur.it_value) > 99000 * MS && ns(cur.it_value) <= 100000 * MS,
          "gettime: about 100 s left");
    its = spec(5 * MS, 0);
    timer_settime(t, 0, &its, NULL);
    int before = fired;
    nap(20 * MS);
    CHECK(fired == before && timer_gettime(t, &cur) == 0 && ns(cur.it_value) == 0, "expired silently");
    timer_delete(t);

    /* NULL sevp: SIGALRM with the timer id as value */
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigprocmask(SIG_BLOCK, &alrm, NULL);
    int rid;
    CHECK(raw_create(CLOCK_MONOTONIC, NULL, &rid) == 0, "timer_create with NULL sevp");
    its = spec(MS, 0);
    syscall(SYS_timer_settime, rid, 0, &its, NULL);
    CHECK(sigwaitinfo(&alrm, &si) == SIGALRM && si.si_code == SI_TIMER && si.si_value.sival_int == rid &&
              si.si_timerid == rid,
          "SIGALRM, SI_TIMER, value and si_timerid the id");
    syscall(SYS_timer_delete, rid);

    /* SIGEV_THREAD_ID: to one thread */
    pthread_t th;
    fired = 0;
    pthread_create(&th, NULL, worker, NULL);
    while (!thread_ready)
        nap(MS);
    struct sigevent tsev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN};
    tsev._sigev_un._tid = worker_tid;
    tsev.sigev_value.sival_int = 5;
    CHECK(timer_create(CLOCK_MONOTONIC, &tsev, &t) == 0, "SIGEV_THREAD_ID");
    its = spec(5 * MS, 0);
    timer_settime(t, 0, &its, NULL);
    pthread_join(th, NULL);
    CHECK(fired == 1 && fired_tid == worker_tid && fired_value == 5, "the signal ran on that thread");
    timer_delete(t);

    /* CPU time */
    CHECK(timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &t) == 0, "timer_create(CLOCK_PROCESS_CPUTIME_ID)");
    fired = 0;
    its = spec(20 * MS, 0);
    timer_settime(t, 0, &its, NULL);
    volatile unsigned long spin = 0;
    while (!fired)
        spin++;
    CHECK(fired == 1 && fired_value == 77, "fires after 20 ms of CPU time");
    timer_delete(t);

    /* this thread's CPU time */
    CHECK(timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &t) == 0, "timer_create(CLOCK_THREAD_CPUTIME_ID)");
    fired = 0;
    its = spec(10 * MS, 0);
    timer_settime(t, 0, &its, NULL);
    while (!fired)
        spin++;
    CHECK(fired == 1, "fires after 10 ms of the thread's CPU time");
    timer_delete(t);

    /* glibc's SIGEV_THREAD: a function run in a thread glibc makes (over SIGEV_THREAD_ID) */
    struct sigevent thread_sev = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = on_thread_timer};
    thread_sev.sigev_value.sival_int = 9;
    CHECK(timer_create(CLOCK_MONOTONIC, &thread_sev, &t) == 0, "timer_create(SIGEV_THREAD)");
    its = spec(5 * MS, 5 * MS);
    timer_settime(t, 0, &its, NULL);
    while (thread_calls < 3)
        nap(MS);
    CHECK(thread_value == 9 && thread_tid != syscall(SYS_gettid), "the function ran 3 times, in another thread");
    timer_delete(t);

    /* fork: the child has none; exec: gone */
    CHECK(timer_create(CLOCK_MONOTONIC, NULL, &t) == 0, "a SIGALRM timer");
    sigprocmask(SIG_UNBLOCK, &alrm, NULL);
    pid_t child = fork();
    if (child == 0) {
        CHECK(timer_gettime(t, &cur) == -1 && errno == EINVAL, "child: the timer is not inherited");
        _exit(0);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child && WEXITSTATUS(status) == 0, "child checked");
    child = fork();
    if (child == 0) {
        timer_t mine;
        timer_create(CLOCK_MONOTONIC, NULL, &mine);
        its = spec(2000 * MS, 0);
        timer_settime(mine, 0, &its, NULL);
        char idtext[16];
        snprintf(idtext, sizeof idtext, "%d", (int)(intptr_t)mine);
        execl("/proc/self/exe", argv[0], "after-exec", idtext, (char *)NULL);
        _exit(127);
    }
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the exec'd child was not killed by SIGALRM");
    timer_delete(t);
    puts("done");
    return 0;
}
