/* The built-in recipes: recipes/NAME.json embedded at build time with the
 * assembler's .incbin (paths relative to the repository root, where make
 * compiles), each followed by a NUL so it is a C string. The Makefile makes
 * this object depend on recipes/NAME.json. */
#include "train/recipe.h"
#include <string.h>

#define SDD_EMBED(sym, file)                                                        \
    __asm__(".section .rodata\n.global " #sym "\n.hidden " #sym "\n.type " #sym \
            ", @object\n.balign 16\n" #sym ":\n.incbin \"" file "\"\n.byte 0\n.previous\n")

SDD_EMBED(sdd_recipe_text_aasist, "recipes/aasist.json");
SDD_EMBED(sdd_recipe_text_aasist_l, "recipes/aasist-l.json");
SDD_EMBED(sdd_recipe_text_dpda_xlsr, "recipes/dpda-xlsr.json");

extern const char sdd_recipe_text_aasist[], sdd_recipe_text_aasist_l[], sdd_recipe_text_dpda_xlsr[];

const char *sdd_recipe_builtin_names(void)
{
    return "aasist, aasist-l, dpda-xlsr";
}

const char *sdd_recipe_builtin(const char *name)
{
    static const struct { const char *name; const char *text; } tab[] = {
        { "aasist", sdd_recipe_text_aasist },
        { "aasist-l", sdd_recipe_text_aasist_l },
        { "dpda-xlsr", sdd_recipe_text_dpda_xlsr },
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(name, tab[i].name)) return tab[i].text;
    return NULL;
}
