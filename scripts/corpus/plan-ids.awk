# Planning step 4: input sorted by SPLIT, SHUF (plan-pick output), read twice.
# Numbers the clips of each split in that seeded order (SDD_T_/D_/E_NNNNNN;
# the ID says nothing about the label), gives every eval clip one seeded
# degradation for eval-wild (SDD_W_ with the same number), and writes the
# job lists and clips.tsv (the manifest's per-clip columns) into `work`.
BEGIN {
  FS = "\t"; OFS = "\t"
  pre["train"] = "SDD_T_"; pre["dev"] = "SDD_D_"; pre["eval"] = "SDD_E_"
  ndeg = split("mp3 aac opus vorbis gsm mulaw g722 amrnb noise-white noise-pink reverb", deg, " ")
  clips = work "/clips.tsv"; bj = work "/bona-jobs.tsv"; sj = work "/spoof-jobs.tsv"; wj = work "/wild-jobs.tsv"
  print "id", "split", "label", "system", "voice", "package", "speaker", "lang", "textsrc", "text", "source", "pair", "degradation" > clips
  printf "" > bj; printf "" > sj; printf "" > wj
}
function degradation(id,   d, r) {
  d = deg[1 + int(u("deg:" id) * ndeg)]; r = u("par:" id)
  if (d == "mp3") return "mp3_" (r < 0.5 ? "32k" : "64k")
  if (d == "aac") return "aac_" (r < 0.5 ? "24k" : "48k")
  if (d == "opus") return "opus_" (r < 0.5 ? "12k" : "24k")
  if (d == "vorbis") return "vorbis_" (r < 0.5 ? "32k" : "48k")
  if (d ~ /^noise/) return d "_" (5 + int(r * 16)) "dB"
  if (d == "reverb") return "reverb_" (20 + int(r * 61))
  return d
}
NR == FNR {
  n[$1]++
  id = pre[$1] sprintf("%06d", n[$1])
  idof[$3 "\t" $11] = id
  next
}
{
  m[$1]++
  id = pre[$1] sprintf("%06d", m[$1])
  pair = ($3 == "spoof") ? idof["bonafide\t" $11] : "-"
  print id, $1, $3, $4, $5, $6, $8, $7, $9, $10, $11, pair, "-" >> clips
  if ($3 == "bonafide") print "bona", id, $11 >> bj
  else print "spoof", id, pair, $7, $4, $5, $11, $10 >> sj
  if ($1 == "eval") {
    w = "SDD_W_" substr(id, 7); d = degradation(w)
    print w, "eval-wild", $3, $4, $5, $6, $8, $7, $9, $10, $11, id, d >> clips
    print "wild", w, id, d >> wj
  }
}
