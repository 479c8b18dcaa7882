#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

#ifndef __wasi__
#include <signal.h>
#include <termios.h>
#endif

#include "grid.h"
#include "pattern.h"

/* life: Conway's Game of Life, animated in the terminal.
 *
 * Between frames the program waits with poll() on stdin, using the frame
 * delay as the timeout, so a key ends the wait at once and 'q' or Ctrl-C
 * (byte 0x03) quits cleanly, restoring the screen. Per platform:
 *  - native (Docker sandbox, a real TTY): stdin is switched to
 *    non-canonical mode without echo (VMIN=0), so keys arrive without Enter;
 *    SIGINT/SIGTERM also stop the loop. When stdin is not a TTY it is left
 *    alone and only signals stop the animation.
 *  - WASI preview 1: there are no signals and no termios, but wasi-libc's
 *    poll() maps to poll_oneoff, which @wasmer/sdk answers for a piped
 *    stdin. If poll fails or stdin hits EOF the program falls back to a
 *    plain nanosleep() (also poll_oneoff) and runs until the host kills it;
 *    the Shellfolio WASI shell handles Ctrl-C itself and restores the
 *    screen (leaves the alternate screen, shows the cursor) after a kill.
 *  - with -n N both simply stop after N generations and print the result,
 *    without any escape sequences: that is what the tests compare. */

static const char usage[] =
    "usage: life [-n generations] [-d delay_ms] [-s seed] [-w cols] [-h rows] [pattern.rle|pattern.cells]\n"
    "  without a pattern the grid starts from a seeded random soup (seed 42 by default)\n"
    "  -n   run that many generations, print the last one and exit (no animation)\n"
    "  -d   delay between frames in milliseconds (default 80)\n"
    "  -w, -h   terminal size (default: $COLUMNS x $LINES, else 80x24)\n"
    "  keys: q or Ctrl-C to quit\n";

static int stdin_live = 0; /* poll stdin for keys between frames */

#ifndef __wasi__
static volatile sig_atomic_t interrupted = 0;
static struct termios saved_termios;
static int termios_saved = 0;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

/* Non-canonical, no echo: keys arrive without Enter. ISIG stays on so Ctrl-C
 * still raises SIGINT, which stops the loop like 'q'. */
static void keyboard_open(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_termios) == 0) {
        struct termios raw = saved_termios;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
            termios_saved = 1;
    }
    stdin_live = termios_saved;
}

static void keyboard_close(void) {
    if (termios_saved)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
}

static int interrupted_by_signal(void) { return interrupted; }
#else
static void keyboard_open(void) { stdin_live = 1; }
static void keyboard_close(void) {}
static int interrupted_by_signal(void) { return 0; }
#endif

static void sleep_ms(int ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL); /* EINTR is fine: the loop checks for a quit next */
}

/* Waits up to ms milliseconds; returns 1 as soon as the user asks to quit. */
static int wait_for_quit(int ms) {
    struct pollfd pfd;
    unsigned char keys[64];
    ssize_t n;
    int ready;

    if (interrupted_by_signal())
        return 1;
    if (!stdin_live) {
        sleep_ms(ms);
        return interrupted_by_signal();
    }
    pfd.fd = STDIN_FILENO;
    pfd.events = POLLIN;
    pfd.revents = 0;
    ready = poll(&pfd, 1, ms);
    if (ready < 0) {
        if (interrupted_by_signal())
            return 1;
        stdin_live = 0; /* no poll on this host: just sleep from now on */
        sleep_ms(ms);
        return 0;
    }
    if (ready == 0)
        return 0;
    n = read(STDIN_FILENO, keys, sizeof(keys));
    if (n <= 0) {
        stdin_live = 0; /* EOF: nobody can type any more */
        return 0;
    }
    for (ssize_t i = 0; i < n; i++)
        if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == 0x03)
            return 1;
    return 0;
}

static int parse_int(const char *s, int lo, int hi) {
    long n = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || n > 100000000L)
            return -1;
        n = n * 10 + (*s - '0');
    }
    return n < lo || n > hi ? -1 : (int)n;
}

static int env_int(const char *name, int fallback, int lo, int hi) {
    int n = parse_int(getenv(name), lo, hi);
    return n < 0 ? fallback : n;
}

static int die(const char *msg, const char *arg) {
    fprintf(stderr, "life: %s%s%s\n%s", msg, arg ? " " : "", arg ? arg : "", usage);
    return 2;
}

static int animate(Grid *g, int delay) {
    size_t cap = grid_text_size(g) + 256;
    char *frame = malloc(cap);
    long gen = 0;
    if (!frame) {
        fputs("life: out of memory\n", stderr);
        return 1;
    }
    keyboard_open();
    /* alternate screen, hide the cursor, clear */
    fputs("\x1b[?1049h\x1b[?25l\x1b[2J", stdout);
    for (;;) {
        size_t len = grid_text(g, frame);
        fputs("\x1b[H\x1b[32m", stdout);
        fwrite(frame, 1, len, stdout);
        printf("\x1b[0m\x1b[7m generation %ld  population %ld  q: quit \x1b[0m\x1b[K", gen, grid_population(g));
        fflush(stdout);
        if (wait_for_quit(delay))
            break;
        grid_step(g);
        gen++;
    }
    fputs("\x1b[0m\x1b[?25h\x1b[?1049l", stdout);
    fflush(stdout);
    keyboard_close();
    free(frame);
    return 0;
}

int main(int argc, char **argv) {
    int cols = env_int("COLUMNS", 80, 2, 2000);
    int rows = env_int("LINES", 24, 2, 1000);
    int generations = -1, delay = 80, seed = 42;
    const char *pattern = NULL;
    Grid g;
    int status;

#ifdef __wasi__
    /* wasi-libc keeps its own working directory, starting at "/"; WASI hosts
     * (our shell included) pass the shell's directory as PWD. */
    if (getenv("PWD"))
        (void)chdir(getenv("PWD"));
#endif
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        const char *shown = value ? value : "nothing";
        if (strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (pattern)
                return die("only one pattern file can be given, got another:", a);
            pattern = a;
            continue;
        }
        if (a[2] != '\0' || !strchr("ndswh", a[1]))
            return die("unknown option", a);
        i++; /* every option takes a value */
        if (a[1] == 'n' && (generations = parse_int(value, 0, 100000000)) < 0)
            return die("-n needs a number of generations, got", shown);
        if (a[1] == 'd' && (delay = parse_int(value, 0, 10000)) < 0)
            return die("-d needs a delay between 0 and 10000 ms, got", shown);
        if (a[1] == 's' && (seed = parse_int(value, 0, 2000000000)) < 0)
            return die("-s needs a non-negative seed, got", shown);
        if (a[1] == 'w' && (cols = parse_int(value, 2, 2000)) < 0)
            return die("-w needs a column count between 2 and 2000, got", shown);
        if (a[1] == 'h' && (rows = parse_int(value, 2, 1000)) < 0)
            return die("-h needs a row count between 2 and 1000, got", shown);
    }

    /* One text row is kept for the status line; each text row holds two cells. */
    if (!grid_init(&g, cols, (rows - 1) * 2)) {
        fputs("life: out of memory\n", stderr);
        return 1;
    }
    if (pattern) {
        if (!pattern_load(pattern, &g)) {
            grid_free(&g);
            return 1;
        }
    } else {
        grid_randomize(&g, (unsigned)seed, 30);
    }

    if (generations >= 0) {
        char *text = malloc(grid_text_size(&g));
        status = 0;
        if (!text) {
            fputs("life: out of memory\n", stderr);
            status = 1;
        } else {
            for (int i = 0; i < generations; i++)
                grid_step(&g);
            fwrite(text, 1, grid_text(&g, text), stdout);
            printf("generation %d, population %ld\n", generations, grid_population(&g));
            free(text);
        }
    } else {
        status = animate(&g, delay);
    }
    grid_free(&g);
    return status;
}
