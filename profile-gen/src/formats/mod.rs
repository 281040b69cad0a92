//! Files in and out: any input recognised by its content, OCI runtime-spec, Docker and SPO
//! profiles, the Kubernetes snippets, and all-or-nothing writes.

pub mod atomic;
pub mod docker;
pub mod input;
pub mod kube;
pub mod oci;
pub mod oci_process;
pub mod read;
pub mod security_context;
