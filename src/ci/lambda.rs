//! The Lambda Runtime API, as a custom runtime (`provided.al2023`) speaks
//! it: `GET /2018-06-01/runtime/invocation/next` waits for an event, and
//! `POST …/invocation/<request-id>/response` or `…/error` answers it. The
//! API lives at `AWS_LAMBDA_RUNTIME_API` (`127.0.0.1:9001`), over plain
//! HTTP, inside the function's sandbox.

use http_body_util::BodyExt;
use std::collections::BTreeMap;
use std::time::Duration;

/// The most of an event read: Lambda's own limit for a synchronous
/// invocation's payload is 6 MB.
const MAX_EVENT: usize = 6 << 20;

/// How long an answer to the runtime may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the runtime API could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("`AWS_LAMBDA_RUNTIME_API` is not set: `qod codepipeline lambda-runtime` is a Lambda function's custom runtime (its `bootstrap`); outside Lambda, run `qod codepipeline lambda-event`")]
    NotInLambda,
    #[error("the Lambda runtime API at `{api}` failed: {detail}")]
    Api { api: String, detail: String },
}

/// One invocation: its request id and event.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub event: String,
}

/// A client of the runtime API.
pub struct Runtime {
    api: String,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
}

impl Runtime {
    /// The runtime API of this function's sandbox.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Runtime, RuntimeError> {
        let api = env
            .get("AWS_LAMBDA_RUNTIME_API")
            .filter(|a| !a.trim().is_empty())
            .ok_or(RuntimeError::NotInLambda)?
            .trim()
            .to_owned();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        Ok(Runtime { api, client })
    }

    fn fail(&self, detail: impl Into<String>) -> RuntimeError {
        RuntimeError::Api {
            api: self.api.clone(),
            detail: detail.into(),
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
        timeout: Option<Duration>,
    ) -> Result<(u16, hyper::HeaderMap, bytes::Bytes), RuntimeError> {
        let url = format!("http://{}/2018-06-01/runtime/{path}", self.api);
        let mut req = hyper::Request::builder().method(method).uri(&url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .map_err(|e| self.fail(format!("{method} {url}: {e}")))?;
        let call = self.client.request(req);
        let res = match timeout {
            Some(t) => tokio::time::timeout(t, call)
                .await
                .map_err(|_| self.fail(format!("{method} {url}: no answer within {t:?}")))?,
            None => call.await,
        }
        .map_err(|e| self.fail(format!("{method} {url}: {}", crate::diag::error_chain(&e))))?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = http_body_util::Limited::new(res.into_body(), MAX_EVENT)
            .collect()
            .await
            .map_err(|e| self.fail(format!("{method} {url}: {e}")))?
            .to_bytes();
        Ok((status, headers, body))
    }

    /// The next event: waits as long as Lambda keeps the function frozen.
    pub async fn next(&self) -> Result<Invocation, RuntimeError> {
        let (status, headers, body) = self
            .send("GET", "invocation/next", Vec::new(), &[], None)
            .await?;
        if status != 200 {
            return Err(self.fail(format!("`invocation/next` answered HTTP {status}")));
        }
        let request_id = headers
            .get("lambda-runtime-aws-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| crate::ids::is_key_name(v))
            .ok_or_else(|| self.fail("`invocation/next` gave no `Lambda-Runtime-Aws-Request-Id`"))?
            .to_owned();
        Ok(Invocation {
            request_id,
            event: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// Answers invocation `id` with `body` (JSON).
    pub async fn respond(&self, id: &str, body: Vec<u8>) -> Result<(), RuntimeError> {
        let path = format!("invocation/{id}/response");
        let (status, _, _) = self
            .send("POST", &path, body, &[], Some(ANSWER_TIMEOUT))
            .await?;
        match status {
            202 | 200 => Ok(()),
            s => Err(self.fail(format!("`{path}` answered HTTP {s}"))),
        }
    }

    /// Answers invocation `id` with an error of `kind` saying `message`.
    pub async fn error(&self, id: &str, kind: &str, message: &str) -> Result<(), RuntimeError> {
        let path = format!("invocation/{id}/error");
        let body = serde_json::json!({ "errorType": kind, "errorMessage": message }).to_string();
        let (status, _, _) = self
            .send(
                "POST",
                &path,
                body.into_bytes(),
                &[("lambda-runtime-function-error-type", "Unhandled")],
                Some(ANSWER_TIMEOUT),
            )
            .await?;
        match status {
            202 | 200 => Ok(()),
            s => Err(self.fail(format!("`{path}` answered HTTP {s}"))),
        }
    }
}
