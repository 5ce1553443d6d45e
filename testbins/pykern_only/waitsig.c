/* Waits for signals sent to pykern from the host (pykern.hostsig forwards them): prints
 * "ready", then each signal as it comes, until it has seen SIGUSR1, SIGUSR2 and
 * SIGRTMIN+3 (any order); exits 0. Not run natively by the testbin comparison: it waits
 * for a signal nobody sends there. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t seen[65];

static void handler(int sig) { seen[sig] = 1; }

int main(void) {
    int wanted[] = {SIGUSR1, SIGUSR2, SIGRTMIN + 3};
    for (int i = 0; i < 3; i++)
        signal(wanted[i], handler);
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        int all = 1;
        for (int i = 0; i < 3; i++)
            all &= seen[wanted[i]];
        if (all)
            break;
        pause();
    }
    printf("got SIGUSR1, SIGUSR2 and SIGRTMIN+3\n");
    return 0;
}
