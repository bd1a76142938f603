//! A host's sh kept open for the whole run: the probe, every unit's apply
//! script and the lock's release go down one SSH session (one channel of the
//! master) instead of one each. Each script runs in a subshell of its own
//! (its variables, traps and `exit` stay in it; its stdin is /dev/null), and
//! its answer is read up to a terminator line printed after it on stdout
//! and on stderr. A shell that ends before its terminator (sudo refused, a
//! syntax error, a lost connection) is finished and not used again.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The process behind the channel, waited for when the shell ends.
enum Proc {
    Ssh(openssh::Child<Arc<openssh::Session>>),
    Local(tokio::process::Child),
}

/// One output stream of the shell and what was read past the last answer.
struct Stream {
    r: Pin<Box<dyn AsyncRead + Send>>,
    buf: Vec<u8>,
}

/// What a script printed and how it exited (`None`: by a signal, or unknown).
pub struct Answer {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub code: Option<i32>,
}

/// Why a shell could not be used or finished.
#[derive(Debug)]
pub enum ChannelError {
    /// The pipes of the started process were not there.
    NoPipes,
    Io(io::Error),
    /// Waiting for the ssh session's end failed: the connection is gone.
    Lost(openssh::Error),
}

pub struct Channel {
    stdin: Pin<Box<dyn AsyncWrite + Send>>,
    stdout: Stream,
    stderr: Stream,
    proc: Proc,
    /// The master this channel runs over (a replaced master means a new shell).
    pub master: Option<Arc<openssh::Session>>,
}

impl Channel {
    /// The shell of a started ssh command (stdin, stdout and stderr piped).
    pub fn ssh(mut child: openssh::Child<Arc<openssh::Session>>) -> Result<Self, ChannelError> {
        let stdin = child.stdin().take().ok_or(ChannelError::NoPipes)?;
        let stdout = child.stdout().take().ok_or(ChannelError::NoPipes)?;
        let stderr = child.stderr().take().ok_or(ChannelError::NoPipes)?;
        let master = Some(child.session());
        Ok(Channel {
            stdin: Box::pin(stdin),
            stdout: Stream { r: Box::pin(stdout), buf: Vec::new() },
            stderr: Stream { r: Box::pin(stderr), buf: Vec::new() },
            proc: Proc::Ssh(child),
            master,
        })
    }

    /// The shell of a started local sh (stdin, stdout and stderr piped).
    pub fn local(mut child: tokio::process::Child) -> Result<Self, ChannelError> {
        let stdin = child.stdin.take().ok_or(ChannelError::NoPipes)?;
        let stdout = child.stdout.take().ok_or(ChannelError::NoPipes)?;
        let stderr = child.stderr.take().ok_or(ChannelError::NoPipes)?;
        Ok(Channel {
            stdin: Box::pin(stdin),
            stdout: Stream { r: Box::pin(stdout), buf: Vec::new() },
            stderr: Stream { r: Box::pin(stderr), buf: Vec::new() },
            proc: Proc::Local(child),
            master: None,
        })
    }

    /// Writes `bytes` (what the shell reads first: a sudo password) as they are.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        self.stdin.write_all(bytes).await.map_err(ChannelError::Io)?;
        self.stdin.flush().await.map_err(ChannelError::Io)
    }

    /// Runs `script` in a subshell and reads its answer. `Ok(None)`: the
    /// shell ended before answering in full; `finish` tells what it said.
    pub async fn run(&mut self, script: &str) -> Result<Option<Answer>, ChannelError> {
        let end = terminator();
        let nl = if script.ends_with('\n') { "" } else { "\n" };
        let text = format!(
            "(\n{script}{nl}) </dev/null\nprintf '\\n%s %s\\n' '{end}' \"$?\"\nprintf '\\n%s\\n' '{end}' >&2\n"
        );
        let out_tag = format!("\n{end} ");
        let err_tag = format!("\n{end}\n");
        let Channel { stdin, stdout, stderr, .. } = self;
        let write = async {
            stdin.write_all(text.as_bytes()).await?;
            stdin.flush().await
        };
        let (written, out, err) =
            tokio::join!(write, stdout.read_to(out_tag.as_bytes()), stderr.read_to(err_tag.as_bytes()));
        written.map_err(ChannelError::Io)?;
        let (Some((stdout, code)), Some((stderr, _))) =
            (out.map_err(ChannelError::Io)?, err.map_err(ChannelError::Io)?)
        else {
            return Ok(None);
        };
        let code = String::from_utf8_lossy(&code).trim().parse().ok();
        Ok(Some(Answer { stdout, stderr, code }))
    }

    /// Closes the shell's stdin (it exits at the end of its input) and
    /// reads what it still printed: the last answer of a shell that ended.
    pub async fn finish(mut self) -> Result<Answer, ChannelError> {
        self.stdin.shutdown().await.ok();
        drop(self.stdin);
        let (mut out, mut err) = (self.stdout, self.stderr);
        let (a, b) = tokio::join!(out.r.read_to_end(&mut out.buf), err.r.read_to_end(&mut err.buf));
        a.and(b).map_err(ChannelError::Io)?;
        let code = match self.proc {
            Proc::Ssh(child) => child.wait().await.map_err(ChannelError::Lost)?.code(),
            Proc::Local(mut child) => child.wait().await.map_err(ChannelError::Io)?.code(),
        };
        Ok(Answer { stdout: out.buf, stderr: err.buf, code })
    }
}

impl Stream {
    /// Reads up to `tag` and the rest of its line: (what came before, the
    /// rest of the tag's line). `None` at the end of the stream, the bytes
    /// read kept for `finish`.
    async fn read_to(&mut self, tag: &[u8]) -> io::Result<Option<(Vec<u8>, Vec<u8>)>> {
        let mut from = 0;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some(at) = find(&self.buf[from..], tag).map(|i| i + from) {
                let after = at + tag.len();
                // The stderr tag ends with its newline; the stdout one is followed by the exit code's line.
                let line_end = if tag.ends_with(b"\n") {
                    Some(after)
                } else {
                    self.buf[after..].iter().position(|&b| b == b'\n').map(|i| after + i + 1)
                };
                if let Some(line_end) = line_end {
                    let rest = self.buf.split_off(line_end);
                    let line = self.buf[after..line_end].to_vec();
                    self.buf.truncate(at);
                    return Ok(Some((std::mem::replace(&mut self.buf, rest), line)));
                }
            }
            from = self.buf.len().saturating_sub(tag.len());
            let n = self.r.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A line no script prints by chance: the time and the process id.
fn terminator() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("@@rigger-done-{nanos:x}-{}@@", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    fn shell() -> Channel {
        let child = tokio::process::Command::new("sh")
            .arg("-s")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Channel::local(child).unwrap()
    }

    #[tokio::test]
    async fn scripts_share_one_shell_but_nothing_else() {
        let mut sh = shell();
        let a = sh.run("x=1; echo \"pid $$\"; printf 'no newline'; echo oops >&2; exit 3").await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&a.stdout).ends_with("no newline"), "output kept as printed");
        assert_eq!(a.stderr, b"oops\n");
        assert_eq!(a.code, Some(3), "`exit` ends the script's subshell, not the shell");
        let b = sh.run("echo \"x=${x:-unset}\"; read -r l; echo \"read ${l:-nothing}\"").await.unwrap().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&b.stdout),
            "x=unset\nread nothing\n",
            "no variable leaks; stdin is /dev/null"
        );
        assert_eq!(b.code, Some(0));
        // A big answer, larger than any pipe buffer, on both streams at once.
        let c = sh
            .run("i=0; while [ $i -lt 20000 ]; do echo line$i; echo err$i >&2; i=$((i+1)); done")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&c.stdout).lines().count(), 20000);
        assert_eq!(String::from_utf8_lossy(&c.stderr).lines().last(), Some("err19999"));
    }

    #[tokio::test]
    async fn a_shell_that_ends_says_so_and_finish_reads_its_last_words() {
        let mut sh = shell();
        // A syntax error ends a non-interactive sh: no terminator comes.
        assert!(sh.run("if then fi").await.unwrap().is_none());
        let last = sh.finish().await.unwrap();
        assert!(
            String::from_utf8_lossy(&last.stderr).to_lowercase().contains("syntax error"),
            "{:?}",
            String::from_utf8_lossy(&last.stderr)
        );
        assert_eq!(last.code, Some(2));
    }
}
