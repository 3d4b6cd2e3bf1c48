//! Names of files that cross the wire: a name from the peer is one plain
//! path component, and a relative path is a short list of them, checked when
//! decoded and long before anything touches a disk. Traversal (`..`),
//! absolute paths, separators, control characters (NUL among them) and
//! names Windows cannot hold are refused with a message a person can act on.

use serde::{Deserialize, Serialize};

/// Longest name, in UTF-8 bytes (the common file-system limit).
pub const MAX_NAME_BYTES: usize = 255;
/// Most components in a relative path.
pub const MAX_DEPTH: usize = 32;

/// Why a name or path was refused. Messages are for the people at both ends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing at all.
    #[error("the file name is empty")]
    Empty,
    /// Over [`MAX_NAME_BYTES`].
    #[error("the file name is longer than {MAX_NAME_BYTES} bytes")]
    TooLong,
    /// `.` or `..`.
    #[error("“{0}” is not a file name; names that lead out of a folder are refused")]
    Traversal(String),
    /// A `/` or `\` inside a name.
    #[error("file names may not contain “/” or “\\”")]
    Separator,
    /// A path starting at the root or a drive.
    #[error("absolute paths are refused; give a name inside the chosen folder")]
    Absolute,
    /// NUL, newline and the other control characters.
    #[error("file names may not contain control characters")]
    Control,
    /// `:` `*` `?` `"` `<` `>` `|`, which Windows does not allow.
    #[error("file names may not contain any of : * ? \" < > |")]
    Forbidden,
    /// A trailing space or dot, which Windows drops silently.
    #[error("file names may not end with a space or a dot")]
    Trailing,
    /// `CON`, `NUL`, `COM1` and the like, with or without an extension.
    #[error("“{0}” is a reserved device name on Windows")]
    Device(String),
    /// Over [`MAX_DEPTH`] folders deep.
    #[error("the path is more than {MAX_DEPTH} folders deep")]
    TooDeep,
}

const DEVICES: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
    "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// One checked path component: safe to join under a chosen folder on
/// Linux, macOS and Windows alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileName(String);

impl FileName {
    /// Checks `name`.
    pub fn new(name: &str) -> Result<Self, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > MAX_NAME_BYTES {
            return Err(NameError::TooLong);
        }
        if name == "." || name == ".." {
            return Err(NameError::Traversal(name.to_owned()));
        }
        if name.chars().any(char::is_control) {
            return Err(NameError::Control);
        }
        if name.contains(['/', '\\']) {
            return Err(NameError::Separator);
        }
        if name.contains([':', '*', '?', '"', '<', '>', '|']) {
            return Err(NameError::Forbidden);
        }
        if name.ends_with([' ', '.']) {
            return Err(NameError::Trailing);
        }
        let stem = name.split('.').next().unwrap_or(name).trim_end();
        if DEVICES.iter().any(|d| d.eq_ignore_ascii_case(stem)) {
            return Err(NameError::Device(stem.to_owned()));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for FileName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for FileName {
    type Error = NameError;

    fn try_from(name: String) -> Result<Self, NameError> {
        Self::new(&name)
    }
}

impl From<FileName> for String {
    fn from(name: FileName) -> Self {
        name.0
    }
}

/// A path relative to a folder the customer chose, `/`-separated on the
/// wire: every component a [`FileName`], at most [`MAX_DEPTH`] of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RelPath(Vec<FileName>);

impl RelPath {
    /// Checks a `/`-separated relative path.
    pub fn parse(path: &str) -> Result<Self, NameError> {
        if path.is_empty() {
            return Err(NameError::Empty);
        }
        let drive = path.as_bytes().get(1) == Some(&b':') && path.as_bytes()[0].is_ascii_alphabetic();
        if path.starts_with(['/', '\\']) || drive {
            return Err(NameError::Absolute);
        }
        let parts: Vec<&str> = path.split('/').collect();
        if parts.len() > MAX_DEPTH {
            return Err(NameError::TooDeep);
        }
        parts.into_iter().map(FileName::new).collect::<Result<_, _>>().map(Self)
    }

    /// The components, outermost first.
    #[must_use]
    pub fn components(&self) -> &[FileName] {
        &self.0
    }

    /// The last component: the file's own name.
    #[must_use]
    pub fn file_name(&self) -> &FileName {
        // Never empty: `parse` refuses an empty path.
        &self.0[self.0.len() - 1]
    }

    /// The path under `base`, for the local file system.
    #[must_use]
    pub fn under(&self, base: &std::path::Path) -> std::path::PathBuf {
        let mut out = base.to_path_buf();
        out.extend(self.0.iter().map(FileName::as_str));
        out
    }
}

impl std::fmt::Display for RelPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<&str> = self.0.iter().map(FileName::as_str).collect();
        f.write_str(&parts.join("/"))
    }
}

impl TryFrom<String> for RelPath {
    type Error = NameError;

    fn try_from(path: String) -> Result<Self, NameError> {
        Self::parse(&path)
    }
}

impl From<RelPath> for String {
    fn from(path: RelPath) -> Self {
        path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Component, Path};

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn plain_names_pass_and_keep_their_spelling() {
        for ok in [
            "report.pdf",
            "résumé 2026.docx",
            ".bashrc",
            "a..b",
            "日本語.txt",
            "CONSOLE.log",
            "x".repeat(255).as_str(),
        ] {
            assert_eq!(FileName::new(ok).map(|n| n.to_string()), Ok(ok.to_owned()), "{ok}");
        }
    }

    #[test]
    fn dangerous_names_are_refused_with_a_reason() {
        let cases: [(&str, NameError); 14] = [
            ("", NameError::Empty),
            ("..", NameError::Traversal("..".into())),
            (".", NameError::Traversal(".".into())),
            ("../x", NameError::Separator),
            ("a\\b", NameError::Separator),
            ("/etc/passwd", NameError::Separator),
            ("evil\0.txt", NameError::Control),
            ("two\nlines", NameError::Control),
            ("C:x", NameError::Forbidden),
            ("what?.txt", NameError::Forbidden),
            ("trailing.", NameError::Trailing),
            ("trailing ", NameError::Trailing),
            ("con.txt", NameError::Device("con".into())),
            ("LPT1", NameError::Device("LPT1".into())),
        ];
        for (name, why) in cases {
            assert_eq!(FileName::new(name), Err(why), "{name:?}");
        }
        assert_eq!(FileName::new(&"x".repeat(256)), Err(NameError::TooLong));
        // Bytes, not characters: 128 two-byte letters are 256 bytes.
        assert_eq!(FileName::new(&"é".repeat(128)), Err(NameError::TooLong));
    }

    #[test]
    fn relative_paths_stay_inside_their_folder() {
        let p = RelPath::parse("Documents/2026/report.pdf").unwrap();
        assert_eq!(p.components().len(), 3);
        assert_eq!(p.file_name().as_str(), "report.pdf");
        assert_eq!(
            p.under(Path::new("/home/ann/Downloads")),
            Path::new("/home/ann/Downloads/Documents/2026/report.pdf")
        );
        assert_eq!(p.to_string(), "Documents/2026/report.pdf");

        assert_eq!(RelPath::parse("/etc/passwd"), Err(NameError::Absolute));
        assert_eq!(RelPath::parse("\\\\server\\share"), Err(NameError::Absolute));
        assert_eq!(RelPath::parse("C:/Windows"), Err(NameError::Absolute));
        assert_eq!(RelPath::parse("a/../../etc"), Err(NameError::Traversal("..".into())));
        assert_eq!(RelPath::parse("a//b"), Err(NameError::Empty));
        assert_eq!(RelPath::parse("a/"), Err(NameError::Empty));
        assert_eq!(RelPath::parse(""), Err(NameError::Empty));
        assert_eq!(RelPath::parse(&vec!["d"; 33].join("/")), Err(NameError::TooDeep));
        assert!(RelPath::parse(&vec!["d"; 32].join("/")).is_ok());
    }

    #[test]
    fn names_are_checked_when_decoded_from_the_wire() {
        let good = crate::wire::encode(&"notes.txt".to_owned());
        assert_eq!(crate::wire::decode::<FileName>(&good).map(|n| n.to_string()), Ok("notes.txt".to_owned()));
        let bad = crate::wire::encode(&"../notes.txt".to_owned());
        assert!(crate::wire::decode::<FileName>(&bad).is_err());
        let bad_path = crate::wire::encode(&"a/../../b".to_owned());
        assert!(crate::wire::decode::<RelPath>(&bad_path).is_err());
    }

    proptest! {
        /// Whatever a peer sends, an accepted path joined under a folder has
        /// only plain components: it can never leave the folder.
        #[test]
        fn an_accepted_path_never_leaves_its_folder(path in "(\\PC|[/\\\\.:]){0,40}") {
            if let Ok(p) = RelPath::parse(&path) {
                let base = Path::new("/srv/base");
                let joined = p.under(base);
                prop_assert!(joined.starts_with(base));
                let extra: Vec<Component<'_>> = joined.strip_prefix(base).unwrap().components().collect();
                prop_assert_eq!(extra.len(), p.components().len());
                prop_assert!(extra.iter().all(|c| matches!(c, Component::Normal(_))));
                prop_assert!(!path.contains('\0'));
            }
        }
    }
}
