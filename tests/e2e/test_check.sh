# `kanon check` compiles in its own process (cli/check.c) with the
# cartridge's front end and stand-ins for the addresses; a deck compiles
# with the real ones. This shows the two say the same thing:
#   - for each file below (a syntax error, a misspelled nodes-c function,
#     a misspelled kanon.h function, no process(), a missing header, NUL
#     bytes, a missing file, and good files with and without setup()),
#     `kanon check` and `kanon-cartridge check` (a deck's compile) exit
#     alike and print the same text and the same --json, the compile time
#     aside;
#   - every example passes `kanon check`;
#   - `kanon check` needs no second process: a copy of `kanon` beside the
#     headers but with no kanon-cartridge still checks C files (and a
#     .dsp, which goes to the cartridge for faust, says it cannot run it).
. "$(dirname "$0")/lib.sh"

mk() { printf '%b' "$2" >"$T/$1"; }
mk syntax.c '#include <kanon.h>\nvoid process(kn_ctx *k, float **out, int frames) {\n    int x = ;\n}\n'
mk node.c '#include <kanon/nodes.h>\nstatic kn_sine s;\nvoid process(kn_ctx *k, float **out, int frames) {\n    kn_sine_rn(&s, out[0], frames, 440, 1);\n}\n'
mk api.c '#include <kanon.h>\ndouble kn_gett(void *);\nvoid process(kn_ctx *k, float **out, int frames) {\n    out[0][0] = (float)kn_gett(0);\n}\n'
mk noproc.c '#include <kanon.h>\nvoid proc(kn_ctx *k, float **out, int frames) {}\n'
mk header.c '#include <kanon.h>\n#include "nowhere.h"\nvoid process(kn_ctx *k, float **out, int frames) {}\n'
printf '#include <kanon.h>\n\0\n' >"$T/nul.c"
mk good.c '#include <kanon/nodes.h>\n#include <math.h>\nstatic kn_sine s;\nvoid process(kn_ctx *k, float **out, int frames) {\n    kn_sine_run(&s, out[0], frames, 440, 1);\n    out[1][0] = sinf(out[0][0]);\n}\n'
mk setup.c '#include <kanon.h>\nstatic kn_param *f;\nvoid setup(kn_ctx *k) { f = kn_param_decl(k, "f", 0, 1, 0); }\nvoid process(kn_ctx *k, float **out, int frames) { out[0][0] = (float)kn_get(f); }\n'

# the compile time is the one thing allowed to differ
untimed() { sed -E 's/compiled in [0-9.]+ ms/compiled in T ms/; s/"compile_ms":[0-9.e+-]+/"compile_ms":T/' "$1"; }
for f in syntax.c node.c api.c noproc.c header.c nul.c missing.c good.c setup.c; do
    for json in "" --json; do
        (cd "$T" && kanon check "$f" $json >"$T/c.out" 2>"$T/c.err")
        rc_check=$?
        (cd "$T" && kanon-cartridge check "$f" $json >"$T/d.out" 2>"$T/d.err")
        rc_deck=$?
        [ "$rc_check" = "$rc_deck" ] || fail "$f $json: kanon check exited $rc_check, a deck's compile $rc_deck"
        for s in out err; do
            [ "$(untimed "$T/c.$s")" = "$(untimed "$T/d.$s")" ] ||
                fail "$f $json: kanon check's std$s differs from a deck's compile: $(cat "$T/c.$s") /// $(cat "$T/d.$s")"
        done
    done
    case $f in good.c | setup.c) want=0 ;; *) want=1 ;; esac
    [ "$rc_check" = "$want" ] || fail "$f: kanon check exited $rc_check, want $want: $(cat "$T/c.err")"
done
expect 1 kanon check "$T/node.c"
says "undefined symbol 'kn_sine_rn'"
said=$(tail -1 "$T/err")
expect 0 kanon check "$T/setup.c"
says "ok (compiled in"
lacks "no setup()"
ok "kanon check says what a deck's compile says (9 files, text and --json), e.g. \"$said\""

n=0
for f in "$ROOT"/examples/*.c; do
    expect 0 kanon check "$f"
    n=$((n + 1))
done
ok "all $n examples pass kanon check"

mkdir -p "$T/prefix/bin"
cp "$ROOT/build/bin/kanon" "$T/prefix/bin/"
cp -r "$ROOT/build/include" "$T/prefix/include"
expect 0 "$T/prefix/bin/kanon" check "$T/good.c"
says "good.c: ok"
expect 1 "$T/prefix/bin/kanon" check "$T/node.c"
says "undefined symbol 'kn_sine_rn'"
printf 'process = 0;\n' >"$T/x.dsp"
"$T/prefix/bin/kanon" check "$T/x.dsp" >"$T/out" 2>"$T/err" && fail "a .dsp checked without kanon-cartridge"
says "kanon-cartridge"
ok "kanon check compiles C in its own process (no kanon-cartridge beside it); a .dsp needs the cartridge"
