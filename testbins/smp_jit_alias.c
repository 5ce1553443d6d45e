/* smp_jit_alias: JIT code written through one mapping and run through another mapping
 * of the same memory (a memfd mapped twice, PROT_READ|PROT_WRITE and PROT_READ|PROT_EXEC,
 * the double mapping V8 and .NET use when W^X is enforced). A write through the RW view
 * must invalidate code translated from the RX view, whichever thread translated it.
 * 200 rounds in one thread, then 200 rounds with the caller in another thread (handed
 * over with atomic flags), each rewriting the immediate of `mov eax, imm32; ret`. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"

#define ROUNDS 200

typedef int (*fn)(void);

static unsigned char *rw_view, *rx_view;
static int published, consumed;
static long wrong;

static int32_t constant(int round)
{
    return 0x2000 + round * 104729;
}

static void wait_until(int *flag, int want)
{
    sched_yield(); /* one yield a wait whatever the timing, so that strace sees the same calls */
    for (unsigned n = 1; __atomic_load_n(flag, __ATOMIC_ACQUIRE) < want; n++)
        if (n % 16384 == 0)
            sched_yield();
}

static void *caller(void *arg)
{
    (void)arg;
    for (int r = 1; r <= ROUNDS; r++) {
        wait_until(&published, r);
        for (int k = 0; k < 3; k++)
            wrong += ((fn)rx_view)() != constant(r);
        __atomic_store_n(&consumed, r, __ATOMIC_RELEASE);
    }
    return NULL;
}

int main(void)
{
    int fd = memfd_create("smp_jit_alias", 0);
    CHECK(fd >= 0, "memfd_create");
    CHECK(ftruncate(fd, 4096) == 0, "ftruncate");
    rw_view = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    rx_view = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    CHECK(rw_view != MAP_FAILED && rx_view != MAP_FAILED && rw_view != rx_view,
          "the memfd mapped twice, RW and RX");
    rw_view[0] = 0xb8; /* mov eax, imm32 */
    rw_view[5] = 0xc3; /* ret */

    long same_thread_wrong = 0;
    for (int r = 1; r <= ROUNDS; r++) {
        int32_t v = constant(r);
        memcpy(rw_view + 1, &v, 4);
        for (int k = 0; k < 3; k++)
            same_thread_wrong += ((fn)rx_view)() != v;
    }
    CHECK(same_thread_wrong == 0, "one thread: 200 writes through the RW view, each run through the RX view");

    pthread_t t;
    pthread_create(&t, NULL, caller, NULL);
    for (int r = 1; r <= ROUNDS; r++) {
        int32_t v = constant(r);
        memcpy(rw_view + 1, &v, 4);
        __atomic_store_n(&published, r, __ATOMIC_RELEASE);
        wait_until(&consumed, r);
    }
    pthread_join(t, NULL);
    CHECK(wrong == 0, "two threads: 200 writes through the RW view, each run by the other thread through the RX view");
    printf("smp_jit_alias: ok\n");
    return 0;
}
