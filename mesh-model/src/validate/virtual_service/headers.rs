//! Header manipulation (`headers.request` / `headers.response`) and the authority rewrite
//! conflict check (`validateAuthorityRewrite`).

use super::names::{
    go_quote, is_authority_header, key_path, validate_header_operation_name, validate_header_value,
    validate_header_with_authority_operation_name,
};
use crate::validate::Sink;
use crate::virtual_service::{HeaderOperations, Headers, HttpRewrite};

/// The header checks of `validateHTTPRoute` and `validateHTTPRouteDestinations` (identical at
/// both levels): request `add`/`set` may target `:authority`/`Host`; request `remove` and all
/// response operations may not touch `Host` or pseudo headers; values must be valid Envoy
/// header formatters.
pub(super) fn validate_header_operations(sink: &mut Sink<'_>, path: &str, headers: &Headers) {
    if let Some(req) = &headers.request {
        let base = format!("{path}.request");
        check_ops(
            sink,
            &base,
            req,
            validate_header_with_authority_operation_name,
        );
    }
    if let Some(resp) = &headers.response {
        let base = format!("{path}.response");
        check_ops(sink, &base, resp, validate_header_operation_name);
    }
}

fn check_ops(
    sink: &mut Sink<'_>,
    base: &str,
    ops: &HeaderOperations,
    add_set_name: fn(&str) -> Result<(), String>,
) {
    for (field, map) in [("add", &ops.add), ("set", &ops.set)] {
        let map_path = format!("{base}.{field}");
        for (name, value) in map {
            let p = key_path(&map_path, name);
            sink.check(p.clone(), add_set_name(name));
            sink.check(p, validate_header_value(value));
        }
    }
    for (i, name) in ops.remove.iter().enumerate() {
        sink.check(
            format!("{base}.remove[{i}]"),
            validate_header_operation_name(name),
        );
    }
}

/// `validateAuthorityRewrite`: the authority may be rewritten in one place only —
/// `rewrite.authority`, or one `:authority`/`Host` entry in the route's request `set` or
/// `add`. Reports the first conflict, as Istio does.
pub(super) fn validate_authority_rewrite(
    sink: &mut Sink<'_>,
    path: &str,
    rewrite: Option<&HttpRewrite>,
    headers: Option<&Headers>,
) {
    let mut current = rewrite.map(|r| r.authority.as_str()).unwrap_or_default();
    let Some(req) = headers.and_then(|h| h.request.as_ref()) else {
        return;
    };
    for (field, map) in [("set", &req.set), ("add", &req.add)] {
        for (k, v) in map {
            if !is_authority_header(k) {
                continue;
            }
            if !current.is_empty() {
                sink.error(
                    key_path(&format!("{path}.headers.request.{field}"), k),
                    format!(
                        "authority header cannot be set multiple times: have {}, attempting to set {}",
                        go_quote(current),
                        go_quote(v)
                    ),
                );
                return;
            }
            current = v;
        }
    }
}
