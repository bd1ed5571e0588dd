# pin checks what it pins: a version that is not published, or ghosted, is
# refused with exit 1 and nothing written; --force writes it anyway.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
write_config 1
mkdir -p "$T/bucket/dist/myapp"
publish 1.0.0
printf 'tarball' >"$T/bucket/dist/myapp/myapp-1.0.0.tar.gz"

run 1 dx pin myapp 9.9.9
assert_contains "$ERR" "9.9.9 is not published" "an unpublished version is refused"
assert_contains "$ERR" "--force" "the error says how to pin anyway"
[ ! -e "$T/overrides/myapp.json" ] || fail "nothing is written for a refused pin"
ok
run 0 dx pin myapp 1.0.0
assert_eq "1.0.0" "$(jq -r .version "$T/overrides/myapp.json")" "a published version is pinned"

mkdir -p "$T/var/state/myapp"
printf '[{"version": "1.0.0", "at": "2026-11-26T05:00:00Z", "reason": "3 crashes"}]\n' \
        >"$T/var/state/myapp/ghosts.json"
run 0 dx unpin myapp
run 1 dx pin myapp 1.0.0
assert_contains "$ERR" "1.0.0 is ghosted (3 crashes)" "a ghosted version is refused with its reason"
assert_eq "null" "$(jq -r '.version // null' "$T/overrides/myapp.json")" "the refused pin left no version"
run 0 dx pin --force myapp 9.9.9
assert_eq "9.9.9" "$(jq -r .version "$T/overrides/myapp.json")" "--force pins anyway"
# DESIGN §3 writes `pin APP VERSION ... unless --force`: the flag may follow the arguments.
run 0 dx pin myapp 9.9.8 --force
assert_eq "9.9.8" "$(jq -r .version "$T/overrides/myapp.json")" "--force after APP VERSION pins too"
run 2 dx pin myapp 9.9.8 --forse
run 2 dx pin myapp
finish
