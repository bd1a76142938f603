//! The `template` kind: a file rendered from the role's `templates/` for each
//! host, then written like a `file` (atomically, `validate` first).

use super::file::File;
use super::kind::{Doc, Field, Resolve, Resource, ResourceError, RoleFile, RoleFolder, Spec};
use super::path::{self, check_path};
use super::spec::{ModeSpec, OneOrMany, PresentAbsent};
use crate::template::Renderer;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// A template in the role's `templates/` directory.
    pub src: String,
    pub dest: String,
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    /// A command run on the temp file (`%s`) before it replaces `dest`.
    #[serde(default)]
    pub validate: Option<String>,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub notify: OneOrMany,
}

impl Spec for TemplateSpec {
    const KIND: &'static str = "template";
    const DOC: Doc = Doc {
        summary: "A file rendered from the role's templates/ for each host (with the host's vars, facts, `groups` \
                  and `hosts`), written atomically; `validate` checks the temp file first.",
        fields: &[
            Field { name: "src", ty: "file name", default: "", help: "a template in the role's templates/: `.j2` renders as Ansible renders Jinja2, others with Tera" },
            Field { name: "dest", ty: "absolute path", default: "", help: "" },
            Field { name: "mode", ty: "quoted octal", default: "kept (0644 when new)", help: "" },
            Field { name: "owner", ty: "user", default: "kept", help: "" },
            Field { name: "group", ty: "group", default: "kept", help: "" },
            Field { name: "validate", ty: "command", default: "none", help: "run on the temp file (%s) before it replaces dest" },
            Field { name: "secret", ty: "bool", default: "false", help: "hide the content from diffs and reports" },
            Field { name: "notify", ty: "handler or list", default: "none", help: "" },
        ],
        example: "template: { src: haproxy.cfg.tera, dest: /etc/haproxy/haproxy.cfg, validate: \"haproxy -c -f %s\", notify: reload haproxy }",
    };

    fn notify(&self) -> &[String] {
        &self.notify.0
    }

    fn role_files(&self) -> Vec<RoleFile<'_>> {
        vec![RoleFile { folder: RoleFolder::Templates, name: &self.src }]
    }

    fn resolve(self, cx: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        let name = Renderer::name_of(cx.root, &cx.role_file(RoleFolder::Templates, &self.src));
        let content = if cx.content {
            Some(cx.renderer.render_file(&name, cx.ctx).map_err(ResourceError::Render)?.into_bytes())
        } else {
            None
        };
        check_path(&self.dest)?;
        Ok(Arc::new(File {
            kind: "template",
            path: self.dest,
            content,
            mode: path::mode(&self.mode)?,
            owner: self.owner,
            group: self.group,
            state: PresentAbsent::Present,
            validate: self.validate,
            secret: self.secret,
            notify: self.notify.0,
        }))
    }
}
