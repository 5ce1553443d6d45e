/* smp_segv_resume: a SIGSEGV handler that makes the page accessible and returns, so that
 * the faulting load runs again and succeeds (as garbage collectors' write barriers,
 * userfault-style lazy loading and JITs' guard pages do). The signal frame's rip must be
 * the faulting instruction's, however often the block around it has run before.
 * 50 rounds in one thread, then 50 in one thread while 3 others spin in pure CPU loops.
 * Each round stores to a global just before the load in the same basic block, then
 * makes the page PROT_NONE again. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "check.h"

#define ROUNDS 50
#define SPINNERS 3

static char *page;
static volatile int in_round;
static volatile int faults, wrong_rip, outside;
static volatile long first_rip;
static volatile int stop_spinners, spinners_up;

static void on_segv(int sig, siginfo_t *info, void *ucv)
{
    (void)sig;
    ucontext_t *uc = ucv;
    if (!in_round || info->si_addr != page + 8) {
        outside++;
        _exit(4);
    }
    long rip = uc->uc_mcontext.gregs[REG_RIP];
    if (!first_rip)
        first_rip = rip;
    wrong_rip += rip != first_rip;
    faults++;
    mprotect(page, 4096, PROT_READ);
}

static __attribute__((noinline)) int rounds(void)
{
    int ok = 0;
    for (int r = 0; r < ROUNDS; r++) {
        in_round = 1;
        ok += *(volatile char *)(page + 8) == 42;
        in_round = 0;
        mprotect(page, 4096, PROT_NONE);
    }
    return ok;
}

static void *spin(void *arg)
{
    (void)arg;
    __atomic_fetch_add(&spinners_up, 1, __ATOMIC_RELEASE);
    while (!stop_spinners)
        ;
    return NULL;
}

static void *faulter(void *arg)
{
    (void)arg;
    return (void *)(long)rounds();
}

int main(void)
{
    page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(page != MAP_FAILED, "mmap");
    page[8] = 42;
    CHECK(mprotect(page, 4096, PROT_NONE) == 0, "mprotect PROT_NONE");
    struct sigaction sa = {0};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);

    int ok = rounds();
    CHECK(faults == ROUNDS && ok == ROUNDS,
          "one thread: 50 faults, each resumed at the load after the handler's mprotect");
    CHECK(wrong_rip == 0, "one thread: every frame's rip was the faulting load's");

    faults = 0;
    pthread_t t[SPINNERS], f;
    for (int i = 0; i < SPINNERS; i++)
        pthread_create(&t[i], NULL, spin, NULL);
    while (__atomic_load_n(&spinners_up, __ATOMIC_ACQUIRE) < SPINNERS)
        ;
    pthread_create(&f, NULL, faulter, NULL);
    void *ret;
    pthread_join(f, &ret);
    stop_spinners = 1;
    for (int i = 0; i < SPINNERS; i++)
        pthread_join(t[i], NULL);
    CHECK(faults == ROUNDS && (long)ret == ROUNDS,
          "a thread while 3 spin: 50 faults, each resumed at the load after the handler's mprotect");
    CHECK(wrong_rip == 0, "every frame's rip was the faulting load's");
    printf("smp_segv_resume: ok\n");
    return 0;
}
