/* List and protocol parsing: turns the file a user passes as `--list FILE`
 * (or a train/dev/eval list) into items with an ID, an audio path, a label
 * and metadata. Formats are detected from the content or named explicitly:
 *   plain       PATH [LABEL]                 ID = PATH as written
 *   asv19       SPK UTT - SYS LABEL          ASVspoof 2019 LA CM protocol
 *   asv21       TRIAL                        ASVspoof 2021 trial list (no labels)
 *   asv21-la    spk trial codec trans attack label trim subset        (2021 LA key)
 *   asv21-df    speaker trial compr source attack label trim subset vocoder
 *               task team gender-pair language                        (2021 DF key)
 *   asv5        SPK FILE GENDER CODEC CODEC_Q CODEC_SEED ATTACK_TAG ATTACK_LABEL KEY TMP
 *               ASVspoof 5 train/dev/eval track 1 protocol: attack = ATTACK_LABEL,
 *               codec = CODEC ("-" when uncoded); track 2 trial lists (5 columns
 *               ending target|nontarget|spoof) are SASV keys (metrics/sasv.h)
 *   itw         CSV with header file,speaker,label (In-the-Wild meta.csv)
 *   for         CSV with header file,label (FoR meta.csv)
 * Labels: bonafide / bona-fide / spoof (case-insensitive). CRLF line ends, a
 * UTF-8 BOM, blank lines, trailing whitespace and whole-line `#` comments
 * (whitespace formats) are accepted. Errors name FILE:LINE. */
#ifndef SDD_DATA_LIST_H
#define SDD_DATA_LIST_H

#include <stddef.h>
#include "core/error.h"

typedef enum { SDD_LABEL_NONE = -1, SDD_LABEL_SPOOF = 0, SDD_LABEL_BONAFIDE = 1 } sdd_label;

typedef enum {
    SDD_LIST_AUTO = 0,      /* detect from the content */
    SDD_LIST_PLAIN,
    SDD_LIST_ASV19,
    SDD_LIST_ASV21_TRIALS,
    SDD_LIST_ASV21_LA_KEY,
    SDD_LIST_ASV21_DF_KEY,
    SDD_LIST_ASV5,
    SDD_LIST_ITW,
    SDD_LIST_FOR,
} sdd_list_format;

typedef struct {
    char *id;        /* unique within the list */
    char *path;      /* audio file to read */
    sdd_label label; /* SDD_LABEL_NONE when the format has none */
    char *attack;    /* attack/system ID (A07, ...); NULL when absent, "-" or "bonafide" */
    char *speaker;   /* NULL when absent */
    int line;        /* 1-based line in the list file */
    char *subset;    /* 2021 keys: "eval"/"progress"/"hidden..."; else NULL */
    char *codec;     /* 2021 keys: codec (LA) / compression (DF); ASVspoof 5: codec; else NULL */
} sdd_list_item;

typedef struct {
    sdd_list_item *items;
    int n;
    int format;      /* sdd_list_format actually used (never SDD_LIST_AUTO) */
} sdd_list;

/* Parses PATH (format detected from the content). audio_dir (may be NULL)
 * prefixes relative paths: plain lists and CSV files join it with the path
 * as written; ASVspoof lists use AUDIO_DIR/ID.flac. Returns 0, or -1 with
 * "FILE[:LINE]: reason" in e and *out left empty. */
int sdd_list_load(const char *path, const char *audio_dir, sdd_list *out, sdd_err *e);

/* As sdd_list_load with an explicit format (SDD_LIST_AUTO = detect). */
int sdd_list_load_fmt(const char *path, const char *audio_dir, sdd_list_format fmt,
                      sdd_list *out, sdd_err *e);

/* Parses an in-memory list of len bytes (need not be NUL-terminated). NAME is
 * used in error messages. */
int sdd_list_load_mem(const char *buf, size_t len, const char *name, const char *audio_dir,
                      sdd_list_format fmt, sdd_list *out, sdd_err *e);

/* Frees everything the list owns and zeroes it; NULL and zeroed lists are fine. */
void sdd_list_free(sdd_list *l);

/* Short format names ("plain", "asv19", "asv21", "asv21-la", "asv21-df",
 * "asv5", "itw", "for", "auto") and back; parse returns -1 when unknown. */
const char *sdd_list_format_name(int fmt);
int sdd_list_format_parse(const char *name);

#endif
