#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "render.h"
#include "scene.h"

/* miniRT: renders a .rt scene to the terminal with 24-bit colour half blocks,
 * or to a binary PPM file with -o. */

#define MAX_COLS 1000
#define MAX_ROWS 500
#define MAX_PIXELS 8192

static const char usage[] =
    "usage: miniRT [-w cols] [-h rows] [-a samples] [-i blocks|sixel] [-o out.ppm] [-W width] [-H height] scene.rt\n"
    "  -w, -h   terminal size in characters (default: $COLUMNS x $LINES-2, else 80x22)\n"
    "  -a       supersampling: samples x samples rays per pixel, 1-8 (default 2)\n"
    "  -i       how to draw in the terminal: blocks (half blocks in 24-bit colour, the\n"
    "           default) or sixel (a real image, for terminals with sixel graphics)\n"
    "  -o       write a P6 PPM image instead of drawing in the terminal\n"
    "  -W, -H   image size in pixels for -o (default 800x600) and -i sixel (default 320x240)\n";

static int die(const char *msg, const char *arg) {
    fprintf(stderr, "Error\n%s%s%s\n%s", msg, arg ? " " : "", arg ? arg : "", usage);
    return 2;
}

/* A whole decimal integer in [lo, hi], or -1. */
static int parse_int(const char *s, int lo, int hi) {
    long n = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || n > 1000000)
            return -1;
        n = n * 10 + (*s - '0');
    }
    return n < lo || n > hi ? -1 : (int)n;
}

static int env_int(const char *name, int fallback, int lo, int hi) {
    int n = parse_int(getenv(name), lo, hi);
    return n < 0 ? fallback : n;
}

/* Appends "\x1b[<kind>;2;r;g;bm" to buf, returns the new end. */
static char *put_color(char *buf, int kind, const unsigned char *c) {
    return buf + sprintf(buf, "\x1b[%d;2;%d;%d;%dm", kind, c[0], c[1], c[2]);
}

/* Two pixel rows per text row: the upper one as the foreground of '▀', the
 * lower one as the background. Escapes are only repeated when a colour
 * changes, and every line ends with a reset so the prompt is unaffected. */
static int print_terminal(const Image *img) {
    size_t cap = (size_t)img->width * 48 + 16;
    char *line = malloc(cap);
    if (!line)
        return 0;
    for (int y = 0; y + 1 < img->height; y += 2) {
        char *end = line;
        const unsigned char *fg = NULL, *bg = NULL;
        for (int x = 0; x < img->width; x++) {
            const unsigned char *top = img->rgb + ((size_t)y * img->width + x) * 3;
            const unsigned char *bottom = top + (size_t)img->width * 3;
            if (!fg || memcmp(fg, top, 3) != 0)
                end = put_color(end, 38, top);
            if (!bg || memcmp(bg, bottom, 3) != 0)
                end = put_color(end, 48, bottom);
            fg = top;
            bg = bottom;
            memcpy(end, "\xe2\x96\x80", 3); /* U+2580 UPPER HALF BLOCK */
            end += 3;
        }
        memcpy(end, "\x1b[0m\n", 5);
        end += 5;
        fwrite(line, 1, (size_t)(end - line), stdout);
    }
    free(line);
    return fflush(stdout) == 0;
}

/* Sixel graphics (DEC VT340, as xterm and xterm.js's image addon read them):
 * the picture in bands of six pixel rows; each band is drawn once per colour
 * it uses, a character per column whose six bits say which of the six pixels
 * take that colour. Colours come from a fixed 6x6x6 cube (216 registers),
 * declared once each before first use; runs of a character are written as
 * "!count" + character. The cursor ends on the line below the image. */
static int cube_index(const unsigned char *c) {
    return ((c[0] * 5 + 127) / 255) * 36 + ((c[1] * 5 + 127) / 255) * 6 + (c[2] * 5 + 127) / 255;
}

static void put_run(FILE *out, int ch, int count) {
    if (count > 3)
        fprintf(out, "!%d%c", count, ch);
    else
        while (count-- > 0)
            fputc(ch, out);
}

static int print_sixel(const Image *img) {
    unsigned char *index = malloc((size_t)img->width * (size_t)img->height);
    unsigned char declared[216] = {0};
    if (!index)
        return 0;
    for (size_t i = 0; i < (size_t)img->width * (size_t)img->height; i++)
        index[i] = (unsigned char)cube_index(img->rgb + i * 3);
    /* DCS P1=0 (aspect 2:1 by default, overridden by the raster attributes),
     * P2=1 (unset pixels stay transparent); "1;1 = square pixels. */
    printf("\x1bP0;1;0q\"1;1;%d;%d", img->width, img->height);
    for (int y0 = 0; y0 < img->height; y0 += 6) {
        unsigned char used[216] = {0};
        int first = 1;
        for (int y = y0; y < y0 + 6 && y < img->height; y++)
            for (int x = 0; x < img->width; x++)
                used[index[(size_t)y * img->width + x]] = 1;
        for (int c = 0; c < 216; c++) {
            int run = 0, prev = -1;
            if (!used[c])
                continue;
            if (!declared[c]) {
                /* register c in RGB percentages */
                printf("#%d;2;%d;%d;%d", c, (c / 36) * 20, (c / 6 % 6) * 20, (c % 6) * 20);
                declared[c] = 1;
            }
            if (!first)
                fputc('$', stdout); /* back to the band's first column */
            first = 0;
            printf("#%d", c);
            for (int x = 0; x < img->width; x++) {
                int bits = 0;
                for (int k = 0; k < 6 && y0 + k < img->height; k++)
                    if (index[(size_t)(y0 + k) * img->width + x] == c)
                        bits |= 1 << k;
                if (bits + 63 != prev) {
                    put_run(stdout, prev, run);
                    prev = bits + 63;
                    run = 0;
                }
                run++;
            }
            put_run(stdout, prev, run);
        }
        fputc('-', stdout); /* next band */
    }
    fputs("\x1b\\\n", stdout);
    free(index);
    return fflush(stdout) == 0;
}

static int write_ppm(const Image *img, const char *path) {
    FILE *f = fopen(path, "wb");
    size_t size = (size_t)img->width * (size_t)img->height * 3;
    int ok;
    if (!f) {
        fprintf(stderr, "Error\ncannot write '%s': %s\n", path, strerror(errno));
        return 0;
    }
    fprintf(f, "P6\n%d %d\n255\n", img->width, img->height);
    ok = fwrite(img->rgb, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok)
        fprintf(stderr, "Error\ncannot write '%s': %s\n", path, strerror(errno));
    return ok;
}

int main(int argc, char **argv) {
    int cols = env_int("COLUMNS", 80, 1, MAX_COLS);
    int rows = env_int("LINES", 24, 3, MAX_ROWS + 2) - 2; /* room for the prompt */
    int samples = 2, width = 800, height = 600;
    const char *out_path = NULL, *scene_path = NULL;
    int sixel = 0, sized = 0;
    Scene scene;
    Image img;
    int ok;

#ifdef __wasi__
    /* wasi-libc keeps its own working directory, starting at "/"; WASI hosts
     * (our shell included) pass the shell's directory as PWD, so relative
     * scene paths work as they do natively. */
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
            if (scene_path)
                return die("only one scene file can be given, got another:", a);
            scene_path = a;
            continue;
        }
        if (a[2] != '\0' || !strchr("whWHaoi", a[1]))
            return die("unknown option", a);
        i++; /* every option takes a value */
        if (a[1] == 'W' || a[1] == 'H')
            sized = 1;
        if (a[1] == 'i') {
            if (!value || (strcmp(value, "sixel") != 0 && strcmp(value, "blocks") != 0))
                return die("-i takes blocks or sixel, got", shown);
            sixel = strcmp(value, "sixel") == 0;
        } else if (a[1] == 'o') {
            if (!value)
                return die("-o needs a file name", NULL);
            out_path = value;
        } else if (a[1] == 'w' && (cols = parse_int(value, 1, MAX_COLS)) < 0) {
            return die("-w needs a column count between 1 and 1000, got", shown);
        } else if (a[1] == 'h' && (rows = parse_int(value, 1, MAX_ROWS)) < 0) {
            return die("-h needs a row count between 1 and 500, got", shown);
        } else if (a[1] == 'W' && (width = parse_int(value, 1, MAX_PIXELS)) < 0) {
            return die("-W needs a width between 1 and 8192, got", shown);
        } else if (a[1] == 'H' && (height = parse_int(value, 1, MAX_PIXELS)) < 0) {
            return die("-H needs a height between 1 and 8192, got", shown);
        } else if (a[1] == 'a' && (samples = parse_int(value, 1, 8)) < 0) {
            return die("-a needs a sample count between 1 and 8, got", shown);
        }
    }
    if (!scene_path)
        return die("no scene file given", NULL);
    if (rows < 1)
        rows = 1;
    if (sixel && !out_path && !sized) {
        width = 320;
        height = 240;
    }
    if (!scene_load(scene_path, &scene))
        return 1;
    ok = out_path || sixel ? render(&scene, width, height, samples, &img) : render(&scene, cols, rows * 2, samples, &img);
    scene_free(&scene);
    if (!ok) {
        fputs("Error\nout of memory\n", stderr);
        return 1;
    }
    if (out_path) {
        ok = write_ppm(&img, out_path);
        if (ok)
            printf("wrote %s (%dx%d)\n", out_path, width, height);
    } else if (sixel) {
        ok = print_sixel(&img);
    } else {
        ok = print_terminal(&img);
    }
    free(img.rgb);
    return ok ? 0 : 1;
}
