# Inventory of tuxpaint-stamps-default: NAME_desc_LL.ogg is one volunteer per
# language reading NAME.txt's "LL.utf8=" line (the transcript).
# Input: one .ogg path a line. Appends PKG LANG SPEAKER TEXTSRC TEXT PATH to inv.
{
  path = $0
  n = split(path, parts, "_desc_")
  if (n < 2) next
  lang = parts[n]; sub(/\.ogg$/, "", lang)
  txt = substr(path, 1, length(path) - length(parts[n]) - 6) ".txt"
  text = ""
  while ((getline line < txt) > 0) {
    sub(/\r$/, "", line)
    if (index(line, lang ".utf8=") == 1) { text = substr(line, length(lang) + 7); break }
  }
  close(txt)
  gsub(/[\t\r\n]/, " ", text)
  printf "tuxpaint-stamps-default\t%s\ttux-%s\t%s\t%s\t%s\n", lang, lang,
         text == "" ? "none" : "transcript", text == "" ? "-" : text, path >> inv
}
