//! CPU cost of minting and verifying credentials, I/O excluded.

use agentid::credential::{Pepper, Token, TokenKind};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn credentials(c: &mut Criterion) {
    let pepper = Pepper::from_bytes(vec![42u8; 32]).unwrap();
    c.bench_function("generate + format + hash", |b| {
        b.iter(|| {
            let token = Token::generate(TokenKind::Agent).unwrap();
            let text = token.reveal();
            black_box((pepper.hash_token(&token), text))
        })
    });
    let token = Token::generate(TokenKind::Agent).unwrap();
    let text = token.reveal().expose().to_owned();
    let stored = pepper.hash_token(&token);
    c.bench_function("parse + verify", |b| {
        b.iter(|| {
            let parsed = Token::parse(black_box(&text)).unwrap();
            black_box(pepper.verify_token(&parsed, &stored))
        })
    });
    c.bench_function("baseline: HMAC-SHA-256 of 32 bytes", |b| {
        b.iter(|| black_box(pepper.hash_token(black_box(&token))))
    });
}

criterion_group!(benches, credentials);
criterion_main!(benches);
