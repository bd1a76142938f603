//! Where ssh masters outlive a run (`--persist SECONDS`): a private 0700
//! folder per user (`$RIGGER_SSH_DIR`, else `$XDG_RUNTIME_DIR/rigger/ssh`,
//! else `~/.cache/rigger/ssh`), never a shared temp folder. Each master lives
//! in a subfolder named by a hash of everything that shapes it (destination,
//! user, port, key, known-hosts files (and what they hold) and check, jump
//! hosts, ssh options, the ssh_config file and when it last changed), so a later run reuses a master
//! only when it would have made the same one; a dead one is swept quietly.

use super::target::Target;
use sha2::{Digest, Sha256};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A Unix socket path holds at most 108 bytes; openssh puts the socket at
/// `FOLDER/.ssh-connectionXXXXXX/master` (30 more).
const MAX_FOLDER_LEN: usize = 70;

/// A socket-less subfolder younger than this may be a master starting in
/// another run: left alone.
const STARTING: Duration = Duration::from_secs(120);

/// The per-user folder, made private (0700) if it is not; None when there is
/// no such place or it is not ours (then masters live for the run only).
pub fn root() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).map(PathBuf::from).filter(|p| p.is_absolute());
    let dir = env("RIGGER_SSH_DIR")
        .or_else(|| env("XDG_RUNTIME_DIR").map(|d| d.join("rigger/ssh")))
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("rigger/ssh")))
        .or_else(|| env("HOME").map(|d| d.join(".cache/rigger/ssh")))?;
    private_dir(&dir).ok()?;
    Some(dir)
}

/// Creates `dir` as 0700, or makes an existing one 0700: chmod succeeds only
/// for its owner, so a folder planted by someone else is refused.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// The subfolder of `root` for masters made as `target` with `config_text`
/// (the inventory's ssh options) and `check` (the host-key policy).
pub fn folder(root: &Path, target: &Target, config_text: &str, check: &str) -> Option<PathBuf> {
    let dir = root.join(identity(target, config_text, check));
    if dir.as_os_str().len() > MAX_FOLDER_LEN {
        return None;
    }
    private_dir(&dir).ok()?;
    Some(dir)
}

/// A hash of what makes a master: two runs that would start the same ssh
/// get the same name, any difference another.
fn identity(t: &Target, config_text: &str, check: &str) -> String {
    let config = t
        .config_file
        .clone()
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".ssh/config")));
    let changed = config.as_ref().and_then(|c| std::fs::metadata(c).ok()).map(|m| (m.len(), m.modified().ok()));
    let known = known_hosts(t);
    let what = format!(
        "{:?}",
        (
            &t.address,
            t.port,
            &t.user,
            &t.key,
            &t.known_hosts_file,
            &t.jump,
            &t.config_file,
            config_text,
            check,
            t.server_alive_interval,
            changed,
            known,
        )
    );
    let digest = Sha256::digest(what.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// What the known-hosts files hold, hashed: a master made while they said
/// one thing is not reused once they say another (a key removed, replaced
/// or forged), so the next run's ssh checks the host key again.
fn known_hosts(t: &Target) -> Vec<String> {
    let user = match &t.known_hosts_file {
        Some(files) => files.split_whitespace().map(PathBuf::from).collect(),
        None => std::env::var_os("HOME").map(|h| vec![PathBuf::from(h).join(".ssh/known_hosts")]).unwrap_or_default(),
    };
    user.into_iter()
        .chain([PathBuf::from("/etc/ssh/ssh_known_hosts")])
        .map(|f| match std::fs::read(&f) {
            Ok(bytes) => format!("{}:{:x}", f.display(), Sha256::digest(&bytes)),
            Err(_) => format!("{}:-", f.display()),
        })
        .collect()
}

/// The first live master in `dir`; dead ones (a socket no master answers,
/// or no socket and older than `STARTING`) are removed on the way.
pub async fn resume(dir: &Path) -> Option<openssh::Session> {
    let entries = std::fs::read_dir(dir).ok()?;
    for e in entries.flatten() {
        let sub = e.path();
        if !e.file_name().to_string_lossy().starts_with(".ssh-connection") {
            continue;
        }
        let ctl = sub.join("master");
        if ctl.exists() {
            let s = openssh::Session::resume_mux(ctl.into(), Some(sub.join("log").into()));
            if s.check().await.is_ok() {
                return Some(s);
            }
        } else {
            let age = e
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|m| SystemTime::now().duration_since(m).ok());
            if age.is_none_or(|a| a < STARTING) {
                continue;
            }
        }
        let _ = std::fs::remove_dir_all(&sub);
    }
    None
}

/// Removes a closed master's subfolder (its socket is gone with it).
pub fn forget(ctl: &Path) {
    if let Some(sub) =
        ctl.parent().filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(".ssh-connection")))
    {
        let _ = std::fs::remove_dir_all(sub);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target { name: "h1".into(), address: "10.0.0.1".into(), ..Target::default() }
    }

    #[test]
    fn the_identity_changes_with_anything_that_shapes_the_master() {
        let a = identity(&target(), "", "strict");
        assert_eq!(a, identity(&target(), "", "strict"), "the same master, the same name");
        assert_ne!(a, identity(&Target { port: Some(2222), ..target() }, "", "strict"));
        assert_ne!(a, identity(&Target { user: Some("deploy".into()), ..target() }, "", "strict"));
        assert_ne!(a, identity(&Target { address: "10.0.0.2".into(), ..target() }, "", "strict"));
        assert_ne!(a, identity(&Target { key: Some("/k".into()), ..target() }, "", "strict"));
        assert_ne!(a, identity(&target(), "Ciphers aes128-ctr\n", "strict"));
        assert_ne!(a, identity(&target(), "", "accept-new"));
        // A known-hosts file that now says another thing (a forged key): not the same master.
        let d = tempfile::tempdir().unwrap();
        let kh = d.path().join("known_hosts");
        std::fs::write(&kh, "10.0.0.1 ssh-ed25519 AAAAgenuine\n").unwrap();
        let with = Target { known_hosts_file: Some(kh.display().to_string()), ..target() };
        let before = identity(&with, "", "strict");
        assert_eq!(before, identity(&with, "", "strict"));
        std::fs::write(&kh, "10.0.0.1 ssh-ed25519 AAAAforged\n").unwrap();
        assert_ne!(before, identity(&with, "", "strict"), "a changed key is checked again by a new master");
    }

    #[test]
    fn the_folder_is_private_and_one_planted_open_is_closed() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("ssh");
        std::fs::create_dir(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
        private_dir(&root).unwrap();
        let sub = folder(&root, &target(), "", "strict").unwrap();
        for p in [&root, &sub] {
            assert_eq!(std::fs::metadata(p).unwrap().permissions().mode() & 0o777, 0o700, "{}", p.display());
        }
    }

    #[tokio::test]
    async fn a_dead_master_is_swept_and_a_starting_one_left_alone() {
        let d = tempfile::tempdir().unwrap();
        let dead = d.path().join(".ssh-connectionDEAD");
        std::fs::create_dir(&dead).unwrap();
        // A socket file no master answers.
        let _l = std::os::unix::net::UnixListener::bind(dead.join("master")).unwrap();
        drop(_l);
        let starting = d.path().join(".ssh-connectionNEW");
        std::fs::create_dir(&starting).unwrap();
        assert!(resume(d.path()).await.is_none());
        assert!(!dead.exists(), "a socket no master answers is swept");
        assert!(starting.exists(), "a master that may be starting is left alone");
    }
}
