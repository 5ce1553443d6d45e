/* smp_mm: memory-map changes while other threads spin over memory. With threads truly
 * running at once, a map change made by one thread must reach the others before its
 * system call returns (Linux's TLB shootdown): after mprotect or munmap returns, no
 * thread may still read or write through the old permission or the old page.
 *  1. Two threads write and verify their own buffers while the main thread maps,
 *     touches and unmaps other regions, and flips another region PROT_READ and back.
 *  2. The spinning threads' own regions: flipped PROT_READ and back while they read
 *     (never a fault); made PROT_NONE while they read, and PROT_READ while they write
 *     (each must fault, once per round, with SEGV_ACCERR at its region, handled with
 *     sigsetjmp/siglongjmp in that thread); and no access may succeed after the
 *     thread saw that the change had returned.
 *  3. A shared page replaced under spinning readers, by mmap(MAP_FIXED) over it and by
 *     munmap then mmap(MAP_FIXED) at the same address: each reader sees the new page's
 *     contents once the change has returned, never the old ones again. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define WORKERS 2
#define BUF_WORDS (256 * 1024 / 8)
#define CHURN_ROUNDS 200
#define FLIP_ROUNDS 20
#define FAULT_ROUNDS 10
#define REPLACE_ROUNDS 10
#define PAGE 4096
#define PAGE_WORDS (PAGE / 8)
#define DEADLINE_NS 10000000000LL /* a fault that never comes fails the check, not the run */

static __thread sigjmp_buf *volatile jump;
static __thread void *volatile fault_addr;
static __thread volatile int fault_code;

static void on_segv(int sig, siginfo_t *info, void *uc)
{
    (void)uc;
    if (!jump) {
        static const char msg[] = "FAIL unexpected SIGSEGV\n";
        write(2, msg, sizeof msg - 1);
        _exit(2);
    }
    (void)sig;
    fault_addr = info->si_addr;
    fault_code = info->si_code;
    siglongjmp(*jump, 1);
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The controller waits for *counter to reach want, yielding; 0 after the deadline. */
static int wait_for(int *counter, int want)
{
    long long end = now_ns() + DEADLINE_NS;
    while (__atomic_load_n(counter, __ATOMIC_ACQUIRE) < want) {
        if (now_ns() > end)
            return 0;
        sched_yield();
    }
    return 1;
}

/* ---- 1. churn elsewhere while the workers verify their own buffers ---- */

static int churn_stop;
static long churn_bad;
static int churn_ready;

static void *churn_worker(void *arg)
{
    long id = (long)arg;
    uint64_t *buf = mmap(NULL, BUF_WORDS * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return (void *)1L;
    long bad = 0;
    for (uint64_t pass = 0;; pass++) {
        uint64_t base = (uint64_t)id << 48 | pass << 20;
        for (int i = 0; i < BUF_WORDS; i++)
            ((volatile uint64_t *)buf)[i] = base + (uint64_t)i;
        for (int i = 0; i < BUF_WORDS; i++)
            bad += ((volatile uint64_t *)buf)[i] != base + (uint64_t)i;
        if (pass == 0)
            __atomic_fetch_add(&churn_ready, 1, __ATOMIC_RELEASE);
        if (__atomic_load_n(&churn_stop, __ATOMIC_ACQUIRE))
            break;
    }
    __atomic_fetch_add(&churn_bad, bad, __ATOMIC_RELAXED);
    munmap(buf, BUF_WORDS * 8);
    return NULL;
}

static void churn(void)
{
    pthread_t t[WORKERS];
    for (long i = 0; i < WORKERS; i++)
        pthread_create(&t[i], NULL, churn_worker, (void *)i);
    CHECK(wait_for(&churn_ready, WORKERS), "churn: the workers are writing their buffers");

    uint64_t *flip = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(flip != MAP_FAILED, "churn: mmap the region to flip");
    int ok = 1;
    for (int r = 0; r < CHURN_ROUNDS && ok; r++) {
        uint64_t *p = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ok &= p != MAP_FAILED;
        for (int i = 0; ok && i < 64 * 1024 / 8; i += PAGE_WORDS / 4)
            p[i] = (uint64_t)r * i;
        for (int i = 0; ok && i < 64 * 1024 / 8; i += PAGE_WORDS / 4)
            ok &= p[i] == (uint64_t)r * i;
        ok &= munmap(p, 64 * 1024) == 0;

        char *res = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        ok &= res != MAP_FAILED;
        ok &= mprotect(res + (r % 16) * PAGE * 8, PAGE * 8, PROT_READ | PROT_WRITE) == 0;
        res[(r % 16) * PAGE * 8 + 1] = (char)r;
        ok &= munmap(res, 1 << 20) == 0;

        flip[(r % 16) * PAGE_WORDS] = (uint64_t)r;
        ok &= mprotect(flip, 16 * PAGE, PROT_READ) == 0;
        ok &= flip[(r % 16) * PAGE_WORDS] == (uint64_t)r;
        ok &= mprotect(flip, 16 * PAGE, PROT_READ | PROT_WRITE) == 0;
    }
    __atomic_store_n(&churn_stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    munmap(flip, 16 * PAGE);
    CHECK(ok, "churn: 200 rounds of mmap, touch, munmap, PROT_NONE reservations and mprotect flips");
    CHECK(churn_bad == 0, "churn: every word the spinning workers wrote read back intact");
}

/* ---- 2. the workers' own regions change under them ---- */

enum mode { READ_FLIP, READ_UNTIL_FAULT, WRITE_UNTIL_FAULT, STOP };

static pthread_barrier_t round_start;
static enum mode mode;
static uint64_t *region[WORKERS];
static int spinning;      /* workers that have begun this round's spin */
static int changed;       /* the controller's mprotect of this round has returned */
static int faulted;       /* workers that took this round's fault */
static int give_up;       /* the deadline passed: end the spin */
static long flip_reads[WORKERS];
static long bad_faults[WORKERS], good_faults[WORKERS], late_access[WORKERS], bad_value[WORKERS];

static void *own_worker(void *arg)
{
    long id = (long)arg;
    volatile uint64_t *p = region[id];
    sigjmp_buf jb;
    for (;;) {
        pthread_barrier_wait(&round_start);
        enum mode m = __atomic_load_n(&mode, __ATOMIC_ACQUIRE);
        if (m == STOP)
            break;
        if (sigsetjmp(jb, 1)) {
            jump = NULL;
            if (m == READ_FLIP || fault_code != SEGV_ACCERR || (char *)fault_addr < (char *)p
                || (char *)fault_addr >= (char *)p + PAGE * 4)
                bad_faults[id]++;
            else
                good_faults[id]++;
            __atomic_fetch_add(&faulted, 1, __ATOMIC_RELEASE);
            pthread_barrier_wait(&round_start);
            continue;
        }
        jump = &jb;
        __atomic_fetch_add(&spinning, 1, __ATOMIC_RELEASE);
        for (uint64_t n = 0;; n++) {
            int after = __atomic_load_n(&changed, __ATOMIC_ACQUIRE);
            if (__atomic_load_n(&give_up, __ATOMIC_RELAXED))
                break;
            int i = (int)(n % (PAGE_WORDS * 4));
            if (m == WRITE_UNTIL_FAULT) {
                p[i] = (uint64_t)id << 32 | (uint64_t)i;
            } else {
                uint64_t v = p[i];
                if (v != ((uint64_t)id << 32 | (uint64_t)i))
                    bad_value[id]++;
                if (m == READ_FLIP)
                    flip_reads[id]++;
            }
            /* The access succeeded although the change had already returned. */
            if (after && m != READ_FLIP)
                late_access[id]++;
            if (m == READ_FLIP && after == 2)
                break;
        }
        jump = NULL;
        pthread_barrier_wait(&round_start);
    }
    return NULL;
}

static void own_regions(void)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    pthread_barrier_init(&round_start, NULL, WORKERS + 1);
    for (int w = 0; w < WORKERS; w++) {
        region[w] = mmap(NULL, PAGE * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(region[w] != MAP_FAILED, "own regions: mmap");
        for (int i = 0; i < PAGE_WORDS * 4; i++)
            region[w][i] = (uint64_t)w << 32 | (uint64_t)i;
    }
    pthread_t t[WORKERS];
    for (long i = 0; i < WORKERS; i++)
        pthread_create(&t[i], NULL, own_worker, (void *)i);

    /* PROT_READ and back while they read: never a fault, always the contents. */
    int ok = 1;
    __atomic_store_n(&mode, READ_FLIP, __ATOMIC_RELEASE);
    __atomic_store_n(&spinning, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&changed, 0, __ATOMIC_RELAXED);
    pthread_barrier_wait(&round_start);
    ok &= wait_for(&spinning, WORKERS);
    for (int r = 0; r < FLIP_ROUNDS; r++)
        for (int w = 0; w < WORKERS; w++) {
            ok &= mprotect(region[w], PAGE * 4, PROT_READ) == 0;
            sched_yield();
            ok &= mprotect(region[w], PAGE * 4, PROT_READ | PROT_WRITE) == 0;
            sched_yield();
        }
    __atomic_store_n(&changed, 2, __ATOMIC_RELEASE);
    pthread_barrier_wait(&round_start);
    long faults = 0, reads = 0, wrong = 0;
    for (int w = 0; w < WORKERS; w++) {
        faults += bad_faults[w];
        reads += flip_reads[w] > 0;
        wrong += bad_value[w];
    }
    CHECK(ok && faults == 0 && reads == WORKERS && wrong == 0,
          "own regions flipped PROT_READ and back 20 times under spinning readers: no fault, contents intact");

    /* PROT_NONE under readers, PROT_READ under writers: each must fault, once a round. */
    for (int r = 0; r < 2 * FAULT_ROUNDS; r++) {
        enum mode m = r % 2 ? WRITE_UNTIL_FAULT : READ_UNTIL_FAULT;
        __atomic_store_n(&mode, m, __ATOMIC_RELEASE);
        __atomic_store_n(&spinning, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&faulted, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&changed, 0, __ATOMIC_RELAXED);
        pthread_barrier_wait(&round_start);
        ok &= wait_for(&spinning, WORKERS);
        for (int w = 0; w < WORKERS; w++)
            ok &= mprotect(region[w], PAGE * 4, m == WRITE_UNTIL_FAULT ? PROT_READ : PROT_NONE) == 0;
        __atomic_store_n(&changed, 1, __ATOMIC_RELEASE);
        if (!wait_for(&faulted, WORKERS)) {
            ok = 0;
            __atomic_store_n(&give_up, 1, __ATOMIC_RELEASE);
        }
        pthread_barrier_wait(&round_start);
        for (int w = 0; w < WORKERS; w++)
            ok &= mprotect(region[w], PAGE * 4, PROT_READ | PROT_WRITE) == 0;
    }
    __atomic_store_n(&mode, STOP, __ATOMIC_RELEASE);
    pthread_barrier_wait(&round_start);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    long good = 0, late = 0;
    faults = 0;
    for (int w = 0; w < WORKERS; w++) {
        faults += bad_faults[w];
        good += good_faults[w];
        late += late_access[w];
        wrong += bad_value[w];
    }
    CHECK(ok, "own regions: every mprotect returned 0 and every round's fault came");
    printf("own regions: %ld faults (SEGV_ACCERR at the thread's own region), %ld others\n", good, faults);
    CHECK(good == 2L * FAULT_ROUNDS * WORKERS && faults == 0,
          "PROT_NONE under spinning readers, PROT_READ under spinning writers: one fault per thread and round");
    CHECK(late == 0, "no access succeeded after the thread saw that mprotect had returned");
    CHECK(wrong == 0, "the readers always read their region's contents");
    for (int w = 0; w < WORKERS; w++)
        munmap(region[w], PAGE * 4);
    pthread_barrier_destroy(&round_start);
}

/* ---- 3. a page replaced under spinning readers ---- */

#define GEN_STOP (~0UL)

static volatile uint64_t *shared_page;
static unsigned long gen;   /* the page mapped now holds gen everywhere */
static int acked;           /* readers that have read the current gen */
static int unmapping;       /* set before the first munmap: no fault may come before */
static long stale[WORKERS], replace_faults[WORKERS], replace_bad_faults[WORKERS];

static void *replace_reader(void *arg)
{
    long id = (long)arg;
    sigjmp_buf jb;
    volatile unsigned long last_acked = 0;
    volatile uint64_t highest = 0;
    volatile uint64_t n = 0;
    if (sigsetjmp(jb, 1)) {
        if (__atomic_load_n(&unmapping, __ATOMIC_ACQUIRE) && fault_code == SEGV_MAPERR
            && fault_addr >= (void *)shared_page
            && (char *)fault_addr < (char *)shared_page + PAGE)
            replace_faults[id]++;
        else
            replace_bad_faults[id]++;
    }
    jump = &jb;
    for (;;) {
        unsigned long g = __atomic_load_n(&gen, __ATOMIC_ACQUIRE);
        if (g == GEN_STOP)
            break;
        uint64_t v = shared_page[n++ % PAGE_WORDS];
        /* The page read is the current one or the one about to be published; never an
         * older one, nor one older than a page this thread has read already. */
        if (v < g || v > g + 1 || v < highest)
            stale[id]++;
        if (v > highest)
            highest = v;
        if (g != last_acked && v == g) {
            last_acked = g;
            __atomic_fetch_add(&acked, 1, __ATOMIC_RELEASE);
        }
    }
    jump = NULL;
    return NULL;
}

static void replace_pages(void)
{
    int fd = memfd_create("smp_mm", 0);
    CHECK(fd >= 0, "memfd_create");
    const int pages = 2 * REPLACE_ROUNDS + 1;
    CHECK(ftruncate(fd, (off_t)pages * PAGE) == 0, "ftruncate");
    uint64_t *all = mmap(NULL, (size_t)pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(all != MAP_FAILED, "mmap the memfd");
    for (int k = 0; k < pages; k++)
        for (int i = 0; i < PAGE_WORDS; i++)
            all[k * PAGE_WORDS + i] = (uint64_t)k + 1;
    munmap(all, (size_t)pages * PAGE);
    /* Page k holds k + 1; gen starts at 1. */
    shared_page = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(shared_page != MAP_FAILED, "mmap page 1");
    gen = 1;
    acked = 0;
    pthread_t t[WORKERS];
    for (long i = 0; i < WORKERS; i++)
        pthread_create(&t[i], NULL, replace_reader, (void *)i);
    int ok = wait_for(&acked, WORKERS);
    for (int r = 1; r <= 2 * REPLACE_ROUNDS && ok; r++) {
        void *want = (void *)shared_page;
        if (r > REPLACE_ROUNDS) {
            __atomic_store_n(&unmapping, 1, __ATOMIC_RELEASE);
            ok &= munmap(want, PAGE) == 0;
        }
        void *got = mmap(want, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, (off_t)r * PAGE);
        ok &= got == want;
        __atomic_store_n(&gen, (unsigned long)r + 1, __ATOMIC_RELEASE);
        ok &= wait_for(&acked, WORKERS * (r + 1));
    }
    __atomic_store_n(&gen, GEN_STOP, __ATOMIC_RELEASE);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    long bad = 0, wrong = 0, mapfaults = 0;
    for (int w = 0; w < WORKERS; w++) {
        bad += stale[w];
        wrong += replace_bad_faults[w];
        mapfaults += replace_faults[w];
    }
    CHECK(ok, "replaced 10 times by mmap(MAP_FIXED) and 10 times by munmap + mmap(MAP_FIXED); every reader read every new page");
    CHECK(bad == 0, "no reader read an old page after the change had returned");
    CHECK(wrong == 0, "no fault in the MAP_FIXED rounds; in the others only SEGV_MAPERR at the page");
    (void)mapfaults; /* how many depends on the interleaving */
    munmap((void *)shared_page, PAGE);
    close(fd);
}

int main(void)
{
    churn();
    own_regions();
    replace_pages();
    printf("smp_mm: ok\n");
    return 0;
}
