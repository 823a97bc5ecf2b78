# Planning step 1: whole languages to one split each. Input: the inventory
# (PKG LANG SPEAKER TEXTSRC TEXT PATH). A language group is the base language
# (en_GB and sr@latin go with en and sr), so languages and speakers never
# cross splits. English and Catalan go to eval (their eval-only voices,
# flite and HTS, are the unseen attacks that can be language-matched), Czech
# to train (the festival diphone voice of the largest source is then a seen
# attack); the other groups, in seeded order, each join the split furthest below its
# target share of real clips (train 55%, dev 15%, eval 30%).
# Output: SPLIT LANGUAGE-GROUP HASH LINE, one per inventory line.
BEGIN { FS = "\t"; OFS = "\t"; tgt["train"] = 0.55; tgt["dev"] = 0.15; tgt["eval"] = 0.30 }
$2 !~ /^[a-z][a-z][a-z]?([_@][A-Za-z]+)*$/ { next }   # not a language code (a stray file name)
{
  nl++; line[nl] = $0; g = base_lang($2); grp[nl] = g
  if (!(g in cnt)) { ng++; gname[ng] = g; gkey[ng] = h("split:" g) }
  cnt[g]++
}
END {
  if (nl == 0) exit 1
  for (i = 1; i <= ng; i++) {
    g = gname[i]
    if (g == "en" || g == "ca") { split_of[g] = "eval"; have["eval"] += cnt[g] }
    if (g == "cs") { split_of[g] = "train"; have["train"] += cnt[g] }
  }
  # seeded order: insertion sort of the remaining groups by their hash
  m = 0
  for (i = 1; i <= ng; i++) if (!(gname[i] in split_of)) { m++; ord[m] = i }
  for (i = 2; i <= m; i++) { k = ord[i]; j = i - 1; while (j >= 1 && gkey[ord[j]] > gkey[k]) { ord[j + 1] = ord[j]; j-- } ord[j + 1] = k }
  # the first three groups seed train, dev and eval when they are still empty
  for (i = 1; i <= m; i++) {
    g = gname[ord[i]]; best = ""; bd = -1e300
    for (s in tgt) {
      d = tgt[s] * nl - have[s]
      if (have[s] == 0) d += 1e9 * tgt[s]
      if (d > bd || (d == bd && s < best)) { bd = d; best = s }
    }
    split_of[g] = best; have[best] += cnt[g]
  }
  if (!have["train"] || !have["dev"] || !have["eval"]) {
    print "corpus-build: need at least three languages for train, dev and eval" > "/dev/stderr"; exit 1
  }
  for (i = 1; i <= nl; i++) {
    split(line[i], f, "\t")
    print split_of[grp[i]], grp[i], h("pick:" f[6]), line[i]
  }
}
