/* pty: pseudo-terminals and terminal job control.
 * posix_openpt/grantpt/unlockpt/ptsname and the lock (EIO while locked); the slave's
 * initial termios; a child that makes the slave its controlling terminal (setsid, open
 * without O_NOCTTY) and, driven through the master: canonical lines with echo, VERASE,
 * VKILL, VEOF; ^C -> SIGINT to its group; the window size and SIGWINCH; raw mode with
 * VMIN/VTIME; OPOST/ONLCR; background reads, writes under TOSTOP and termios changes
 * stopping with SIGTTIN/SIGTTOU, tcsetpgrp; the hang-up when the master closes (SIGHUP to
 * the session leader, EOF/EIO on the slave). A second pair: master writes before the
 * slave opens, TIOCGPTPEER, the master reading EIO and POLLHUP once the slave is closed.
 * A third: the session leader's exit sends SIGHUP to the group in front. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* --- the parent's side: drive the master ----------------------------------------------- */

static void show(const char *what, const char *buf, size_t n)
{
    printf("%s: \"", what);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\r')
            printf("\\r");
        else if (c == '\n')
            printf("\\n");
        else if (c == '\b')
            printf("\\b");
        else if (c >= 32 && c < 127 && c != '\\' && c != '"')
            putchar(c);
        else
            printf("\\x%02x", c);
    }
    printf("\"\n");
    fflush(stdout);
}

/* Read the master until `marker` has arrived; show everything read. */
static void expect(int m, const char *what, const char *marker)
{
    char buf[4096];
    size_t n = 0;
    buf[0] = 0;
    while (!memmem(buf, n, marker, strlen(marker))) {
        struct pollfd p = {m, POLLIN, 0};
        ssize_t got = poll(&p, 1, 10000) == 1 ? read(m, buf + n, sizeof buf - 1 - n) : -1;
        if (got <= 0) {
            show("partial", buf, n);
            CHECK(got > 0, "master read in time");
        }
        n += got;
    }
    show(what, buf, n);
}

static void send(int m, const char *data)
{
    if (write(m, data, strlen(data)) != (ssize_t)strlen(data))
        CHECK(0, "master write");
}

/* --- the child's side: the session on the slave --------------------------------------- */

static volatile sig_atomic_t got_int, got_winch, got_hup;

static void on_int(int sig) { (void)sig; got_int++; }
static void on_winch(int sig) { (void)sig; got_winch++; }
static void on_hup(int sig) { (void)sig; got_hup++; }

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    (void)!write(1, buf, n);
}

static void escape(char *out, const char *in, ssize_t n)
{
    for (ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '\n') {
            *out++ = '\\';
            *out++ = 'n';
        } else if (c >= 32 && c < 127) {
            *out++ = c;
        } else {
            out += sprintf(out, "\\x%02x", c);
        }
    }
    *out = 0;
}

static void read_line(const char *label)
{
    char buf[256], text[1024];
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0) {
        say("%s: read error %d\n", label, errno);
        return;
    }
    escape(text, buf, n);
    say("%s=%zd \"%s\"\n", label, n, text);
}

/* A grandchild in its own (background) process group doing `what`; how it ended. */
static const char *background(int what)
{
    static char result[64];
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        char c;
        struct termios t;
        switch (what) {
        case 0: /* read: SIGTTIN */
            (void)!read(0, &c, 1);
            _exit(10);
        case 1: /* write with TOSTOP: SIGTTOU */
            (void)!write(1, "bg\n", 3);
            _exit(11);
        case 2: /* tcsetattr: SIGTTOU */
            tcgetattr(0, &t);
            tcsetattr(0, TCSANOW, &t);
            _exit(12);
        case 3: /* tcsetattr with SIGTTOU ignored: allowed */
            signal(SIGTTOU, SIG_IGN);
            tcgetattr(0, &t);
            _exit(tcsetattr(0, TCSANOW, &t) == 0 ? 13 : 99);
        case 4: /* read with SIGTTIN ignored: EIO */
            signal(SIGTTIN, SIG_IGN);
            _exit(read(0, &c, 1) < 0 && errno == EIO ? 14 : 99);
        case 5: /* write without TOSTOP: allowed */
            _exit(write(1, "", 0) == 0 ? 15 : 99);
        }
        _exit(98);
    }
    setpgid(pid, pid);
    int status;
    waitpid(pid, &status, WUNTRACED);
    if (WIFSTOPPED(status)) {
        snprintf(result, sizeof result, "stopped by %s", WSTOPSIG(status) == SIGTTIN ? "SIGTTIN"
                 : WSTOPSIG(status) == SIGTTOU ? "SIGTTOU" : "other");
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    } else {
        snprintf(result, sizeof result, "exit %d", WEXITSTATUS(status));
    }
    return result;
}

static void job_control(pid_t me)
{
    const char *r0 = background(0);
    say("bg read: %s\n", r0);
    struct termios t;
    tcgetattr(0, &t);
    t.c_lflag |= TOSTOP;
    tcsetattr(0, TCSANOW, &t);
    const char *r1 = background(1);
    say("bg write with TOSTOP: %s\n", r1);
    t.c_lflag &= ~TOSTOP;
    tcsetattr(0, TCSANOW, &t);
    say("bg write without TOSTOP: %s\n", background(5));
    say("bg tcsetattr: %s\n", background(2));
    say("bg tcsetattr, SIGTTOU ignored: %s\n", background(3));
    say("bg read, SIGTTIN ignored: %s\n", background(4));

    /* tcsetpgrp: a group of our session goes to the front; back, with SIGTTOU blocked */
    pid_t front = fork();
    if (front == 0) {
        setpgid(0, 0);
        pause();
        _exit(0);
    }
    setpgid(front, front);
    int set = tcsetpgrp(0, front);
    int now_front = tcgetpgrp(0) == front;
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTTOU);
    sigprocmask(SIG_BLOCK, &block, &old);
    int back = tcsetpgrp(0, me);
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = 0;
    int bad = tcsetpgrp(0, 999999);
    int bad_errno = errno;
    kill(front, SIGKILL);
    waitpid(front, NULL, 0);
    say("tcsetpgrp=%d front=%d back=%d (%d) unknown=%d %s\n", set, now_front, back, tcgetpgrp(0) == me,
        bad, bad_errno == ESRCH ? "ESRCH" : strerror(bad_errno));

}

static int child(const char *name, int master, int other)
{
    close(master); /* else the master stays open here and never hangs up */
    close(other);
    alarm(30); /* should the parent fail, do not linger */
    setsid();
    int s = open(name, O_RDWR); /* no O_NOCTTY: a session leader acquires it */
    if (s < 0)
        _exit(2);
    dup2(s, 0);
    dup2(s, 1);
    close(s);
    pid_t me = getpid();
    int tty = open("/dev/tty", O_RDWR);
    say("ready sid=%d pgrp=%d devtty=%d\n", tcgetsid(0) == me, tcgetpgrp(0) == me, tty >= 0);
    close(tty);

    struct sigaction sa = {0};
    sa.sa_handler = on_int; /* no SA_RESTART: the read ends with EINTR */
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_winch;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGWINCH, &sa, NULL);

    read_line("line");
    read_line("erase");
    read_line("kill");
    read_line("eof-after-text");
    read_line("eof");

    /* ^C */
    say("waiting for ^C\n");
    char buf[64];
    int data = 0; /* a read the signal ends fails with EINTR (if it began in time) */
    while (!got_int) {
        if (read(0, buf, sizeof buf) >= 0)
            data = 1;
    }
    say("sigint=%d data=%d\n", got_int, data);

    /* window size */
    read_line("after-resize");
    struct winsize ws;
    ioctl(0, TIOCGWINSZ, &ws);
    say("winch=%d size=%dx%d\n", got_winch, ws.ws_row, ws.ws_col);

    /* raw mode */
    struct termios saved, raw;
    tcgetattr(0, &saved);
    raw = saved;
    raw.c_lflag &= ~(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    tcsetattr(0, TCSANOW, &raw);
    say("raw\n");
    char got[8];
    int have = 0;
    while (have < 3) {
        ssize_t n = read(0, got + have, 3 - have);
        if (n <= 0)
            break;
        have += n;
    }
    got[have] = 0;
    raw.c_cc[VMIN] = 0;
    tcsetattr(0, TCSANOW, &raw);
    ssize_t zero = read(0, buf, sizeof buf);
    raw.c_cc[VTIME] = 1;
    tcsetattr(0, TCSANOW, &raw);
    ssize_t timed = read(0, buf, sizeof buf);
    raw.c_oflag &= ~OPOST;
    tcsetattr(0, TCSANOW, &raw);
    say("raw=%s vmin0=%zd vtime=%zd\nno opost\n", got, zero, timed);
    tcsetattr(0, TCSAFLUSH, &saved);
    say("cooked\n");

    job_control(me);

    /* the hang-up */
    say("bye\n");
    ssize_t first = read(0, buf, sizeof buf);
    int first_errno = errno;
    ssize_t second = read(0, buf, sizeof buf);
    errno = 0;
    ssize_t w = write(1, "x", 1);
    int code = 0;
    if (!(first == 0 || (first < 0 && first_errno == EIO)))
        code |= 4;
    if (second != 0)
        code |= 8;
    if (!(w < 0 && errno == EIO))
        code |= 16;
    while (!got_hup)
        usleep(1000);
    struct pollfd p = {0, POLLIN, 0};
    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLHUP))
        code |= 32;
    return code;
}

/* On the terminal the program was started on (tests/test_tty.py gives it one): the
 * same job control, as the leader of the session that owns the terminal. */
static int console(void)
{
    pid_t me = getpid();
    say("fg=%d sid=%d\n", tcgetpgrp(0) == getpgrp(), tcgetsid(0) == getsid(0));
    job_control(me);
    if (getenv("PTY_RESIZE")) { /* the test resizes the terminal: SIGWINCH comes */
        sigset_t winch, none;
        sigemptyset(&winch);
        sigaddset(&winch, SIGWINCH);
        sigemptyset(&none);
        sigprocmask(SIG_BLOCK, &winch, NULL);
        signal(SIGWINCH, on_winch);
        say("resize me\n");
        while (!got_winch)
            sigsuspend(&none);
        struct winsize ws;
        ioctl(0, TIOCGWINSZ, &ws);
        say("SIGWINCH: %dx%d\n", ws.ws_row, ws.ws_col);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "console") == 0)
        return console();
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(m >= 0, "posix_openpt");
    CHECK(grantpt(m) == 0, "grantpt");
    int locked = -1;
    CHECK(ioctl(m, TIOCGPTLCK, &locked) == 0 && locked == 1, "a new pty is locked");
    char name[64];
    CHECK(ptsname_r(m, name, sizeof name) == 0, "ptsname_r");
    CHECK(strncmp(name, "/dev/pts/", 9) == 0, "ptsname is /dev/pts/N");
    unsigned ptn = 0;
    CHECK(ioctl(m, TIOCGPTN, &ptn) == 0 && (unsigned)atoi(name + 9) == ptn, "TIOCGPTN");
    CHECK(open(name, O_RDWR | O_NOCTTY) < 0 && errno == EIO, "the locked slave: EIO");
    CHECK(unlockpt(m) == 0, "unlockpt");
    CHECK(ioctl(m, TIOCGPTLCK, &locked) == 0 && locked == 0, "unlocked");
    CHECK(isatty(m), "the master is a terminal");
    printf("master F_GETFL=%#x\n", fcntl(m, F_GETFL));
    fcntl(m, F_SETFL, O_NONBLOCK);
    char c;
    CHECK(read(m, &c, 1) < 0 && errno == EAGAIN, "nothing to read yet: EAGAIN");
    fcntl(m, F_SETFL, 0);

    int s = open(name, O_RDWR | O_NOCTTY);
    CHECK(s >= 0, "open the slave");
    struct termios t;
    CHECK(tcgetattr(s, &t) == 0, "tcgetattr");
    printf("termios iflag=%o oflag=%o cflag=%o lflag=%o\ncc:", t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag);
    for (int i = 0; i < 17; i++)
        printf(" %d", t.c_cc[i]);
    printf("\n");
    struct termios tm;
    CHECK(tcgetattr(m, &tm) == 0 && tm.c_lflag == t.c_lflag, "the master's termios are the slave's");
    struct stat st;
    CHECK(fstat(s, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 136 && minor(st.st_rdev) == ptn,
          "the slave is char device 136:N");
    char *tn = ttyname(s);
    CHECK(tn && strcmp(tn, name) == 0, "ttyname is the ptsname");
    CHECK(ioctl(s, TIOCGPTN, &ptn) < 0 && errno == ENOTTY, "TIOCGPTN on the slave: ENOTTY");
    CHECK(tcgetpgrp(s) < 0 && errno == ENOTTY, "tcgetpgrp of another's terminal: ENOTTY");
    pid_t pg = -1;
    CHECK(ioctl(m, TIOCGPGRP, &pg) == 0 && pg == 0, "TIOCGPGRP on the master: no group yet");

    pid_t pid = fork();
    if (pid == 0)
        _exit(child(name, m, s));
    expect(m, "started", "devtty=1\r\n");
    close(s); /* (not before: with no slave open, the master reads EIO) */
    CHECK(ioctl(m, TIOCGPGRP, &pg) == 0 && pg == pid, "the child's group is in front");
    pid_t sid = -1;
    CHECK(ioctl(m, TIOCGSID, &sid) == 0 && sid == pid, "TIOCGSID on the master");
    send(m, "hello\n");
    expect(m, "line", "\"\r\n");
    send(m, "abc\x7f" "d\n");
    expect(m, "erase", "\"\r\n");
    send(m, "xyz\x15ok\n");
    expect(m, "kill", "\"\r\n");
    send(m, "ab\x04");
    expect(m, "eof after text", "\"\r\n");
    send(m, "\x04");
    expect(m, "eof", "waiting for ^C\r\n");
    send(m, "\x03");
    expect(m, "interrupt", "data=0\r\n");
    struct winsize ws = {30, 100, 0, 0};
    CHECK(ioctl(m, TIOCSWINSZ, &ws) == 0, "TIOCSWINSZ on the master");
    send(m, "w\n");
    expect(m, "resize", "raw\r\n");
    send(m, "xyz");
    expect(m, "raw mode and job control", "bye\r\n");
    close(m);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    printf("child: exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    CHECK(open(name, O_RDWR | O_NOCTTY) < 0, "the slave is gone with its master");

    /* a second pair: input before the slave opens, TIOCGPTPEER, the slave closing */
    int m2 = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(m2 >= 0 && grantpt(m2) == 0 && unlockpt(m2) == 0, "second pty");
    send(m2, "pre\n");
    int s2 = ioctl(m2, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    CHECK(s2 >= 0 && isatty(s2), "TIOCGPTPEER opens the slave");
    char buf[64];
    ssize_t n = read(s2, buf, sizeof buf);
    CHECK(n == 4 && memcmp(buf, "pre\n", 4) == 0, "input written before the slave opened");
    n = read(m2, buf, sizeof buf);
    show("echo of early input", buf, n);
    CHECK(tcflow(s2, TCOOFF) == 0, "tcflow TCOOFF");
    fcntl(s2, F_SETFL, O_NONBLOCK);
    CHECK(write(s2, "z", 1) < 0 && errno == EAGAIN, "stopped output: EAGAIN");
    CHECK(tcflow(s2, TCOON) == 0 && write(s2, "z", 1) == 1, "TCOON: it flows again");
    fcntl(s2, F_SETFL, 0);
    CHECK(tcflow(s2, TCIOFF) == 0, "tcflow TCIOFF sends VSTOP");
    expect(m2, "after TCOON and TCIOFF", "\x13");
    if (geteuid() == 0) { /* root may push input into any terminal */
        CHECK(ioctl(s2, TIOCSTI, "\n") == 0 && read(s2, buf, sizeof buf) == 1, "TIOCSTI");
        expect(m2, "TIOCSTI's echo", "\r\n");
    } else {
        printf("TIOCSTI's echo: \"\\r\\n\"\n");
    }
    CHECK(ioctl(m2, TIOCSIG, SIGKILL) < 0 && errno == EINVAL, "TIOCSIG: only SIGINT, SIGQUIT, SIGTSTP");
    CHECK(ioctl(m2, TIOCSIG, SIGINT) == 0, "TIOCSIG with no group in front");
    int on = 1;
    CHECK(ioctl(m2, TIOCPKT, &on) == 0, "packet mode");
    CHECK(write(s2, "y", 1) == 1, "slave write in packet mode");
    struct pollfd pkt = {m2, POLLIN, 0};
    CHECK(poll(&pkt, 1, 1000) == 1, "the packet reaches the master");
    n = read(m2, buf, sizeof buf);
    show("data packet", buf, n);
    CHECK(tcflush(s2, TCIFLUSH) == 0, "tcflush of the slave's input");
    n = read(m2, buf, sizeof buf);
    show("status packet", buf, n);
    on = 0;
    CHECK(ioctl(m2, TIOCPKT, &on) == 0, "packet mode off");
    int avail = -1;
    CHECK(write(s2, "x\n", 2) == 2, "slave write");
    struct pollfd ready = {m2, POLLIN, 0};
    CHECK(poll(&ready, 1, 1000) == 1, "the output reaches the master");
    CHECK(ioctl(m2, FIONREAD, &avail) == 0 && avail == 3, "FIONREAD on the master");
    close(s2);
    struct pollfd p = {m2, POLLIN, 0};
    CHECK(poll(&p, 1, 1000) == 1, "poll the master");
    printf("revents:%s%s\n", p.revents & POLLIN ? " POLLIN" : "", p.revents & POLLHUP ? " POLLHUP" : "");
    n = read(m2, buf, sizeof buf);
    show("after the slave closed", buf, n);
    CHECK(read(m2, buf, sizeof buf) < 0 && errno == EIO, "then the master reads EIO");
    close(m2);

    /* a third pair: the session leader exits while another group of its session is in
     * front: that group gets SIGHUP (disassociate_ctty) */
    int m3 = posix_openpt(O_RDWR | O_NOCTTY);
    char name3[64];
    CHECK(m3 >= 0 && grantpt(m3) == 0 && unlockpt(m3) == 0 && ptsname_r(m3, name3, sizeof name3) == 0,
          "third pty");
    pid_t leader = fork();
    if (leader == 0) {
        alarm(30);
        close(m3);
        setsid();
        int s3 = open(name3, O_RDWR);
        sigset_t hup, none;
        sigemptyset(&hup);
        sigaddset(&hup, SIGHUP);
        sigemptyset(&none);
        sigprocmask(SIG_BLOCK, &hup, NULL);
        signal(SIGHUP, on_hup);
        pid_t g = fork();
        if (g == 0) {
            setpgid(0, 0);
            while (!got_hup)
                sigsuspend(&none);
            (void)!write(s3, "G: SIGHUP\n", 10);
            _exit(0);
        }
        setpgid(g, g);
        tcsetpgrp(s3, g);
        (void)!write(s3, "leader exits\n", 13);
        _exit(0);
    }
    CHECK(waitpid(leader, &status, 0) == leader, "the session leader exited");
    expect(m3, "leader exit", "G: SIGHUP\r\n");
    close(m3);
    return 0;
}
