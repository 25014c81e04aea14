//! HTTP checks: one request (following up to ten redirects, as Go's client does) within the timeout;
//! 2xx is passing, 429 warning, anything else critical. The output names the request and response and
//! carries the end of the response body, as Consul's does.

use super::output::TailBuffer;
use super::spec::HttpCheck;
use super::{tcp, tls};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCEPT, CONNECTION, HOST, LOCATION, USER_AGENT};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use senate_types::catalog::CheckStatus;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};

const MAX_REDIRECTS: usize = 10;
const DEFAULT_USER_AGENT: &str = "Consul Health Check";
const DEFAULT_ACCEPT: &str = "text/plain, text/*, */*";

/// Makes the check's request once and returns the resulting status and output.
pub(crate) async fn run_http(check: &HttpCheck, output_max_size: usize) -> (CheckStatus, String) {
    let deadline = Instant::now() + check.timeout;
    let exchanged = match fetch(check, deadline).await {
        Ok(exchanged) => exchanged,
        Err(message) => return (CheckStatus::Critical, message),
    };
    let code = exchanged.response.status();
    let status_line = status_line(&exchanged.response);
    let body = read_body(exchanged, deadline, output_max_size).await;
    let output = format!(
        "HTTP {} {}: {status_line} Output: {body}",
        check.method, check.url
    );
    (status_for_code(code), output)
}

/// One request as sent: redirects may change all three.
struct Target {
    url: String,
    method: String,
    body: String,
}

/// A response, with the task driving its connection (stopped when this is dropped).
struct Exchanged {
    response: Response<Incoming>,
    _connection: Connection,
}

struct Connection(JoinHandle<()>);

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn fetch(check: &HttpCheck, deadline: Instant) -> Result<Exchanged, String> {
    let mut target = Target {
        url: check.url.clone(),
        method: check.method.clone(),
        body: check.body.clone(),
    };
    let mut redirects = 0;
    loop {
        let exchanged = send(check, &target, deadline).await?;
        let Some(next) = redirect(check, &target, &exchanged.response) else {
            return Ok(exchanged);
        };
        if redirects == MAX_REDIRECTS {
            return Err(format!(
                "{} {:?}: stopped after {MAX_REDIRECTS} redirects",
                go_operation(&target.method),
                next.url
            ));
        }
        redirects += 1;
        target = next;
    }
}

/// The request to make next if `response` is a redirect to be followed.
fn redirect(check: &HttpCheck, target: &Target, response: &Response<Incoming>) -> Option<Target> {
    if check.disable_redirects {
        return None;
    }
    let keeps_method = match response.status().as_u16() {
        301..=303 => false,
        307 | 308 => true,
        _ => return None,
    };
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    let url = resolve_location(&target.url, location)?;
    let same_method = keeps_method || matches!(target.method.as_str(), "GET" | "HEAD");
    Some(Target {
        url,
        method: if same_method {
            target.method.clone()
        } else {
            "GET".to_string()
        },
        body: if keeps_method {
            target.body.clone()
        } else {
            String::new()
        },
    })
}

/// Resolves a `Location` header against the URL that answered with it.
fn resolve_location(base: &str, location: &str) -> Option<String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Some(location.to_string());
    }
    let base: Uri = base.parse().ok()?;
    let scheme = base.scheme_str()?;
    if location.starts_with("//") {
        return Some(format!("{scheme}:{location}"));
    }
    let origin = format!("{scheme}://{}", base.authority()?);
    if location.starts_with('/') {
        return Some(format!("{origin}{location}"));
    }
    let directory = base.path().rsplit_once('/').map_or("", |(dir, _)| dir);
    Some(format!("{origin}{directory}/{location}"))
}

/// Sends one request and waits for the response head, all before `deadline`.
async fn send(check: &HttpCheck, target: &Target, deadline: Instant) -> Result<Exchanged, String> {
    let failed =
        |cause: String| format!("{} {:?}: {cause}", go_operation(&target.method), target.url);
    let uri: Uri = target
        .url
        .parse()
        .map_err(|error| format!("parse {:?}: {error}", target.url))?;
    let scheme = uri.scheme_str().unwrap_or("");
    if scheme != "http" && scheme != "https" {
        return Err(failed(format!("unsupported protocol scheme {scheme:?}")));
    }
    let host = uri.host().unwrap_or("");
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    let request = build_request(check, target, &uri).map_err(failed)?;
    let remaining = deadline.saturating_duration_since(Instant::now());
    let attempt = async {
        let stream = tcp::dial(&format!("{host}:{port}"), remaining).await?;
        if scheme == "http" {
            return exchange(stream, request).await;
        }
        let server_name = check.tls_server_name.as_deref().unwrap_or(host);
        let stream = tls::handshake(stream, server_name, check.tls_skip_verify).await?;
        exchange(stream, request).await
    };
    match timeout_at(deadline, attempt).await {
        Ok(result) => result.map_err(failed),
        Err(_) => Err(failed(
            "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                .to_string(),
        )),
    }
}

fn build_request(
    check: &HttpCheck,
    target: &Target,
    uri: &Uri,
) -> Result<Request<Full<Bytes>>, String> {
    let method = Method::from_bytes(target.method.as_bytes())
        .map_err(|_| format!("net/http: invalid method {:?}", target.method))?;
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .body(Full::new(Bytes::from(target.body.clone())))
        .map_err(|error| error.to_string())?;
    let headers = request.headers_mut();
    for (name, values) in &check.headers {
        let name: hyper::header::HeaderName = name
            .parse()
            .map_err(|_| format!("net/http: invalid header field name {name:?}"))?;
        for value in values {
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("net/http: invalid header field value for {name:?}"))?;
            headers.append(name.clone(), value);
        }
    }
    let authority = uri.authority().map_or("", |authority| authority.as_str());
    let defaults = [
        (HOST, authority),
        (USER_AGENT, DEFAULT_USER_AGENT),
        (ACCEPT, DEFAULT_ACCEPT),
        (CONNECTION, "close"),
    ];
    for (name, value) in defaults {
        if !headers.contains_key(&name) {
            let value = HeaderValue::from_str(value).map_err(|error| error.to_string())?;
            headers.insert(name, value);
        }
    }
    Ok(request)
}

/// Runs HTTP/1.1 over an open connection: sends `request` and returns the response head.
async fn exchange<S>(stream: S, request: Request<Full<Bytes>>) -> Result<Exchanged, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| error.to_string())?;
    let connection = Connection(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| error.to_string())?;
    Ok(Exchanged {
        response,
        _connection: connection,
    })
}

/// Reads the body until it ends or the deadline passes, keeping its last `max` bytes.
async fn read_body(exchanged: Exchanged, deadline: Instant, max: usize) -> String {
    let Exchanged {
        response,
        _connection,
    } = exchanged;
    let mut body = response.into_body();
    let mut output = TailBuffer::new(max);
    while let Ok(Some(Ok(frame))) = timeout_at(deadline, body.frame()).await {
        if let Some(data) = frame.data_ref() {
            output.push(data);
        }
    }
    output.text()
}

/// The status line as Go prints it, e.g. `200 OK`, keeping the server's own reason phrase.
fn status_line(response: &Response<Incoming>) -> String {
    let code = response.status();
    let reason = response
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map(|reason| String::from_utf8_lossy(reason.as_bytes()).into_owned())
        .unwrap_or_else(|| code.canonical_reason().unwrap_or("").to_string());
    format!("{} {reason}", code.as_u16())
}

fn status_for_code(code: StatusCode) -> CheckStatus {
    match code.as_u16() {
        200..=299 => CheckStatus::Passing,
        429 => CheckStatus::Warning,
        _ => CheckStatus::Critical,
    }
}

/// The operation name Go puts in a client error: the method with only its first letter capital.
fn go_operation(method: &str) -> String {
    let lower = method.to_ascii_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_redirect_locations() {
        let base = "http://127.0.0.1:8080/app/health?x=1";
        assert_eq!(
            resolve_location(base, "https://other/x").as_deref(),
            Some("https://other/x")
        );
        assert_eq!(
            resolve_location(base, "//other:9/y").as_deref(),
            Some("http://other:9/y")
        );
        assert_eq!(
            resolve_location(base, "/ok").as_deref(),
            Some("http://127.0.0.1:8080/ok")
        );
        assert_eq!(
            resolve_location(base, "ready").as_deref(),
            Some("http://127.0.0.1:8080/app/ready")
        );
    }

    #[test]
    fn names_operations_as_go_does() {
        assert_eq!(go_operation("GET"), "Get");
        assert_eq!(go_operation("post"), "Post");
    }
}
