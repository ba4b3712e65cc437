//! The one error type of the command line, and the exit code of each kind.

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: the command failed (the API refused it, the server could not be reached).
pub const EXIT_ERROR: i32 = 1;
/// Exit code: the command line, a file or the configuration was not usable (a local file
/// that cannot be read or written included).
pub const EXIT_USAGE: i32 = 2;
/// Exit code: what the command names does not exist.
pub const EXIT_NOT_FOUND: i32 = 3;

/// Why a command failed. Every variant renders as one line for stderr.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A flag, an argument or a file the caller gave is not usable.
    #[error("{0}")]
    Usage(String),
    /// The API answered with an error.
    #[error("{message} ({status} {code})")]
    Api {
        /// HTTP status.
        status: u16,
        /// The API's stable error code.
        code: String,
        /// The API's message.
        message: String,
    },
    /// The API could not be reached or did not answer in time.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// What was asked for.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// The API answered with something that is not the documented JSON.
    #[error("unexpected response from the API: {0}")]
    BadResponse(String),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The failure.
        source: std::io::Error,
    },
    /// Some rows of an import were refused (each reported already).
    #[error("{0}")]
    Rejected(String),
}

impl CliError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) | CliError::Io { .. } => EXIT_USAGE,
            CliError::Api { status: 404, .. } => EXIT_NOT_FOUND,
            _ => EXIT_ERROR,
        }
    }

    /// An I/O failure on `path`.
    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        CliError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_usage_and_other_failures_have_their_documented_codes() {
        let api = |status: u16| CliError::Api {
            status,
            code: "x".into(),
            message: "y".into(),
        };
        assert_eq!(api(404).exit_code(), 3);
        assert_eq!(api(409).exit_code(), 1);
        assert_eq!(api(503).exit_code(), 1);
        assert_eq!(CliError::Usage("bad".into()).exit_code(), 2);
        assert_eq!(CliError::BadResponse("?".into()).exit_code(), 1);
    }
}
