/* bench getppid: N trivial system calls, made raw so that libc cannot cache anything.
 * argv[1]: calls (default 1,000,000). The parent's pid differs between kernels, so only
 * the count and the consistency of the answers are printed. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    long first = syscall(SYS_getppid), differ = 0;
    for (long i = 0; i < n; i++)
        differ += syscall(SYS_getppid) != first;
    printf("getppid calls=%ld differing=%ld\n", n, differ);
    return differ != 0;
}
