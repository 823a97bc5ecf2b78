# Inventory of ktuberling-data: LL/KEY.ogg is the word KEY spoken in language
# LL by one speaker. KEY is an English identifier: it is the text only for
# English; for other languages the spoof says KEY in that language's voice
# (recorded as textsrc=filename-key, a known mismatch).
{
  path = $0
  rel = substr(path, length(base) + 2)
  n = split(rel, p, "/")
  if (n != 2) next
  lang = p[1]
  key = p[2]; sub(/\.ogg$/, "", key); gsub(/[_-]/, " ", key)
  printf "ktuberling-data\t%s\tktu-%s\t%s\t%s\t%s\n", lang, lang,
         lang ~ /^en/ ? "filename" : "filename-key", key, path >> inv
}
