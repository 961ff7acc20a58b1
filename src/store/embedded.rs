//! The embedded PostgreSQL cluster: created and started on demand under the data dir.
//!
//! Layout under `$METAMCP_DATA_DIR`:
//! ```text
//! postgres/          the cluster (PGDATA), owned by the user the server runs as
//! run/               its Unix socket (no TCP listener) and postgres.log
//! .postgres.lock     held while one process initialises or starts the cluster
//! .postgres.users    share-locked by every metamcp process using the cluster
//! ```
//! Whichever process finds the cluster stopped starts it; every other process reuses it.
//! A process that leaves cleanly stops the cluster when it was the last one using it
//! ([`ClusterUse::leave`]); a process starting meanwhile waits until it is stopped and
//! starts it again. Only the gateway creates a cluster; keyadm uses an existing one.
//! As root the server runs as the `postgres` system user, because initdb refuses root; the
//! data dir and its parents must then be traversable by that user. When they are not (a
//! clone under a 0700 home directory), nothing's permissions are changed: the cluster and
//! its socket move to `/var/lib/metamcp/clusters/<hash of the data dir>` (or
//! `$METAMCP_CLUSTER_ROOT/…`), `postgres` and `run` in the data dir become symlinks to
//! them, and a warning says so.

use std::ffi::{CString, OsStr};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The cluster's superuser and the gateway's role.
pub const SUPERUSER: &str = "metamcp";
/// The gateway's database inside the cluster.
pub const DATABASE: &str = "metamcp";
/// Only names the socket file (`.s.PGSQL.5432`): the cluster opens no TCP port.
const SOCKET_PORT: u16 = 5432;
/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;
const SERVER_BINARIES: [&str; 3] = ["initdb", "pg_ctl", "postgres"];
/// Where clusters of unreachable data dirs live (root only).
pub const CLUSTER_ROOT_VAR: &str = "METAMCP_CLUSTER_ROOT";
const DEFAULT_CLUSTER_ROOT: &str = "/var/lib/metamcp/clusters";

/// This process's use of the cluster (a shared lock on `.postgres.users`); dropping it
/// without [`leave`](ClusterUse::leave) leaves the cluster running.
#[derive(Debug)]
pub struct ClusterUse {
    file: File,
    cluster: Cluster,
}

impl ClusterUse {
    /// Stops using the cluster; stops it (fast) when no other metamcp process uses it.
    /// Whether it stopped it. Blocking.
    pub fn leave(self) -> Result<bool, EmbeddedError> {
        match self.file.try_lock() {
            Ok(()) => {
                self.cluster.stop(true)?;
                Ok(true)
            }
            Err(fs::TryLockError::WouldBlock) => Ok(false),
            Err(fs::TryLockError::Error(e)) => Err(EmbeddedError::Io {
                context: "locking .postgres.users".into(),
                source: e,
            }),
        }
    }
}

/// Why the embedded cluster could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH, via \
         `pg_config --bindir` or under /usr/lib/postgresql/*/bin: install PostgreSQL or set \
         DATABASE_URL"
    )]
    NoBinaries,
    #[error(
        "running as root, the embedded cluster needs the `postgres` system user (initdb refuses \
         root): create that user, run as another user, or set DATABASE_URL"
    )]
    NoPostgresUser,
    #[error(
        "the `postgres` user cannot reach {data_dir}: {blocked} has mode {mode:o}, and the \
         fallback location {fallback} is not usable either; make {blocked} traversable \
         (chmod o+x {blocked}) or choose another METAMCP_DATA_DIR"
    )]
    NotTraversable {
        data_dir: PathBuf,
        blocked: PathBuf,
        mode: u32,
        fallback: PathBuf,
    },
    #[error(
        "the socket path {0} is longer than a Unix socket allows ({MAX_SOCKET_PATH} bytes): \
         choose a shorter METAMCP_DATA_DIR"
    )]
    SocketPathTooLong(PathBuf),
    #[error(
        "no metamcp database at {0}: start the gateway once to create it (`metamcp`, with the \
         same --data-dir / METAMCP_DATA_DIR), or set DATABASE_URL. The data directory is \
         --data-dir, else METAMCP_DATA_DIR, else $XDG_DATA_HOME/metamcp, else \
         ~/.local/share/metamcp"
    )]
    Missing(PathBuf),
    #[error("{action} failed: {detail}")]
    Command { action: String, detail: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> EmbeddedError {
    let context = context.into();
    move |source| EmbeddedError::Io { context, source }
}

/// The system user the cluster runs as, when this process is root.
#[derive(Clone, Copy, Debug)]
struct Owner {
    uid: u32,
    gid: u32,
}

/// A private PostgreSQL cluster under a data dir.
#[derive(Clone, Debug)]
pub struct Cluster {
    data_dir: PathBuf,
    pgdata: PathBuf,
    socket_dir: PathBuf,
    bin_dir: PathBuf,
    /// `Some` when running as root: commands and files switch to this user.
    owner: Option<Owner>,
    /// Durability off (fsync, synchronous commit): for throwaway test clusters only.
    unsynced: bool,
}

impl Cluster {
    /// Finds the binaries and the user to run as. Touches nothing, except creating the
    /// relocation home when the data dir is unreachable (see the module docs).
    pub fn locate(data_dir: &Path) -> Result<Cluster, EmbeddedError> {
        let root = std::env::var_os(CLUSTER_ROOT_VAR)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CLUSTER_ROOT));
        Cluster::locate_with_root(data_dir, &root)
    }

    /// [`Cluster::locate`] with an explicit relocation root.
    pub fn locate_with_root(
        data_dir: &Path,
        cluster_root: &Path,
    ) -> Result<Cluster, EmbeddedError> {
        let data_dir = std::path::absolute(data_dir)
            .map_err(io_err(format!("resolving {}", data_dir.display())))?;
        let bin_dir = find_bin_dir().ok_or(EmbeddedError::NoBinaries)?;
        let owner = if euid() == 0 {
            Some(lookup_user("postgres").ok_or(EmbeddedError::NoPostgresUser)?)
        } else {
            None
        };
        let home = match owner {
            Some(o) => match first_blocked(&data_dir, o) {
                None => data_dir.clone(),
                Some(blocked) => {
                    let home = cluster_root
                        .join(to_hex_u64(fnv1a(data_dir.as_os_str().as_encoded_bytes())));
                    Relocation::check(&data_dir, &blocked, &home, o)?;
                    home
                }
            },
            None => data_dir.clone(),
        };
        let socket_dir = home.join("run");
        let socket = socket_dir.join(format!(".s.PGSQL.{SOCKET_PORT}"));
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(EmbeddedError::SocketPathTooLong(socket));
        }
        Ok(Cluster {
            pgdata: home.join("postgres"),
            socket_dir,
            data_dir,
            bin_dir,
            owner,
            unsynced: false,
        })
    }

    /// Where the cluster's files really are: the data dir, or the relocation home.
    pub fn pgdata(&self) -> &Path {
        &self.pgdata
    }

    fn relocated(&self) -> bool {
        self.pgdata.parent() != Some(self.data_dir.as_path())
    }

    /// Turns durability off: for test clusters that are thrown away.
    pub fn unsynced(mut self) -> Cluster {
        self.unsynced = true;
        self
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// Connection settings for `dbname` over the cluster's socket.
    pub fn pg_config(&self, dbname: &str) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host_path(&self.socket_dir)
            .port(SOCKET_PORT)
            .user(SUPERUSER)
            .dbname(dbname)
            .application_name("metamcp");
        c
    }

    /// A `DATABASE_URL` for `dbname` over the cluster's socket, for child processes.
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "postgresql:///{}?host={}&port={SOCKET_PORT}&user={SUPERUSER}",
            percent_encode(dbname),
            percent_encode(&self.socket_dir.to_string_lossy())
        )
    }

    /// Joins the cluster's users (waiting while a leaving process stops it), then starts
    /// it if it is stopped, creating it first if `create` (else a missing cluster is
    /// [`EmbeddedError::Missing`]). Blocking.
    pub fn open_for_use(&self, create: bool) -> Result<ClusterUse, EmbeddedError> {
        if !create && !self.pgdata.join("PG_VERSION").is_file() {
            return Err(EmbeddedError::Missing(self.data_dir.clone()));
        }
        self.prepare_data_dir()?;
        let path = self.data_dir.join(".postgres.users");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err(format!("opening {}", path.display())))?;
        file.lock_shared()
            .map_err(io_err(format!("locking {}", path.display())))?;
        self.ensure_running()?;
        Ok(ClusterUse {
            file,
            cluster: self.clone(),
        })
    }

    /// Creates the cluster if it does not exist and starts it if it is stopped.
    ///
    /// Blocking: call it from a blocking context. Concurrent callers, in this process or
    /// others, serialise on a lock file; the later ones find the cluster running.
    pub fn ensure_running(&self) -> Result<(), EmbeddedError> {
        self.prepare_data_dir()?;
        let lock_path = self.data_dir.join(".postgres.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io_err(format!("opening {}", lock_path.display())))?;
        lock.lock()
            .map_err(io_err(format!("locking {}", lock_path.display())))?;
        let result = self.ensure_running_locked();
        // Closing the file releases the lock too; unlocking first makes the order explicit.
        let _ = lock.unlock();
        result
    }

    fn ensure_running_locked(&self) -> Result<(), EmbeddedError> {
        if !self.pgdata.join("PG_VERSION").is_file() {
            self.init()?;
        }
        self.make_owned_dir(&self.socket_dir, 0o700)?;
        self.write_settings()?;
        if !self.is_running()? {
            self.start()?;
        }
        Ok(())
    }

    /// Whether a postmaster is running on this cluster (`pg_ctl status`).
    pub fn is_running(&self) -> Result<bool, EmbeddedError> {
        if !self.pgdata.join("PG_VERSION").is_file() {
            return Ok(false);
        }
        let out = self.run(
            "pg_ctl",
            [
                OsStr::new("status"),
                OsStr::new("-D"),
                self.pgdata.as_os_str(),
            ],
        )?;
        // 0: running; 3: not running; 4: no accessible data directory.
        match out.status.code() {
            Some(0) => Ok(true),
            Some(3) => Ok(false),
            _ => Err(command_failed("pg_ctl status", &out)),
        }
    }

    /// Stops the server. `fast` rolls back open transactions and disconnects clients;
    /// otherwise `immediate`, for throwaway clusters.
    pub fn stop(&self, fast: bool) -> Result<(), EmbeddedError> {
        if !self.is_running()? {
            return Ok(());
        }
        let mode = if fast { "fast" } else { "immediate" };
        let out = self.run(
            "pg_ctl",
            [
                OsStr::new("stop"),
                OsStr::new("-D"),
                self.pgdata.as_os_str(),
                OsStr::new("-m"),
                OsStr::new(mode),
                OsStr::new("-w"),
                OsStr::new("-s"),
            ],
        )?;
        if out.status.success() {
            Ok(())
        } else {
            Err(command_failed("pg_ctl stop", &out))
        }
    }

    /// Creates the data dir (traversable by the server's user) and, when the cluster lives
    /// elsewhere, that home and the symlinks pointing to it.
    fn prepare_data_dir(&self) -> Result<(), EmbeddedError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&self.data_dir)
            .map_err(io_err(format!("creating {}", self.data_dir.display())))?;
        if self.relocated()
            && let Some(home) = self.pgdata.parent()
        {
            DirBuilder::new()
                .recursive(true)
                .mode(0o711)
                .create(home)
                .map_err(io_err(format!("creating {}", home.display())))?;
            for (link, target) in [("postgres", &self.pgdata), ("run", &self.socket_dir)] {
                let link = self.data_dir.join(link);
                if fs::symlink_metadata(&link).is_err() {
                    std::os::unix::fs::symlink(target, &link)
                        .map_err(io_err(format!("linking {}", link.display())))?;
                }
            }
            tracing::warn!(
                data_dir = %self.data_dir.display(),
                cluster = %home.display(),
                "the postgres user cannot traverse the data dir's parents; the embedded \
                 cluster lives in the cluster directory instead (linked from the data dir)"
            );
        }
        Ok(())
    }

    /// initdb into a scratch directory, then rename: a crash never leaves a half cluster
    /// where the next start would find it.
    fn init(&self) -> Result<(), EmbeddedError> {
        let home = self.pgdata.parent().unwrap_or(&self.data_dir);
        let scratch = home.join(format!("postgres.init-{}", std::process::id()));
        if scratch.exists() {
            fs::remove_dir_all(&scratch)
                .map_err(io_err(format!("removing {}", scratch.display())))?;
        }
        self.make_owned_dir(&scratch, 0o700)?;
        let out = self.run(
            "initdb",
            [
                OsStr::new("-D"),
                scratch.as_os_str(),
                OsStr::new("-U"),
                OsStr::new(SUPERUSER),
                OsStr::new("--auth=trust"),
                OsStr::new("--encoding=UTF8"),
                OsStr::new("--no-locale"),
                OsStr::new("--no-instructions"),
            ],
        )?;
        if !out.status.success() {
            let _ = fs::remove_dir_all(&scratch);
            return Err(command_failed("initdb", &out));
        }
        let conf = scratch.join("postgresql.conf");
        let mut f = OpenOptions::new()
            .append(true)
            .open(&conf)
            .map_err(io_err(format!("opening {}", conf.display())))?;
        f.write_all(b"\n# metamcp: socket-only settings, rewritten at every start\ninclude_if_exists = 'metamcp.conf'\n")
            .map_err(io_err(format!("writing {}", conf.display())))?;
        fs::rename(&scratch, &self.pgdata).map_err(io_err(format!(
            "renaming {} to {}",
            scratch.display(),
            self.pgdata.display()
        )))?;
        Ok(())
    }

    /// Socket-only listening in the data dir, rewritten at every start so a moved data dir
    /// follows along.
    fn write_settings(&self) -> Result<(), EmbeddedError> {
        let socket = self.socket_dir.to_string_lossy().replace('\'', "''");
        let mut text = format!(
            "listen_addresses = ''\nunix_socket_directories = '{socket}'\n\
             unix_socket_permissions = 0700\nmax_connections = 200\n"
        );
        if self.unsynced {
            text.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        let path = self.pgdata.join("metamcp.conf");
        if fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        fs::write(&path, text).map_err(io_err(format!("writing {}", path.display())))?;
        self.chown(&path)
    }

    fn start(&self) -> Result<(), EmbeddedError> {
        let log = self.socket_dir.join("postgres.log");
        let out = self.run(
            "pg_ctl",
            [
                OsStr::new("start"),
                OsStr::new("-D"),
                self.pgdata.as_os_str(),
                OsStr::new("-l"),
                log.as_os_str(),
                OsStr::new("-w"),
                OsStr::new("-t"),
                OsStr::new("60"),
                OsStr::new("-s"),
            ],
        )?;
        if out.status.success() {
            return Ok(());
        }
        let mut err = command_failed("pg_ctl start", &out);
        if let (EmbeddedError::Command { detail, .. }, Ok(text)) =
            (&mut err, fs::read_to_string(&log))
        {
            let tail: Vec<&str> = text.lines().rev().take(5).collect();
            for line in tail.into_iter().rev() {
                detail.push_str("\n  ");
                detail.push_str(line);
            }
        }
        Err(err)
    }

    fn make_owned_dir(&self, dir: &Path, mode: u32) -> Result<(), EmbeddedError> {
        match DirBuilder::new().mode(mode).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err(format!("creating {}", dir.display()))(e)),
        }
        self.chown(dir)
    }

    fn chown(&self, path: &Path) -> Result<(), EmbeddedError> {
        if let Some(o) = self.owner {
            std::os::unix::fs::chown(path, Some(o.uid), Some(o.gid))
                .map_err(io_err(format!("changing owner of {}", path.display())))?;
        }
        Ok(())
    }

    /// Runs one of the server binaries as the cluster's user, capturing its output.
    fn run<I, S>(&self, program: &str, args: I) -> Result<Output, EmbeddedError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(self.bin_dir.join(program));
        cmd.args(args)
            .current_dir(self.pgdata.parent().unwrap_or(Path::new("/")))
            .env_remove("PGDATA")
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(o) = self.owner {
            cmd.uid(o.uid).gid(o.gid);
        }
        cmd.output().map_err(io_err(format!("running {program}")))
    }
}

fn command_failed(action: &str, out: &Output) -> EmbeddedError {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    EmbeddedError::Command {
        action: action.to_string(),
        detail: format!("{} ({})", text.trim(), out.status),
    }
}

/// initdb, pg_ctl and postgres side by side: PATH first, then `pg_config --bindir`, then
/// the newest `/usr/lib/postgresql/<version>/bin`.
fn find_bin_dir() -> Option<PathBuf> {
    let complete = |dir: &Path| SERVER_BINARIES.iter().all(|b| dir.join(b).is_file());
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let initdb = dir.join("initdb");
            if let Ok(real) = fs::canonicalize(&initdb)
                && let Some(parent) = real.parent()
                && complete(parent)
            {
                return Some(parent.to_path_buf());
            }
            if complete(&dir) {
                return Some(dir);
            }
        }
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if complete(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, dir)| complete(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

/// The effective user id of this process.
#[allow(unsafe_code)] // a libc call without preconditions
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// uid and gid of a system user, via the reentrant getpwnam_r.
#[allow(unsafe_code)] // getpwnam_r into a local buffer
fn lookup_user(name: &str) -> Option<Owner> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: passwd is plain old data; getpwnam_r fills it and points its strings into
    // `buf`, which outlives every use; `result` is checked before reading.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        Some(Owner {
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
        })
    }
}

/// The first directory on the way to `dir` (inclusive) that `owner` may not enter.
fn first_blocked(dir: &Path, owner: Owner) -> Option<(PathBuf, u32)> {
    let mut chain: Vec<&Path> = dir.ancestors().collect();
    chain.reverse();
    for d in chain {
        // A directory that does not exist yet will be created traversable.
        let Ok(meta) = fs::metadata(d) else {
            return None;
        };
        let mode = meta.mode();
        let can_enter = if meta.uid() == owner.uid {
            mode & 0o100 != 0
        } else if meta.gid() == owner.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !can_enter {
            return Some((d.to_path_buf(), mode & 0o7777));
        }
    }
    None
}

/// Checks that a relocation home would be reachable.
struct Relocation;

impl Relocation {
    fn check(
        data_dir: &Path,
        blocked: &(PathBuf, u32),
        home: &Path,
        owner: Owner,
    ) -> Result<(), EmbeddedError> {
        let unusable = || EmbeddedError::NotTraversable {
            data_dir: data_dir.to_path_buf(),
            blocked: blocked.0.clone(),
            mode: blocked.1,
            fallback: home.to_path_buf(),
        };
        if first_blocked(home, owner).is_some() {
            return Err(unusable());
        }
        DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(home)
            .map_err(|_| unusable())
    }
}

/// FNV-1a: a stable, dependency-free name for a data dir's relocation home.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn to_hex_u64(v: u64) -> String {
    format!("{v:016x}")
}

/// Percent-encodes everything outside the URL-safe set (for socket paths in URLs).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads a secret file from the data dir, generating it (mode 0600) if absent.
///
/// Generation writes a private scratch file and hard-links it into place, which fails if
/// another process got there first; that process's value is then read and used.
pub fn load_or_generate_secret(
    data_dir: &Path,
    name: &str,
    generate: impl FnOnce() -> String,
) -> Result<String, EmbeddedError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(data_dir)
        .map_err(io_err(format!("creating {}", data_dir.display())))?;
    let path = data_dir.join(name);
    if let Ok(text) = fs::read_to_string(&path) {
        return Ok(text.trim().to_string());
    }
    let scratch = data_dir.join(format!(".{name}.{}", std::process::id()));
    let value = generate();
    {
        let mut f: File = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&scratch)
            .map_err(io_err(format!("creating {}", scratch.display())))?;
        f.write_all(value.as_bytes())
            .and_then(|_| f.write_all(b"\n"))
            .and_then(|_| f.sync_all())
            .map_err(io_err(format!("writing {}", scratch.display())))?;
    }
    let linked = fs::hard_link(&scratch, &path);
    let _ = fs::remove_file(&scratch);
    match linked {
        Ok(()) => Ok(value),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => fs::read_to_string(&path)
            .map(|t| t.trim().to_string())
            .map_err(io_err(format!("reading {}", path.display()))),
        Err(e) => Err(io_err(format!("creating {}", path.display()))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_socket_paths() {
        assert_eq!(percent_encode("/tmp/a b"), "/tmp/a%20b");
        assert_eq!(percent_encode("x&y=z"), "x%26y%3Dz");
    }

    #[test]
    fn secret_files_are_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_generate_secret(dir.path(), "s", || "one".into()).unwrap();
        let b = load_or_generate_secret(dir.path(), "s", || "two".into()).unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("one", "one"));
        let mode = fs::metadata(dir.path().join("s")).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // No scratch files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
