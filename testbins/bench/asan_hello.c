/* bench asan_hello: hello world built with gcc -fsanitize=address (dynamic, as ASan must be):
 * start-up of a program that reserves terabytes of PROT_NONE and shadow memory. The leak
 * check at exit is off (here as natively): LeakSanitizer stops the process's threads with
 * ptrace, which pykern does not implement, and the workload measures start-up. */
#include <stdio.h>

const char *__asan_default_options(void)
{
    return "detect_leaks=0";
}

int main(void)
{
    puts("hello, world");
    return 0;
}
