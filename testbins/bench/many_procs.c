/* bench many_procs: fork N children that all block in read() on one pipe, so that N
 * processes are alive at once (peak RSS / N is the cost of a live process), then close
 * the pipe's write end: every child reads EOF and exits; reap them all.
 * argv[1]: N (default 1000). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000, ok = 0;
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        return 1;
    }
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            char c;
            close(fds[1]);
            _exit(read(fds[0], &c, 1) == 0 ? 0 : 1);
        }
    }
    close(fds[1]);
    for (long i = 0; i < n; i++) {
        int status;
        if (wait(&status) > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
    }
    printf("many_procs n=%ld ok=%ld\n", n, ok);
    return ok != n;
}
