/* smp_signals: signals for threads that spin in pure CPU loops (no system call ever
 * brings them into the kernel), so that only interrupting them in user code delivers
 * the signal; with threads running at once, the kernel must kick the other CPU.
 *  - pthread_kill(SIGUSR1) to a spinning thread, 20 times: its handler runs in it;
 *  - SIGUSR2 to each of 3 spinning threads at once: each takes its own;
 *  - SIGALRM from setitimer(ITIMER_REAL), one-shot and periodic, while every thread spins;
 *  - kill(getpid(), SIGTERM) with a handler, the sender blocking it: a spinning thread
 *    takes it, 10 times;
 *  - a synchronous SIGSEGV in one thread while 3 others spin, 100 times, handled in that
 *    thread and left by siglongjmp (a handler that fixes the page and returns is in
 *    smp_segv_resume). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"

#define SPINNERS 3
#define KILL_ROUNDS 20
#define TERM_ROUNDS 10
#define SEGV_ROUNDS 100

static pid_t gettid_(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static void wait_for(volatile int *counter, int want)
{
    while (__atomic_load_n(counter, __ATOMIC_ACQUIRE) < want)
        sched_yield();
}

/* ---- pthread_kill to a spinning thread ---- */

static volatile int usr1_hits;
static volatile pid_t usr1_tid[KILL_ROUNDS];
static volatile int usr1_ready;
static pid_t usr1_worker;

static void on_usr1(int sig)
{
    (void)sig;
    usr1_tid[usr1_hits] = gettid_();
    usr1_hits = usr1_hits + 1;
}

static void *usr1_spinner(void *arg)
{
    (void)arg;
    usr1_worker = gettid_();
    for (int r = 0; r < KILL_ROUNDS; r++) {
        __atomic_store_n(&usr1_ready, r + 1, __ATOMIC_RELEASE);
        while (usr1_hits != r + 1) /* only the handler can end this */
            ;
    }
    return NULL;
}

static void pthread_kill_spinner(void)
{
    signal(SIGUSR1, on_usr1);
    pthread_t t;
    pthread_create(&t, NULL, usr1_spinner, NULL);
    for (int r = 0; r < KILL_ROUNDS; r++) {
        wait_for(&usr1_ready, r + 1);
        if (pthread_kill(t, SIGUSR1) != 0)
            CHECK(0, "pthread_kill");
    }
    pthread_join(t, NULL);
    int same = 1;
    for (int r = 0; r < KILL_ROUNDS; r++)
        same &= usr1_tid[r] == usr1_worker;
    CHECK(usr1_hits == KILL_ROUNDS, "pthread_kill(SIGUSR1) to a spinning thread: 20 handlers ran");
    CHECK(same, "each ran in the spinning thread");
}

/* ---- SIGUSR2 to each of several spinning threads ---- */

static __thread int my_index = -1;
static volatile pid_t usr2_tid[SPINNERS];
static volatile int usr2_seen[SPINNERS];
static pid_t spinner_tid[SPINNERS];
static volatile int usr2_ready;

static void on_usr2(int sig)
{
    (void)sig;
    if (my_index >= 0) {
        usr2_tid[my_index] = gettid_();
        usr2_seen[my_index] = 1;
    }
}

static void *usr2_spinner(void *arg)
{
    my_index = (int)(long)arg;
    spinner_tid[my_index] = gettid_();
    __atomic_fetch_add(&usr2_ready, 1, __ATOMIC_RELEASE);
    while (!usr2_seen[my_index])
        ;
    return NULL;
}

static void signal_each_spinner(void)
{
    signal(SIGUSR2, on_usr2);
    pthread_t t[SPINNERS];
    for (long i = 0; i < SPINNERS; i++)
        pthread_create(&t[i], NULL, usr2_spinner, (void *)i);
    wait_for(&usr2_ready, SPINNERS);
    for (int i = SPINNERS - 1; i >= 0; i--)
        pthread_kill(t[i], SIGUSR2);
    int own = 1;
    for (int i = 0; i < SPINNERS; i++) {
        pthread_join(t[i], NULL);
        own &= usr2_tid[i] == spinner_tid[i];
    }
    CHECK(own, "SIGUSR2 to each of 3 spinning threads: each handler ran in its own thread");
}

/* ---- SIGALRM while every thread spins ---- */

static volatile int alarms;
static volatile int stop_spinners;
static volatile int spinners_up;

static void on_alarm(int sig)
{
    (void)sig;
    __atomic_fetch_add(&alarms, 1, __ATOMIC_RELAXED);
}

static void *spin_until_stopped(void *arg)
{
    (void)arg;
    __atomic_fetch_add(&spinners_up, 1, __ATOMIC_RELEASE);
    while (!stop_spinners)
        ;
    return NULL;
}

static void start_spinners(pthread_t *t)
{
    stop_spinners = 0;
    spinners_up = 0;
    for (int i = 0; i < SPINNERS; i++)
        pthread_create(&t[i], NULL, spin_until_stopped, NULL);
    wait_for(&spinners_up, SPINNERS);
}

static void stop_and_join(pthread_t *t)
{
    stop_spinners = 1;
    for (int i = 0; i < SPINNERS; i++)
        pthread_join(t[i], NULL);
}

static void alarm_while_spinning(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    pthread_t t[SPINNERS];
    start_spinners(t);
    struct itimerval one = {{0, 0}, {0, 20000}};
    CHECK(setitimer(ITIMER_REAL, &one, NULL) == 0, "setitimer one-shot 20 ms");
    while (!alarms) /* the main thread spins too */
        ;
    CHECK(alarms == 1, "SIGALRM taken while every thread spins");

    struct itimerval every = {{0, 5000}, {0, 5000}};
    CHECK(setitimer(ITIMER_REAL, &every, NULL) == 0, "setitimer every 5 ms");
    while (alarms < 6)
        ;
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    CHECK(alarms >= 6, "5 periodic SIGALRMs taken while every thread spins");
    stop_and_join(t);
}

/* ---- kill(getpid(), SIGTERM): a spinning thread takes it ---- */

static volatile pid_t term_tid;

static void on_term(int sig)
{
    (void)sig;
    term_tid = gettid_();
}

static void *spin_recording_tid(void *arg)
{
    spinner_tid[(long)arg] = gettid_();
    return spin_until_stopped(NULL);
}

static void kill_process_while_spinning(void)
{
    signal(SIGTERM, on_term);
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    int taken = 0, by_spinner = 0;
    for (int r = 0; r < TERM_ROUNDS; r++) {
        pthread_t t[SPINNERS];
        stop_spinners = 0;
        spinners_up = 0;
        for (long i = 0; i < SPINNERS; i++)
            pthread_create(&t[i], NULL, spin_recording_tid, (void *)i);
        wait_for(&spinners_up, SPINNERS);
        pthread_sigmask(SIG_BLOCK, &term, NULL); /* only the spinners can take it */
        term_tid = 0;
        kill(getpid(), SIGTERM);
        while (!term_tid)
            sched_yield();
        taken++;
        for (int i = 0; i < SPINNERS; i++)
            by_spinner += term_tid == spinner_tid[i];
        stop_and_join(t);
        pthread_sigmask(SIG_UNBLOCK, &term, NULL);
    }
    CHECK(taken == TERM_ROUNDS && by_spinner == TERM_ROUNDS,
          "kill(getpid(), SIGTERM), blocked in the sender: a spinning thread ran the handler, 10 times");
}

/* ---- a synchronous SIGSEGV in one thread while others spin ---- */

static char *none_page;
static __thread sigjmp_buf *volatile jump;
static volatile int segv_count, segv_other_thread, segv_wrong_addr;
static pid_t faulter_tid;

static void on_segv(int sig, siginfo_t *info, void *uc)
{
    (void)sig;
    (void)uc;
    segv_count++;
    if (gettid_() != faulter_tid)
        segv_other_thread++;
    if (info->si_addr != none_page + 8 || info->si_code != SEGV_ACCERR)
        segv_wrong_addr++;
    if (jump)
        siglongjmp(*jump, 1);
    _exit(3);
}

static void *faulter(void *arg)
{
    (void)arg;
    faulter_tid = gettid_();
    sigjmp_buf jb;
    volatile int recovered = 0;
    for (int r = 0; r < SEGV_ROUNDS; r++) {
        if (sigsetjmp(jb, 1) == 0) {
            jump = &jb;
            (void)*(volatile char *)(none_page + 8);
            jump = NULL;
        } else {
            jump = NULL;
            recovered++;
        }
    }
    return (void *)(long)recovered;
}

static void segv_while_spinning(void)
{
    none_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(none_page != MAP_FAILED, "mmap");
    none_page[8] = 42;
    CHECK(mprotect(none_page, 4096, PROT_NONE) == 0, "mprotect PROT_NONE");
    struct sigaction sa = {0};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    pthread_t t[SPINNERS], f;
    start_spinners(t);
    pthread_create(&f, NULL, faulter, NULL);
    void *ret;
    pthread_join(f, &ret);
    stop_and_join(t);
    long recovered = (long)ret;
    CHECK(segv_count == SEGV_ROUNDS && segv_other_thread == 0,
          "100 SIGSEGVs in one thread while 3 spin: each handled in the faulting thread");
    CHECK(segv_wrong_addr == 0, "each with SEGV_ACCERR at the faulting address");
    CHECK(recovered == SEGV_ROUNDS, "each left by siglongjmp");
}

int main(void)
{
    pthread_kill_spinner();
    signal_each_spinner();
    alarm_while_spinning();
    kill_process_while_spinning();
    segv_while_spinning();
    printf("smp_signals: ok\n");
    return 0;
}
