/* smp_jit: code written at run time by one thread and run by another, as JITs do (V8's
 * and Java's compiler threads, LuaJIT with a worker). An emulator that runs each thread
 * on its own CPU keeps translated code per CPU: a write by one thread must invalidate
 * what the other thread translated from the old bytes.
 *  (a) W^X: the writer emits `mov eax, imm32; ret` into an RW mapping, mprotects it RX and
 *      publishes a round number; the caller (which has run the old code several times)
 *      calls it and must get the new constant; the writer flips it back to RW and
 *      rewrites. 50 rounds, a different constant each time.
 *  (b) RWX: one PROT_READ|PROT_WRITE|PROT_EXEC page; the writer rewrites only the
 *      immediate and publishes with a release store; the caller, after an acquire load,
 *      must see the new value. 1000 rounds.
 * Two threads hand over each round with atomic flags (no system call in the hand-over
 * of (b)). The same code seen through a second mapping of the same memory is
 * smp_jit_alias. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"

#define WX_ROUNDS 50
#define RWX_ROUNDS 1000

typedef int (*fn)(void);

static void emit_return(unsigned char *at, int32_t value)
{
    at[0] = 0xb8; /* mov eax, imm32 */
    memcpy(at + 1, &value, 4);
    at[5] = 0xc3; /* ret */
}

static int32_t constant(int round)
{
    return 0x1000 + round * 7919;
}

static unsigned char *code;
static int published; /* the round whose code is ready to run */
static int consumed;  /* the round the caller has run */
static long wrong_wx, wrong_rwx;

/* Spin (the hand-over on two CPUs), yielding now and then (on one CPU the other thread
 * must run before the flag can change). */
static void wait_until(int *flag, int want)
{
    sched_yield(); /* one yield a wait whatever the timing, so that strace sees the same calls */
    for (unsigned n = 1; __atomic_load_n(flag, __ATOMIC_ACQUIRE) < want; n++)
        if (n % 16384 == 0)
            sched_yield();
}

/* ---- (a) W^X ---- */

static void *wx_caller(void *arg)
{
    (void)arg;
    for (int r = 1; r <= WX_ROUNDS; r++) {
        wait_until(&published, r);
        /* Several calls: the first translates, the others run the translation. */
        for (int k = 0; k < 3; k++)
            wrong_wx += ((fn)code)() != constant(r);
        __atomic_store_n(&consumed, r, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void wx(void)
{
    code = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(code != MAP_FAILED, "W^X: mmap RW");
    published = consumed = 0;
    pthread_t t;
    pthread_create(&t, NULL, wx_caller, NULL);
    int ok = 1;
    for (int r = 1; r <= WX_ROUNDS; r++) {
        if (r > 1)
            ok &= mprotect(code, 4096, PROT_READ | PROT_WRITE) == 0;
        emit_return(code, constant(r));
        ok &= mprotect(code, 4096, PROT_READ | PROT_EXEC) == 0;
        __atomic_store_n(&published, r, __ATOMIC_RELEASE);
        wait_until(&consumed, r);
    }
    pthread_join(t, NULL);
    CHECK(ok, "W^X: 50 rounds of mprotect RW, rewrite, mprotect RX");
    CHECK(wrong_wx == 0, "W^X: the other thread ran the new code every round, never the old");
    munmap(code, 4096);
}

/* ---- (b) RWX ---- */

static void *rwx_caller(void *arg)
{
    (void)arg;
    for (int r = 1; r <= RWX_ROUNDS; r++) {
        wait_until(&published, r);
        for (int k = 0; k < 3; k++)
            wrong_rwx += ((fn)code)() != constant(r);
        __atomic_store_n(&consumed, r, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void rwx(void)
{
    code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(code != MAP_FAILED, "RWX: mmap");
    emit_return(code, 0);
    published = consumed = 0;
    pthread_t t;
    pthread_create(&t, NULL, rwx_caller, NULL);
    for (int r = 1; r <= RWX_ROUNDS; r++) {
        int32_t v = constant(r);
        memcpy(code + 1, &v, 4); /* the immediate only */
        __atomic_store_n(&published, r, __ATOMIC_RELEASE);
        wait_until(&consumed, r);
    }
    pthread_join(t, NULL);
    CHECK(wrong_rwx == 0, "RWX: 1000 rewrites of the immediate, each seen by the other thread after the acquire");
    munmap(code, 4096);
}

int main(void)
{
    wx();
    rwx();
    printf("smp_jit: ok\n");
    return 0;
}
