/* bench fork_wait: N cycles of fork, _exit in the child, waitpid in the parent.
 * argv[1]: cycles (default 500). Prints the sum of the children's exit codes. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 500, sum = 0;
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0)
            _exit(i & 0x7f);
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
            fprintf(stderr, "fork_wait: bad wait at %ld\n", i);
            return 1;
        }
        sum += WEXITSTATUS(status);
    }
    printf("fork_wait cycles=%ld status_sum=%ld\n", n, sum);
    return 0;
}
