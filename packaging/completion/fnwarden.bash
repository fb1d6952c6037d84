# SPDX-License-Identifier: Apache-2.0
# bash completion for fnwarden; installed as
# /usr/share/bash-completion/completions/fnwarden.
#
# The subcommands and their options are read from the binary's own --help
# (the option descriptions the parser uses, the same text the man pages are
# generated from), so completion offers exactly what the installed binary
# accepts. Each --help is asked once per shell. The values of a few options
# are known here: policy files (*.yaml) for --policy, --merge, --baseline
# and `policy validate`, directories for --rules and --pin-root, and the
# words of --mode, --color, -o and trace's --events.

# The subcommands `fnwarden --help` lists under "commands:".
_fnwarden_commands() {
    "$1" --help 2>/dev/null | sed -n '/^commands:/,$p' | sed -nE 's/^  ([a-z]+).*/\1/p'
}

# One line per option of SUBCOMMAND: "--name" or "--name=" when it takes a
# value; short forms as "-x" or "-x=" (boost prints "-o [ --output ] arg").
_fnwarden_options() {
    "$1" "$2" --help 2>/dev/null | sed -nE \
        -e 's/^  -([a-zA-Z]) \[ --([a-z0-9-]+) \] arg.*/-\1=\n--\2=/p' \
        -e 's/^  -([a-zA-Z]) \[ --([a-z0-9-]+) \].*/-\1\n--\2/p' \
        -e 's/^  --([a-z0-9-]+) arg.*/--\1=/p' \
        -e 's/^  --([a-z0-9-]+)( .*)?$/--\1/p'
}

# The cached option lines of a subcommand (asked once per shell).
declare -gA _fnwarden_option_cache 2>/dev/null || true
_fnwarden_cached_options() {
    local key="$1 $2"
    if [[ -z ${_fnwarden_option_cache[$key]+set} ]]; then
        _fnwarden_option_cache[$key]=$(_fnwarden_options "$1" "$2")
    fi
    printf '%s\n' "${_fnwarden_option_cache[$key]}"
}

# Adds each line COMMAND prints to COMPREPLY (names may hold blanks).
_fnwarden_add() {
    mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <("$@")
}

# Every directory (to descend into) and the files matching GLOB ('': none).
# -o filenames has readline quote them and mark directories with a slash.
_fnwarden_files() {
    local cur=$1 glob=$2
    if [[ $glob == '*' ]]; then
        _fnwarden_add compgen -f -- "$cur"
    else
        _fnwarden_add compgen -d -- "$cur"
        [[ -n $glob ]] && _fnwarden_add compgen -f -X "!$glob" -- "$cur"
    fi
    compopt -o filenames 2>/dev/null || true
}

# COMPREPLY for the value of OPTION (after `fnwarden SUBCOMMAND`).
_fnwarden_option_value() {
    local sub=$1 option=$2 cur=$3
    case $option in
        --policy|--merge|--baseline|--config) _fnwarden_files "$cur" '*.yaml' ;;
        --rules|--pin-root) _fnwarden_files "$cur" '' ;;
        --mode) _fnwarden_add compgen -W 'audit enforce' -- "$cur" ;;
        --color) _fnwarden_add compgen -W 'auto always never' -- "$cur" ;;
        --user) _fnwarden_add compgen -u -- "$cur" ;;
        --group|--socket-group|--admin-group) _fnwarden_add compgen -g -- "$cur" ;;
        --log-level) _fnwarden_add compgen -W 'trace debug info warn error' -- "$cur" ;;
        -o|--output)
            case $sub in
                status|trace) _fnwarden_add compgen -W 'table json' -- "$cur" ;;
                daemon) _fnwarden_add compgen -W 'stdout none' -- "$cur"; _fnwarden_files "$cur" '*' ;;
                *) _fnwarden_files "$cur" '*' ;;
            esac ;;
        --events)
            if [[ $sub == trace ]]; then
                # A comma list: complete the last item.
                local done_part="" last=$cur
                [[ $cur == *,* ]] && done_part=${cur%,*}, && last=${cur##*,}
                _fnwarden_add compgen -P "$done_part" -W 'syscall file net exec' -- "$last"
                compopt -o nospace 2>/dev/null || true
            else
                _fnwarden_files "$cur" '*'
            fi ;;
        --socket) _fnwarden_files "$cur" '*' ;;
        *) COMPREPLY=() ;;  # a name, a number, an address: nothing to offer
    esac
}

_fnwarden() {
    local program=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]}
    COMPREPLY=()
    # A word "=" splits --color=always into three (COMP_WORDBREAKS): put
    # the option back together.
    local prev=""
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    if [[ $cur == = ]]; then
        prev=${COMP_WORDS[COMP_CWORD - 1]} cur=""
    elif [[ $prev == = ]] && ((COMP_CWORD >= 2)); then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    elif [[ $prev == = ]]; then
        prev=""
    fi

    # The subcommand: the first word after the program.
    if ((COMP_CWORD == 1)); then
        _fnwarden_add compgen -W "$(_fnwarden_commands "$program") --help --version" -- "$cur"
        return 0
    fi
    local sub=${COMP_WORDS[1]} i
    # After `--` (before this word) comes the function's own command line.
    for ((i = 2; i < COMP_CWORD; i++)); do
        if [[ ${COMP_WORDS[i]} == -- ]]; then
            if ((i + 1 == COMP_CWORD)); then
                _fnwarden_add compgen -c -- "$cur"
            else
                _fnwarden_files "$cur" '*'
            fi
            return 0
        fi
    done

    if [[ $sub == policy ]]; then
        if ((COMP_CWORD == 2)); then
            _fnwarden_add compgen -W 'validate report --help' -- "$cur"
        else
            _fnwarden_files "$cur" '*.yaml'
        fi
        return 0
    fi

    local options
    options=$(_fnwarden_cached_options "$program" "$sub")
    # The value of an option that takes one.
    if [[ -n $prev && $prev == -* ]] && grep -qxF -- "$prev=" <<<"$options"; then
        _fnwarden_option_value "$sub" "$prev" "$cur"
        return 0
    fi
    if [[ $cur == -* || -z $cur ]]; then
        _fnwarden_add compgen -W "${options//=/}" -- "$cur"
    fi
    return 0
}

complete -F _fnwarden fnwarden
