/* bench asan_hello: hello world built with gcc -fsanitize=address (dynamic, as ASan must be):
 * start-up of a program that reserves terabytes of PROT_NONE and shadow memory. */
#include <stdio.h>

int main(void)
{
    puts("hello, world");
    return 0;
}
