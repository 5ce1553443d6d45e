/* segv: a NULL store after printing; Linux kills it with SIGSEGV (status 139 in a shell). */
#include <stdio.h>

int main(void)
{
    printf("before crash\n");
    fflush(stdout);
    *(volatile int *)0 = 1;
    printf("after crash: the store did not fault\n");
    return 1;
}
