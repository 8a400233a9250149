//! Access-token verification throughput on one core (the fast path every
//! API call and every gateway request takes), ES256 and RS256: a token
//! seen for the first time (the signature checked) and the same token
//! again (the signature check remembered); and signing.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use komodo_protocol::oauth::AccessTokenClaims;
use komodo_server::config::SigningAlg;
use komodo_server::{AppState, Config};

fn verify(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut group = c.benchmark_group("jwt");
    group.throughput(Throughput::Elements(1));
    for alg in [SigningAlg::Es256, SigningAlg::Rs256] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path());
        config.signing_alg = alg;
        config.bootstrap = false;
        let (state, _) = runtime.block_on(AppState::open(config, "http://127.0.0.1:8787".into())).unwrap();
        let now = komodo_server::clock::now();
        let claims = AccessTokenClaims {
            iss: "http://127.0.0.1:8787".into(),
            sub: "sp:00000000-0000-0000-0000-000000000001".into(),
            aud: "komodo".into(),
            exp: now + 3600,
            iat: now,
            nbf: Some(now),
            jti: "bench".into(),
            client_id: "kmd_spc_bench".into(),
            scope: "api".into(),
            account_id: Some("00000000-0000-0000-0000-000000000002".into()),
            sid: None,
        };
        let token = runtime.block_on(state.keys().sign("at+jwt", &claims)).unwrap();
        // Every verification checks the signature (a token seen for the
        // first time).
        group.bench_function(format!("verify_{}", alg.as_str()), |b| {
            b.iter(|| runtime.block_on(state.keys().verify_access_token_uncached(black_box(&token))).unwrap())
        });
        // The same token again, as a client presents it on every call: the
        // signature check is remembered, the claim checks run.
        group.bench_function(format!("verify_{}_again", alg.as_str()), |b| {
            b.iter(|| runtime.block_on(state.keys().verify_access_token(black_box(&token))).unwrap())
        });
        group.bench_function(format!("sign_{}", alg.as_str()), |b| {
            b.iter(|| runtime.block_on(state.keys().sign("at+jwt", black_box(&claims))).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
