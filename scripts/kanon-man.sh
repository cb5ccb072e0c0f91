#!/usr/bin/env bash
# kanon-man.sh - writes the man page kanon(1) on stdout from a built
# `kanon`'s own --help texts (the overview and every command's), so the
# page says what the binary does. `make install` runs it.
#
#   scripts/kanon-man.sh BIN/kanon [PREFIX]
#
# PREFIX (default /usr/local) only fills in the FILES section. The date is
# the binary's (or $SOURCE_DATE_EPOCH), so a rebuild gives the same page.
set -euo pipefail
kanon=${1:?usage: kanon-man.sh BIN/kanon [PREFIX]}
prefix=${2:-/usr/local}
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
else
    date=$(date -u -r "$kanon" +%Y-%m-%d)
fi

# Text as roff: backslashes and minus signs escaped, a line that starts
# with . or ' kept from being read as a request.
esc() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

help=$("$kanon" --help)
name=$(head -1 <<<"$help")                                  # "kanon - ..."
commands=$(awk '/^  [a-z]+  /{print $1}' <<<"$help")
[ -n "$commands" ] || { echo "kanon-man.sh: no commands in '$kanon --help'" >&2; exit 1; }

cat <<ROFF
.TH KANON 1 "$date" "kanon" "User Commands"
.SH NAME
$(esc <<<"$name")
.SH SYNOPSIS
.B kanon
[\\-\\-instance NAME] COMMAND [args]
.br
.B kanon
COMMAND \\-\\-help
.SH DESCRIPTION
.B kanon
plays DSP written in C: you write it in a file; every save of it is compiled and heard within
milliseconds, with no click and no lost phase, and code that does not
compile is refused while the old code plays on.
.B kanon
talks to the conductor (\\fBkanon\\-conductor\\fR), which owns the audio
device and runs each deck in a sandboxed \\fBkanon\\-cartridge\\fR.
.PP
ROFF
# The overview's closing paragraph (after the command list).
awk 'seen && !/^  [a-z]+  / {print} /^  [a-z]+  /{seen=1}' <<<"$help" | sed '/^$/d' | esc
echo ".SH COMMANDS"
for c in $commands; do
    summary=$(awk -v c="$c" '$1 == c {sub(/^  [a-z]+ +/, ""); print; exit}' <<<"$help")
    text=$("$kanon" "$c" --help)
    echo ".SS $c"
    esc <<<"$summary"
    # The usage lines (the first and its indented continuations) unfilled,
    # the prose filled, the example unfilled.
    echo ".PP"
    echo ".nf"
    awk 'NR == 1 || (u && /^ /) {print; next} {u = 0; exit} BEGIN {u = 1}' <<<"$text" | esc
    echo ".fi"
    echo ".PP"
    awk 'NR == 1 {next} !p && /^ / {next} {p = 1} /^example: / {exit} {print}' <<<"$text" |
        sed '/^$/d' | esc
    ex=$(sed -n 's/^example: //p' <<<"$text")
    if [ -n "$ex" ]; then
        echo ".PP"
        echo "Example:"
        echo ".RS"
        echo ".nf"
        esc <<<"$ex"
        echo ".fi"
        echo ".RE"
    fi
done
cat <<ROFF
.SH ENVIRONMENT
.TP
.B KANON_INSTANCE
The conductor to talk to when \\-\\-instance is not given (default "default").
.TP
.B KANON_INCLUDE_DIR
Where the cartridge finds \\fBkanon.h\\fR and \\fBkanon/\\fR*.h instead of
the include directory beside its bin directory.
.SH FILES
.TP
.I $(esc <<<"$prefix")/include/kanon.h, $(esc <<<"$prefix")/include/kanon/
The DSP API and the nodes\\-c kit headers that user code includes.
.TP
.I $(esc <<<"$prefix")/share/kanon/examples/
Examples to start from (\\fBkanon play\\fR one, edit it, save).
.TP
.I $(esc <<<"$prefix")/share/bash\\-completion/completions/kanon
Bash completion.
.SH SEE ALSO
\\fBkanon COMMAND \\-\\-help\\fR, and the documentation in the source tree's docs/.
ROFF
