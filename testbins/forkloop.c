/* forkloop: 300 fork/_exit/wait cycles, each child's status checked. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define CYCLES 300

int main(void)
{
    for (int i = 0; i < CYCLES; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("FAIL fork");
            return 1;
        }
        if (pid == 0)
            _exit(i & 0xff);
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != (i & 0xff)) {
            fprintf(stderr, "FAIL cycle %d: status 0x%x\n", i, status);
            return 1;
        }
    }
    printf("ok %d fork/_exit/waitpid cycles, every status correct\n", CYCLES);
    return 0;
}
