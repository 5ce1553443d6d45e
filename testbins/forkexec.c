/* forkexec: what `make run` shows. fork + execv of ./testbins/hello, then a child that
 * exits 7; the parent reports both statuses from waitpid. Run from the repo root. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int wait_for(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, 0) != pid) {
        perror("FAIL waitpid");
        exit(1);
    }
    return status;
}

int main(void)
{
    printf("forkexec: the parent forks; the child execs ./testbins/hello, which says:\n");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("FAIL fork");
        return 1;
    }
    if (pid == 0) {
        char *argv[] = {"./testbins/hello", NULL};
        execv(argv[0], argv);
        perror("FAIL execv ./testbins/hello");
        _exit(127);
    }
    int status = wait_for(pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "FAIL hello child: status 0x%x\n", status);
        return 1;
    }
    printf("forkexec: waitpid says the hello child exited with status %d\n", WEXITSTATUS(status));
    fflush(stdout);

    pid = fork();
    if (pid == 0)
        _exit(7);
    status = wait_for(pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 7) {
        fprintf(stderr, "FAIL exit-7 child: status 0x%x\n", status);
        return 1;
    }
    printf("forkexec: a second child called _exit(7); waitpid reports WEXITSTATUS %d\n", WEXITSTATUS(status));
    printf("forkexec: ok, processes work\n");
    return 0;
}
