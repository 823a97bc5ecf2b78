# Inventory of klettres-data: LL/sounds.xml maps each spoken letter or
# syllable (name="...") to its file; one speaker per language folder.
# Input: one sounds.xml path a line.
{
  xml = $0
  lang = xml; sub(/\/sounds\.xml$/, "", lang); sub(/.*\//, "", lang)
  while ((getline line < xml) > 0) {
    if (line !~ /<sound / || line !~ /file="/) continue
    name = line; sub(/.*name="/, "", name); sub(/".*/, "", name)
    file = line; sub(/.*file="/, "", file); sub(/".*/, "", file)
    path = base "/" file
    if ((getline junk < path) < 0) continue
    close(path)
    gsub(/&amp;/, "\\&", name); gsub(/[\t\r\n]/, " ", name)
    printf "klettres-data\t%s\tklt-%s\ttranscript\t%s\t%s\n", lang, lang, tolower(name), path >> inv
  }
  close(xml)
}
