//! Every error leaves as problem+json (issue 15: bad path and query values answered
//! `text/plain`, 38 cases found by schemathesis). Extractor rejections (`Path`, `Query`, …)
//! render as plain text; this layer turns any error response that is neither problem+json nor
//! an HTML page into an RFC 9457 problem with a stable code chosen by status, keeping the
//! rejection's message (it names the parameter, never a stored value) as `detail`.

use axum::{
    extract::Request,
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::problem::{PROBLEM_JSON, Problem};

/// The longest rejection message carried over as `detail`.
const MAX_DETAIL: usize = 512;

/// The stable code for an error status that reached the edge without a problem (pure).
pub fn code_for(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::NOT_FOUND => ("not_found", "No such resource"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "Method not allowed"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "Unsupported media type"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "The body is too large"),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "The request took too long"),
        s if s.is_server_error() => ("internal", "An internal error occurred"),
        _ => ("invalid_request", "The request is not valid"),
    }
}

fn is_rendered(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with(PROBLEM_JSON) || ct.starts_with("text/html"))
}

/// Middleware: convert plain error responses into problem+json.
pub async fn as_problem(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_rendered(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let detail = match axum::body::to_bytes(body, MAX_DETAIL * 4).await {
        Ok(bytes) if !status.is_server_error() => String::from_utf8_lossy(&bytes)
            .chars()
            .take(MAX_DETAIL)
            .collect::<String>(),
        _ => String::new(),
    };
    let (code, title) = code_for(status);
    let mut problem = Problem::new(status, code, title);
    if !detail.trim().is_empty() {
        problem = problem.with_detail(detail.trim().to_string());
    }
    let mut out = problem.into_response();
    // Keep headers such as `Allow` and `Retry-After`; the body and its type are replaced.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_stable_codes() {
        assert_eq!(code_for(StatusCode::BAD_REQUEST).0, "invalid_request");
        assert_eq!(code_for(StatusCode::NOT_FOUND).0, "not_found");
        assert_eq!(
            code_for(StatusCode::UNPROCESSABLE_ENTITY).0,
            "invalid_request"
        );
        assert_eq!(code_for(StatusCode::BAD_GATEWAY).0, "internal");
    }
}
