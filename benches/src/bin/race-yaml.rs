//! The criterion benchmarks' fixtures, printed for the proxy race (`benches/race.sh`), so
//! that the race serves the same bookinfo configuration and the same generated table as the
//! criterion benchmarks, and sends the same requests.
//!
//! ```text
//! race-yaml bookinfo                          # BOOKINFO_YAML
//! race-yaml bookinfo-requests                 # bookinfo_cases(), one JSON object a line
//! race-yaml generated HOSTS RULES             # generated_yaml(HOSTS, RULES)
//! race-yaml generated-requests HOSTS RULES N SEED   # random_gen_requests(..), JSON lines
//! race-yaml generated-host-requests RULES I   # gen_request(I, j) for every rule j, JSON lines
//! ```
//!
//! A request line is `{"name": .., "authority": .., "path": .., "headers": [[k, v], ..]}`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use benches::{
    BOOKINFO_YAML, Req, bookinfo_cases, gen_request, generated_yaml, random_gen_requests,
};

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn request_json(name: &str, r: &Req) -> String {
    let headers: Vec<String> = r
        .headers
        .iter()
        .map(|(k, v)| {
            format!(
                "[{},{}]",
                json_str(k.as_str()),
                json_str(&String::from_utf8_lossy(v.as_bytes()))
            )
        })
        .collect();
    format!(
        "{{\"name\":{},\"authority\":{},\"path\":{},\"headers\":[{}]}}",
        json_str(name),
        json_str(&r.authority),
        json_str(&r.path),
        headers.join(",")
    )
}

fn number(arg: Option<&String>, what: &str) -> Result<usize, String> {
    arg.and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("{what} must be a number"))
}

fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("bookinfo") => print!("{BOOKINFO_YAML}"),
        Some("bookinfo-requests") => {
            for case in bookinfo_cases() {
                println!("{}", request_json(case.name, &case.req));
            }
        }
        Some("generated") => {
            let hosts = number(args.get(1), "HOSTS")?;
            let rules = number(args.get(2), "RULES")?;
            print!("{}", generated_yaml(hosts, rules));
        }
        Some("generated-requests") => {
            let hosts = number(args.get(1), "HOSTS")?;
            let rules = number(args.get(2), "RULES")?;
            let n = number(args.get(3), "N")?;
            let seed = number(args.get(4), "SEED")? as u64;
            for (i, r) in random_gen_requests(hosts, rules, n, seed)
                .iter()
                .enumerate()
            {
                println!("{}", request_json(&format!("gen-{i}"), r));
            }
        }
        Some("generated-host-requests") => {
            let rules = number(args.get(1), "RULES")?;
            let host = number(args.get(2), "I")?;
            for j in 0..rules {
                println!(
                    "{}",
                    request_json(&format!("gen-{host}-{j}"), &gen_request(host, j))
                );
            }
        }
        _ => {
            return Err(
                "usage: race-yaml bookinfo | bookinfo-requests | generated HOSTS RULES | \
                 generated-requests HOSTS RULES N SEED | generated-host-requests RULES I"
                    .to_owned(),
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("race-yaml: {e}");
            ExitCode::from(2)
        }
    }
}
