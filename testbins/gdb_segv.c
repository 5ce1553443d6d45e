/* A segfault for the gdb stub's tests (tests/test_gdb.py): gdb stops at the faulting
   store in crash() with SIGSEGV before it is delivered. Natively it dies of SIGSEGV. */
#include <stdio.h>

__attribute__((noinline)) void crash(volatile int *where)
{
    *where = 42;
}

int main(void)
{
    puts("about to crash");
    fflush(stdout);
    crash((volatile int *)16);
    return 0;
}
