# Seeded string hash shared by the planning steps: a multiplicative hash
# modulo 2^31-1 (exact in awk's doubles) finished by two Lehmer rounds.
# u(s) is uniform in [0,1). Needs LC_ALL=C (bytes) and a `seed` variable.
function hash_init(   i) { for (i = 1; i < 256; i++) ord_[sprintf("%c", i)] = i; hash_ready_ = 1 }
function h(s,   i, x, n) {
  if (!hash_ready_) hash_init()
  x = (seed % 2147483647) + 7
  n = length(s)
  for (i = 1; i <= n; i++) x = (x * 31 + ord_[substr(s, i, 1)]) % 2147483647
  x = (x * 48271) % 2147483647
  x = (x * 48271) % 2147483647
  return x
}
function u(s) { return h(s) / 2147483647 }
function base_lang(l) { sub(/[@_].*/, "", l); return tolower(l) }
