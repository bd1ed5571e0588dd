#!/bin/sh
# The man pages are the docs/ pages through docs/man/md2scdoc and scdoc: each
# one builds, renders without a groff warning, and deployex(1) documents every
# command `deployex --help` lists (a new command needs its "### name" in
# docs/cli.md).
. "$DEPLOYEX_TOP/tests/integration/lib.sh"

command -v scdoc >/dev/null || fail "scdoc is not installed (scripts/install-deps installs it)"
command -v man >/dev/null || fail "man is not installed (scripts/install-deps installs man-db)"
for page in cli:deployex.1 configuration:deployex.json.5 state-files:deployex-state.5 \
        hooks:deployex-hooks.7; do
        doc=${page%%:*} man=${page#*:}
        "$DEPLOYEX_TOP/docs/man/md2scdoc" "$DEPLOYEX_TOP/docs/$doc.md" >"$T/$man.scd" ||
                fail "md2scdoc refused docs/$doc.md"
        scdoc <"$T/$man.scd" >"$T/$man" 2>"$T/scdoc.err" ||
                fail "scdoc refused the page made from docs/$doc.md: $(cat "$T/scdoc.err")"
        name=${man%.*}
        assert_contains "$(head -n 20 "$T/$man")" ".TH \"$name\" \"${man##*.}\"" "$man's title"
        warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z \
                "$T/$man" 2>&1 >/dev/null)
        assert_eq "" "$warnings" "groff warnings for $man"
        text=$(LC_ALL=C.UTF-8 MANWIDTH=100 man -l "$T/$man" 2>/dev/null)
        assert_contains "$text" "NAME" "$man's NAME section"
        # No markup may leak through: the converter escapes what scdoc would eat.
        printf '%s' "$text" | grep -Eq '\*\*[A-Za-z`]' &&
                fail "Markdown bold left in $man: $(printf '%s' "$text" | grep -E '\*\*[A-Za-z`]')"
        assert_not_contains "$text" '](' "a Markdown link left in $man"
done

# Every visible command has a heading in docs/cli.md ("### pin APP VERSION / unpin APP").
commands=$("$DEPLOYEX" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z0-9-]*\).*/\1/p')
[ -n "$commands" ] || fail "no command in 'deployex --help'"
for cmd in $commands; do
        grep -Eq "^### (.* / )?$cmd( |\$)" "$DEPLOYEX_TOP/docs/cli.md" ||
                fail "'deployex $cmd' has no '### $cmd ...' heading in docs/cli.md (deployex(1))"
        ok
done
finish
