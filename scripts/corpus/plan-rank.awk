# Planning step 2: input sorted by SPLIT, LANGUAGE GROUP, HASH; prefixes each
# line with its rank within its language group, so that taking the lowest
# ranks of a split takes the languages in turn (balanced demo subsets; within
# a language the clips, and so its speakers, come in seeded order).
BEGIN { FS = "\t"; OFS = "\t" }
{ k = $1 "\t" $2; r = (k == prev) ? r + 1 : 0; prev = k; print r, $0 }
