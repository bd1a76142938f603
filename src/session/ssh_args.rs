//! The ssh options an inventory passes in `ansible_ssh_args`,
//! `ansible_ssh_common_args` and `ansible_ssh_extra_args`, split as a shell
//! splits them (Ansible does the same). Every option reaches ssh, as an
//! `ssh_config` line (an `-o` option is one already); rigger interprets only
//! what it sets itself on the command line of its master, where a config
//! line would lose: the destination (`-p`, `-l`, `-i`, `-J`, `-F`), host keys
//! and the two timers. The options that make the master what it is
//! (`ControlMaster`, `ControlPath`, `ControlPersist`, `BatchMode`) are
//! rigger's own: they are set aside and named, never silently lost.

/// The options of a host, read in the order ssh would: the first value of
/// an option wins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SshArgs {
    /// `ssh_config` lines, as given (`Key=Value` or `Key Value`).
    pub options: Vec<String>,
    pub key: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub jump: Option<String>,
    pub config_file: Option<String>,
    pub known_hosts_file: Option<String>,
    /// `StrictHostKeyChecking`: `yes` or `ask` is strict.
    pub strict: Option<bool>,
    pub connect_timeout: Option<u64>,
    pub server_alive_interval: Option<u64>,
    /// Options set aside because rigger's master sets them (see `OWN`).
    pub overridden: Vec<String>,
}

/// What rigger's master sets itself, whatever the inventory says.
pub const OWN: [&str; 4] = ["ControlMaster", "ControlPath", "ControlPersist", "BatchMode"];

/// Why an inventory's ssh arguments cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SshArgsError {
    #[error("unbalanced quotes")]
    Quotes,
    #[error("`{0}` needs a value")]
    NoValue(String),
    #[error("`{0}` is not an ssh option (expected -o, -i, -p, -l, -J, -F or another flag of ssh)")]
    NotAnOption(String),
    #[error(
        "ssh flag `-{0}` has no meaning for rigger's connection (it runs one master per host and sends scripts \
         over it)"
    )]
    Meaningless(char),
    #[error("`{0}` is not a port number (1-65535)")]
    BadPort(String),
    #[error("`{key}` is not a number of seconds: `{value}`")]
    BadSeconds { key: String, value: String },
    #[error("ssh option `{0}` cannot be given here (ssh accepts it only in a config file)")]
    NotHere(String),
}

/// ssh's flags that take a value (its getopt string).
const TAKES_VALUE: &str = "bceilmopBDEFIJLOPQRSwW";

/// Flags without a value, as the `ssh_config` line each stands for.
fn flag_option(c: char) -> Option<&'static str> {
    Some(match c {
        '4' => "AddressFamily inet",
        '6' => "AddressFamily inet6",
        'A' => "ForwardAgent yes",
        'a' => "ForwardAgent no",
        'C' => "Compression yes",
        'g' => "GatewayPorts yes",
        'K' => "GSSAPIDelegateCredentials yes",
        'k' => "GSSAPIDelegateCredentials no",
        'q' => "LogLevel QUIET",
        'v' => "LogLevel VERBOSE",
        'X' => "ForwardX11 yes",
        'x' => "ForwardX11 no",
        'Y' => "ForwardX11Trusted yes",
        _ => return None,
    })
}

/// Flags with a value that map to one `ssh_config` keyword.
fn value_option(c: char) -> Option<&'static str> {
    Some(match c {
        'b' => "BindAddress",
        'B' => "BindInterface",
        'c' => "Ciphers",
        'D' => "DynamicForward",
        'e' => "EscapeChar",
        'I' => "PKCS11Provider",
        'm' => "MACs",
        'P' => "Tag",
        _ => return None,
    })
}

impl SshArgs {
    /// Adds the options of one variable's text.
    pub fn parse(&mut self, text: &str) -> Result<(), SshArgsError> {
        let words = shlex::split(text).ok_or(SshArgsError::Quotes)?;
        let mut it = words.into_iter();
        while let Some(word) = it.next() {
            let flags = word.strip_prefix('-').filter(|f| !f.is_empty() && !word.starts_with("--"));
            let flags = flags.ok_or_else(|| SshArgsError::NotAnOption(word.clone()))?;
            for (i, c) in flags.char_indices() {
                if TAKES_VALUE.contains(c) {
                    let rest = &flags[i + c.len_utf8()..];
                    let value = match rest {
                        "" => it.next().ok_or_else(|| SshArgsError::NoValue(format!("-{c}")))?,
                        r => r.to_string(),
                    };
                    self.flag(c, value)?;
                    break;
                }
                match (flag_option(c), c) {
                    (Some(line), _) => self.option(line)?,
                    // No tty, no stdin: what the master does anyway.
                    (None, 'T' | 'n') => {}
                    (None, 'M' | 'N' | 'f') => self.overridden.push(format!("-{c}")),
                    (None, c) => return Err(SshArgsError::Meaningless(c)),
                }
            }
        }
        Ok(())
    }

    /// A flag that takes a value.
    fn flag(&mut self, c: char, value: String) -> Result<(), SshArgsError> {
        match c {
            'o' => self.option(&value)?,
            'i' => set(&mut self.key, value),
            'p' => {
                let port = value.parse::<u16>().ok().filter(|p| *p > 0).ok_or(SshArgsError::BadPort(value))?;
                self.port.get_or_insert(port);
            }
            'l' => set(&mut self.user, value),
            'J' => set(&mut self.jump, value),
            'F' => set(&mut self.config_file, value),
            // `-E log`: the master's log is where rigger reads why a connection failed.
            'S' | 'O' | 'W' | 'E' => self.overridden.push(format!("-{c}")),
            c => match value_option(c) {
                Some(key) => self.option(&format!("{key} {value}"))?,
                None => return Err(SshArgsError::Meaningless(c)),
            },
        }
        Ok(())
    }

    /// One `-o` option: interpreted, set aside, or kept as a config line.
    fn option(&mut self, line: &str) -> Result<(), SshArgsError> {
        let line = line.trim();
        let split = line.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(line.len());
        let (key, value) = (&line[..split], line[split..].trim_start().trim_start_matches('=').trim());
        if value.is_empty() {
            return Err(SshArgsError::NoValue(key.to_string()));
        }
        if line.contains('\n') || ["include", "match", "host"].contains(&key.to_ascii_lowercase().as_str()) {
            return Err(SshArgsError::NotHere(key.to_string()));
        }
        let seconds = |v: &str| {
            v.trim_end_matches('s')
                .parse::<u64>()
                .map_err(|_| SshArgsError::BadSeconds { key: key.to_string(), value: v.to_string() })
        };
        match key.to_ascii_lowercase().as_str() {
            k if OWN.iter().any(|o| o.eq_ignore_ascii_case(k)) => self.overridden.push(key.to_string()),
            "userknownhostsfile" => set(&mut self.known_hosts_file, value.to_string()),
            "stricthostkeychecking" => {
                let strict = matches!(value.to_ascii_lowercase().as_str(), "yes" | "ask");
                self.strict.get_or_insert(strict);
            }
            "proxyjump" => set(&mut self.jump, value.to_string()),
            "identityfile" => set(&mut self.key, value.to_string()),
            "user" => set(&mut self.user, value.to_string()),
            "port" => return self.flag('p', value.to_string()),
            "connecttimeout" => {
                let s = seconds(value)?;
                self.connect_timeout.get_or_insert(s);
            }
            "serveraliveinterval" => {
                let s = seconds(value)?;
                self.server_alive_interval.get_or_insert(s);
            }
            _ => self.options.push(line.to_string()),
        }
        Ok(())
    }

    /// The `ssh_config` text that carries `options` for `address` only (not
    /// for a jump host on the way), then the config ssh would read without
    /// `-F`: the user's (or the `-F` file given) and the system's.
    pub fn config(&self, address: &str) -> String {
        let mut out = String::from("# Written by rigger: the ssh options of the inventory.\n");
        let plain = !address.is_empty() && !address.contains(|c: char| c.is_whitespace() || "\"',*?!".contains(c));
        if plain {
            out.push_str(&format!("Match originalhost {address}\n"));
        }
        for o in &self.options {
            out.push_str(&format!("  {o}\n"));
        }
        out.push_str("Match all\n");
        match &self.config_file {
            Some(f) => out.push_str(&format!("Include \"{}\"\n", f.replace('"', ""))),
            None => out.push_str("Include ~/.ssh/config\nInclude /etc/ssh/ssh_config\n"),
        }
        out
    }
}

/// ssh keeps the first value given for an option.
fn set(slot: &mut Option<String>, value: String) {
    slot.get_or_insert(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SshArgs, SshArgsError> {
        let mut a = SshArgs::default();
        a.parse(text)?;
        Ok(a)
    }

    #[test]
    fn every_option_is_kept_and_quotes_are_a_shells() {
        let a = parse(
            "-o ProxyCommand='ssh -W %h:%p bastion' -o ForwardAgent=yes -o 'ServerAliveCountMax 5' \
             -oIdentitiesOnly=yes -o KexAlgorithms=curve25519-sha256 -o LogLevel=ERROR -C -A",
        )
        .unwrap();
        assert_eq!(
            a.options,
            [
                "ProxyCommand=ssh -W %h:%p bastion",
                "ForwardAgent=yes",
                "ServerAliveCountMax 5",
                "IdentitiesOnly=yes",
                "KexAlgorithms=curve25519-sha256",
                "LogLevel=ERROR",
                "Compression yes",
                "ForwardAgent yes"
            ]
        );
        assert!(a.overridden.is_empty());
    }

    #[test]
    fn what_the_master_sets_on_its_command_line_is_interpreted() {
        let a = parse(
            "-i '/keys/a b' -p 2222 -l deploy -J jump1,jump2 -F /etc/rigger/ssh_config -o ConnectTimeout=7 \
             -o ServerAliveInterval=15 -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=/k -p 2223",
        )
        .unwrap();
        assert_eq!(a.key.as_deref(), Some("/keys/a b"));
        assert_eq!(a.port, Some(2222), "the first value wins, as in ssh");
        assert_eq!(a.user.as_deref(), Some("deploy"));
        assert_eq!(a.jump.as_deref(), Some("jump1,jump2"));
        assert_eq!(a.config_file.as_deref(), Some("/etc/rigger/ssh_config"));
        assert_eq!((a.connect_timeout, a.server_alive_interval), (Some(7), Some(15)));
        assert_eq!((a.strict, a.known_hosts_file.as_deref()), (Some(false), Some("/k")));
        assert!(a.options.is_empty());
    }

    #[test]
    fn the_masters_own_options_are_set_aside_and_named() {
        let a = parse("-C -o ControlMaster=auto -o ControlPersist=60s -o controlpath=/x -S /y").unwrap();
        assert_eq!(a.overridden, ["ControlMaster", "ControlPersist", "controlpath", "-S"]);
        assert_eq!(a.options, ["Compression yes"]);
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert_eq!(parse("-o 'ForwardAgent=yes"), Err(SshArgsError::Quotes));
        assert_eq!(parse("-o"), Err(SshArgsError::NoValue("-o".into())));
        assert_eq!(parse("-o ForwardAgent"), Err(SshArgsError::NoValue("ForwardAgent".into())));
        assert_eq!(parse("ForwardAgent=yes"), Err(SshArgsError::NotAnOption("ForwardAgent=yes".into())));
        assert_eq!(parse("-t"), Err(SshArgsError::Meaningless('t')));
        assert_eq!(parse("-p 0"), Err(SshArgsError::BadPort("0".into())));
        assert!(matches!(parse("-o ConnectTimeout=soon"), Err(SshArgsError::BadSeconds { .. })));
        assert_eq!(parse("-o 'Match all'"), Err(SshArgsError::NotHere("Match".into())));
    }

    #[test]
    fn the_config_carries_the_options_for_the_host_then_the_users_config() {
        let a = parse("-o ProxyCommand='nc %h %p' -o ForwardAgent=yes").unwrap();
        assert_eq!(
            a.config("10.0.0.5"),
            "# Written by rigger: the ssh options of the inventory.\nMatch originalhost 10.0.0.5\n  \
             ProxyCommand=nc %h %p\n  ForwardAgent=yes\nMatch all\nInclude ~/.ssh/config\nInclude /etc/ssh/ssh_config\n"
        );
        let a = parse("-F /my/config -o ForwardAgent=yes").unwrap();
        assert!(a.config("h").ends_with("Match all\nInclude \"/my/config\"\n"), "{}", a.config("h"));
    }
}
