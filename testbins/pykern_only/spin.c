/* spin: a guest that never ends on its own, for the tests of signals sent to pykern
 * itself (Ctrl-C, kill). Prints "ready" once running, then: "loop" spins with no
 * syscall at all; "handler" spins until its SIGINT/SIGTERM handler runs and exits 3;
 * "read" blocks reading stdin; "pause" waits in pause(); "count" is "handler" with
 * two counters in memory kept in step, printed when the handler has run: a stop of
 * the JIT that re-ran instructions would show as counters out of step. (Run natively
 * by the tests too: the output and status must match.) */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t caught;
static volatile unsigned long steps, triple;

static void on_signal(int sig)
{
    caught = sig;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "loop";
    int counting = strcmp(mode, "count") == 0;
    if (counting || strcmp(mode, "handler") == 0) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
    printf("ready\n");
    fflush(stdout);
    if (strcmp(mode, "pause") == 0) /* only a signal can end it: not a deadlock */
        return pause();
    if (strcmp(mode, "read") == 0) {
        char c;
        return (int)read(0, &c, 1);
    }
    if (counting) {
        while (!caught) {
            steps++;
            triple += 3;
        }
        printf("caught %d, counters %s\n", caught, triple == 3 * steps ? "in step" : "OUT OF STEP");
        return 3;
    }
    while (!caught)
        ;
    printf("caught %d\n", caught);
    return 3;
}
