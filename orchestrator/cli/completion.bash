# Bash completion for xover (installed by `make install` as
# PREFIX/share/bash-completion/completions/xover).
#
# Everything comes from the xover being completed, so it cannot drift from
# it: the commands from `xover help --commands`, a command's options from
# its help text (`xover help CMD`), sweep names from the results database
# (`xover sql`, read-only; the --db on the line, else $XOVER_DB, else
# ./xover.db).

_xover_sweeps()
{
    local db=() i
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        case ${COMP_WORDS[i]} in
        --db) db=(--db "${COMP_WORDS[i + 1]}") ;;
        --db=*) db=(--db "${COMP_WORDS[i]#--db=}") ;;
        esac
    done
    "$1" sql "SELECT name FROM sweeps ORDER BY name" --format csv "${db[@]}" 2>/dev/null | tail -n +2
}

_xover()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local xover=${COMP_WORDS[0]} cmd=${COMP_WORDS[1]}
    COMPREPLY=()
    if ((COMP_CWORD == 1)); then
        COMPREPLY=($(compgen -W "$("$xover" help --commands 2>/dev/null) --help --version" -- "$cur"))
        return
    fi
    case $prev in
    --sweep)
        COMPREPLY=($(compgen -W "$(_xover_sweeps "$xover")" -- "$cur"))
        return ;;
    --format | -f)
        COMPREPLY=($(compgen -W "table csv json jsonl md safetensors" -- "$cur"))
        return ;;
    --metric)
        COMPREPLY=($(compgen -W "val_loss mc_acc" -- "$cur"))
        return ;;
    --x)
        COMPREPLY=($(compgen -W "tokens epochs flops" -- "$cur"))
        return ;;
    --backend)
        COMPREPLY=($(compgen -W "local slurm" -- "$cur"))
        return ;;
    --db | --config | --out | --output | -o | --cache | --runs-dir | --run | --tokenizer | --file)
        COMPREPLY=($(compgen -f -- "$cur"))
        return ;;
    esac
    if [[ $cur == -* ]]; then
        # A command's options are the --words of its help text.
        local opts
        opts=$("$xover" help "$cmd" 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
        COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
        return
    fi
    case $cmd in
    help)
        COMPREPLY=($(compgen -W "$("$xover" help --commands 2>/dev/null)" -- "$cur")) ;;
    data)
        ((COMP_CWORD == 2)) && COMPREPLY=($(compgen -W "prepare stats score tokenize" -- "$cur"))
        [[ ${#COMPREPLY[@]} -eq 0 ]] && COMPREPLY=($(compgen -f -- "$cur")) ;;
    db)
        COMPREPLY=($(compgen -W "init check" -- "$cur")) ;;
    plan | run)
        # Sweep files.
        COMPREPLY=($(compgen -f -X '!*.y*ml' -- "$cur") $(compgen -d -- "$cur")) ;;
    status | rm | collect | cancel)
        COMPREPLY=($(compgen -W "$(_xover_sweeps "$xover")" -- "$cur") $(compgen -f -X '!*.y*ml' -- "$cur")) ;;
    *)
        COMPREPLY=($(compgen -f -- "$cur")) ;;
    esac
}

complete -o filenames -F _xover xover
