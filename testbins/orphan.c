/* orphan: a grandchild whose parent exits is reparented (to init or a subreaper),
 * so getppid() changes and the original process cannot wait for it. The grandchild
 * reports through a pipe; the top process prints after the pipe reaches EOF. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int fds[2];
    if (pipe(fds) != 0) {
        perror("FAIL pipe");
        return 1;
    }
    pid_t top = getpid();
    pid_t middle = fork();
    if (middle == 0) {
        pid_t me = getpid();
        pid_t grandchild = fork();
        if (grandchild == 0) {
            close(fds[0]);
            const char *msg = "FAIL grandchild still sees its dead parent after 2 s\n";
            for (int i = 0; i < 2000; i++) { /* up to 2 s */
                pid_t ppid = getppid();
                if (ppid != me) {
                    msg = ppid == top ? "FAIL reparented to the grandparent, which is no subreaper\n"
                                      : "ok reparented: getppid() changed after the parent exited\n";
                    break;
                }
                usleep(1000);
            }
            write(fds[1], msg, strlen(msg));
            _exit(0);
        }
        _exit(grandchild > 0 ? 0 : 1);
    }
    close(fds[1]);
    int status;
    if (waitpid(middle, &status, 0) != middle || status != 0) {
        fprintf(stderr, "FAIL middle child status 0x%x\n", status);
        return 1;
    }
    printf("ok middle child exited 0\n");
    fflush(stdout);
    char buf[256];
    size_t len = 0;
    ssize_t r;
    while ((r = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += r;
    buf[len] = 0;
    if (strncmp(buf, "ok ", 3) != 0) {
        fprintf(stderr, "%s", len ? buf : "FAIL grandchild wrote nothing\n");
        return 1;
    }
    printf("%s", buf);
    printf("ok pipe reached EOF once the grandchild exited\n");
    errno = 0;
    if (waitpid(-1, &status, 0) != -1 || errno != ECHILD) {
        fprintf(stderr, "FAIL the grandchild became our child\n");
        return 1;
    }
    printf("ok the grandchild is not our child: waitpid -> ECHILD\n");
    return 0;
}
