//! Where a running gateway listens, in a file of its data directory (`gateway.addr`:
//! its process id and address), so `keyadm client-config` names the port the gateway
//! really bound (`METAMCP_LISTEN=…:0` picks one) instead of guessing. Written once the
//! listener is bound, removed when the gateway stops; a file whose process is gone is
//! ignored.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const FILE: &str = "gateway.addr";

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// Records that this process listens on `local`. A data directory that cannot be
/// written is no reason not to serve: it is said in the log.
pub fn write(data_dir: &Path, local: SocketAddr) {
    let text = format!("{} {local}\n", std::process::id());
    if let Err(e) =
        std::fs::create_dir_all(data_dir).and_then(|()| std::fs::write(path(data_dir), text))
    {
        tracing::warn!(error = %e, dir = %data_dir.display(), "could not record the listening address");
    }
}

/// Removes the record, if it is this process's.
pub fn remove(data_dir: &Path) {
    if read_record(data_dir).is_some_and(|(pid, _)| pid == std::process::id()) {
        let _ = std::fs::remove_file(path(data_dir));
    }
}

/// The address of the gateway running on `data_dir`, if one is.
pub fn read(data_dir: &Path) -> Option<SocketAddr> {
    owner(data_dir).map(|(_, addr)| addr)
}

/// The process id and address of the gateway running on `data_dir`, if one is.
pub fn owner(data_dir: &Path) -> Option<(u32, SocketAddr)> {
    let (pid, addr) = read_record(data_dir)?;
    Path::new(&format!("/proc/{pid}"))
        .exists()
        .then_some((pid, addr))
}

fn read_record(data_dir: &Path) -> Option<(u32, SocketAddr)> {
    let text = std::fs::read_to_string(path(data_dir)).ok()?;
    let (pid, addr) = text.trim().split_once(' ')?;
    Some((pid.parse().ok()?, addr.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_names_a_running_gateway_only() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()), None);
        let at: SocketAddr = "127.0.0.1:40123".parse().unwrap();
        write(dir.path(), at);
        assert_eq!(read(dir.path()), Some(at));
        remove(dir.path());
        assert_eq!(read(dir.path()), None);
        // A record whose process is gone names nothing.
        std::fs::write(dir.path().join(FILE), "4194304999 127.0.0.1:1\n").unwrap();
        assert_eq!(read(dir.path()), None);
        std::fs::write(dir.path().join(FILE), "garbage").unwrap();
        assert_eq!(read(dir.path()), None);
    }
}
