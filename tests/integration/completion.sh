#!/bin/sh
# The bash completion (share/bash-completion/completions/deployex): commands
# from `deployex --help`, apps from the configuration named with -c, instance
# numbers from the app's replicas, versions from its history and ghosts.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"

[ -f /usr/share/bash-completion/bash_completion ] ||
        fail "bash-completion is not installed (scripts/install-deps installs it)"
mkdir -p "$T/bin" "$T/var/state/shop"
ln -s "$DEPLOYEX" "$T/bin/deployex"
cat >"$T/deployex.json" <<JSON
{"env": "prod", "source": "file://$T/bucket", "var_path": "$T/var", "log_path": "$T/log",
 "overrides_path": "$T/overrides", "cookie": "c",
 "apps": [{"name": "shop", "language": "erlang", "user": "root", "replicas": 3, "ports": {"PORT": 47100}},
          {"name": "api", "language": "elixir", "user": "root", "replicas": 2, "ports": {"PORT": 47200}}]}
JSON
for v in 1.0.0 1.0.1; do
        printf '{"at":"2026-01-01T00:00:00Z","app":"shop","instance":1,"kind":"full","from":null,"version":"%s","hash":"","result":"ok","reason":""}\n' "$v"
done >"$T/var/state/shop/history.jsonl"
printf '[{"version": "0.9.0", "hash": "h", "at": "2026-01-01T00:00:00Z", "reason": "crashed"}]\n' \
        >"$T/var/state/shop/ghosts.json"

# complete WORDS...: what completing the last word offers, one line, sorted.
complete_words() {
        PATH="$T/bin:$PATH" bash -c '
                . /usr/share/bash-completion/bash_completion
                . "$DEPLOYEX_TOP/share/bash-completion/completions/deployex"
                COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
                _deployex
                printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " " | sed "s/ $//"' complete "$@"
}
c="-c $T/deployex.json"

out=$(complete_words deployex '')
for cmd in status pin pause restart logs rpc version help; do
        assert_contains " $out " " $cmd " "the commands offered"
done
assert_not_contains "$out" "__" "hidden commands offered"
assert_eq "pause pin plan publish" "$(complete_words deployex p)" "commands starting with p"
# shellcheck disable=SC2086
{
        assert_eq "api shop" "$(complete_words deployex $c restart '')" "apps of the -c config"
        assert_eq "1 2 3" "$(complete_words deployex $c restart shop '')" "instances of shop"
        assert_eq "1 2" "$(complete_words deployex $c logs api '')" "instances of api"
        assert_eq "1.0.0 1.0.1" "$(complete_words deployex $c pin shop '')" "versions from history"
        assert_eq "--all 0.9.0" "$(complete_words deployex $c unghost shop '')" "ghosted versions"
        assert_eq "1 2 3" "$(complete_words deployex $c rpc --timeout 100 shop '')" \
                "an option's argument is skipped"
        assert_contains "$(complete_words deployex $c logs shop 1 --)" "--stderr" "logs options"
        assert_eq "" "$(complete_words deployex $c restart shop 1 '')" "nothing after the last slot"
}
assert_eq "status" "$(complete_words deployex help st)" "help COMMAND"
# Without -c the default configuration is used: here it does not exist, so no app, no error.
assert_eq "" "$(DEPLOYEX_CONFIG=$T/none.json complete_words deployex pause '')" "no config, no apps"
finish
