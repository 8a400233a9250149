//! Integration tests of the `komodo` SDK: the credential chain scenarios,
//! the credentials file under concurrent and crashing writers, cross-process
//! refresh, the security rules of this layer, and warehouse connections
//! against the real platform.

mod chain;
mod fakes;
mod processes;
mod properties;
mod security;
mod warehouse;
