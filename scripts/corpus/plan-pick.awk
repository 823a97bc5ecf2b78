# Planning step 3: input sorted by SPLIT, RANK, HASH (plan-rank output). Takes
# the first ntr/ndv/nev real clips of each split (0 = all) and gives each one
# spoof, made by a system that can speak its language:
#   A01 espeak-ng formant synthesis (voice variant m1-m7/f1-f4)     train dev eval
#   A02 SPTK copy-synthesis: mel-cepstrum + MLSA filter, pulse/noise train dev eval
#   A03 festival diphone (en kal/ked, it lp, fi lj, cs dita)         train dev eval
#   A04 flite (en kal, kal16 diphone; awb, rms, slt clustergen)      eval only
#   A05 festival HTS (en slt, ca ona)                                eval only
#   A06 SPTK copy-synthesis: LPC + all-pole filter                   eval only
# Text-to-speech systems say the real clip's text; they need one (textsrc
# != none). Output: SPLIT SHUF LABEL SYSTEM VOICE PKG LANG SPEAKER TEXTSRC
# TEXT SOURCE (the real clip).
BEGIN {
  FS = "\t"; OFS = "\t"
  want["train"] = ntr; want["dev"] = ndv; want["eval"] = nev
  n = split(espeak, ev, " "); for (i = 1; i <= n; i++) esp[ev[i]] = 1
  n = split(festival, fv, " "); for (i = 1; i <= n; i++) fest[fv[i]] = 1
  n = split(flite, lv, " "); for (i = 1; i <= n; i++) fl[lv[i]] = 1
  nvar = split("m1 m2 m3 m4 m5 m6 m7 f1 f2 f3 f4", var, " ")
}
function espeak_voice(l,   b) {
  l = tolower(l); sub(/@.*/, "", l); gsub(/_/, "-", l)
  if (l == "en") l = "en-us"
  if (l == "fr") l = "fr-fr"
  if (l == "nn") l = "nb"
  if (l in esp) return l
  b = l; sub(/-.*/, "", b)
  return (b in esp) ? b : ""
}
# adds system sys with the installed ones of its voices (a space-separated list)
function add(sys, voices,   k, i, v, ok) {
  k = split(voices, v, " "); ok = ""
  for (i = 1; i <= k; i++) {
    if (sys ~ /^A0[35]$/ && !(v[i] in fest)) continue
    if (sys == "A04" && !(v[i] in fl)) continue
    ok = ok (ok == "" ? "" : " ") v[i]
  }
  if (ok != "") { cand_sys[++nc] = sys; cand_v[nc] = ok }
}
{
  s = $2
  taken[s]++
  if (want[s] > 0 && taken[s] > want[s]) next
  lang = $6; b = base_lang(lang); hastext = ($8 != "none"); key = $10
  nc = 0
  if (hastext) {
    e = espeak_voice(lang)
    if (e != "") { cand_sys[++nc] = "A01"; cand_v[nc] = e "+" var[1 + int(u("var:" key) * nvar)] }
    if (b == "en") add("A03", "kal_diphone ked_diphone")
    if (b == "it") add("A03", "lp_diphone")
    if (b == "fi") add("A03", "suo_fi_lj_diphone")
    if (b == "cs") add("A03", "czech_dita")
    if (s == "eval" && b == "en") { add("A04", "kal kal16 awb rms slt"); add("A05", "cmu_us_slt_arctic_hts") }
    if (s == "eval" && b == "ca") add("A05", "upc_ca_ona_hts")
  }
  cand_sys[++nc] = "A02"; cand_v[nc] = "mlsa"
  if (s == "eval") { cand_sys[++nc] = "A06"; cand_v[nc] = "lpc" }
  # the system uniformly among those that can speak this clip, then its voice
  c = 1 + int(u("sys:" key) * nc)
  nv = split(cand_v[c], vs, " ")
  v = vs[1 + int(u("voice:" key) * nv)]
  print s, h("id:bonafide:" key), "bonafide", "-", "-", $5, lang, $7, $8, $9, key
  print s, h("id:spoof:" key), "spoof", cand_sys[c], v, $5, lang, $7, $8, $9, key
}
