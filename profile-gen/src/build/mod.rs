//! Inputs to the profile users ship: recorded syscalls to rules, argument conditions, the
//! projection onto another architecture, and the errno semantics on top.

pub mod args;
pub mod generate;
pub mod project;
pub mod rules;
pub mod security;
pub mod workloads;
