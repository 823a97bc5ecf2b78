/* Owns sdd_err formatting (see error.h). */
#include "core/error.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Messages quote text from the input (a file name, a token a JSON parser
 * stopped at), which may hold line breaks or other control bytes; each is
 * shown as a space (as the recipe reader already did), so the message stays
 * the one line error.h promises. */
static void one_line(char *msg)
{
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f) *p = ' ';
}

void sdd_err_setf(sdd_err *e, const char *fmt, ...)
{
    if (!e) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    one_line(e->msg);
}

void sdd_err_prefixf(sdd_err *e, const char *fmt, ...)
{
    if (!e) return;
    char head[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", head, old);
    one_line(e->msg);
}
