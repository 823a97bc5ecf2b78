/* Small string predicates shared by the CLI and the model loaders (header-only). */
#ifndef SDD_CORE_STR_H
#define SDD_CORE_STR_H
#include <string.h>
#include <strings.h>

/* s ends in suf (case-sensitive: tensor names) */
static inline int sdd_str_ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* s ends in suf ignoring ASCII case (file extensions: ".WAV" is a WAV file) */
static inline int sdd_str_ends_with_nocase(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcasecmp(s + a - b, suf) == 0;
}

#endif
