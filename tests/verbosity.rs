//! `-v`, `-vv`, `-vvv` and `RIGGER_LOG` through the real binary on a local
//! host: -vv names each script run and how long it took, -vvv shows the
//! scripts, with the step that writes a vault secret (however encoded)
//! sealed and the secret itself nowhere.

mod common;

use common::{local_project, rigger_local, write};

const SECRET: &str = "s3cret-vvv-value";

/// A project whose role writes a file holding a vault value, base64-encoded
/// by the template, so no redaction of the raw value could find it.
fn project() -> tempfile::TempDir {
    let d = local_project("");
    let p = d.path();
    write(p, "site.yaml", "- hosts: all\n  roles: [app]\n");
    write(
        p,
        "roles/app/role.yaml",
        "dialect: jinja\nresources:\n  - file: { path: \"{{ out }}/plain\", content: \"hello\\n\" }\n  - file: { path: \"{{ out }}/secret\", content: \"{{ api_token | b64encode }}\\n\" }\n",
    );
    assert_eq!(rigger_local(p, &["vault", "keygen", "vault.key"]).code, 0);
    write(p, "inventory/group_vars/all/secrets.yaml", &format!("api_token: {SECRET}\n"));
    let enc = rigger_local(p, &["vault", "encrypt", "inventory/group_vars/all/secrets.yaml"]);
    assert_eq!(enc.code, 0, "{}", enc.all());
    d
}

#[test]
fn each_level_shows_more_and_never_a_secret() {
    use base64::Engine;
    let d = project();
    let p = d.path();
    let encoded = base64::engine::general_purpose::STANDARD.encode(SECRET);

    let quiet = rigger_local(p, &["plan"]);
    assert_eq!(quiet.code, 2, "{}", quiet.all());
    assert!(!quiet.all().contains("local sh:"), "no trace by default: {}", quiet.all());

    let vv = rigger_local(p, &["plan", "-vv"]);
    assert_eq!(vv.code, 2, "{}", vv.all());
    assert!(vv.stderr.contains("[me] local sh: sh -s ("), "{}", vv.stderr);
    assert!(vv.stderr.contains("[me] exit 0, "), "{}", vv.stderr);
    assert!(!vv.stderr.contains("script:"), "scripts only at -vvv: {}", vv.stderr);

    let vvv = rigger_local(p, &["apply", "--yes", "-vvv"]);
    assert_eq!(vvv.code, 0, "{}", vvv.all());
    let all = vvv.all();
    assert!(all.contains("[me] script:"), "{all}");
    assert!(all.contains("hello"), "a plain step is shown as it is: {all}");
    assert!(all.contains("(sealed: this step depends on a secret)"), "{all}");
    assert!(!all.contains(SECRET) && !all.contains(&encoded), "the secret, raw or encoded, never shows: {all}");
    let written = std::fs::read_to_string(p.join("out/secret")).unwrap();
    assert_eq!(written.trim(), encoded, "the real script still wrote it");

    // RIGGER_LOG does what the flags do, for CI.
    let log = std::process::Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(["plan"])
        .current_dir(p)
        .env("RIGGER_LOG", "debug")
        .env("NO_COLOR", "1")
        .env("RIGGER_VAULT_KEY_FILE", p.join("vault.key"))
        .env("RIGGER_STATE_DIR", p.join(".state"))
        .env("RIGGER_HOST_STATE_DIR", p.join("host-state"))
        .env_remove("RIGGER_INVENTORY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&log.stderr);
    assert!(stderr.contains("[me] local sh: sh -s ("), "{stderr}");
}
