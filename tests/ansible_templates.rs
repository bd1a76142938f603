//! Real roles' `.j2` templates, rendered by rigger and by ansible-core from the
//! same vars: the bytes must be identical. The templates, their licences and
//! ansible-core's output live in tests/fixtures/ansible_roles/ (see its
//! README; render_with_ansible.sh makes expected/ anew from live ansible-core).

use rigger::template::{context, Renderer};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ansible_roles")
}

/// Every `(role, template file name)` under the fixtures, sorted.
fn templates() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for role in std::fs::read_dir(fixtures()).unwrap().map(|e| e.unwrap().path()) {
        let Ok(dir) = std::fs::read_dir(role.join("templates")) else { continue };
        let role = role.file_name().unwrap().to_string_lossy().into_owned();
        for t in dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()) {
            out.push((role.clone(), t));
        }
    }
    out.sort();
    out
}

fn render(role: &str, name: &str) -> Result<String, String> {
    let root = fixtures();
    let renderer = Renderer::new(&root, [root.join(role).as_path()], None).map_err(|e| e.to_string())?;
    let vars_text = std::fs::read_to_string(root.join(role).join("vars").join(format!("{name}.yaml"))).unwrap();
    let vars: serde_json::Value = serde_yaml::from_str(&vars_text).unwrap();
    let ctx = context(vars.as_object().unwrap());
    renderer.render_file(&format!("{role}/templates/{name}"), &ctx).map_err(|e| e.to_string())
}

#[test]
fn real_role_templates_render_as_ansible_core_renders_them() {
    let all = templates();
    assert!(all.len() >= 10, "at least 10 templates: {all:?}");
    let mut differ = Vec::new();
    for (role, name) in &all {
        let expected_path = fixtures().join(role).join("expected").join(name.trim_end_matches(".j2"));
        let expected = std::fs::read_to_string(&expected_path).unwrap();
        match render(role, name) {
            Ok(got) if got == expected => {}
            Ok(got) => {
                let diff = similar::TextDiff::from_lines(&expected, &got)
                    .unified_diff()
                    .header("ansible-core", "rigger")
                    .to_string();
                differ.push(format!("{role}/templates/{name}:\n{diff}"));
            }
            Err(e) => differ.push(format!("{role}/templates/{name}: {e}")),
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} templates differ from ansible-core:\n{}",
        differ.len(),
        all.len(),
        differ.join("\n")
    );
}

/// The binary, end to end: a role with an Ansible template checks offline,
/// and an undefined name in it is an error at the template's file and line.
#[test]
fn check_renders_a_j2_template_and_points_at_its_mistakes() {
    let d = tempfile::tempdir().unwrap();
    let w = |rel: &str, text: &str| {
        let p = d.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w("inventory/hosts.yaml", "all:\n  hosts:\n    web1: { ansible_host: 10.77.0.92 }\n");
    w("site.yaml", "- hosts: all\n  roles: [web]\n");
    w(
        "roles/web/role.yaml",
        "defaults:\n  backends: [a, b]\nresources:\n  - template: { src: web.conf.j2, dest: /etc/web.conf }\n",
    );
    w("roles/web/templates/web.conf.j2", "{% for b in backends %}\nserver {{ b }}\n{% endfor %}\n");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rigger"))
            .args(args)
            .current_dir(d.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&["check"]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "ok: 1 unit on 1 host, every template rendered\n", ""));
    w("roles/web/templates/web.conf.j2", "{% for b in backends %}\nserver {{ b }}:{{ port }}\n{% endfor %}\n");
    let (code, _, err) = run(&["check"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Variable `port` is not defined"), "{err}");
    assert!(err.contains("roles/web/templates/web.conf.j2:2:19"), "{err}");
}
