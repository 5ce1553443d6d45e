/* bench threads_cpu: a CPU-bound multiply/xor loop split over several threads, no
 * syscalls in the loop. With two or more runnable threads pykern preempts: this measures
 * the cost of its instruction budget (tools/build_unicorn.py) against a lone process.
 * argv[1]: millions of loop steps in all; argv[2]: threads (default 2). Prints a checksum
 * that does not depend on the number of threads. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_THREADS 64

struct work {
    uint64_t first, count, result;
};

static void *loop(void *arg)
{
    struct work *w = arg;
    uint64_t sum = 0;
    for (uint64_t i = w->first; i < w->first + w->count; i++) {
        uint64_t x = i * 0x9E3779B97F4A7C15ull;
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9ull;
        sum += x ^ (x >> 32);
    }
    w->result = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    uint64_t steps = (uint64_t)(argc > 1 ? atol(argv[1]) : 200) * 1000000;
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    if (threads < 1 || threads > MAX_THREADS) {
        fprintf(stderr, "threads_cpu: 1 to %d threads\n", MAX_THREADS);
        return 2;
    }
    pthread_t ids[MAX_THREADS];
    struct work work[MAX_THREADS];
    uint64_t share = steps / threads;
    for (int t = 0; t < threads; t++) {
        work[t].first = t * share;
        work[t].count = t == threads - 1 ? steps - t * share : share;
        if (pthread_create(&ids[t], NULL, loop, &work[t]) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    uint64_t sum = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        sum += work[t].result;
    }
    printf("threads_cpu: %llu steps, checksum %016llx\n", (unsigned long long)steps, (unsigned long long)sum);
    return 0;
}
