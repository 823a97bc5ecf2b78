/* Owns sdd_eval_write_det_svg (evaluate.h): the DET curve of an evaluation
 * drawn as a standalone SVG image, probit-scaled axes, with the EER point. */
#include "metrics/evaluate.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* layout, in SVG user units (pixels) */
#define W 600.0
#define H 590.0
#define X0 100.0  /* left edge of the (square) plot area */
#define Y0 70.0   /* top edge */
#define S 440.0   /* side */

/* Writes s as XML character data: markup characters escaped, control
 * characters and bytes that are not valid UTF-8 replaced by '?'. */
static void put_xml(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c == '&') fputs("&amp;", f);
        else if (c == '<') fputs("&lt;", f);
        else if (c == '>') fputs("&gt;", f);
        else if (c == '"') fputs("&quot;", f);
        else if (c == '\'') fputs("&apos;", f);
        else if (c < 0x20 || c == 0x7f) fputc('?', f);
        else if (c < 0x80) fputc((int)c, f);
        else {
            int n = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 && c < 0xe0 ? 1 : -1;
            if (c > 0xf4) n = -1;
            int ok = n > 0;
            for (int k = 1; ok && k <= n; k++) ok = (p[k] & 0xc0) == 0x80;
            /* the second byte's narrower ranges (RFC 3629): no overlong
             * forms, no UTF-16 surrogates, nothing above U+10FFFF; an XML
             * parser refuses the whole SVG for any of them */
            if (ok && c == 0xe0) ok = p[1] >= 0xa0;
            if (ok && c == 0xed) ok = p[1] <= 0x9f;
            if (ok && c == 0xf0) ok = p[1] >= 0x90;
            if (ok && c == 0xf4) ok = p[1] <= 0x8f;
            if (!ok) { fputc('?', f); p++; continue; }
            fwrite(p, 1, (size_t)n + 1, f);
            p += n + 1;
            continue;
        }
        p++;
    }
}

/* the probit axis range [lo, hi] (fractions) and its transform */
typedef struct { double plo, phi, pmin, pmax; } axis;

static double to_px(const axis *a, double frac, int vertical)
{
    double p = sdd_probit(frac);
    if (!(p >= a->pmin)) p = a->pmin;  /* also -inf */
    if (p > a->pmax) p = a->pmax;
    double t = (p - a->plo) / (a->phi - a->plo);
    return vertical ? Y0 + S - t * S : X0 + t * S;
}

static const double ticks[] = { 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                0.1,  0.2,  0.3,  0.4,  0.5,  0.6,  0.8,   0.9,   0.95,  0.98, 0.99 };

int sdd_eval_write_det_svg(const sdd_eval_report *r, const char *label, FILE *f, sdd_err *e)
{
    sdd_det d;
    if (sdd_det_curve(&r->cm, NULL, &d, e)) return -1;
    const double eer = r->eer.eer;
    const double lo = eer < 1e-4 ? 1e-5 : eer < 1e-3 ? 1e-4 : 1e-3;
    const double hi = eer > 0.45 ? 0.99 : 0.5;
    axis a = { .plo = sdd_probit(lo), .phi = sdd_probit(hi) };
    /* points beyond the axes are drawn just outside and clipped: the
     * staircase's segments are axis-parallel and monotonic, so clamping each
     * coordinate keeps the visible part exact */
    a.pmin = a.plo - 0.05 * (a.phi - a.plo);
    a.pmax = a.phi + 0.05 * (a.phi - a.plo);

    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" "
            "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    fprintf(f, "<title>DET curve, EER %.4g %%</title>\n", eer * 100.0);
    fprintf(f, "<defs><clipPath id=\"plotarea\"><rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\"/></clipPath></defs>\n",
            X0, Y0, S, S);
    fprintf(f, "<rect width=\"%g\" height=\"%g\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%g\" y=\"30\" text-anchor=\"middle\" font-size=\"17\" font-weight=\"bold\">"
               "DET curve, EER %.4g %%</text>\n", X0 + S / 2, eer * 100.0);
    fprintf(f, "<text x=\"%g\" y=\"50\" text-anchor=\"middle\" fill=\"#444\">", X0 + S / 2);
    if (label && *label) { put_xml(f, label); fputs(": ", f); }
    fprintf(f, "%lld bona fide, %lld spoof trials</text>\n", (long long)r->eer.npos, (long long)r->eer.nneg);

    /* grid and tick labels */
    fputs("<g stroke=\"#dddddd\" stroke-width=\"1\">\n", f);
    for (size_t i = 0; i < sizeof ticks / sizeof *ticks; i++) {
        if (ticks[i] < lo * 0.999 || ticks[i] > hi * 1.001) continue;
        const double x = to_px(&a, ticks[i], 0), y = to_px(&a, ticks[i], 1);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%g\" x2=\"%.2f\" y2=\"%g\"/>", x, Y0, x, Y0 + S);
        fprintf(f, "<line x1=\"%g\" y1=\"%.2f\" x2=\"%g\" y2=\"%.2f\"/>\n", X0, y, X0 + S, y);
    }
    fputs("</g>\n<g fill=\"#222\">\n", f);
    for (size_t i = 0; i < sizeof ticks / sizeof *ticks; i++) {
        if (ticks[i] < lo * 0.999 || ticks[i] > hi * 1.001) continue;
        const double x = to_px(&a, ticks[i], 0), y = to_px(&a, ticks[i], 1);
        fprintf(f, "<text x=\"%.2f\" y=\"%g\" text-anchor=\"middle\">%g</text>", x, Y0 + S + 18, ticks[i] * 100.0);
        fprintf(f, "<text x=\"%g\" y=\"%.2f\" dy=\"0.35em\" text-anchor=\"end\">%g</text>\n", X0 - 8, y,
                ticks[i] * 100.0);
    }
    fputs("</g>\n", f);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\" font-size=\"14\">"
               "False acceptance rate: spoof accepted (%%)</text>\n", X0 + S / 2, Y0 + S + 46);
    fprintf(f, "<text transform=\"translate(%g %g) rotate(-90)\" text-anchor=\"middle\" font-size=\"14\">"
               "False rejection rate: bona fide rejected (%%)</text>\n", X0 - 58, Y0 + S / 2);
    /* the EER line y = x (same range on both axes) and the frame */
    fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#999999\" stroke-dasharray=\"4 4\"/>\n", X0,
            Y0 + S, X0 + S, Y0);

    /* the curve: corners of the staircase, the EER point, both ends */
    const int64_t ie = r->eer.index;
    fputs("<polyline id=\"det\" fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"1.8\" "
          "stroke-linejoin=\"round\" clip-path=\"url(#plotarea)\" points=\"", f);
    double lx = NAN, ly = NAN;
    for (int64_t k = 0; k < d.n; k++) {
        const int forced = k == 0 || k == d.n - 1 || k == ie;
        if (!forced && d.pos[k - 1] == d.pos[k]) continue;  /* inside a straight run */
        const double x = to_px(&a, d.far[k], 0), y = to_px(&a, d.frr[k], 1);
        if (!forced && fabs(x - lx) < 0.5 && fabs(y - ly) < 0.5) continue;
        fprintf(f, "%s%.2f,%.2f", k ? " " : "", x, y);
        lx = x;
        ly = y;
    }
    fputs("\"/>\n", f);
    if (ie >= 0 && ie < d.n) {
        const double x = to_px(&a, d.far[ie], 0), y = to_px(&a, d.frr[ie], 1);
        fprintf(f, "<circle id=\"eer\" cx=\"%.2f\" cy=\"%.2f\" r=\"4.5\" fill=\"#d62728\" stroke=\"white\"/>\n", x, y);
        const int left = x > X0 + S - 120;
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\" fill=\"#d62728\">EER %.4g %%</text>\n",
                left ? x - 9 : x + 9, y - 9, left ? "end" : "start", eer * 100.0);
    }
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#222\"/>\n", X0, Y0, S, S);
    fputs("</svg>\n", f);
    sdd_det_free(&d);
    if (ferror(f)) return sdd_err_set(e, "cannot write the DET curve");
    return 0;
}
