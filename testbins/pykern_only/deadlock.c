/* deadlock: reads from a pipe whose only writer is itself. Linux would wait forever;
 * pykern sees that nothing can ever wake the task and says so. Run only under pykern. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    int fds[2];
    char c;
    pipe(fds);
    printf("about to wait forever\n");
    fflush(stdout);
    read(fds[0], &c, 1);
    return 0;
}
