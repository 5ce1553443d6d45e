/* jobctl: job control and timers. A child stops (SIGSTOP, raise; SIGTSTP in its own
 * process group) and continues (SIGCONT); wait4 reports it with WUNTRACED and
 * WCONTINUED, waitid with WSTOPPED/WCONTINUED/WNOWAIT; the parent's SIGCHLD handler
 * sees CLD_STOPPED and CLD_CONTINUED unless SA_NOCLDSTOP; SIGKILL ends a stopped child;
 * other signals wait until it continues; a read the stop interrupted carries on; an
 * orphaned process group ignores SIGTSTP, and one orphaned while a member is stopped
 * gets SIGHUP and SIGCONT.
 * alarm and setitimer(ITIMER_REAL): one-shot, interval, getitimer, the default action;
 * ITIMER_PROF and ITIMER_VIRTUAL fire after the CPU time asked for. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static volatile sig_atomic_t chld_code, chld_count, alarms;

static void on_chld(int sig, siginfo_t *info, void *uc)
{
    (void)sig;
    (void)uc;
    chld_code = info->si_code;
    chld_count++;
}

static int hup_fd = -1;

static void on_hup(int sig)
{
    (void)sig;
    (void)!write(hup_fd, "h", 1);
}

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A child that stops itself, and once continued exits with `exit_code` when the gate
 * opens (open_gate), so that the parent sees the continue before the exit. */
static int gate[2];

static pid_t stopping_child(int exit_code)
{
    CHECK(pipe(gate) == 0, "gate pipe");
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(gate[1]);
        raise(SIGSTOP);
        (void)!read(gate[0], &c, 1);
        _exit(exit_code);
    }
    close(gate[0]);
    return pid;
}

static void open_gate(void)
{
    close(gate[1]);
}

int main(void)
{
    int status;
    siginfo_t si;

    /* Stop, continue, exit: three reports. */
    pid_t pid = stopping_child(3);
    CHECK(waitpid(pid, &status, WUNTRACED) == pid, "waitpid WUNTRACED");
    CHECK(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP, "WIFSTOPPED, WSTOPSIG == SIGSTOP");
    CHECK(waitpid(pid, &status, WUNTRACED | WNOHANG) == 0, "a stop is reported once");
    CHECK(kill(pid, SIGCONT) == 0, "kill SIGCONT");
    CHECK(waitpid(pid, &status, WCONTINUED) == pid && WIFCONTINUED(status), "WIFCONTINUED");
    open_gate();
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 3,
          "then it exits with 3");

    /* waitid: WSTOPPED with WNOWAIT leaves the report; without, it is consumed. */
    pid = stopping_child(4);
    CHECK(waitid(P_PID, pid, &si, WSTOPPED | WNOWAIT) == 0, "waitid WSTOPPED|WNOWAIT");
    CHECK(si.si_code == CLD_STOPPED && si.si_status == SIGSTOP && si.si_pid == pid,
          "waitid: CLD_STOPPED, si_status SIGSTOP");
    CHECK(waitid(P_PID, pid, &si, WSTOPPED) == 0 && si.si_code == CLD_STOPPED, "still there, now consumed");
    si.si_pid = -1;
    CHECK(waitid(P_PID, pid, &si, WSTOPPED | WNOHANG) == 0 && si.si_pid == 0, "nothing left to report");
    kill(pid, SIGCONT);
    CHECK(waitid(P_PID, pid, &si, WCONTINUED) == 0 && si.si_code == CLD_CONTINUED && si.si_status == SIGCONT,
          "waitid: CLD_CONTINUED");
    open_gate();
    CHECK(waitid(P_PID, pid, &si, WEXITED) == 0 && si.si_code == CLD_EXITED && si.si_status == 4,
          "waitid: CLD_EXITED 4");

    /* SIGKILL ends a stopped child; SIGTERM waits for SIGCONT. */
    pid = stopping_child(5);
    waitpid(pid, &status, WUNTRACED);
    kill(pid, SIGKILL);
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
          "a stopped child dies of SIGKILL");
    open_gate();
    pid = stopping_child(6);
    waitpid(pid, &status, WUNTRACED);
    kill(pid, SIGTERM);
    sleep_ms(20);
    CHECK(waitpid(pid, &status, WNOHANG) == 0, "SIGTERM to a stopped child waits");
    kill(pid, SIGCONT);
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
          "after SIGCONT it dies of SIGTERM");
    open_gate();

    /* A stop in the middle of a blocking read: after SIGCONT the read carries on. */
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pid = fork();
    if (pid == 0) {
        char c = 0;
        close(fds[1]);
        ssize_t n = read(fds[0], &c, 1);
        _exit(n == 1 ? c : 100);
    }
    close(fds[0]);
    sleep_ms(20);
    kill(pid, SIGSTOP);
    CHECK(waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status), "stopped while reading");
    CHECK(write(fds[1], "\x2a", 1) == 1, "write while it is stopped");
    sleep_ms(20);
    CHECK(waitpid(pid, &status, WNOHANG) == 0, "a stopped reader does not read");
    kill(pid, SIGCONT);
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 42,
          "continued: the read returns the byte");
    close(fds[1]);

    /* SIGTSTP stops a child in its own process group (not orphaned: we are its parent). */
    pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        raise(SIGTSTP);
        _exit(7);
    }
    CHECK(waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status) && WSTOPSIG(status) == SIGTSTP,
          "SIGTSTP stops it");
    kill(pid, SIGCONT);
    CHECK(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 7, "SIGTSTP'd child continues and exits");

    /* An orphaned process group ignores SIGTSTP: a grandchild in its own group whose
     * parent has exited keeps running. */
    CHECK(pipe(fds) == 0, "pipe");
    pid = fork();
    if (pid == 0) {
        if (fork() == 0) {
            setpgid(0, 0);
            close(fds[0]);
            sleep_ms(30); /* let the parent exit: our group becomes orphaned */
            raise(SIGTSTP);
            (void)!write(fds[1], "r", 1);
            _exit(0);
        }
        _exit(0);
    }
    close(fds[1]);
    CHECK(waitpid(pid, &status, 0) == pid, "the middle process exits");
    char running;
    CHECK(read(fds[0], &running, 1) == 1 && running == 'r', "orphaned group: SIGTSTP did not stop it");
    close(fds[0]);

    /* A process group orphaned while a member is stopped: SIGHUP, then SIGCONT. The
     * grandchild stops in its own group; its parent, the only link, exits. */
    CHECK(pipe(fds) == 0, "pipe");
    pid = fork();
    if (pid == 0) {
        if (fork() == 0) {
            setpgid(0, 0);
            close(fds[0]);
            signal(SIGHUP, on_hup);
            hup_fd = fds[1];
            raise(SIGSTOP);
            (void)!write(fds[1], "c", 1); /* continued */
            _exit(0);
        }
        sleep_ms(30); /* let it stop */
        _exit(0);
    }
    close(fds[1]);
    CHECK(waitpid(pid, &status, 0) == pid, "the middle process exits");
    char seen[3] = {0};
    CHECK(read(fds[0], seen, 2) >= 1 && seen[0] == 'h', "orphaned with a stopped member: SIGHUP");
    if (!seen[1])
        (void)!read(fds[0], seen + 1, 1);
    CHECK(seen[1] == 'c', "then SIGCONT: it runs again");
    close(fds[0]);

    /* SIGCHLD for stops and continues, unless SA_NOCLDSTOP. */
    struct sigaction sa = {0};
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    pid = stopping_child(8);
    while (chld_code != CLD_STOPPED)
        sigsuspend(&old);
    CHECK(chld_code == CLD_STOPPED, "SIGCHLD: CLD_STOPPED");
    kill(pid, SIGCONT);
    while (chld_code != CLD_CONTINUED && chld_code != CLD_EXITED)
        sigsuspend(&old);
    CHECK(1, "SIGCHLD after SIGCONT");
    open_gate();
    sigprocmask(SIG_SETMASK, &old, NULL);
    CHECK(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 8, "reaped");
    sa.sa_flags |= SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    chld_count = 0;
    pid = stopping_child(9);
    CHECK(waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status), "stopped again");
    CHECK(chld_count == 0, "SA_NOCLDSTOP: no SIGCHLD for the stop");
    kill(pid, SIGCONT);
    open_gate();
    CHECK(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 9, "reaped");
    signal(SIGCHLD, SIG_DFL);

    /* alarm: the previous alarm's seconds, rounded; 0 cancels. */
    CHECK(alarm(10) == 0, "alarm(10) with none set returns 0");
    CHECK(alarm(0) == 10, "alarm(0) returns the 10 seconds left");
    CHECK(alarm(0) == 0, "cancelled");

    /* A one-shot ITIMER_REAL wakes pause(). */
    signal(SIGALRM, on_alarm);
    struct itimerval it = {{0, 0}, {0, 30000}}, cur;
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer 30 ms");
    CHECK(pause() == -1 && alarms == 1, "SIGALRM ends pause()");
    CHECK(getitimer(ITIMER_REAL, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0,
          "getitimer: disarmed after it fired");

    /* An interval timer fires repeatedly; getitimer shows the interval. */
    alarms = 0;
    it.it_interval.tv_usec = 10000;
    it.it_value.tv_usec = 10000;
    setitimer(ITIMER_REAL, &it, NULL);
    CHECK(getitimer(ITIMER_REAL, &cur) == 0 && cur.it_interval.tv_usec == 10000 && cur.it_value.tv_usec <= 10000,
          "getitimer: interval and time left");
    while (alarms < 3)
        pause();
    it.it_value.tv_usec = 0;
    setitimer(ITIMER_REAL, &it, NULL);
    CHECK(alarms == 3, "three SIGALRMs from the interval timer");
    CHECK(setitimer(ITIMER_REAL + 7, &it, NULL) == -1 && errno == EINVAL, "setitimer: bad timer is EINVAL");

    /* CPU-time timers fire while the process computes: ITIMER_PROF (SIGPROF) and
     * ITIMER_VIRTUAL (SIGVTALRM), after at least the CPU time asked for. */
    static const int cpu_timers[2][2] = {{ITIMER_PROF, SIGPROF}, {ITIMER_VIRTUAL, SIGVTALRM}};
    for (int k = 0; k < 2; k++) {
        signal(cpu_timers[k][1], on_alarm);
        alarms = 0;
        struct itimerval cpu = {{0, 0}, {0, 30000}};
        struct timespec c0, c1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        CHECK(setitimer(cpu_timers[k][0], &cpu, NULL) == 0, "setitimer on CPU time");
        CHECK(getitimer(cpu_timers[k][0], &cur) == 0 && cur.it_value.tv_usec > 0, "getitimer: armed");
        volatile unsigned long spin = 0;
        while (!alarms)
            spin++;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        long long used = (c1.tv_sec - c0.tv_sec) * 1000000000LL + (c1.tv_nsec - c0.tv_nsec);
        /* Linux samples CPU-time timers at the scheduler tick, against the tick-sampled
         * CPU time: the precise clock may read up to a tick (or more under load) short. */
        CHECK(alarms == 1 && used >= 20000000, "the CPU-time signal came after about 30 ms of CPU");
        CHECK(getitimer(cpu_timers[k][0], &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0,
              "getitimer: disarmed after it fired");
    }

    /* SIGALRM's default action terminates; timers are not inherited by fork. */
    it.it_value.tv_usec = 20000;
    it.it_interval.tv_usec = 0;
    pid = fork();
    if (pid == 0) {
        signal(SIGALRM, SIG_DFL);
        getitimer(ITIMER_REAL, &cur);
        if (cur.it_value.tv_usec != 0)
            _exit(99);
        setitimer(ITIMER_REAL, &it, NULL);
        pause();
        _exit(98);
    }
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM,
          "a child dies of its SIGALRM");

    printf("jobctl: ok\n");
    return 0;
}
