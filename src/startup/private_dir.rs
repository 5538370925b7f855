//! The data directory holds customer data and, in development, private keys: it is created
//! 0700, everything in it is made owner-only (0600 files, 0700 directories) at every start, and
//! files created later inherit that through a 0077 umask. A directory that group or others can
//! write is refused: someone else could replace the database under the service.

use std::path::Path;

use anyhow::{bail, Context};

/// Prepares `dir` as described in the module documentation.
pub(crate) fn prepare(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o077));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("while creating the data directory {}", dir.display()))?;
        let mode = std::fs::metadata(dir)
            .with_context(|| format!("while reading {}", dir.display()))?
            .permissions()
            .mode();
        if mode & 0o022 != 0 {
            bail!(
                "refusing to use the data directory {}: group or others can write to it (mode \
                 {:03o}); run `chmod 700 {}`",
                dir.display(),
                mode & 0o777,
                dir.display()
            );
        }
        restrict(dir).with_context(|| format!("while restricting {} to its owner", dir.display()))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("while creating the data directory {}", dir.display()))
    }
}

/// Makes `path` and everything under it owner-only (symbolic links are not followed).
#[cfg(unix)]
fn restrict(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    let mode = meta.permissions().mode() & 0o777;
    if meta.is_dir() {
        if mode != 0o700 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
        }
        for entry in std::fs::read_dir(path)? {
            restrict(&entry?.path())?;
        }
    } else if meta.is_file() && mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
    }
    Ok(())
}
