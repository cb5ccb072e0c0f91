# `make install` into a temporary prefix from a private copy of the
# checkout, then the copy is deleted and kanon runs from the prefix alone
# (PATH has no build/bin): up, play + record (440 Hz), render of examples
# that include <kanon/nodes.h> and read samples/hit.wav, check's
# file:line: error:, the man page formats, the completion loads; no path of
# the copy is left in the installed files; DESTDIR staging; `make
# uninstall` leaves no file. The repo's own build/ is never touched (other
# tests use it); only build/tools/wavtool is borrowed for the analysis.
. "$(dirname "$0")/lib.sh"
W=$TOOLS/wavtool
[ -x "$W" ] || fail "no $W (make all)"

mkdir -p "$T/src"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z | xargs -0 cp --parents -t "$T/src") || fail "copy the checkout"
else
    tar -C "$ROOT" --exclude=./build --exclude=./.git -cf - . | tar -C "$T/src" -xf - ||
        fail "copy the checkout"
fi
make -C "$T/src" -j2 install PREFIX="$T/prefix" >"$T/install.log" 2>&1 ||
    fail "make install: $(tail -20 "$T/install.log")"
ok "make install PREFIX=\$T/prefix (from a copy of the checkout)"
# The same files with DESTDIR: staged under it, nothing outside.
make -C "$T/src" install DESTDIR="$T/stage" PREFIX=/opt/kanon >"$T/stage.log" 2>&1 ||
    fail "make install DESTDIR: $(tail -20 "$T/stage.log")"
[ -x "$T/stage/opt/kanon/bin/kanon-cartridge" ] || fail "DESTDIR: no staged kanon-cartridge"
[ "$(cd "$T/stage/opt/kanon" && find . -type f | sort)" = "$(cd "$T/prefix" && find . -type f | sort)" ] ||
    fail "DESTDIR install differs from the PREFIX install"
grep -q "^\.I /opt/kanon/include" "$T/stage/opt/kanon/share/man/man1/kanon.1" ||
    fail "man page FILES do not name PREFIX /opt/kanon"
make -C "$T/src" uninstall DESTDIR="$T/stage" PREFIX=/opt/kanon >/dev/null 2>&1 || fail "uninstall DESTDIR"
[ -z "$(find "$T/stage" -type f)" ] || fail "DESTDIR uninstall left: $(find "$T/stage" -type f)"
ok "DESTDIR staging installs the same files; uninstall removes them"
rm -rf "$T/src"

P=$T/prefix
for f in bin/kanon bin/kanon-conductor bin/kanon-cartridge lib/libkanon-nodes.so include/kanon.h \
    include/kanon/nodes.h share/kanon/examples/sine.c share/kanon/examples/samples/hit.wav \
    share/kanon/examples/maps/8knob.json share/bash-completion/completions/kanon \
    share/man/man1/kanon.1; do
    [ -f "$P/$f" ] || fail "not installed: $f"
done
ok "layout: bin, lib, include, share/kanon/examples, completion, man page"
for f in "$P"/bin/* "$P"/lib/*; do
    ! strings -a "$f" | grep -qF "$T/src" || fail "$f names the source tree: $(strings -a "$f" | grep -F "$T/src" | head -3)"
done
ok "no source path in the installed binaries"

export PATH="$P/bin:/usr/sbin:/usr/bin:/sbin:/bin"
[ "$(command -v kanon)" = "$P/bin/kanon" ] || fail "kanon resolves to $(command -v kanon)"
EX=$P/share/kanon/examples
up
kanon play "$EX/sine.c" >"$T/play.out" 2>&1 || fail "play: $(cat "$T/play.out")"
kanon record start "$T/live.wav" >/dev/null || fail "record start"
recorded_wait 1.2
kanon record stop >/dev/null || fail "record stop"
f=$("$W" stat "$T/live.wav" --field freq --skip 0.1)
near "$f" 440 1 || fail "installed play: frequency $f Hz, want 440"
ok "play + record from the prefix: $f Hz"
kanon down >/dev/null 2>&1

# acid and pluck include <kanon/nodes.h>; sampler reads samples/hit.wav.
for ex in acid pluck sampler; do
    kanon render "$EX/$ex.c" --seconds 1 -o "$T/$ex.wav" 2>"$T/render.err" ||
        fail "render $ex: $(cat "$T/render.err")"
    rms=$("$W" stat "$T/$ex.wav" --field rms_dbfs)
    python3 -c "import sys; sys.exit(0 if float('$rms') > -50 else 1)" || fail "render $ex: rms $rms dBFS"
    ok "render $ex.c from the prefix: rms $rms dBFS"
done
if command -v faust >/dev/null; then
    kanon render "$EX/faust_reverb.dsp" --seconds 1 -o "$T/faust.wav" 2>"$T/faust.err" ||
        fail "render faust_reverb.dsp: $(cat "$T/faust.err")"
    ok "render faust_reverb.dsp from the prefix"
fi

printf '#include <kanon.h>\nvoid process(kn_ctx *k, float **out, int frames) {\n    out[0][0] = no_such_name;\n}\n' >"$T/bad.c"
kanon check "$T/bad.c" >"$T/check.out" 2>&1 && fail "check of a broken file succeeded"
grep -q "^$T/bad.c:3: error:" "$T/check.out" || fail "check: $(cat "$T/check.out")"
ok "check: $(head -1 "$T/check.out" | sed "s|$T/||")"

head -1 "$P/share/man/man1/kanon.1" | grep -q '^\.TH KANON 1' || fail "man page has no .TH"
if command -v groff >/dev/null; then
    # -Wbreak: a long prefix that cannot be justified is not a fault
    groff -man -Tascii -ww -Wbreak -z "$P/share/man/man1/kanon.1" 2>"$T/groff.err" && [ ! -s "$T/groff.err" ] ||
        fail "groff: $(cat "$T/groff.err")"
    groff -man -Tascii "$P/share/man/man1/kanon.1" 2>/dev/null | sed 's/.\x08//g' >"$T/man.txt"
    for w in "COMMANDS" "usage: kanon play" "usage: kanon render" "KANON_INCLUDE_DIR"; do
        grep -q "$w" "$T/man.txt" || fail "man page lacks '$w'"
    done
    ok "man page formats without warnings; documents every command"
else
    ok "man page starts with .TH (no groff to format it)"
fi
bash -c ". '$P/share/bash-completion/completions/kanon' && complete -p kanon" >/dev/null 2>&1 ||
    fail "the completion does not load"
ok "bash completion loads (complete -F _kanon kanon)"

make -C "$ROOT" uninstall PREFIX="$P" >"$T/uninstall.log" 2>&1 || fail "uninstall: $(cat "$T/uninstall.log")"
[ -z "$(find "$P" -type f)" ] || fail "uninstall left: $(find "$P" -type f)"
[ ! -e "$P/share/kanon" ] && [ ! -e "$P/include/kanon" ] || fail "uninstall left kanon's directories"
ok "make uninstall leaves no file"
