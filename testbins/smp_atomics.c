/* smp_atomics: threads that increment shared counters at the same time, each way a
 * program synchronises on a multiprocessor, with the exact totals checked. 4 threads x
 * 200,000 iterations each of: a locked fetch-and-add, a compare-and-swap retry loop, a
 * pthread_mutex around a plain int, a spinlock built on an atomic exchange, and a seqlock
 * (a writer bumps a sequence number around two stores; readers retry until they read an
 * even, unchanged sequence and then must see a consistent pair). Last, a locked add on
 * an 8-byte value that straddles a cache line (a packed struct): a lock prefix must make
 * even a split access atomic. With one CPU at a time these hold trivially; with threads
 * running truly at once on several host CPUs, a lock prefix that is not atomic across
 * CPUs loses increments. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include "check.h"

#define THREADS 4
#define ITERS 200000
#define SPLIT_ITERS 5000

enum phase { FETCH_ADD, CAS, MUTEX, SPINLOCK, SEQLOCK, SPLIT, PHASES };

static const char *const names[PHASES] = {
    "__atomic_fetch_add", "compare-and-swap loop", "pthread_mutex around a plain int",
    "spinlock on __atomic_exchange", "seqlock", "split-cache-line lock add",
};

static int running; /* the start gate: every thread spins until all have arrived */
static long fetch_add_count;
static long cas_count;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static int mutex_count; /* plain: only the mutex protects it */
static int spin;
static long spin_count; /* plain: only the spinlock protects it */

/* The seqlock: a writer makes seq odd, stores (a, b) with b == ~a, makes seq even. */
static unsigned long seq;
static unsigned long seq_a, seq_b;
static long seq_writes, seq_torn, seq_reads;

struct __attribute__((packed, aligned(64))) straddle {
    char pad[60];
    uint64_t value; /* bytes 60..67: across the 64-byte line */
};
static struct straddle split;

static void spin_lock(int *lock)
{
    while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(lock, __ATOMIC_RELAXED))
            __builtin_ia32_pause();
}

static void spin_unlock(int *lock)
{
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

static void seq_write(unsigned long value)
{
    spin_lock(&spin); /* writers exclude each other */
    unsigned long s = __atomic_load_n(&seq, __ATOMIC_RELAXED);
    __atomic_store_n(&seq, s + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&seq_a, value, __ATOMIC_RELAXED);
    __atomic_store_n(&seq_b, ~value, __ATOMIC_RELAXED);
    __atomic_store_n(&seq, s + 2, __ATOMIC_RELEASE);
    seq_writes++;
    spin_unlock(&spin);
}

/* Returns 1 when the pair read was torn (a != ~b under an even, unchanged sequence). */
static int seq_read(void)
{
    for (;;) {
        unsigned long s1 = __atomic_load_n(&seq, __ATOMIC_ACQUIRE);
        if (s1 & 1) {
            __builtin_ia32_pause();
            continue;
        }
        unsigned long a = __atomic_load_n(&seq_a, __ATOMIC_RELAXED);
        unsigned long b = __atomic_load_n(&seq_b, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        unsigned long s2 = __atomic_load_n(&seq, __ATOMIC_RELAXED);
        if (s1 == s2)
            return a != ~b;
    }
}

static void *worker(void *arg)
{
    enum phase phase = (enum phase)(long)arg;
    long torn = 0, reads = 0;
    /* A spin, so that the threads start their loops together rather than one by one as
     * they are created (a yield now and then for fewer CPUs than threads). */
    __atomic_fetch_add(&running, 1, __ATOMIC_ACQ_REL);
    sched_yield(); /* once whatever the timing, so that strace sees the same calls */
    for (unsigned n = 1; __atomic_load_n(&running, __ATOMIC_ACQUIRE) < THREADS; n++)
        if (n % 4096 == 0)
            sched_yield();
    switch (phase) {
    case FETCH_ADD:
        for (int i = 0; i < ITERS; i++)
            __atomic_fetch_add(&fetch_add_count, 1, __ATOMIC_SEQ_CST);
        break;
    case CAS:
        for (int i = 0; i < ITERS; i++) {
            long old = __atomic_load_n(&cas_count, __ATOMIC_RELAXED);
            while (!__atomic_compare_exchange_n(&cas_count, &old, old + 1, 1, __ATOMIC_SEQ_CST,
                                                __ATOMIC_RELAXED))
                ;
        }
        break;
    case MUTEX:
        for (int i = 0; i < ITERS; i++) {
            pthread_mutex_lock(&mutex);
            mutex_count++;
            pthread_mutex_unlock(&mutex);
        }
        break;
    case SPINLOCK:
        for (int i = 0; i < ITERS; i++) {
            spin_lock(&spin);
            /* A read-modify-write of a plain long in two steps, so that a lost
             * exclusion shows. */
            long v = *(volatile long *)&spin_count;
            *(volatile long *)&spin_count = v + 1;
            spin_unlock(&spin);
        }
        break;
    case SEQLOCK:
        for (int i = 0; i < ITERS; i++) {
            if (i % 4 == 0)
                seq_write((unsigned long)i * THREADS + (unsigned long)(uintptr_t)arg);
            torn += seq_read();
            reads++;
        }
        __atomic_fetch_add(&seq_torn, torn, __ATOMIC_RELAXED);
        __atomic_fetch_add(&seq_reads, reads, __ATOMIC_RELAXED);
        break;
    case SPLIT:
        for (int i = 0; i < SPLIT_ITERS; i++)
            __atomic_fetch_add(&split.value, 1, __ATOMIC_SEQ_CST);
        break;
    default:
        break;
    }
    return NULL;
}

static void run_phase(enum phase phase)
{
    pthread_t t[THREADS];
    running = 0;
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(long)phase) != 0)
            CHECK(0, "pthread_create");
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
}

int main(void)
{
    char what[128];
    const long total = (long)THREADS * ITERS;

    run_phase(FETCH_ADD);
    snprintf(what, sizeof what, "%s: %d x %d increments, none lost", names[FETCH_ADD], THREADS, ITERS);
    CHECK(fetch_add_count == total, what);

    run_phase(CAS);
    snprintf(what, sizeof what, "%s: %d x %d increments, none lost", names[CAS], THREADS, ITERS);
    CHECK(cas_count == total, what);

    run_phase(MUTEX);
    snprintf(what, sizeof what, "%s: %d x %d increments, none lost", names[MUTEX], THREADS, ITERS);
    CHECK(mutex_count == total, what);

    run_phase(SPINLOCK);
    snprintf(what, sizeof what, "%s: %d x %d increments, none lost", names[SPINLOCK], THREADS, ITERS);
    CHECK(spin_count == total && spin == 0, what);

    run_phase(SEQLOCK);
    snprintf(what, sizeof what, "%s: %ld writes, %ld reads, no torn pair read", names[SEQLOCK],
             seq_writes, seq_reads);
    CHECK(seq_writes == total / 4 && seq_reads == total && seq_torn == 0 && seq % 2 == 0
              && seq == 2 * (unsigned long)seq_writes && seq_a == ~seq_b,
          what);

    /* gcc emits `lock add` (or `lock xadd`) for this whatever the alignment: the CPU
     * takes a bus lock for an access split across two lines. Few iterations: a kernel with
     * split-lock detection in its default warn mode makes a task that splits a lock sleep
     * 10 ms now and then. */
    CHECK((((uintptr_t)&split.value) & 63) == 60, "the 8-byte value straddles a cache line");
    split.value = 0xffffffffull - 2 * SPLIT_ITERS; /* the carry crosses the halves */
    run_phase(SPLIT);
    snprintf(what, sizeof what, "%s: %d x %d increments, none lost", names[SPLIT], THREADS, SPLIT_ITERS);
    CHECK(split.value == 0xffffffffull - 2 * SPLIT_ITERS + (uint64_t)THREADS * SPLIT_ITERS, what);

    printf("smp_atomics: ok\n");
    return 0;
}
