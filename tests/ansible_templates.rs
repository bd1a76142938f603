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
