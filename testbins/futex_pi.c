/* futex_pi: priority-inheritance futexes. glibc's PTHREAD_PRIO_INHERIT mutexes contended
 * by several threads, a condition variable on one, a robust PI mutex whose owner dies;
 * then the raw protocol: the TID in the word, FUTEX_WAITERS, EDEADLK, EPERM, ESRCH,
 * TRYLOCK_PI, timeouts of LOCK_PI (CLOCK_REALTIME) and LOCK_PI2, the hand-over on
 * unlock and on the owner's death (FUTEX_OWNER_DIED), WAIT_REQUEUE_PI/CMP_REQUEUE_PI. */
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

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif

static long futex(uint32_t *uaddr, int op, uint32_t val, const void *timeout, uint32_t *uaddr2, uint32_t val3)
{
    return syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}

static pid_t gettid_(void) { return syscall(SYS_gettid); }

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* --- glibc PI mutexes ------------------------------------------------------------------- */

#define THREADS 4
#define ROUNDS 500
static pthread_mutex_t pi_lock;
static long counter;

static void *contend(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&pi_lock);
        long v = counter;
        for (volatile int k = 0; k < 20; k++)
            ;
        counter = v + 1;
        if (i % 50 == 0)
            sched_yield(); /* give up the CPU holding it: the others go to the kernel */
        pthread_mutex_unlock(&pi_lock);
    }
    return NULL;
}

static pthread_mutex_t cond_lock;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int items, consumed;

static void *consumer(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&cond_lock);
        while (items == 0 && consumed < 60)
            pthread_cond_wait(&cond, &cond_lock);
        if (consumed >= 60) {
            pthread_mutex_unlock(&cond_lock);
            return NULL;
        }
        items--;
        consumed++;
        pthread_mutex_unlock(&cond_lock);
    }
}

static void init_pi(pthread_mutex_t *m, int robust, int type)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
    pthread_mutexattr_settype(&attr, type);
    if (robust)
        pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
}

static pthread_mutex_t robust_pi;
static int held[2]; /* die_holding says it holds the lock (a fixed sleep lost under load) */

static void *die_holding(void *arg)
{
    pthread_mutex_lock(arg);
    (void)!write(held[1], "h", 1);
    sleep_ms(50);
    return NULL;
}

static void *hold_briefly(void *arg)
{
    pthread_mutex_lock(arg);
    sleep_ms(150);
    pthread_mutex_unlock(arg);
    return NULL;
}

static void *lock_robust_pi(void *arg)
{
    long r = pthread_mutex_lock(arg);
    if (r == EOWNERDEAD) {
        pthread_mutex_consistent(arg);
        pthread_mutex_unlock(arg);
    }
    return (void *)r;
}

/* --- the raw protocol ------------------------------------------------------------------- */

static uint32_t word;
static volatile int alarms;
static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}
static volatile pid_t holder_tid;

static long holder_lock, holder_unlock;
static void *raw_lock_and_hold(void *arg)
{
    long ms = (long)arg;
    holder_lock = futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    holder_tid = gettid_();
    sleep_ms(ms);
    holder_unlock = futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

static void *raw_lock_and_die(void *arg)
{
    (void)arg;
    futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    holder_tid = gettid_();
    sleep_ms(60);
    return NULL; /* exits holding it */
}

static long raw_waiter_result;
static uint32_t raw_waiter_word;
static void *raw_waiter(void *arg)
{
    (void)arg;
    raw_waiter_result = futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    raw_waiter_word = word;
    if (raw_waiter_result == 0)
        futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    return (void *)(long)gettid_();
}

static uint32_t cond_word, pi_word;
static long rq_result[2];
static uint32_t rq_owner_ok[2];
static void *requeue_waiter(void *arg)
{
    long i = (long)arg;
    rq_result[i] = futex(&cond_word, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, NULL, &pi_word, 0);
    rq_owner_ok[i] = (pi_word & FUTEX_TID_MASK) == (uint32_t)gettid_();
    if (rq_result[i] == 0)
        futex(&pi_word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];

    /* Contended PI mutex. */
    init_pi(&pi_lock, 0, PTHREAD_MUTEX_NORMAL);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, contend, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK(counter == THREADS * ROUNDS, "4 threads x 500 increments under a PI mutex");

    pthread_mutex_t errcheck;
    init_pi(&errcheck, 0, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_lock(&errcheck);
    CHECK(pthread_mutex_lock(&errcheck) == EDEADLK, "PI errorcheck mutex locked twice: EDEADLK");
    CHECK(pthread_mutex_trylock(&errcheck) == EDEADLK, "PI errorcheck trylock by the owner: EDEADLK");
    pthread_mutex_unlock(&errcheck);

    /* A condition variable with a PI mutex. */
    init_pi(&cond_lock, 0, PTHREAD_MUTEX_NORMAL);
    pthread_t c[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&c[i], NULL, consumer, NULL);
    for (int i = 0; i < 60; i++) {
        pthread_mutex_lock(&cond_lock);
        items++;
        pthread_cond_signal(&cond);
        pthread_mutex_unlock(&cond_lock);
        if (i % 10 == 0)
            sleep_ms(1);
    }
    for (;;) {
        pthread_mutex_lock(&cond_lock);
        int done = consumed >= 60;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&cond_lock);
        if (done)
            break;
        sleep_ms(1);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(c[i], NULL);
    CHECK(consumed == 60, "a PI condvar hands 60 items to 2 consumers");

    /* Timed locks of a held PI mutex (glibc: LOCK_PI on CLOCK_REALTIME, LOCK_PI2 on
     * CLOCK_MONOTONIC). */
    pthread_mutex_t timed;
    init_pi(&timed, 0, PTHREAD_MUTEX_NORMAL);
    pthread_t holder;
    pthread_create(&holder, NULL, hold_briefly, &timed);
    sleep_ms(10);
    struct timespec when;
    clock_gettime(CLOCK_REALTIME, &when);
    when.tv_nsec += 20000000;
    if (when.tv_nsec >= 1000000000) {
        when.tv_sec++;
        when.tv_nsec -= 1000000000;
    }
    CHECK(pthread_mutex_timedlock(&timed, &when) == ETIMEDOUT, "pthread_mutex_timedlock of a held PI mutex: ETIMEDOUT");
    clock_gettime(CLOCK_MONOTONIC, &when);
    when.tv_nsec += 20000000;
    if (when.tv_nsec >= 1000000000) {
        when.tv_sec++;
        when.tv_nsec -= 1000000000;
    }
    CHECK(pthread_mutex_clocklock(&timed, CLOCK_MONOTONIC, &when) == ETIMEDOUT,
          "pthread_mutex_clocklock(CLOCK_MONOTONIC) of a held PI mutex: ETIMEDOUT");
    when.tv_sec += 10;
    CHECK(pthread_mutex_clocklock(&timed, CLOCK_MONOTONIC, &when) == 0, "... and gets it when released");
    pthread_mutex_unlock(&timed);
    pthread_join(holder, NULL);

    /* A robust PI mutex whose owner dies while another thread waits. */
    init_pi(&robust_pi, 1, PTHREAD_MUTEX_NORMAL);
    pthread_t owner, waiter;
    char token;
    CHECK(pipe(held) == 0, "pipe");
    pthread_create(&owner, NULL, die_holding, &robust_pi);
    CHECK(read(held[0], &token, 1) == 1, "the owner holds the robust PI mutex");
    pthread_create(&waiter, NULL, lock_robust_pi, &robust_pi);
    void *r;
    pthread_join(owner, NULL);
    pthread_join(waiter, &r);
    CHECK((long)r == EOWNERDEAD, "robust PI: the waiter gets EOWNERDEAD when the owner dies");
    CHECK(pthread_mutex_lock(&robust_pi) == 0, "robust PI: usable again after consistent");
    pthread_mutex_unlock(&robust_pi);

    /* A process-shared robust PI mutex: a child process dies holding it while we wait. */
    pthread_mutex_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_t sattr;
    pthread_mutexattr_init(&sattr);
    pthread_mutexattr_setprotocol(&sattr, PTHREAD_PRIO_INHERIT);
    pthread_mutexattr_setrobust(&sattr, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_setpshared(&sattr, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(shared, &sattr);
    int ready[2];
    pipe(ready);
    pid_t child = fork();
    if (child == 0) {
        pthread_mutex_lock(shared);
        write(ready[1], "l", 1);
        sleep_ms(50);
        _exit(0); /* dies holding it */
    }
    char byte;
    read(ready[0], &byte, 1);
    CHECK(pthread_mutex_lock(shared) == EOWNERDEAD, "shared robust PI: EOWNERDEAD when the holding process dies");
    pthread_mutex_consistent(shared);
    pthread_mutex_unlock(shared);
    waitpid(child, NULL, 0);

    /* The raw protocol. */
    pid_t me = gettid_();
    CHECK(futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0 && word == (uint32_t)me,
          "LOCK_PI on 0 writes our TID");
    CHECK(futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EDEADLK,
          "LOCK_PI by the owner: EDEADLK");
    CHECK(futex(&word, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EDEADLK,
          "TRYLOCK_PI by the owner: EDEADLK");
    CHECK(futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0 && word == 0, "UNLOCK_PI: the word is 0");
    CHECK(futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EPERM,
          "UNLOCK_PI of a free word: EPERM");
    word = 0x3ffffff0; /* a TID nobody has */
    CHECK(futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == ESRCH,
          "LOCK_PI with a dead owner TID: ESRCH");
    CHECK(futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EPERM,
          "UNLOCK_PI by a non-owner: EPERM");
    word = FUTEX_OWNER_DIED;
    CHECK(futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0 && word == (FUTEX_OWNER_DIED | me),
          "LOCK_PI on OWNER_DIED with no TID: taken, the bit kept");
    futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    CHECK(futex((uint32_t *)((char *)&word + 1), FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EINVAL,
          "LOCK_PI on a misaligned word: EINVAL");
    CHECK(futex((uint32_t *)((char *)&word + 1), FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EPERM,
          "UNLOCK_PI on a misaligned word that is not ours: EPERM (the owner is checked first)");
    CHECK(futex(NULL, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EFAULT, "UNLOCK_PI on NULL: EFAULT");
    CHECK(futex(NULL, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EFAULT,
          "LOCK_PI on NULL: EFAULT");
    CHECK(futex(&word, FUTEX_LOCK_PI_PRIVATE | FUTEX_CLOCK_REALTIME, 0, NULL, NULL, 0) == -1 && errno == ENOSYS,
          "LOCK_PI with FUTEX_CLOCK_REALTIME: ENOSYS");

    /* Held by another thread: TRYLOCK_PI, timeouts. */
    holder_tid = 0;
    pthread_t h;
    pthread_create(&h, NULL, raw_lock_and_hold, (void *)300L);
    while (!holder_tid)
        sleep_ms(1);
    CHECK(futex(&word, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EAGAIN,
          "TRYLOCK_PI of a held word: EAGAIN");
    CHECK(word == (holder_tid | FUTEX_WAITERS), "... and FUTEX_WAITERS is set in the word");
    struct timespec now, abs;
    clock_gettime(CLOCK_REALTIME, &now);
    abs = now;
    abs.tv_nsec += 30 * 1000000;
    if (abs.tv_nsec >= 1000000000) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000;
    }
    CHECK(futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, &abs, NULL, 0) == -1 && errno == ETIMEDOUT,
          "LOCK_PI with an absolute CLOCK_REALTIME timeout: ETIMEDOUT");
    struct timespec after;
    clock_gettime(CLOCK_REALTIME, &after);
    CHECK(after.tv_sec > abs.tv_sec || (after.tv_sec == abs.tv_sec && after.tv_nsec >= abs.tv_nsec),
          "... not before the deadline");
    clock_gettime(CLOCK_MONOTONIC, &now);
    abs = now;
    abs.tv_nsec += 30 * 1000000;
    if (abs.tv_nsec >= 1000000000) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000;
    }
    CHECK(futex(&word, FUTEX_LOCK_PI2_PRIVATE, 0, &abs, NULL, 0) == -1 && errno == ETIMEDOUT,
          "LOCK_PI2 with an absolute CLOCK_MONOTONIC timeout: ETIMEDOUT");
    clock_gettime(CLOCK_REALTIME, &now);
    abs = now;
    abs.tv_nsec += 30 * 1000000;
    if (abs.tv_nsec >= 1000000000) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000;
    }
    CHECK(futex(&word, FUTEX_LOCK_PI2_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &abs, NULL, 0) == -1 && errno == ETIMEDOUT,
          "LOCK_PI2|FUTEX_CLOCK_REALTIME: ETIMEDOUT");
    struct timespec bad = {0, 1000000000};
    CHECK(futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, &bad, NULL, 0) == -1 && errno == EINVAL,
          "LOCK_PI with tv_nsec out of range: EINVAL");
    CHECK(futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, (void *)8, NULL, 0) == -1 && errno == EFAULT,
          "LOCK_PI with a bad timeout pointer: EFAULT");
    CHECK(futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EPERM,
          "UNLOCK_PI of another thread's lock: EPERM");
    CHECK(futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0, "FUTEX_WAKE with no plain waiters: 0");
    /* Blocks until the holder unlocks: the lock is handed over with our TID. */
    CHECK(futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0, "LOCK_PI waits for the unlock");
    CHECK((word & FUTEX_TID_MASK) == (uint32_t)me, "the handed-over word holds our TID");
    pthread_join(h, NULL);
    CHECK(holder_lock == 0 && holder_unlock == 0, "the holder's LOCK_PI and UNLOCK_PI returned 0");
    CHECK(futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0 && word == 0, "UNLOCK_PI after hand-over");

    /* A signal while LOCK_PI waits: the handler runs, and the call restarts (never EINTR). */
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm; /* no SA_RESTART: LOCK_PI restarts anyway (ERESTARTNOINTR) */
    sigaction(SIGALRM, &sa, NULL);
    holder_tid = 0;
    pthread_create(&h, NULL, raw_lock_and_hold, (void *)100L);
    while (!holder_tid)
        sleep_ms(1);
    alarms = 0;
    ualarm(30000, 0);
    CHECK(futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0 && alarms == 1,
          "LOCK_PI interrupted by a handler restarts and gets the lock");
    pthread_join(h, NULL);
    futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);

    /* The owner dies (no robust list entry): the waiter gets it with FUTEX_OWNER_DIED. */
    holder_tid = 0;
    pthread_create(&h, NULL, raw_lock_and_die, NULL);
    while (!holder_tid)
        sleep_ms(1);
    pthread_t rw;
    pthread_create(&rw, NULL, raw_waiter, NULL);
    pthread_join(h, NULL);
    void *wtid;
    pthread_join(rw, &wtid);
    CHECK(raw_waiter_result == 0, "a waiter gets the PI lock when its owner dies");
    CHECK(raw_waiter_word == ((uint32_t)(long)wtid | FUTEX_OWNER_DIED | FUTEX_WAITERS) ||
              raw_waiter_word == ((uint32_t)(long)wtid | FUTEX_OWNER_DIED),
          "... the word has its TID and FUTEX_OWNER_DIED");

    /* WAIT_REQUEUE_PI and CMP_REQUEUE_PI (what a PI condvar once used). */
    CHECK(futex(&cond_word, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 1, NULL, &pi_word, 0) == -1 && errno == EAGAIN,
          "WAIT_REQUEUE_PI with a changed value: EAGAIN");
    CHECK(futex(&cond_word, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, NULL, &cond_word, 0) == -1 && errno == EINVAL,
          "WAIT_REQUEUE_PI on one word: EINVAL");
    CHECK(futex(&cond_word, FUTEX_CMP_REQUEUE_PI_PRIVATE, 2, (void *)1, &pi_word, 0) == -1 && errno == EINVAL,
          "CMP_REQUEUE_PI waking 2: EINVAL");
    CHECK(futex(&cond_word, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)1, &pi_word, 0) == 0,
          "CMP_REQUEUE_PI with no waiters: 0");
    pthread_t rq[2];
    pi_word = me; /* we hold the PI lock */
    for (long i = 0; i < 2; i++)
        pthread_create(&rq[i], NULL, requeue_waiter, (void *)i);
    sleep_ms(50);
    CHECK(futex(&cond_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == -1 && errno == EINVAL,
          "FUTEX_WAKE of WAIT_REQUEUE_PI waiters: EINVAL");
    CHECK(futex(&cond_word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1, &pi_word, 0) == -1 && errno == EINVAL,
          "plain CMP_REQUEUE of them: EINVAL");
    CHECK(futex(&cond_word, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)INT_MAX, &pi_word, 1) == -1 && errno == EAGAIN,
          "CMP_REQUEUE_PI with a changed value: EAGAIN");
    CHECK(futex(&cond_word, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)INT_MAX, &pi_word, 0) == 2,
          "CMP_REQUEUE_PI moves both waiters to the held PI lock");
    CHECK(pi_word == (me | FUTEX_WAITERS), "... which now has FUTEX_WAITERS");
    CHECK(futex(&pi_word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0, "UNLOCK_PI hands it to a requeued waiter");
    for (int i = 0; i < 2; i++)
        pthread_join(rq[i], NULL);
    CHECK(rq_result[0] == 0 && rq_result[1] == 0, "both WAIT_REQUEUE_PI calls return 0");
    CHECK(rq_owner_ok[0] && rq_owner_ok[1], "each returned owning the PI word");
    CHECK(pi_word == 0, "the PI word is free at the end");

    /* CMP_REQUEUE_PI to a free PI word: the first waiter takes it at once. */
    rq_result[0] = rq_result[1] = -1;
    for (long i = 0; i < 2; i++)
        pthread_create(&rq[i], NULL, requeue_waiter, (void *)i);
    sleep_ms(50);
    CHECK(futex(&cond_word, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)INT_MAX, &pi_word, 0) == 2,
          "CMP_REQUEUE_PI to a free word: one takes it, one is requeued (2)");
    for (int i = 0; i < 2; i++)
        pthread_join(rq[i], NULL);
    CHECK(rq_result[0] == 0 && rq_result[1] == 0 && rq_owner_ok[0] && rq_owner_ok[1],
          "both got the PI lock in turn");
    return 0;
}
