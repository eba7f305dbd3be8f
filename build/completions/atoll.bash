# bash completion for atoll, Atoll's command line.     -*- shell-script -*-
# Installed as /usr/share/bash-completion/completions/atoll by the packages.
# shellcheck disable=SC2207 # compgen words never contain spaces: the usual completion idiom

_atoll() {
    local cur prev words cword
    _init_completion || return

    local commands="ingest search kb agent leads ask eval models pull serve export import publish hub"
    local global="--data --ollama --help --version"

    # Find the command (the first word that is not a global flag or its value).
    local i cmd="" sub=""
    for ((i = 1; i < cword; i++)); do
        case "${words[i]}" in
        --data | --ollama) ((i++)) ;;
        -*) ;;
        *)
            if [[ -z $cmd ]]; then
                cmd=${words[i]}
            elif [[ -z $sub ]]; then
                sub=${words[i]}
            fi
            ;;
        esac
    done

    case "$prev" in
    --data)
        _filedir -d
        return
        ;;
    --questions | --csv | -o)
        _filedir
        return
        ;;
    --ollama | --from | --to | --addr | --token | --kb | --agent | --model | \
        --embed-model | --system | --source | --k | --as | --version | --label | --rate)
        return
        ;;
    esac

    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands $global" -- "$cur"))
        return
    fi

    local flags=""
    case "$cmd" in
    ingest) flags="--kb --embed-model" ;;
    search) flags="--kb --source --k --json" ;;
    kb)
        [[ -z $sub ]] && { COMPREPLY=($(compgen -W "list rm" -- "$cur")); return; }
        flags="--json"
        ;;
    agent)
        [[ -z $sub ]] && { COMPREPLY=($(compgen -W "new create list versions restore test" -- "$cur")); return; }
        case "$sub" in
        new) flags="--kb --model --yes" ;;
        create) flags="--kb --model --system" ;;
        list) flags="--json" ;;
        restore) flags="--version" ;;
        test) flags="--questions --json" ;;
        esac
        ;;
    leads)
        [[ -z $sub ]] && { COMPREPLY=($(compgen -W "list export pull" -- "$cur")); return; }
        case "$sub" in
        list) flags="--agent --json" ;;
        export) flags="--agent --csv" ;;
        pull) flags="--agent --from --token" ;;
        esac
        ;;
    ask) flags="--agent --json" ;;
    eval) flags="--kb --questions --k --json" ;;
    models) flags="--json" ;;
    serve) flags="--addr --token" ;;
    export) flags="--agent -o --with-sources" ;;
    import) flags="--as --reembed" ;;
    publish) flags="--agent --to --token" ;;
    hub)
        [[ -z $sub && $cur != -* ]] && { COMPREPLY=($(compgen -W "token" -- "$cur")); return; }
        [[ $sub == token ]] && flags="--label" || flags="--addr --rate"
        ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags --help" -- "$cur"))
    elif [[ $cmd == ingest || $cmd == import ]]; then
        _filedir
    fi
} && complete -F _atoll atoll
