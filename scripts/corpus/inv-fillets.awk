# Inventory of fillets-ng-data-LL: sound/LEVEL/LL/ID.ogg is one line of
# dialogue; its text is the dialogStr after dialogId("ID", ...) in
# script/LEVEL/dialogs_LL.lua (fillets-ng-data). The speaker is the character
# code in the ID (LEVEL-m-..., -v-: the small and the big fish; others).
function unquote(s) {
  sub(/^[^"]*"/, "", s); sub(/"[^"]*$/, "", s)
  gsub(/\\"/, "\"", s); gsub(/\\n/, " ", s)
  return s
}
{
  path = $0
  n = split(path, p, "/")
  id = p[n]; sub(/\.ogg$/, "", id)
  level = p[n - 2]
  lua = root "/script/" level "/dialogs_" lang ".lua"
  if (!(lua in loaded)) {
    loaded[lua] = 1
    cur = ""
    while ((getline line < lua) > 0) {
      if (line ~ /^dialogId\(/) { cur = line; sub(/^dialogId\("/, "", cur); sub(/".*/, "", cur) }
      else if (line ~ /^dialogStr\(/ && cur != "") { t[level "/" cur] = unquote(line); cur = "" }
    }
    close(lua)
  }
  text = (level "/" id) in t ? t[level "/" id] : ""
  gsub(/[\t\r\n]/, " ", text)
  m = split(id, q, "-")
  ch = m >= 2 ? q[2] : "x"
  printf "fillets-ng-data-%s\t%s\tfil-%s-%s\t%s\t%s\t%s\n", lang, lang, lang, ch,
         text == "" ? "none" : "transcript", text == "" ? "-" : text, path >> inv
}
