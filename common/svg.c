/* svg.c - HTML text and inline SVG plots (see svg.h). */
#include "common/svg.h"

#include "common/hf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(hf_svg_buf *b, size_t more)
{
    if (b->failed)
        return 0;
    if (b->len + more + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = 1;
        hf_error(HF_ENOMEM, "out of memory (report text of %zu bytes)", cap);
        return 0;
    }
    b->data = d;
    b->cap = cap;
    return 1;
}

void hf_svg_printf(hf_svg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void hf_svg_puts(hf_svg_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (!grow(b, n))
        return;
    memcpy(b->data + b->len, s, n + 1);
    b->len += n;
}

void hf_svg_esc(hf_svg_buf *b, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *rep = NULL;
        char one[2] = {(char)c, 0};
        switch (c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            /* XML 1.0 allows no control character but tab, LF and CR. */
            rep = c < 0x20 && c != '\t' && c != '\n' && c != '\r' ? "?" : one;
        }
        hf_svg_puts(b, rep);
    }
}

void hf_svg_num(hf_svg_buf *b, double v)
{
    if (isfinite(v))
        hf_svg_printf(b, "%.4g", v);
    else
        hf_svg_puts(b, "-");
}

void hf_svg_buf_free(hf_svg_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Viridis at 5 stops, interpolated linearly. */
void hf_svg_color(double t, char out[8])
{
    static const double stops[5][3] = {
        {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    if (!isfinite(t))
        t = 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double f = t * 4;
    int i = (int)f;
    if (i > 3)
        i = 3;
    f -= i;
    int rgb[3];
    for (int k = 0; k < 3; k++)
        rgb[k] = (int)lround(stops[i][k] + (stops[i + 1][k] - stops[i][k]) * f);
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

const char *hf_svg_palette(size_t i)
{
    static const char *const k[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    return k[i % 10];
}

/* ---- axes ------------------------------------------------------------------------------------ */

static double tr(double v, int lg)
{
    return lg ? log10(v) : v;
}

double hf_svg_px(const hf_svg_plot *p, double x)
{
    double a = tr(p->x0, p->xlog), z = tr(p->x1, p->xlog), v = tr(x, p->xlog);
    double f = (v - a) / (z - a);
    f = isfinite(f) ? (f < -0.02 ? -0.02 : f > 1.02 ? 1.02 : f) : 0;
    return p->left + f * (p->w - p->left - p->right);
}

double hf_svg_py(const hf_svg_plot *p, double y)
{
    double a = tr(p->y0, p->ylog), z = tr(p->y1, p->ylog), v = tr(y, p->ylog);
    double f = (v - a) / (z - a);
    f = isfinite(f) ? (f < -0.02 ? -0.02 : f > 1.02 ? 1.02 : f) : 0;
    return p->h - p->bot - f * (p->h - p->top - p->bot);
}

/* A "nice" step (1, 2 or 5 times a power of ten) giving about n ticks over span. */
static double nice_step(double span, int n)
{
    double raw = span / n, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

static void fix_range(double *a, double *b, int *lg)
{
    if (*lg && !(*a > 0 && *b > 0))
        *lg = 0;
    if (!isfinite(*a) || !isfinite(*b)) {
        *a = 0;
        *b = 1;
    }
    if (*a == *b) {
        if (*lg) {
            *a /= 2;
            *b *= 2;
        } else {
            double d = fabs(*a) > 0 ? fabs(*a) * 0.1 : 0.5;
            *a -= d;
            *b += d;
        }
    }
}

static void header(hf_svg_plot *p, hf_svg_buf *b, double w, double h, const char *title)
{
    memset(p, 0, sizeof *p);
    p->b = b;
    p->w = w;
    p->h = h;
    p->left = 90;
    p->right = 12;
    p->top = 26;
    p->bot = 42;
    hf_svg_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                  "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"11\">"
                  "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>",
                  w, h, w, h, w, h);
    hf_svg_printf(b, "<text x=\"%.1f\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">", w / 2);
    hf_svg_esc(b, title);
    hf_svg_puts(b, "</text>");
}

static void axis_labels(hf_svg_plot *p, const char *xlabel, const char *ylabel)
{
    double fx0 = p->left, fx1 = p->w - p->right, fy0 = p->top, fy1 = p->h - p->bot;
    hf_svg_printf(p->b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                  "stroke=\"#888\"/>",
                  fx0, fy0, fx1 - fx0, fy1 - fy0);
    hf_svg_printf(p->b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (fx0 + fx1) / 2,
                  p->h - 6);
    hf_svg_esc(p->b, xlabel);
    hf_svg_printf(p->b,
                  "</text><text transform=\"translate(12,%.1f) rotate(-90)\" "
                  "text-anchor=\"middle\">",
                  (fy0 + fy1) / 2);
    hf_svg_esc(p->b, ylabel);
    hf_svg_puts(p->b, "</text>");
}

/* Ticks of one axis: vertical (y) or horizontal (x). */
static void ticks(hf_svg_plot *p, int is_y)
{
    double a = fmin(is_y ? p->y0 : p->x0, is_y ? p->y1 : p->x1),
           z = fmax(is_y ? p->y0 : p->x0, is_y ? p->y1 : p->x1);
    int lg = is_y ? p->ylog : p->xlog;
    double vals[64];
    int n = 0;
    if (lg) {
        double e0 = floor(log10(a)), e1 = ceil(log10(z));
        double every = ceil((e1 - e0) / 6);
        for (double e = e0; e <= e1 && n < 64; e += every) {
            double v = pow(10, e);
            if (v >= a * (1 - 1e-9) && v <= z * (1 + 1e-9))
                vals[n++] = v;
        }
    } else {
        double step = nice_step(z - a, is_y ? 5 : 6);
        for (double v = ceil(a / step) * step; v <= z + step * 1e-9 && n < 64; v += step)
            vals[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    }
    for (int i = 0; i < n; i++) {
        if (is_y) {
            double y = hf_svg_py(p, vals[i]);
            hf_svg_printf(p->b,
                          "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>",
                          p->left, p->w - p->right, y, y, p->left - 4, y + 4, vals[i]);
        } else {
            double x = hf_svg_px(p, vals[i]);
            hf_svg_printf(p->b,
                          "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.4g</text>",
                          x, x, p->top, p->h - p->bot, x, p->h - p->bot + 14, vals[i]);
        }
    }
}

/* A category's label: at most LABEL_MAX bytes (cut at a UTF-8 character boundary, with an
 * ellipsis), the whole text as its tooltip. */
#define LABEL_MAX 14
static void cat_label(hf_svg_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n <= LABEL_MAX) {
        hf_svg_esc(b, s);
        return;
    }
    size_t cut = LABEL_MAX - 2;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    char part[LABEL_MAX + 1];
    memcpy(part, s, cut);
    part[cut] = '\0';
    hf_svg_esc(b, part);
    hf_svg_puts(b, "\xe2\x80\xa6<title>");
    hf_svg_esc(b, s);
    hf_svg_puts(b, "</title>");
}

/* x and y: numeric over [x0,x1] (xcats NULL) or categories at 0..nx-1 (left to right); y
 * categories are rows 0..ny-1 from the top. */
static void begin(hf_svg_plot *p, hf_svg_buf *b, double w, double h, const char *title,
                  const char *xlabel, double x0, double x1, int xlog, const char *const *xcats,
                  size_t nx, const char *ylabel, double y0, double y1, int ylog,
                  const char *const *ycats, size_t ny)
{
    header(p, b, w, h, title);
    if (xcats) {
        x0 = -0.5;
        x1 = (double)nx - 0.5;
        xlog = 0;
    }
    if (ycats) {
        y0 = (double)ny - 0.5;
        y1 = -0.5;
        ylog = 0;
    }
    fix_range(&x0, &x1, &xlog);
    fix_range(&y0, &y1, &ylog);
    p->x0 = x0;
    p->x1 = x1;
    p->y0 = y0;
    p->y1 = y1;
    p->xlog = xlog;
    p->ylog = ylog;
    if (!xcats)
        ticks(p, 0);
    if (!ycats)
        ticks(p, 1);
    for (size_t i = 0; xcats && i < nx; i++) {
        hf_svg_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                      hf_svg_px(p, (double)i), h - p->bot + 14);
        cat_label(b, xcats[i]);
        hf_svg_puts(b, "</text>");
    }
    for (size_t i = 0; ycats && i < ny; i++) {
        hf_svg_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", p->left - 4,
                      hf_svg_py(p, (double)i) + 4);
        cat_label(b, ycats[i]);
        hf_svg_puts(b, "</text>");
    }
    axis_labels(p, xlabel, ylabel);
}

void hf_svg_plot_begin(hf_svg_plot *p, hf_svg_buf *b, double w, double h, const char *title,
                       const char *xlabel, double x0, double x1, int xlog, const char *ylabel,
                       double y0, double y1, int ylog)
{
    begin(p, b, w, h, title, xlabel, x0, x1, xlog, NULL, 0, ylabel, y0, y1, ylog, NULL, 0);
}

void hf_svg_plot_begin_cat(hf_svg_plot *p, hf_svg_buf *b, double w, double h, const char *title,
                           const char *xlabel, const char *const *cats, size_t n,
                           const char *ylabel, double y0, double y1, int ylog)
{
    begin(p, b, w, h, title, xlabel, 0, 0, 0, cats, n, ylabel, y0, y1, ylog, NULL, 0);
}

void hf_svg_plot_begin_rows(hf_svg_plot *p, hf_svg_buf *b, double w, double h, const char *title,
                            const char *xlabel, double x0, double x1, const char *const *rows,
                            size_t n)
{
    begin(p, b, w, h, title, xlabel, x0, x1, 0, NULL, 0, "", 0, 0, 0, rows, n);
}

void hf_svg_plot_begin_grid(hf_svg_plot *p, hf_svg_buf *b, double w, double h, const char *title,
                            const char *xlabel, const char *const *xcats, size_t nx,
                            const char *ylabel, const char *const *ycats, size_t ny)
{
    begin(p, b, w, h, title, xlabel, 0, 0, 0, xcats, nx, ylabel, 0, 0, 0, ycats, ny);
}

void hf_svg_plot_end(hf_svg_plot *p)
{
    hf_svg_puts(p->b, "</svg>");
}

void hf_svg_line(hf_svg_plot *p, const double *x, const double *y, size_t n, const char *color,
                 double width, const char *dash)
{
    int open = 0;
    for (size_t i = 0; i <= n; i++) {
        int ok = i < n && isfinite(x[i]) && isfinite(y[i]) && (!p->xlog || x[i] > 0) &&
                 (!p->ylog || y[i] > 0);
        if (ok && !open) {
            hf_svg_puts(p->b, "<polyline points=\"");
            open = 1;
        } else if (!ok && open) {
            hf_svg_printf(p->b, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\"%s%s%s/>",
                          color, width, dash ? " stroke-dasharray=\"" : "", dash ? dash : "",
                          dash ? "\"" : "");
            open = 0;
        }
        if (ok)
            hf_svg_printf(p->b, "%.1f,%.1f ", hf_svg_px(p, x[i]), hf_svg_py(p, y[i]));
    }
}

void hf_svg_point(hf_svg_plot *p, double x, double y, double r, const char *fill,
                  const char *stroke, const char *tip)
{
    if (!isfinite(x) || !isfinite(y))
        return;
    hf_svg_printf(p->b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"", hf_svg_px(p, x),
                  hf_svg_py(p, y), r, fill);
    if (stroke)
        hf_svg_printf(p->b, " stroke=\"%s\"", stroke);
    if (tip) {
        hf_svg_puts(p->b, "><title>");
        hf_svg_esc(p->b, tip);
        hf_svg_puts(p->b, "</title></circle>");
    } else {
        hf_svg_puts(p->b, "/>");
    }
}

void hf_svg_rect(hf_svg_plot *p, double x0, double y0, double x1, double y1, const char *fill,
                 const char *tip)
{
    double a = hf_svg_px(p, x0), c = hf_svg_px(p, x1), bb = hf_svg_py(p, y0), d = hf_svg_py(p, y1);
    hf_svg_printf(p->b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"",
                  fmin(a, c), fmin(bb, d), fabs(c - a), fabs(d - bb), fill);
    if (tip) {
        hf_svg_puts(p->b, "><title>");
        hf_svg_esc(p->b, tip);
        hf_svg_puts(p->b, "</title></rect>");
    } else {
        hf_svg_puts(p->b, "/>");
    }
}

void hf_svg_text(hf_svg_plot *p, double x, double y, const char *anchor, const char *fill,
                 const char *text)
{
    hf_svg_printf(p->b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\">",
                  hf_svg_px(p, x), hf_svg_py(p, y), anchor, fill);
    hf_svg_esc(p->b, text);
    hf_svg_puts(p->b, "</text>");
}

void hf_svg_legend(hf_svg_plot *p, size_t i, const char *color, const char *label, int bottom)
{
    double x = p->w - p->right - 170,
           y = bottom ? p->h - p->bot - 6 - 14 * (double)i : p->top + 14 + 14 * (double)i;
    hf_svg_printf(p->b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"166\" height=\"14\" fill=\"#fff\" "
                  "fill-opacity=\"0.8\"/>",
                  x - 2, y - 11);
    hf_svg_printf(p->b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\">",
                  x, y - 9, color, x + 14, y);
    hf_svg_esc(p->b, label);
    hf_svg_puts(p->b, "</text>");
}
