/* Reads the grid rows of an `sdd landscape` TSV (a, b, loss_orig, loss_aug;
 * comment and header lines skipped) for the tests. Header-only. */
#ifndef SDD_TESTS_LANDSCAPE_ROWS_H
#define SDD_TESTS_LANDSCAPE_ROWS_H
#include <stdio.h>

/* up to cap rows into v; the row count, or -1 when path cannot be opened */
static inline int landscape_rows(const char *path, double v[][4], int cap)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (line[0] != '#' && line[0] != 'a' && n < cap &&
            sscanf(line, "%lf\t%lf\t%lf\t%lf", &v[n][0], &v[n][1], &v[n][2], &v[n][3]) == 4) n++;
    fclose(f);
    return n;
}

#endif
