//! Credential resolution and credentials-file writes on a 100-profile file.
//!
//! Goals: resolving ≤ 50 µs; an edit + atomic write ≤ 1 ms plus the fsync.

use std::fs;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use komodo::auth::{AuthArgs, CredentialChain};
use komodo::config::ProviderConfig;
use komodo::credentials::{CredentialsStore, Document};
use komodo::env::Env;

fn hundred_profiles() -> String {
    let mut text = String::from(
        "# Komodo credentials\n[default]\ntoken = eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NiJ9.e30.c2ln\n\
         token_expiration = 4102444800\nrefresh_token = rt_0123456789abcdef\n\
         account_id = 123e4567-e89b-12d3-a456-426614174000\naccount_slug = my-organization\n",
    );
    for i in 0..99 {
        text.push_str(&format!(
            "\n[profile{i}]\nclient_id = client_id_{i:06}\nclient_secret = kmd_sp_{:064x}\naccount_id = {i:08}-e89b-12d3-a456-426614174000\naccount_slug = org-{i}\n",
            i * 7919
        ));
    }
    text
}

fn bench(c: &mut Criterion) {
    let home = tempfile::tempdir().unwrap();
    let store = CredentialsStore::new(home.path().join(".komodo/credentials"));
    fs::create_dir_all(store.path().parent().unwrap()).unwrap();
    let text = hundred_profiles();
    fs::write(store.path(), &text).unwrap();
    let env = Env::from_slice(&[("HOME", home.path().to_str().unwrap())]);
    let chain = CredentialChain::cli(ProviderConfig::new(env), None);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();

    let mut group = c.benchmark_group("credentials (100 profiles)");
    group.bench_function("parse", |b| b.iter(|| Document::parse(black_box(&text)).unwrap()));
    group.bench_function("resolve named profile", |b| {
        let args = AuthArgs::new().profile("profile57");
        b.iter(|| runtime.block_on(chain.resolve(black_box(&args))).unwrap())
    });
    group.bench_function("resolve [default]", |b| {
        let args = AuthArgs::new();
        b.iter(|| runtime.block_on(chain.resolve(black_box(&args))).unwrap())
    });
    group.bench_function("edit + render (no I/O)", |b| {
        let doc = Document::parse(&text).unwrap();
        let mut n = 0u64;
        b.iter(|| {
            let mut doc = doc.clone();
            n += 1;
            doc.set("profile42", "account_slug", &format!("org-{n}")).unwrap();
            black_box(doc.render())
        })
    });
    group.bench_function("edit + atomic write (lock, temp, fsync, rename)", |b| {
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            store
                .update(|doc| {
                    doc.set("profile42", "account_slug", &format!("org-{n}")).unwrap();
                    Ok(())
                })
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
