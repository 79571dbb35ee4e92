//! Criterion benchmarks of the hot protocol code: the reply parser and the DATA encoder.
//! `cargo bench --bench protocol`; results and how to read them: docs/performance.md.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use smtpsh::smtp::data::DotStuffer;
use smtpsh::smtp::reply::ReplyParser;
use std::hint::black_box;

/// A Postfix-like EHLO reply, the biggest reply a session usually sees.
const EHLO: &[u8] =
    b"250-mx.test.local\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n\
250-STARTTLS\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n\
250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n";

fn parser(c: &mut Criterion) {
    let mut g = c.benchmark_group("reply_parser");
    g.throughput(Throughput::Bytes(EHLO.len() as u64));
    g.bench_function("ehlo_reply", |b| {
        let mut p = ReplyParser::default();
        b.iter(|| {
            p.push(black_box(EHLO)).unwrap();
            black_box(p.next_reply().unwrap().unwrap());
        })
    });
    // 1,000 one-line replies arriving in one buffer, as after a pipelined burst.
    let burst: Vec<u8> = (0..1000)
        .flat_map(|_| b"250 2.1.5 Ok\r\n".iter().copied())
        .collect();
    g.throughput(Throughput::Bytes(burst.len() as u64));
    g.bench_function("pipelined_burst_1000", |b| {
        let mut p = ReplyParser::default();
        b.iter(|| {
            p.push(black_box(&burst)).unwrap();
            let mut n = 0;
            while let Some(r) = p.next_reply().unwrap() {
                black_box(r);
                n += 1;
            }
            assert_eq!(n, 1000);
        })
    });
    g.finish();
}

/// 16 MiB of mail-like text: 76-octet lines, one in 50 starting with a dot, LF line ends
/// (so every line end is rewritten to CRLF: the encoder's worst ordinary case).
fn body() -> Vec<u8> {
    let mut b = Vec::with_capacity(16 << 20);
    let mut i = 0u32;
    while b.len() < 16 << 20 {
        if i.is_multiple_of(50) {
            b.push(b'.');
        }
        b.extend_from_slice(
            &b"The quick brown fox jumps over the lazy dog, again and again and again!!"[..],
        );
        b.extend_from_slice(b"\n");
        i += 1;
    }
    b
}

fn encoder(c: &mut Criterion) {
    let body = body();
    let crlf: Vec<u8> = body
        .split(|&b| b == b'\n')
        .flat_map(|l| l.iter().copied().chain(*b"\r\n"))
        .collect();
    let mut g = c.benchmark_group("data_encoder");
    g.sample_size(20);
    for (name, input) in [("lf_lines", &body), ("crlf_lines", &crlf)] {
        for chunk in [8 * 1024, 256 * 1024] {
            g.throughput(Throughput::Bytes(input.len() as u64));
            g.bench_with_input(BenchmarkId::new(name, chunk), &chunk, |b, &chunk| {
                let mut out = Vec::with_capacity(input.len() * 2);
                b.iter(|| {
                    out.clear();
                    let mut s = DotStuffer::new();
                    let mut piece = Vec::with_capacity(chunk * 2);
                    for part in input.chunks(chunk) {
                        piece.clear();
                        s.encode(part, &mut piece);
                        out.extend_from_slice(&piece);
                    }
                    black_box(s.finish(&mut out));
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, parser, encoder);
criterion_main!(benches);
