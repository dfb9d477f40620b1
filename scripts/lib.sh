# Shared by the scripts (sourced): a setting as Docker Compose sees it.
env_file="${EVCHARGING_ENV_FILE:-.env}"

setting() {  # NAME: the environment's value, else the env file's last one
  local value="${!1:-}"
  [ -n "$value" ] || value="$(sed -n "s/^$1=//p" "$env_file" 2>/dev/null | tail -n 1)"
  printf '%s' "$value"
}
