/* A small program for the gdb stub's tests (tests/test_gdb.py): a call chain to break
   in and step through, a string to read, a global to watch, and write(2) to catch. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char greeting[] = "hello from gdb_basic";
volatile long counter;

__attribute__((noinline)) long leaf(long x)
{
    counter += x;
    return counter * 2;
}

__attribute__((noinline)) long middle(long x)
{
    long y = leaf(x + 1);
    return y + 1;
}

int main(void)
{
    long total = 0;
    for (long i = 0; i < 3; i++)
        total += middle(i);
    write(1, greeting, strlen(greeting));
    write(1, "\n", 1);
    printf("total %ld counter %ld\n", total, (long)counter);
    return 0;
}
