//! Directory trees of recordings (what `record --all` writes on each node, copied together or
//! read from a shared volume) in, and trees of per-workload outputs out.
//!
//! Reading: every directory under each root is walked, in name order. A regular file is a
//! recording when it is JSON whose `format` says so (a recording or a merged recording), whatever
//! its name; profiles and other files are passed over. Symbolic links are not followed: one that
//! stays inside the root leads to something the walk reads anyway (following it would count a
//! run twice); one that leads out is refused, since the trees are the only input asked for. A
//! file reached twice (two roots, a hard link) is read once; one larger than any recording (a
//! log kept beside them) is passed over with a warning.
//!
//! Writing: everything is computed before the first file is written; each file is written
//! atomically through [`crate::sys::outputs`], in directories created under the output
//! directory, none of which may be a symbolic link.

use std::{
    collections::BTreeSet,
    fs,
    os::unix::fs::MetadataExt as _,
    path::{Component, Path, PathBuf},
};

use anyhow::{Context as _, Result};
use profile_gen::{
    formats::input::parse_input,
    formats::read::{read_input_file, MAX_INPUT_BYTES},
    model::merged::MERGED_FORMAT,
    Conditions, Input, KernelVersion, RECORDING_FORMAT,
};

use crate::sys::{
    exit::{ExitCodeExt as _, Failure, EXIT_BAD_INPUT, EXIT_CANNOT_WRITE},
    outputs::write_output,
};

/// Reads every recording and merged recording under `roots`; see the module documentation.
pub(crate) fn read_recording_trees(roots: &[PathBuf]) -> Result<Vec<Input>> {
    let mut seen = BTreeSet::new();
    let mut inputs = Vec::new();
    for root in roots {
        let meta = fs::metadata(root)
            .with_context(|| format!("{}", root.display()))
            .exit_code(EXIT_BAD_INPUT)?;
        if !meta.is_dir() {
            return Err(bad_input(format!(
                "{}: not a directory, expected a tree of recordings",
                root.display()
            )));
        }
        let real_root = fs::canonicalize(root)
            .with_context(|| format!("{}", root.display()))
            .exit_code(EXIT_BAD_INPUT)?;
        walk(root, &real_root, &mut seen, &mut inputs)?;
    }
    Ok(inputs)
}

fn bad_input(message: String) -> anyhow::Error {
    Failure::new(EXIT_BAD_INPUT, anyhow::anyhow!(message)).into()
}

fn walk(
    dir: &Path,
    real_root: &Path,
    seen: &mut BTreeSet<(u64, u64)>,
    inputs: &mut Vec<Input>,
) -> Result<()> {
    let mut entries = fs::read_dir(dir)
        .and_then(|entries| {
            entries
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<Vec<_>, _>>()
        })
        .with_context(|| format!("reading directory {}", dir.display()))
        .exit_code(EXIT_BAD_INPUT)?;
    entries.sort();
    for path in entries {
        let meta = fs::symlink_metadata(&path)
            .with_context(|| format!("{}", path.display()))
            .exit_code(EXIT_BAD_INPUT)?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            match fs::canonicalize(&path) {
                Ok(target) if target.starts_with(real_root) => {
                    log::debug!("{}: a link inside the tree, not followed", path.display());
                }
                Ok(target) => {
                    return Err(bad_input(format!(
                        "{}: a symbolic link that leads out of the tree {} (to {}), expected \
                         the tree's own files: copy what it leads to into the tree",
                        path.display(),
                        real_root.display(),
                        target.display()
                    )))
                }
                Err(e) => log::warn!(
                    "{}: a link that leads nowhere ({e}), passed over",
                    path.display()
                ),
            }
        } else if kind.is_dir() {
            walk(&path, real_root, seen, inputs)?;
        } else if kind.is_file() && meta.len() > MAX_INPUT_BYTES {
            log::warn!(
                "{}: larger than any recording ({} bytes), passed over",
                path.display(),
                meta.len()
            );
        } else if kind.is_file() && seen.insert((meta.dev(), meta.ino())) {
            if let Some(input) = read_if_recording(&path)? {
                inputs.push(input);
            }
        }
    }
    Ok(())
}

/// The recording or merged recording in `path`, `None` for any other file.
fn read_if_recording(path: &Path) -> Result<Option<Input>> {
    let bytes = read_input_file(path)
        .with_context(|| format!("{}: cannot read", path.display()))
        .exit_code(EXIT_BAD_INPUT)?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(None);
    };
    let is_recording = serde_json::from_str::<serde_json::Value>(text).is_ok_and(|value| {
        value
            .get("format")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|f| f == RECORDING_FORMAT || f == MERGED_FORMAT)
    });
    if !is_recording {
        log::debug!("{}: not a recording, passed over", path.display());
        return Ok(None);
    }
    // Only recordings get here: what Docker-format profiles would be evaluated for is unused.
    let conditions = Conditions {
        arch: profile_gen::native_arch(),
        caps: BTreeSet::new(),
        kernel: KernelVersion { major: 0, minor: 0 },
    };
    let input = parse_input(text, &path.display().to_string(), &conditions)?;
    for warning in &input.warnings {
        log::warn!("{warning}");
    }
    Ok(Some(input))
}

/// Refuses an output directory inside one of the input trees, or that holds one: the outputs
/// would be read back as inputs by the next run (and counted twice).
pub(crate) fn refuse_nested(output_dir: &Path, roots: &[PathBuf]) -> Result<()> {
    let output = resolved(output_dir);
    for root in roots {
        let root_real = resolved(root);
        if output.starts_with(&root_real) || root_real.starts_with(&output) {
            let error = anyhow::anyhow!(
                "output directory {} and input tree {} overlap, expected an output directory \
                 outside the trees read",
                output_dir.display(),
                root.display()
            );
            return Err(Failure::new(crate::sys::exit::EXIT_ERROR, error).into());
        }
    }
    Ok(())
}

/// `path` with its longest existing prefix resolved (links, `..`) and the rest appended.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest = Vec::new();
    let mut existing = absolute.as_path();
    loop {
        if let Ok(real) = fs::canonicalize(existing) {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// Writes each `(relative path, text)` under `output_dir`, creating the directories between.
/// The relative paths come from checked Kubernetes names; one that is not plainly relative is
/// refused all the same.
pub(crate) fn write_tree(output_dir: &Path, files: &[(PathBuf, String)]) -> Result<()> {
    for (relative, _) in files {
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            anyhow::bail!("{}: not a plain relative path", relative.display());
        }
    }
    for (relative, text) in files {
        let path = output_dir.join(relative);
        if let Some(parent) = relative.parent() {
            create_dirs(output_dir, parent)?;
        }
        write_output(&path, text)?;
    }
    Ok(())
}

/// Creates `output_dir/relative` a directory at a time, refusing any that is a symbolic link.
fn create_dirs(output_dir: &Path, relative: &Path) -> Result<()> {
    let mut dir = output_dir.to_path_buf();
    let mut steps = vec![None];
    steps.extend(relative.components().map(Some));
    for step in steps {
        if let Some(step) = step {
            dir.push(step);
        }
        let created = match fs::create_dir(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        };
        created
            .and_then(|()| fs::symlink_metadata(&dir))
            .with_context(|| format!("creating directory {}", dir.display()))
            .exit_code(EXIT_CANNOT_WRITE)
            .and_then(|meta| {
                if meta.is_dir() {
                    Ok(())
                } else {
                    let error = anyhow::anyhow!(
                        "output directory {}: not a directory (a link or a file), expected a \
                         directory",
                        dir.display()
                    );
                    Err(Failure::new(EXIT_CANNOT_WRITE, error).into())
                }
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_recordings_by_content_and_refuses_links_out() {
        let tree = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let deep = tree.path().join("node-a/shop/web/app");
        fs::create_dir_all(&deep).unwrap();
        let recording = crate::test_fixtures::write_recording(&deep, "0123abcd.json", &[0, 1]);
        // A profile beside it, a text file and an odd name holding a recording.
        fs::write(
            deep.join("0123abcd.profile.json"),
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\"}",
        )
        .unwrap();
        fs::write(tree.path().join("notes.txt"), "hello").unwrap();
        fs::copy(&recording, tree.path().join("node-a/copy")).unwrap();
        // A link inside the tree is not followed (its target is read where it is).
        std::os::unix::fs::symlink(&recording, tree.path().join("inside-link")).unwrap();
        let found = read_recording_trees(&[tree.path().to_path_buf()]).unwrap();
        let origins: Vec<&str> = found.iter().map(|i| i.origin.as_str()).collect();
        let root = tree.path().display().to_string();
        assert_eq!(
            origins,
            [
                format!("{root}/node-a/copy"),
                format!("{root}/node-a/shop/web/app/0123abcd.json")
            ]
        );
        // The same tree twice is read once.
        let twice = read_recording_trees(&[tree.path().to_path_buf(), deep.clone()]).unwrap();
        assert_eq!(twice.len(), 2);

        let link = tree.path().join("node-a/escape");
        std::os::unix::fs::symlink(outside.path(), &link).unwrap();
        let err = read_recording_trees(&[tree.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "{}: a symbolic link that leads out of the tree",
                link.display()
            )),
            "{err}"
        );
        fs::remove_file(&link).unwrap();

        // A broken recording is an error naming it.
        let bad = tree.path().join("node-a/bad.json");
        fs::write(&bad, "{\"format\": \"syscage-recording\", \"version\": 1}").unwrap();
        let err = read_recording_trees(&[tree.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&bad.display().to_string()), "{err}");
    }

    #[test]
    fn output_inside_an_input_tree_is_refused() {
        let tree = tempfile::tempdir().unwrap();
        let roots = [tree.path().to_path_buf()];
        assert!(refuse_nested(&tree.path().join("out/new"), &roots).is_err());
        assert!(refuse_nested(tree.path().parent().unwrap(), &roots).is_err());
        let elsewhere = tempfile::tempdir().unwrap();
        refuse_nested(&elsewhere.path().join("out"), &roots).unwrap();
    }

    #[test]
    fn writes_a_tree_but_not_through_links() {
        let out = tempfile::tempdir().unwrap();
        let files = vec![(PathBuf::from("shop/web/app.json"), "{}\n".to_owned())];
        write_tree(&out.path().join("new"), &files).unwrap();
        assert_eq!(
            fs::read_to_string(out.path().join("new/shop/web/app.json")).unwrap(),
            "{}\n"
        );

        let elsewhere = tempfile::tempdir().unwrap();
        fs::create_dir(out.path().join("linked-parent")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), out.path().join("linked-parent/shop"))
            .unwrap();
        let err = write_tree(&out.path().join("linked-parent"), &files)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a directory (a link or a file)"), "{err}");
        assert!(fs::read_dir(elsewhere.path()).unwrap().next().is_none());
        assert!(write_tree(out.path(), &[(PathBuf::from("../x"), String::new())]).is_err());
    }
}
