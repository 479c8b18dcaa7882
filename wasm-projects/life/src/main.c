#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

#ifndef __wasi__
#include <signal.h>
#include <sys/ioctl.h>
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
/* The terminal's size once it changed while the animation runs (0: no news). */
static int new_cols = 0, new_rows = 0;

#ifndef __wasi__
static volatile sig_atomic_t interrupted = 0;
static struct termios saved_termios;
static int termios_saved = 0;

static volatile sig_atomic_t resized = 0;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

/* SIGWINCH: the terminal was resized; the size is read with TIOCGWINSZ between frames. */
static void on_winch(int sig) {
    (void)sig;
    resized = 1;
}

static void ask_size(void) {
    struct winsize w;
    if (!resized)
        return;
    resized = 0;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 0 && w.ws_row > 0) {
        new_cols = w.ws_col;
        new_rows = w.ws_row;
    }
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
    sa.sa_handler = on_winch;
    sigaction(SIGWINCH, &sa, NULL);
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
/* WASI has neither SIGWINCH nor TIOCGWINSZ: ask the terminal (xterm's CSI 18 t); the answer,
 * CSI 8 ; rows ; cols t, arrives on stdin with the keys and is read by wait_for_quit(). */
static void ask_size(void) {
    if (stdin_live)
        fputs("\x1b[18t", stdout);
}
#endif

/* Picks a size answer (ESC [ 8 ; rows ; cols t) out of the bytes read from stdin; returns how many
 * of the bytes were size answers (all of them: nobody typed anything). */
static ssize_t read_size_answer(const unsigned char *keys, ssize_t n) {
    ssize_t answers = 0;
    for (ssize_t i = 0; i + 3 < n; i++) {
        int rows = 0, cols = 0;
        ssize_t j = i + 4;
        if (keys[i] != 0x1b || keys[i + 1] != '[' || keys[i + 2] != '8' || keys[i + 3] != ';')
            continue;
        while (j < n && keys[j] >= '0' && keys[j] <= '9' && rows < 100000)
            rows = rows * 10 + (keys[j++] - '0');
        if (j >= n || keys[j++] != ';')
            continue;
        while (j < n && keys[j] >= '0' && keys[j] <= '9' && cols < 100000)
            cols = cols * 10 + (keys[j++] - '0');
        if (j < n && keys[j] == 't' && rows > 0 && cols > 0) {
            new_rows = rows;
            new_cols = cols;
            answers += j + 1 - i;
            i = j;
        }
    }
    return answers;
}

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

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
    long end;

    if (interrupted_by_signal())
        return 1;
    if (!stdin_live) {
        sleep_ms(ms);
        return interrupted_by_signal();
    }
    /* the terminal's size answer arrives right after each frame: it is taken, and the wait goes on
     * for the rest of the delay */
    end = now_ms() + ms;
    for (;;) {
        long left = end - now_ms();
        pfd.fd = STDIN_FILENO;
        pfd.events = POLLIN;
        pfd.revents = 0;
        ready = poll(&pfd, 1, left > 0 ? (int)left : 0);
        if (ready < 0) {
            if (interrupted_by_signal())
                return 1;
            if (errno == EINTR)
                return 0; /* a SIGWINCH: the next frame takes the new size */
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
        if (read_size_answer(keys, n) == n) {
            /* the rest of the delay is slept, not polled: not every WASI host honours poll's
             * timeout on a piped stdin (a key typed meanwhile ends the next frame's wait) */
            long rest = end - now_ms();
            if (rest > 0)
                sleep_ms((int)rest);
            return 0;
        }
        for (ssize_t i = 0; i < n; i++)
            if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == 0x03)
                return 1;
        return 0;
    }
}

/* The terminal changed size: a grid of the new size with the old cells in its top-left corner.
 * Keeps the old grid when the new one does not fit in memory. */
static void resize_grid(Grid *g, char **frame, size_t *cap) {
    int cols = new_cols < 2 ? 2 : new_cols > 2000 ? 2000 : new_cols;
    int rows = new_rows < 2 ? 2 : new_rows > 1000 ? 1000 : new_rows;
    Grid n;
    size_t need;
    char *bigger;
    new_cols = new_rows = 0;
    if (cols == g->width && (rows - 1) * 2 == g->height)
        return;
    if (!grid_init(&n, cols, (rows - 1) * 2)) {
        grid_free(&n);
        return;
    }
    need = grid_text_size(&n) + 256;
    bigger = need > *cap ? realloc(*frame, need) : *frame;
    if (!bigger) {
        grid_free(&n);
        return;
    }
    *frame = bigger;
    if (need > *cap)
        *cap = need;
    n.birth = g->birth;
    n.survive = g->survive;
    for (int y = 0; y < n.height && y < g->height; y++)
        memcpy(n.cells + (size_t)y * (size_t)n.width, g->cells + (size_t)y * (size_t)g->width,
               (size_t)(n.width < g->width ? n.width : g->width));
    grid_free(g);
    *g = n;
    fputs("\x1b[2J", stdout);
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
        ask_size();
        fflush(stdout);
        if (wait_for_quit(delay))
            break;
        if (new_cols > 0)
            resize_grid(g, &frame, &cap);
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
