/* hello: the smallest guest. Prints one line and exits 0. */
#include <stdio.h>

int main(void)
{
    printf("hello, world\n");
    return 0;
}
