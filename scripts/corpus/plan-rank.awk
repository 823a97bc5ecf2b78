# Planning step 2: input sorted by SPLIT, SPEAKER, HASH; prefixes each line
# with its rank within its speaker, so that taking the lowest ranks of a split
# takes the speakers in turn (balanced demo subsets).
BEGIN { FS = "\t"; OFS = "\t" }
{ k = $1 "\t" $2; r = (k == prev) ? r + 1 : 0; prev = k; print r, $0 }
