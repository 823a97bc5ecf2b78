/* Owns reading recipes (see recipe.h): JSON through jansson, each key handed
 * to sdd_train_option as text. */
#include "train/recipe.h"
#include "train/options.h"
#include "io/readall.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sdd_recipe_store_init(sdd_recipe_store *st)
{
    memset(st, 0, sizeof *st);
}

void sdd_recipe_store_free(sdd_recipe_store *st)
{
    for (int k = 0; k < st->n; k++) free(st->s[k]);
    free(st->s);
    memset(st, 0, sizeof *st);
}

static const char *keep(sdd_recipe_store *st, const char *s, sdd_err *e)
{
    if (st->n == st->cap) {
        int cap = st->cap ? 2 * st->cap : 32;
        char **t = realloc(st->s, (size_t)cap * sizeof *t);
        if (!t) { sdd_err_set(e, "recipe: out of memory"); return NULL; }
        st->s = t;
        st->cap = cap;
    }
    char *c = strdup(s);
    if (!c) { sdd_err_set(e, "recipe: out of memory"); return NULL; }
    return st->s[st->n++] = c;
}

/* a scalar value as the option's text: strings as they are, numbers in a form strtod/strtol read back exactly */
static int scalar_text(const json_t *v, char *buf, size_t n, const char **out)
{
    if (json_is_string(v)) { *out = json_string_value(v); return 0; }
    if (json_is_integer(v)) { snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); *out = buf; return 0; }
    if (json_is_real(v)) { snprintf(buf, n, "%.17g", json_real_value(v)); *out = buf; return 0; }
    return -1;
}

static int apply_key(sdd_train_config *cfg, const char *origin, const char *key, const json_t *v,
                     sdd_recipe_store *st, sdd_err *e)
{
    char shown[160], buf[64], pair[160];
    snprintf(shown, sizeof shown, "\"%.100s\"", key);
    if (sdd_train_option_is_info(key)) {
        if (!json_is_string(v)) return sdd_err_set(e, "%s: key %s: expected a string", origin, shown);
        return 0;
    }
    const char *text;
    if (json_is_array(v)) {
        const size_t n = json_array_size(v);
        if (sdd_train_option_is_list(key)) {
            for (size_t i = 0; i < n; i++) {
                const json_t *x = json_array_get(v, i);
                if (!json_is_string(x)) return sdd_err_set(e, "%s: key %s: element %zu is not a string", origin, shown, i);
                const char *s = keep(st, json_string_value(x), e);
                if (!s) return -1;
                if (sdd_train_option(cfg, key, s, shown, e) < 0) return sdd_err_prefix(e, "%s", origin);
            }
            return 0;
        }
        /* two numbers, as in "ce-weight": [0.1, 0.9] */
        const char *a, *b;
        char ba[64];
        if (n != 2 || !json_is_number(json_array_get(v, 0)) || !json_is_number(json_array_get(v, 1)) ||
            scalar_text(json_array_get(v, 0), ba, sizeof ba, &a) || scalar_text(json_array_get(v, 1), buf, sizeof buf, &b))
            return sdd_err_set(e, "%s: key %s: an array here must hold two numbers", origin, shown);
        snprintf(pair, sizeof pair, "%s,%s", a, b);
        text = pair;
    } else if (scalar_text(v, buf, sizeof buf, &text)) {
        return sdd_err_set(e, "%s: key %s: expected a string or a number", origin, shown);
    }
    const char *s = keep(st, text, e);
    if (!s) return -1;
    int r = sdd_train_option(cfg, key, s, shown, e);
    if (r > 0) return sdd_err_set(e, "%s: unknown key %s", origin, shown);
    if (r < 0) return sdd_err_prefix(e, "%s", origin);
    return 0;
}

static int apply_text(sdd_train_config *cfg, const char *text, size_t len, const char *origin,
                      sdd_recipe_store *st, sdd_err *e)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) return sdd_err_set(e, "%s:%d:%d: %s", origin, je.line, je.column, je.text);
    int rc = 0;
    if (!json_is_object(root)) rc = sdd_err_set(e, "%s: a recipe is a JSON object of option names and values", origin);
    const char *key;
    json_t *v;
    if (!rc) json_object_foreach(root, key, v) {
        if ((rc = apply_key(cfg, origin, key, v, st, e))) break;
    }
    json_decref(root);
    return rc;
}

/* one line: control characters from the input (quoted values, jansson's "near" text) become spaces */
static int one_line(sdd_err *e)
{
    for (char *p = e->msg; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
    return -1;
}

int sdd_recipe_apply_text(sdd_train_config *cfg, const char *text, size_t len, const char *origin,
                          sdd_recipe_store *st, sdd_err *e)
{
    return apply_text(cfg, text, len, origin, st, e) ? one_line(e) : 0;
}

static int is_path(const char *s)
{
    const size_t n = strlen(s);
    return strchr(s, '/') || (n > 5 && !strcmp(s + n - 5, ".json"));
}

int sdd_recipe_apply(sdd_train_config *cfg, const char *name, sdd_recipe_store *st, sdd_err *e)
{
    const char *kept = keep(st, name, e);
    if (!kept) return -1;
    if (!is_path(name)) {
        const char *text = sdd_recipe_builtin(name);
        if (!text) return sdd_err_set(e, "--recipe %s: no such built-in recipe (%s) and not a file (FILE.json or a path)",
                                      name, sdd_recipe_builtin_names());
        char origin[160];
        snprintf(origin, sizeof origin, "recipe %.100s", name);
        if (sdd_recipe_apply_text(cfg, text, strlen(text), origin, st, e)) return -1;
        cfg->recipe = kept;
        return 0;
    }
    size_t n;
    char *buf = sdd_read_all(name, SDD_CONFIG_MAX, "recipe", &n, e);
    if (!buf) return -1;
    int rc = sdd_recipe_apply_text(cfg, buf, n, name, st, e);
    free(buf);
    if (!rc) cfg->recipe = kept;
    return rc;
}

int sdd_recipe_check_resume_text(const sdd_train_config *cfg, const char *arch, const char *text, size_t len, const char *origin,
                                 sdd_err *e)
{
    /* what may change on resume: where the audio is, how the run is executed
     * (threads, cache, memory mode, device, dev batch), how long it goes on, what is
     * evaluated at the end, and start-only inputs that a resumed run does not
     * read; every other setting is part of what the run computes */
    static const char *const free_keys[] = { "train-audio", "dev-audio", "ssl-recompute", "cache", "threads", "workers",
                                             "dev-batch", "epochs", "patience", "max-steps", "eval", "init", "ssl-weights", "device" };
    json_error_t je;
    json_t *was = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(was)) {
        if (was) sdd_err_set(e, "%s: not the JSON object sdd train writes (not an object)", origin);
        else sdd_err_set(e, "%s:%d: not the JSON object sdd train writes (%s)", origin, je.line > 0 ? je.line : 1, je.text);
        json_decref(was);
        return one_line(e);
    }
    char *now_txt = sdd_train_config_json(cfg, arch, e);
    json_t *now = now_txt ? json_loads(now_txt, 0, &je) : NULL;
    int rc = now ? 0 : now_txt ? sdd_err_set(e, "config: cannot read back the settings") : -1;
    free(now_txt);
    /* align and bn-stats mean nothing to a one-path run (which records the defaults of its day) */
    const json_t *paths = json_object_get(now, "paths");
    const int dual = json_is_string(paths) && !strcmp(json_string_value(paths), "dual");
    const char *key;
    json_t *b;
    json_object_foreach(now, key, b) {
        if (rc) break;
        int free_key = 0;
        for (size_t k = 0; k < sizeof free_keys / sizeof free_keys[0]; k++) free_key |= !strcmp(key, free_keys[k]);
        if (free_key || (!dual && (!strcmp(key, "align") || !strcmp(key, "bn-stats") || !strcmp(key, "align-groups")))) continue;
        const json_t *a = json_object_get(was, key);
        /* runs from before --align-groups aligned the whole vector */
        json_t *was_whole = !a && !strcmp(key, "align-groups") ? json_string("whole") : NULL;
        if (was_whole) a = was_whole;
        if (!a || json_equal((json_t *)a, b)) { json_decref(was_whole); continue; }   /* a key older runs did not record is not compared */
        char *sa = json_dumps(a, JSON_ENCODE_ANY), *sb = json_dumps(b, JSON_ENCODE_ANY);
        rc = sdd_err_set(e, "%s: the run was started with \"%s\": %s, this command gives %s (resume with the run's settings, or use a new --out)",
                         origin, key, sa ? sa : "?", sb ? sb : "?");
        free(sa);
        free(sb);
        json_decref(was_whole);
        one_line(e);
    }
    json_decref(now);
    json_decref(was);
    return rc;
}

int sdd_recipe_check_resume(const sdd_train_config *cfg, const char *arch, const char *path, sdd_err *e)
{
    if (access(path, F_OK) != 0 && errno == ENOENT) return 0;   /* a run folder without one: nothing to compare */
    size_t n;
    char *buf = sdd_read_all(path, SDD_CONFIG_MAX, "run config", &n, e);
    if (!buf) return -1;
    const int rc = sdd_recipe_check_resume_text(cfg, arch, buf, n, path, e);
    free(buf);
    return rc;
}
