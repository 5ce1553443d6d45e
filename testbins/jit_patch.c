/* jit_patch: code rewritten in place, as a JIT patches its code cache (call sites,
 * inline caches, constants): several small functions on one RWX page, all run, then
 * rewritten one after another and run again; a function patched by a store that lands
 * in the middle of its instruction; code and data sharing a page (stores to the data
 * part between runs); and a thread that rewrites code that the main thread keeps
 * running. Every call must return what was last written. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"

typedef int (*fn)(void);

/* `mov eax, imm32; ret` at `at` (6 bytes). */
static void emit(unsigned char *at, int32_t value)
{
    at[0] = 0xb8;
    memcpy(at + 1, &value, 4);
    at[5] = 0xc3;
}

#define FUNCS 8
static unsigned char *page;
static volatile int published, consumed;

static void *patcher(void *arg)
{
    (void)arg;
    for (int r = 1; r <= 200; r++) {
        while (consumed != r - 1)
            sched_yield();
        emit(page + 2048, 500000 + r);
        __atomic_store_n(&published, r, __ATOMIC_RELEASE);
    }
    return NULL;
}

int main(void)
{
    page = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(page != MAP_FAILED, "an RWX mapping of two pages");

    /* Several functions on one page, rewritten one after another. */
    int wrong = 0;
    for (int f = 0; f < FUNCS; f++)
        emit(page + f * 256, f);
    for (int r = 1; r <= 100; r++) {
        for (int f = 0; f < FUNCS; f++)
            wrong += ((fn)(page + f * 256))() != (r - 1) * FUNCS + f;
        for (int f = 0; f < FUNCS; f++)
            emit(page + f * 256, r * FUNCS + f);
    }
    CHECK(wrong == 0, "8 functions on one page, each rewritten 100 times after all ran");

    /* A store into the middle of an instruction: one byte of the immediate. */
    wrong = 0;
    emit(page + 1024, 0x11223344);
    for (int r = 0; r < 100; r++) {
        page[1024 + 2] = (unsigned char)r;
        wrong += ((fn)(page + 1024))() != (0x11220044 | r << 8);
    }
    CHECK(wrong == 0, "one byte of an immediate rewritten 100 times");

    /* Code and data on one page: stores to the data between runs. */
    wrong = 0;
    volatile uint64_t *data = (volatile uint64_t *)(page + 4096 + 2048);
    emit(page + 4096, 7);
    for (int r = 0; r < 1000; r++) {
        data[r % 64] = (uint64_t)r;
        wrong += ((fn)(page + 4096))() != (r % 100 == 99 ? r : 7);
        if (r % 100 == 98)
            emit(page + 4096, r + 1);
        else if (r % 100 == 99)
            emit(page + 4096, 7);
    }
    CHECK(wrong == 0 && data[63] == 959, "a page of code and data: 1000 data stores, 20 rewrites");

    /* Another thread rewrites the code the main thread runs. */
    wrong = 0;
    emit(page + 2048, 500000);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, patcher, NULL) == 0, "pthread_create");
    for (int r = 1; r <= 200; r++) {
        while (__atomic_load_n(&published, __ATOMIC_ACQUIRE) != r)
            sched_yield();
        wrong += ((fn)(page + 2048))() != 500000 + r;
        consumed = r;
    }
    pthread_join(t, NULL);
    CHECK(wrong == 0, "200 rewrites by another thread, each run by the main thread");
    printf("jit_patch: ok\n");
    return 0;
}
