# kanon-completion.bash - bash completion for the `kanon` command.
#
#   . scripts/kanon-completion.bash          # this shell
#   echo ". $PWD/scripts/kanon-completion.bash" >> ~/.bashrc
#
# Commands and their flags come from `kanon --help` and `kanon CMD --help`
# (so they follow the binary, and are read once per shell). Deck names come
# from `kanon status --json`, parameter names (set/get DECK.NAME) from
# `kanon params DECK --json`, versions (revert) from `kanon history`, routes
# (unroute) from `kanon routes --json`. Those
# ask the conductor named by --instance on the line being completed (else
# $KANON_INSTANCE), quietly and for at most a second: with no conductor
# running they offer nothing and the rest still completes.
# Needs bash 4 (associative arrays); no jq.

declare -gA _kanon_flag_cache

# kanon, quietly, with the line's --instance; never hangs the prompt.
_kanon_run() {
    local args=()
    [[ -n $_kanon_inst ]] && args=(--instance "$_kanon_inst")
    if command -v timeout >/dev/null 2>&1; then
        timeout 1 "$_kanon_bin" "${args[@]}" "$@" 2>/dev/null
    else
        "$_kanon_bin" "${args[@]}" "$@" 2>/dev/null
    fi
}

# The "name" fields of a JSON reply (deck and parameter names are plain).
_kanon_names() { grep -o '"name":"[^"\\]*"' | sed 's/^"name":"//; s/"$//' | sort -u; }

_kanon_commands() { "$_kanon_bin" --help 2>/dev/null | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p'; }

_kanon_flags() {
    local cmd=$1
    if [[ -z ${_kanon_flag_cache[$cmd]+x} ]]; then
        _kanon_flag_cache[$cmd]="$("$_kanon_bin" "$cmd" --help 2>/dev/null |
            grep -o -- '--[a-z][a-z-]*' | sort -u | tr '\n' ' ') --help"
    fi
    echo "${_kanon_flag_cache[$cmd]}"
}

_kanon_decks() { _kanon_run status --json | _kanon_names; }

# The routes' sources, or (given a source) their destinations as DST[:PORT].
_kanon_route_ends() {
    local r
    r=$(_kanon_run routes --json | grep -o '"src":"[^"\\]*","dst":"[^"\\]*","port":"[^"\\]*"' |
        sed 's/^"src":"//; s/","dst":"/ /; s/","port":"/ /; s/"$//')
    if [[ -z $1 ]]; then
        awk '{print $1}' <<<"$r" | sort -u
    else
        awk -v s="$1" '$1 == s {print $3 == "" ? $2 : $2 ":" $3}' <<<"$r" | sort -u
    fi
}

_kanon_instances() {
    local dir=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/kanon}
    [[ -n $dir && -d $dir ]] || dir=/tmp/kanon-$(id -u)
    local s
    for s in "$dir"/*.sock; do [[ -e $s ]] && basename "$s" .sock; done
}

# Files with one of the given extensions, plus directories to descend into.
_kanon_files() {
    local ext hide=() # dot-directories only when asked for (.git is never a target)
    [[ $cur == .* ]] || hide=(-X '.*')
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -d "${hide[@]}" -- "$cur")
    for ext in "$@"; do
        mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -X "!*.$ext" -- "$cur")
    done
}

_kanon_words() { mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur"); }

# DECK.NAME: decks (then a dot) until the dot is typed, then the deck's params.
_kanon_params() {
    if [[ $cur == *.* ]]; then
        local deck=${cur%%.*} names
        names=$(_kanon_run params "$deck" --json | _kanon_names | sed "s/^/$deck./")
        _kanon_words "$names"
    else
        mapfile -t COMPREPLY < <(compgen -W "$(_kanon_decks)" -S . -- "$cur")
        compopt -o nospace 2>/dev/null
    fi
}

_kanon() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local _kanon_bin=${COMP_WORDS[0]} _kanon_inst="" cmd="" i w
    [[ -x $_kanon_bin && $_kanon_bin == */* ]] || _kanon_bin=kanon
    COMPREPLY=()

    # Flags that take a value: their value is not a positional argument.
    local takes=" --instance --ramp --deck --fade --backend --rate --block --latency --channels
        --state-mb --compile-timeout --debounce --history-dir -o --output --seconds --set
        --quant --at --bar --bpm --start --lead --inputs --input --gain "
    local pos=() # positional words of the command before the cursor
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ $w == --instance ]]; then
            _kanon_inst=${COMP_WORDS[i + 1]}
        elif [[ $w == --instance=* ]]; then
            _kanon_inst=${w#--instance=}
        fi
        if [[ $takes == *" $w "* ]]; then
            ((i++))
        elif [[ $w == -[0-9.]* || $w != -* ]]; then
            if [[ -z $cmd ]]; then cmd=$w; else pos+=("$w"); fi
        fi
    done

    case $prev in
    --instance)
        _kanon_words "$(_kanon_instances)"
        return
        ;;
    --backend)
        _kanon_words "auto jack pulseaudio alsa dummy"
        return
        ;;
    --deck)
        _kanon_words "$(_kanon_decks)"
        return
        ;;
    -o | --output | --input)
        _kanon_files wav
        return
        ;;
    --from)
        [[ $cmd == midi ]] && { _kanon_words "any midi_in midi_in_2 midi_in_3 midi_in_4"; return; }
        ;;
    --history-dir)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        return
        ;;
    --ramp | --fade | --rate | --block | --latency | --channels | --inputs | --state-mb | \
        --compile-timeout | \
        --debounce | \
        --seconds | --set | --quant | --at | --bar | --bpm | --start | --lead | --gain | \
        --dur | --channel | --midi-ports)
        return # a number or NAME=VALUE: nothing to offer
        ;;
    esac

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            _kanon_words "--instance --help"
        else
            _kanon_words "$(_kanon_commands) help"
        fi
        return
    fi
    if [[ $cur == -* && $cur != -[0-9.]* ]]; then
        _kanon_words "$(_kanon_flags "$cmd")"
        return
    fi

    local n=${#pos[@]}
    case $cmd in
    play | render | check)
        ((n == 0)) && _kanon_files c dsp
        ;;
    set | get)
        ((n == 0)) && _kanon_params
        ;;
    stop | history | log | params | mute | unmute | solo | unsolo | pan | quant | note | midi)
        ((n == 0)) && _kanon_words "$(_kanon_decks)"
        ;;
    gain)
        ((n == 0)) && _kanon_words "$(_kanon_decks) master"
        ;;
    route)
        if ((n == 0)); then
            _kanon_words "$(_kanon_decks) in"
        elif ((n == 1)); then
            _kanon_words "$(_kanon_decks) master"
        fi
        ;;
    unroute)
        if ((n == 0)); then
            _kanon_words "$(_kanon_route_ends)"
        elif ((n == 1)); then
            _kanon_words "$(_kanon_route_ends "${pos[0]}")"
        fi
        ;;
    revert)
        if ((n == 0)); then
            _kanon_words "$(_kanon_decks)"
        elif ((n == 1)); then
            _kanon_words "$(_kanon_run history "${pos[0]}" --json |
                grep -o '"version":[0-9]*' | cut -d: -f2)"
        fi
        ;;
    session)
        if ((n == 0)); then
            _kanon_words "save load"
        elif ((n == 1)); then
            _kanon_files json
        fi
        ;;
    map)
        if ((n == 0)); then
            _kanon_words "load show"
        elif ((n == 1)) && [[ ${pos[0]} == load ]]; then
            _kanon_files json
        fi
        ;;
    record)
        if ((n == 0)); then
            _kanon_words "start stop"
        elif ((n == 1)) && [[ ${pos[0]} == start ]]; then
            _kanon_files wav
        fi
        ;;
    help)
        ((n == 0)) && _kanon_words "$(_kanon_commands)"
        ;;
    esac
}

complete -F _kanon kanon
