/* An OOM victim and a survivor: the parent forks a hog that touches 16 MiB after 16 MiB
 * forever, and a survivor that sleeps a second and writes a line. Under `pykern run
 * --max-memory 256M` the OOM killer kills the hog (the biggest), the survivor finishes,
 * and the parent reports both. Natively it would eat the host's memory: not run there. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    pid_t hog = fork();
    if (hog == 0) {
        for (;;) {
            char *p = malloc(16 << 20);
            if (p == NULL) {
                printf("hog: malloc failed\n");
                return 1;
            }
            memset(p, 1, 16 << 20);
        }
    }
    pid_t survivor = fork();
    if (survivor == 0) {
        sleep(1);
        printf("survivor: still here\n");
        return 0;
    }
    int status;
    waitpid(hog, &status, 0);
    printf("hog: %s\n", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? "killed by SIGKILL" : "something else");
    fflush(stdout);
    waitpid(survivor, &status, 0);
    printf("survivor: exited %d\n", WEXITSTATUS(status));
    return 0;
}
