/* bench clock_gettime: N calls of libc's clock_gettime(CLOCK_MONOTONIC), which glibc
 * answers through the vDSO (no syscall). argv[1]: calls (default 10,000,000). Prints the
 * count and how many readings went backwards (0). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    struct timespec ts;
    long long last = 0, backwards = 0;
    for (long i = 0; i < n; i++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long long now = ts.tv_sec * 1000000000LL + ts.tv_nsec;
        backwards += now < last;
        last = now;
    }
    printf("clock_gettime calls=%ld backwards=%lld\n", n, backwards);
    return backwards != 0;
}
