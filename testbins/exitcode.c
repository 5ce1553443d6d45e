/* exitcode: writes to stdout and stderr, then exits with argv[1] (default 3). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int code = argc > 1 ? atoi(argv[1]) : 3;
    printf("exitcode: exiting with %d\n", code);
    fflush(stdout);
    fprintf(stderr, "exitcode: this line goes to stderr\n");
    return code;
}
