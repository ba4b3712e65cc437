//! Where the API is and who the caller is: a flag, the environment, or a small config file.
//!
//! The file holds the API's URL and, after `login --dev`, the local user to act as. It never
//! holds a token: a local dev token is asked of the local gateway on each run, and a real one
//! comes from `AGENTID_TOKEN` alone.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CliError;

/// The API's URL when nothing else names one: the local gateway's default.
pub const DEFAULT_API_URL: &str = "http://127.0.0.1:8080";
/// A bearer token for the API (in AWS: a JWT from the organisation's identity provider).
pub const TOKEN_VAR: &str = "AGENTID_TOKEN";

/// The config file's contents.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The API's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// Act as this local user, with a dev token from the local gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<DevLogin>,
}

/// A local user to act as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DevLogin {
    /// The user id (the token's `sub`).
    pub user: String,
    /// Whether the token carries the administrators' group.
    pub admin: bool,
}

/// The config file named by `--config`/`AGENTCTL_CONFIG`, else the user's config directory.
pub(crate) fn default_path() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("agentctl").join("config.json")
}

impl Config {
    /// The file at `path`, or an empty config if there is none.
    pub(crate) fn load(path: &Path) -> Result<Self, CliError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                CliError::Usage(format!("{}: not a valid config file: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(CliError::io(path, e)),
        }
    }

    /// Writes the file, creating its directory.
    pub(crate) fn save(&self, path: &Path) -> Result<(), CliError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| CliError::io(dir, e))?;
        }
        let text = serde_json::to_string_pretty(self).expect("config serializes");
        std::fs::write(path, text + "\n").map_err(|e| CliError::io(path, e))
    }

    /// The API's URL: the flag, then `AGENTID_API_URL` (clap reads both), then the file.
    pub(crate) fn api_url(&self, from_flag: Option<&str>) -> Result<String, CliError> {
        let url = from_flag
            .map(str::to_owned)
            .or_else(|| self.api_url.clone())
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        parse_api_url(&url)
    }
}

/// An http(s) URL without a trailing slash.
pub(crate) fn parse_api_url(url: &str) -> Result<String, CliError> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
            Ok(trimmed.to_owned())
        }
        _ => Err(CliError::Usage(format!(
            "API URL {url:?} is not an http:// or https:// URL"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_are_http_or_https_and_lose_their_trailing_slash() {
        assert_eq!(
            parse_api_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            parse_api_url("https://x.execute-api.eu-west-1.amazonaws.com").unwrap(),
            "https://x.execute-api.eu-west-1.amazonaws.com"
        );
        for bad in ["127.0.0.1:8080", "ftp://host", "http://", "http://a b"] {
            assert!(parse_api_url(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn the_flag_wins_over_the_file_and_the_default_comes_last() {
        let file = Config {
            api_url: Some("http://file:1".into()),
            dev: None,
        };
        assert_eq!(
            file.api_url(Some("http://flag:2")).unwrap(),
            "http://flag:2"
        );
        assert_eq!(file.api_url(None).unwrap(), "http://file:1");
        assert_eq!(Config::default().api_url(None).unwrap(), DEFAULT_API_URL);
    }

    #[test]
    fn a_saved_config_loads_back_and_holds_no_token() {
        let dir = std::env::temp_dir().join(format!("agentctl-config-{}", std::process::id()));
        let path = dir.join("nested").join("config.json");
        let config = Config {
            api_url: Some("http://127.0.0.1:9".into()),
            dev: Some(DevLogin {
                user: "priya".into(),
                admin: true,
            }),
        };
        config.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), config);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.to_lowercase().contains("token"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(Config::load(&path).unwrap(), Config::default());
    }
}
