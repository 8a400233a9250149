//! Integration tests of the `komodo` SDK: the credential chain scenarios,
//! the credentials file under concurrent and crashing writers, cross-process
//! refresh, and the security rules of this layer.

mod chain;
mod fakes;
mod processes;
mod properties;
mod security;
