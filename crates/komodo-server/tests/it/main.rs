//! Integration tests: the real platform on 127.0.0.1:0 over real HTTP.

mod clients;
mod common;
mod device;
mod fake_upstream;
mod flows;
mod gateway;
mod gateway_client;
mod hostile;
mod iam;
mod jwt;
mod keys;
mod load;
mod ops;
mod properties;
mod replicas;
mod revocation;
mod security;
mod store;
mod transport;
mod upstream;
mod upstream_gateway;
mod warehouse_backends;
