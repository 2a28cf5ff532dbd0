/* svg.h - writing HTML text and inline SVG plots: the report's one output format module.
 *
 * hf_svg_buf is a growing text buffer; every string that comes from data (a column name, a class
 * label, a parameter value) goes in through hf_svg_esc, which escapes & < > " ' (valid in both
 * HTML text and attribute values, and in SVG as XML) and replaces control characters that XML
 * forbids. Numbers are printed with fixed formats, so the same data give the same bytes.
 *
 * hf_svg_plot draws one chart: a frame with x and y axes (linear or log10), nice tick labels and
 * axis titles, into which points, lines, rectangles and text are placed in data coordinates.
 * Nothing here is collective; no function touches the network or the file system. */
#ifndef HF_SVG_H
#define HF_SVG_H

#include <stddef.h>

typedef struct hf_svg_buf {
    char *data; /* NUL-terminated; owned */
    size_t len, cap;
    int failed; /* an allocation failed: the text is incomplete (HF_ENOMEM recorded) */
} hf_svg_buf;

/* Appends formatted raw text (markup: never data strings, which go through hf_svg_esc). */
void hf_svg_printf(hf_svg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hf_svg_puts(hf_svg_buf *b, const char *s);
/* Appends s (NULL: nothing) escaped for HTML/XML text and attribute values. */
void hf_svg_esc(hf_svg_buf *b, const char *s);
/* Appends a number in a short readable form (%.4g; "-" for a non-finite value). */
void hf_svg_num(hf_svg_buf *b, double v);
void hf_svg_buf_free(hf_svg_buf *b);

/* A colour of the sequential scale (viridis-like, dark blue at 0 to yellow at 1) as "#rrggbb". */
void hf_svg_color(double t, char out[8]);
/* The i-th colour of a categorical palette (10 colours, cycled). */
const char *hf_svg_palette(size_t i);

typedef struct hf_svg_plot {
    hf_svg_buf *b;
    double w, h;                  /* pixels */
    double left, right, top, bot; /* margins */
    double x0, x1, y0, y1;        /* data range */
    int xlog, ylog;               /* log10 axes (ranges must be > 0) */
} hf_svg_plot;

/* Opens an <svg> of w x h pixels with a title, axes over [x0,x1] x [y0,y1] (a degenerate range
 * is widened, a reversed one kept; a log axis needs positive bounds, else it falls back to linear),
 * ticks and axis labels. Strings are escaped. */
void hf_svg_plot_begin(hf_svg_plot *p, hf_svg_buf *b, double w, double h, const char *title,
                       const char *xlabel, double x0, double x1, int xlog, const char *ylabel,
                       double y0, double y1, int ylog);
/* Like begin, but with categorical x labels at 0 .. n-1 (the x range is [-0.5, n-0.5]). A
 * category label longer than 14 bytes is cut, with an ellipsis, the whole text its tooltip. */
void hf_svg_plot_begin_cat(hf_svg_plot *p, hf_svg_buf *b, double w, double h, const char *title,
                           const char *xlabel, const char *const *cats, size_t n,
                           const char *ylabel, double y0, double y1, int ylog);
/* Like begin, but with categorical y labels at rows 0 .. n-1 from the top (a Gantt chart's
 * lanes: the y range is [n-0.5, -0.5]). */
void hf_svg_plot_begin_rows(hf_svg_plot *p, hf_svg_buf *b, double w, double h, const char *title,
                            const char *xlabel, double x0, double x1, const char *const *rows,
                            size_t n);
/* Categories on both axes (a heat map): x left to right, y rows from the top. */
void hf_svg_plot_begin_grid(hf_svg_plot *p, hf_svg_buf *b, double w, double h, const char *title,
                            const char *xlabel, const char *const *xcats, size_t nx,
                            const char *ylabel, const char *const *ycats, size_t ny);
void hf_svg_plot_end(hf_svg_plot *p);
/* Pixel coordinates of data values (clamped to the frame). */
double hf_svg_px(const hf_svg_plot *p, double x);
double hf_svg_py(const hf_svg_plot *p, double y);
/* A polyline through the finite points (a non-finite one breaks the line). dash: NULL or a
 * stroke-dasharray. */
void hf_svg_line(hf_svg_plot *p, const double *x, const double *y, size_t n, const char *color,
                 double width, const char *dash);
/* One circle with an optional tooltip (escaped); stroke: NULL for none. */
void hf_svg_point(hf_svg_plot *p, double x, double y, double r, const char *fill,
                  const char *stroke, const char *tip);
/* A rectangle between data corners (x0,y0) and (x1,y1), with an optional tooltip. */
void hf_svg_rect(hf_svg_plot *p, double x0, double y0, double x1, double y1, const char *fill,
                 const char *tip);
/* Text at data coordinates; anchor "start", "middle" or "end". */
void hf_svg_text(hf_svg_plot *p, double x, double y, const char *anchor, const char *fill,
                 const char *text);
/* A legend entry (a coloured square and a label) at row i of the frame's top-right corner
 * (bottom: of its bottom-right corner, rows stacking upwards). */
void hf_svg_legend(hf_svg_plot *p, size_t i, const char *color, const char *label, int bottom);

#endif
