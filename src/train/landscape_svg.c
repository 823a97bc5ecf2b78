/* Owns the landscape plot (see landscape.h): for two directions, a heat map
 * of log-loss per grid point with contour lines (marching squares), one panel
 * for the original inputs and one for the RawBoost copies on a shared scale;
 * for one direction, both loss curves against a. */
#include "train/landscape.h"
#include "core/sbuf.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* t in [0, 1] -> a dark-blue .. yellow ramp */
static void color(double t, char *out)
{
    static const double c[5][3] = { { 68, 1, 84 }, { 59, 82, 139 }, { 33, 145, 140 }, { 94, 201, 98 }, { 253, 231, 37 } };
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    const double x = t * 4;
    const int i = x >= 4 ? 3 : (int)x;
    const double f = x - i;
    snprintf(out, 8, "#%02x%02x%02x", (int)(c[i][0] + f * (c[i + 1][0] - c[i][0])), (int)(c[i][1] + f * (c[i + 1][1] - c[i][1])),
             (int)(c[i][2] + f * (c[i + 1][2] - c[i][2])));
}

/* one panel of n x n log-losses v (row-major: a slowest), at x0 */
static void panel2(sdd_sbuf *b, const double *v, int n, double lo, double hi, double x0, double range, const char *title)
{
    const double S = 320, T = 30, L = 40, cell = S / n;
    sdd_sbuf_put(b, "<g transform=\"translate(%.0f,0)\">\n<text x=\"%.0f\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">%s</text>\n", x0, L + S / 2, title);
    char col[8];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            const double t = isfinite(v[i * n + j]) && hi > lo ? (v[i * n + j] - lo) / (hi - lo) : 0;
            color(t, col);
            /* a along x, b along y (up) */
            sdd_sbuf_put(b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n", L + i * cell, T + (n - 1 - j) * cell, cell + 0.3, cell + 0.3, col);
        }
    /* contour lines through the cell centres: marching squares, 8 levels */
    sdd_sbuf_put(b, "<g stroke=\"white\" stroke-width=\"1\" fill=\"none\" opacity=\"0.8\">\n");
    for (int lv = 1; lv <= 8 && hi > lo; lv++) {
        const double c = lo + (hi - lo) * lv / 9.0;
        for (int i = 0; i + 1 < n; i++)
            for (int j = 0; j + 1 < n; j++) {
                /* corners (i,j) (i+1,j) (i+1,j+1) (i,j+1) and the edge crossings between them */
                const int ci[4] = { i, i + 1, i + 1, i }, cj[4] = { j, j, j + 1, j + 1 };
                double px[4], py[4];
                int np = 0;
                for (int k = 0; k < 4; k++) {
                    const double v0 = v[ci[k] * n + cj[k]], v1 = v[ci[(k + 1) % 4] * n + cj[(k + 1) % 4]];
                    if (!isfinite(v0) || !isfinite(v1) || (v0 < c) == (v1 < c)) continue;
                    const double f = (c - v0) / (v1 - v0);
                    const double gx = ci[k] + f * (ci[(k + 1) % 4] - ci[k]), gy = cj[k] + f * (cj[(k + 1) % 4] - cj[k]);
                    px[np] = L + (gx + 0.5) * cell;
                    py[np] = T + (n - 1 - gy + 0.5) * cell;
                    np++;
                }
                for (int k = 0; k + 1 < np; k += 2)
                    sdd_sbuf_put(b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", px[k], py[k], px[k + 1], py[k + 1]);
            }
    }
    sdd_sbuf_put(b, "</g>\n<path d=\"M%.1f %.1fh10M%.1f %.1fv10\" stroke=\"red\" stroke-width=\"2\"/>\n", L + S / 2 - 5, T + S / 2, L + S / 2, T + S / 2 - 5);
    sdd_sbuf_put(b, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" font-size=\"12\">a in [-%g, %g] (d1)</text>\n", L + S / 2, T + S + 18, range, range);
    sdd_sbuf_put(b, "<text x=\"14\" y=\"%.0f\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 14 %.0f)\">b (d2)</text>\n</g>\n",
        T + S / 2, T + S / 2);
}

char *sdd_landscape_svg(const double *a, const double *lo, const double *la, int steps, int dirs, double range, sdd_err *e)
{
    sdd_sbuf b = { malloc(1 << 15), 0, 1 << 15, 0 };
    if (!b.s) { sdd_err_set(e, "landscape: out of memory"); return NULL; }
    const int n = dirs == 2 ? steps * steps : steps;
    double mn = INFINITY, mx = -INFINITY;
    for (int k = 0; k < n; k++)
        for (int s = 0; s < 2; s++) {
            const double v = s ? la[k] : lo[k];
            if (isfinite(v) && v > 0) { mn = fmin(mn, v); mx = fmax(mx, v); }
        }
    if (!(mn <= mx)) { mn = 1; mx = 1; }
    if (dirs == 2) {
        double *lg = malloc(2 * (size_t)n * sizeof(double));
        if (!lg) { free(b.s); sdd_err_set(e, "landscape: out of memory"); return NULL; }
        for (int k = 0; k < n; k++) {
            lg[k] = lo[k] > 0 ? log(lo[k]) : NAN;
            lg[n + k] = la[k] > 0 ? log(la[k]) : NAN;
        }
        sdd_sbuf_put(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"780\" height=\"420\" font-family=\"sans-serif\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
        panel2(&b, lg, steps, log(mn), log(mx), 0, range, "loss, original inputs");
        panel2(&b, lg + n, steps, log(mn), log(mx), 390, range, "loss, RawBoost copies");
        sdd_sbuf_put(&b, "<text x=\"390\" y=\"410\" text-anchor=\"middle\" font-size=\"12\">log scale, dark %.4g .. bright %.4g; contours at 8 even log levels; red cross: the model</text>\n</svg>\n", mn, mx);
        free(lg);
    } else {
        const double W = 500, H = 320, L = 56, R = 12, T = 30, B = 40;
        sdd_sbuf_put(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#444\"/>\n",
            W, H + 20, L, T, W - L - R, H - T - B);
        const double top = mx > 0 ? mx * 1.05 : 1;
        for (int s = 0; s < 2; s++) {
            sdd_sbuf_put(&b, "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"%s\" points=\"", s ? "#d62728" : "#1f77b4");
            for (int k = 0; k < n; k++) {
                const double v = s ? la[k] : lo[k];
                if (isfinite(v)) sdd_sbuf_put(&b, "%.1f,%.1f ", L + (a[k] + range) / (2 * range) * (W - L - R), H - B - v / top * (H - T - B));
            }
            sdd_sbuf_put(&b, "\"/>\n");
        }
        sdd_sbuf_put(&b, "<text x=\"%.0f\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">loss along d1: original (blue), RawBoost copies (red); max %.4g</text>\n"
                "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" font-size=\"12\">a in [-%g, %g]</text>\n</svg>\n",
            W / 2, top, (L + W - R) / 2, H - 8, range, range);
    }
    if (b.fail) { free(b.s); sdd_err_set(e, "landscape: out of memory"); return NULL; }
    return b.s;
}
