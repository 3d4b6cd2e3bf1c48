//! Listing the folders the customer shares, for the technician's file
//! browser: only shared folders, never a privacy folder, never a link that
//! leads out, at most [`MAX_LISTED`] entries in pages that fit a message.

use std::path::Path;

use tether_protocol::channel::files::{Entry, LISTING_PAGE_BYTES, MAX_LISTED};
use tether_protocol::files::{FileName, RelPath};

use crate::files::{FolderError, Folders};

/// Bytes an entry takes on the wire besides its name, at most.
const ENTRY_OVERHEAD: usize = 24;

/// What `path` holds (the shared folders themselves when `None`): folders
/// first, then files, each by name. Blocking.
pub fn list(folders: &Folders, path: Option<&RelPath>) -> Result<Vec<Entry>, FolderError> {
    let Some(path) = path else {
        let roots = folders.shared.iter().map(|(name, _)| Entry {
            name: name.clone(),
            folder: true,
            size: 0,
            modified: None,
        });
        return Ok(roots.take(MAX_LISTED as usize).collect());
    };
    let (first, rest) = path.components().split_first().ok_or(FolderError::Missing)?;
    // Only folders shared by name; Downloads is where files arrive, not
    // something the technician may look through.
    let root = folders
        .shared
        .iter()
        .find(|(n, _)| n == first)
        .map(|(_, p)| p.clone())
        .ok_or_else(|| FolderError::NotShared(first.to_string()))?;
    if rest.iter().any(|c| folders.is_private(c.as_str())) {
        return Err(FolderError::Private);
    }
    let dir = rest.iter().fold(root.clone(), |p, c| p.join(c.as_str()));
    let real = folders.inside(&root, &dir)?;
    if !real.is_dir() {
        return Err(FolderError::Missing);
    }
    let mut entries = Vec::new();
    for item in std::fs::read_dir(&real).map_err(|_| FolderError::Missing)?.flatten() {
        if let Some(entry) = entry(folders, &root, &item) {
            entries.push(entry);
            if entries.len() >= MAX_LISTED as usize {
                break;
            }
        }
    }
    entries.sort_by(|a, b| {
        b.folder
            .cmp(&a.folder)
            .then_with(|| a.name.as_str().to_lowercase().cmp(&b.name.as_str().to_lowercase()))
    });
    Ok(entries)
}

/// One directory entry as the technician may see it, or nothing: names
/// that cannot cross the wire, privacy folders, links out of the shared
/// folder, and sockets and devices are left out.
fn entry(folders: &Folders, root: &Path, item: &std::fs::DirEntry) -> Option<Entry> {
    let name = FileName::new(item.file_name().to_str()?).ok()?;
    if folders.is_private(name.as_str()) {
        return None;
    }
    let path = item.path();
    if item.file_type().ok()?.is_symlink() {
        folders.inside(root, &path).ok()?;
    }
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_dir() && !meta.is_file() {
        return None;
    }
    let modified =
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs());
    Some(Entry { name, folder: meta.is_dir(), size: if meta.is_file() { meta.len() } else { 0 }, modified })
}

/// The entries from `from` on that fit one page (at least one, if any are
/// left).
#[must_use]
pub fn page(entries: &[Entry], from: u32) -> Vec<Entry> {
    let mut bytes = 0;
    entries
        .iter()
        .skip(from as usize)
        .take_while(|e| {
            bytes += e.name.as_str().len() + ENTRY_OVERHEAD;
            bytes <= LISTING_PAGE_BYTES
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn folders(shared: &Path) -> Folders {
        Folders {
            downloads: None,
            shared: vec![(FileName::new("Shared").unwrap(), shared.to_path_buf())],
            private: vec!["secret".into()],
        }
    }

    fn names(entries: &[Entry]) -> Vec<String> {
        entries.iter().map(|e| format!("{}{}", e.name, if e.folder { "/" } else { "" })).collect()
    }

    #[test]
    fn lists_folders_first_and_hides_private_folders_and_links_out() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = dir.path().join("share");
        for folder in ["b-folder", ".ssh", "secret", "A-folder"] {
            std::fs::create_dir_all(root.join(folder)).unwrap();
        }
        std::fs::write(root.join("z.txt"), b"12345").unwrap();
        std::fs::write(root.join("a.txt"), b"1").unwrap();
        std::fs::write(outside.path().join("x"), b"1").unwrap();
        std::os::unix::fs::symlink(outside.path().join("x"), root.join("out-link")).unwrap();
        std::os::unix::fs::symlink(root.join("z.txt"), root.join("in-link")).unwrap();
        let f = folders(&root);
        let shared = RelPath::parse("Shared").unwrap();
        let listed = list(&f, Some(&shared)).unwrap();
        assert_eq!(names(&listed), ["A-folder/", "b-folder/", "a.txt", "in-link", "z.txt"]);
        assert_eq!(listed[4].size, 5);
        assert!(listed[4].modified.is_some());
        assert_eq!(names(&list(&f, None).unwrap()), ["Shared/"]);
        assert_eq!(list(&f, Some(&RelPath::parse("Shared/b-folder").unwrap())).unwrap(), []);
    }

    #[test]
    fn refuses_what_is_not_shared() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".ssh")).unwrap();
        std::fs::write(dir.path().join("f"), b"").unwrap();
        let mut f = folders(dir.path());
        f.downloads = Some(PathBuf::from(dir.path()));
        let err = |p: &str| list(&f, Some(&RelPath::parse(p).unwrap())).unwrap_err();
        assert_eq!(err("Downloads"), FolderError::NotShared("Downloads".into()));
        assert_eq!(err("Other/x"), FolderError::NotShared("Other".into()));
        assert_eq!(err("Shared/.ssh"), FolderError::Private);
        assert_eq!(err("Shared/f"), FolderError::Missing);
        assert_eq!(err("Shared/none"), FolderError::Missing);
    }

    #[test]
    fn pages_fit_a_message_and_cover_everything() {
        let long = "n".repeat(200);
        let entries: Vec<Entry> = (0..1000)
            .map(|i| Entry {
                name: FileName::new(&format!("{long}{i}")).unwrap(),
                folder: false,
                size: 1,
                modified: None,
            })
            .collect();
        let mut from = 0;
        let mut pages = 0;
        while (from as usize) < entries.len() {
            let p = page(&entries, from);
            assert!(!p.is_empty());
            let bytes = tether_protocol::wire::encode(&p).len();
            assert!(bytes <= LISTING_PAGE_BYTES, "{bytes}");
            from += p.len() as u32;
            pages += 1;
        }
        assert_eq!(from, 1000);
        assert!(pages > 1);
    }
}
