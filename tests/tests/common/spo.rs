//! The Security Profiles Operator's `SeccompProfile` custom resource, checked against the CRD's
//! own schema.

use std::{path::Path, process::Command};

/// The SeccompProfile CRD's schema (v1beta1, from the Security Profiles Operator).
pub(crate) const SPO_SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/spo-seccompprofile-v1beta1.schema.json"
);

/// Validates the YAML document in `file` against the CRD schema with python's jsonschema, the
/// way the API server's strict field validation does (unknown fields are errors); returns
/// (valid, what the validator said).
pub(crate) fn validate_against_crd(file: &Path) -> (bool, String) {
    const SCRIPT: &str = r#"
import json, sys
import jsonschema, yaml
schema = json.load(open(sys.argv[1]))
def strict(node):
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            strict(value)
    elif isinstance(node, list):
        for value in node:
            strict(value)
strict(schema)
document = yaml.safe_load(open(sys.argv[2]))
errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(document), key=str)
for error in errors:
    print("/".join(map(str, error.absolute_path)) + ": " + error.message)
sys.exit(1 if errors else 0)
"#;
    let output = Command::new("python3")
        .args(["-c", SCRIPT, SPO_SCHEMA])
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}): needed to validate the SPO resource")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !text.contains("ModuleNotFoundError"),
        "python3 lacks jsonschema or PyYAML (pip install jsonschema pyyaml):\n{text}"
    );
    (output.status.success(), text)
}
