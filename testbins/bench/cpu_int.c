/* bench cpu_int: CPU-bound integer and memory work, no syscalls in the loop.
 * Each round sieves the primes below 2^21 (byte writes over a 2 MiB array) and runs
 * 2^21 steps of a multiplicative hash that read-modify-writes a 256 KiB table.
 * argv[1]: rounds (default sized for about 1 s natively); argv[2] "after-fork": fork
 * and reap a child first. Prints a checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIEVE_N (1u << 21)
#define TABLE_N (1u << 16)

static unsigned char composite[SIEVE_N];
static uint32_t table[TABLE_N];

static unsigned sieve(void)
{
    unsigned count = 0;
    memset(composite, 0, sizeof composite);
    for (unsigned i = 2; i < SIEVE_N; i++) {
        if (composite[i])
            continue;
        count++;
        for (unsigned j = 2 * i; j < SIEVE_N; j += i)
            composite[j] = 1;
    }
    return count;
}

static uint32_t hash_loop(uint32_t h)
{
    for (uint32_t i = 0; i < (1u << 21); i++) {
        h = (h ^ i) * 2654435761u;
        uint32_t *slot = &table[(h >> 7) & (TABLE_N - 1)];
        *slot = (*slot + h) ^ (h >> 13);
        h += *slot;
    }
    return h;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 40;
    if (argc > 2 && strcmp(argv[2], "after-fork") == 0) {
        /* The same work in a process that has forked once (pykern then preempts it by
         * instruction count for a while: the "lone task at full speed" check). */
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        waitpid(pid, NULL, 0);
    }
    uint64_t sum = 0;
    uint32_t h = 2166136261u;
    for (long r = 0; r < rounds; r++) {
        sum += sieve();
        h = hash_loop(h);
    }
    for (unsigned i = 0; i < TABLE_N; i++)
        sum = sum * 31 + table[i];
    printf("cpu_int rounds=%ld primes+table=%llu hash=%08x\n", rounds, (unsigned long long)sum, h);
    return 0;
}
