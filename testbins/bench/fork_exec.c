/* bench fork_exec: N cycles of fork, execv(PROG) in the child, waitpid in the parent.
 * argv[1]: cycles (default 100); argv[2]: the program (default testbins/bench/true). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100, ok = 0;
    char *prog = argc > 2 ? argv[2] : "testbins/bench/true";
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            char *args[] = {prog, NULL};
            execv(prog, args);
            _exit(127);
        }
        int status;
        if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
    }
    printf("fork_exec cycles=%ld ok=%ld\n", n, ok);
    return ok != n;
}
