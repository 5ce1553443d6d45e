/* syscall_loop: how many system calls a task that never blocks makes before a task it
 * just forked runs. The parent loops on getppid() until the child has set a flag in
 * shared memory, then prints the count. Under pykern with one CPU it is the number of
 * calls a quantum allows (sched.QUANTUM_SYSCALLS): before, a quantum was only guest
 * instructions, and a loop of calls that run few of them made hundreds of thousands
 * (LTP's rename14: its children's creat/rename loop kept the other child and the
 * parent's alarm waiting tens of seconds). Natively it depends on the host. */
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    volatile int *started = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (started == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        *started = 1;
        _exit(0);
    }
    unsigned long calls = 0;
    while (!*started && calls < 100000000UL) {
        syscall(SYS_getppid);
        calls++;
    }
    waitpid(child, NULL, 0);
    printf("calls before the child ran: %lu\n", calls);
    return *started ? 0 : 1;
}
