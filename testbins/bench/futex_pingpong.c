/* bench futex_pingpong: N round trips between two threads of one process, handing a
 * turn word back and forth with raw FUTEX_WAIT / FUTEX_WAKE (no spinning).
 * argv[1]: round trips (default 10,000). */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Atomic int turn; /* 0: main's turn, 1: the thread's */
static long rounds;
static long waits[2];

static void take_turn(int me)
{
    int cur;
    while ((cur = atomic_load(&turn)) != me) {
        waits[me]++;
        syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, cur, NULL, NULL, 0);
    }
}

static void give_turn(int other)
{
    atomic_store(&turn, other);
    syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void *partner(void *arg)
{
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        take_turn(1);
        give_turn(0);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    rounds = argc > 1 ? atol(argv[1]) : 10000;
    pthread_t t;
    if (pthread_create(&t, NULL, partner, NULL)) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
    }
    for (long i = 0; i < rounds; i++) {
        take_turn(0);
        give_turn(1);
    }
    take_turn(0);
    pthread_join(t, NULL);
    printf("futex_pingpong trips=%ld\n", rounds);
    return 0;
}
