# bash completion for the glue command. CLI11 (2.1) generates none; this one names
# the subcommands, their flags and the actions of model, features and registry.
# glue_cli_test.sh checks that every flag `glue SUBCOMMAND --help` lists is here.
#
#   source cmd/glue-completion.bash     # or copy it to /etc/bash_completion.d/glue
_glue() {
  local cur=${COMP_WORDS[COMP_CWORD]} sub=${COMP_WORDS[1]:-} words
  if ((COMP_CWORD == 1)); then
    mapfile -t COMPREPLY < <(compgen -W "pub sub peers model features registry bridge keygen -h --help" -- "$cur")
    return
  fi
  case "$sub" in
    pub)
      words="-t --topic --type -m --message -f --file -l --lines -s --stdin -n --null
             --expiry --best-effort --history --repeat --repeat-delay --wait-subscribers
             -h --help"
      # -f takes a file name.
      if [[ ${COMP_WORDS[COMP_CWORD - 1]} == -f || ${COMP_WORDS[COMP_CWORD - 1]} == --file ]]; then
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
      fi
      ;;
    features)
      if ((COMP_CWORD == 2)); then
        mapfile -t COMPREPLY < <(compgen -W "serve set unset ls monitor" -- "$cur")
        return
      fi
      words="--config-dir --state-dir --timeout -h --help"
      # The directories take directory names.
      if [[ ${COMP_WORDS[COMP_CWORD - 1]} == --*-dir ]]; then
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        return
      fi
      ;;
    registry)
      if ((COMP_CWORD == 2)); then
        mapfile -t COMPREPLY < <(compgen -W "serve" -- "$cur")
        return
      fi
      words="--http --public-url --read-timeout --max-connections --max-body-bytes -h --help"
      ;;
    bridge)
      words="--broker --client-id --username --password-file --out --in --both --config
             --qos --retain --cafile --cert --key -h --help"
      [[ ${COMP_WORDS[COMP_CWORD - 1]} == --password-file ||
         ${COMP_WORDS[COMP_CWORD - 1]} == --config || ${COMP_WORDS[COMP_CWORD - 1]} == --cafile ||
         ${COMP_WORDS[COMP_CWORD - 1]} == --cert || ${COMP_WORDS[COMP_CWORD - 1]} == --key ]] &&
        { mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return; }
      ;;
    sub) words="-t --topic --type -v --verbose -C --count -W --timeout -F --format --json
                -h --help" ;;
    peers) words="--watch --json --wait -h --help" ;;
    keygen) words="-h --help" ;;
    model)
      # glue model NAME ACTION ...: the action is the third word.
      if ((COMP_CWORD == 3)); then
        mapfile -t COMPREPLY < <(compgen -W "get put del ls watch" -- "$cur")
        return
      fi
      words="--ttl --hold --timeout -h --help"
      ;;
    *) return ;;
  esac
  [[ $cur == -* ]] && mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
}
complete -o default -F _glue glue
