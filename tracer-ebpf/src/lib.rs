//! Empty library target: it exists so that `tracer` can name this crate as a build-dependency,
//! which makes cargo rebuild `tracer` (and so re-run the eBPF build) when this crate changes.
#![no_std]
// The dependencies belong to the eBPF binary target, not to this placeholder.
#![allow(unused_crate_dependencies)]
