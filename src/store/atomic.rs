//! Writing a file so that it is either whole or absent, whatever moment the process dies at.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, anyhow};

use crate::core::hold;

/// Writes to a temporary file beside `path`, flushes it to disk, then renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    // tempfile names its own random file in the error; the folder is what the user can fix.
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
        anyhow!(
            "cannot write to {}: {}",
            dir.display(),
            std::io::Error::from(e.kind())
        )
    })?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .and_then(|()| make_readable(&file))
        .with_context(|| format!("cannot write {}", path.display()))?;
    hold::before_replacing(path);
    file.persist(path)
        .map_err(|e| anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

/// Temporary files are created private (0600); results are meant to be shared like any file
/// a program writes, so they get the usual 0644 before being renamed into place.
pub(crate) fn make_readable(file: &tempfile::NamedTempFile) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}
