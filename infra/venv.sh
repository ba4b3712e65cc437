# Sourced by the scripts in infra/: a project-local virtualenv per tool set.

# ensure_venv DIR REQUIREMENTS: creates DIR and installs REQUIREMENTS (pinned) into it, again
# only when the requirements file changed since the last install.
ensure_venv() {
  local venv="$1" requirements="$2"
  local stamp="${venv}/.requirements.sha256"
  local want
  want="$(sha256sum "${requirements}" | cut -d' ' -f1)"
  if [ "$(cat "${stamp}" 2>/dev/null)" != "${want}" ]; then
    python3 -m venv "${venv}"
    "${venv}/bin/pip" install --quiet --disable-pip-version-check -r "${requirements}"
    echo "${want}" > "${stamp}"
  fi
}
