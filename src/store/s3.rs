//! Blobs in S3 (or an S3-compatible server): conditional writes with
//! `If-None-Match: *` and `If-Match`, credentials and region from the
//! standard AWS chain, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3` honoured
//! with path-style addressing. Throttling, 5xx and dropped connections are
//! retried by the SDK with backoff and jitter; every HTTP attempt is counted
//! so tests and benchmarks can check what one evaluation costs.

use super::blobs::{Blob, Blobs, Written};
use super::StoreError;
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Blobs under `s3://bucket/prefix`.
#[derive(Debug, Clone)]
pub struct S3Blobs {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    requests: Arc<AtomicU64>,
}

/// Counts HTTP attempts, retries included.
#[derive(Debug)]
struct CountRequests(Arc<AtomicU64>);

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl S3Blobs {
    /// Connects to `s3://bucket/prefix` (given without the scheme).
    pub async fn connect(
        bucket_and_prefix: &str,
        env: &std::collections::BTreeMap<String, String>,
    ) -> Result<S3Blobs, StoreError> {
        let (bucket, prefix) = bucket_and_prefix
            .split_once('/')
            .unwrap_or((bucket_and_prefix, ""));
        if bucket.is_empty() {
            return Err(StoreError::BadLocation {
                location: format!("s3://{bucket_and_prefix}"),
                hint: "write it as `s3://bucket/prefix`".into(),
            });
        }
        let (sdk, custom_endpoint) = crate::aws::sdk_config(env, "S3").await;
        let requests = Arc::new(AtomicU64::new(0));
        // S3-compatible servers rarely resolve bucket subdomains.
        let config = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(custom_endpoint)
            .interceptor(CountRequests(requests.clone()))
            .build();
        Ok(S3Blobs {
            client: aws_sdk_s3::Client::from_conf(config),
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            requests,
        })
    }

    /// HTTP requests made so far, retries included.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    fn error<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
        &self,
        action: &'static str,
        key: &str,
        e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> StoreError {
        let location = format!("s3://{}/{}", self.bucket, self.key(key));
        let Some(status) = e.raw_response().map(|r| r.status().as_u16()) else {
            // No answer (a refused connection, a timeout): the cause chain
            // says why.
            return StoreError::S3 {
                action,
                location,
                detail: String::new(),
                source: Some(Box::new(e)),
            };
        };
        let mut detail = format!("HTTP {status}");
        if let Some(code) = e.code() {
            detail.push(' ');
            detail.push_str(code);
        }
        if let Some(message) = e.message() {
            detail.push_str(": ");
            detail.push_str(message);
        }
        StoreError::S3 {
            action,
            location,
            detail,
            source: None,
        }
    }
}

fn status<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

impl Blobs for S3Blobs {
    fn location(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, StoreError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(key))
            .send()
            .await
        {
            Ok(out) => out,
            // A missing key is no record yet; a missing bucket is a mistake.
            Err(e) if status(&e) == Some(404) && e.code() != Some("NoSuchBucket") => {
                return Ok(None)
            }
            Err(e) => return Err(self.error("read", key, e)),
        };
        let etag = out.e_tag().unwrap_or_default().to_owned();
        let bytes = out.body.collect().await.map_err(|e| StoreError::S3 {
            action: "read",
            location: format!("s3://{}/{}", self.bucket, self.key(key)),
            detail: String::new(),
            source: Some(Box::new(e)),
        })?;
        Ok(Some(Blob {
            bytes: bytes.into_bytes().to_vec(),
            etag,
        }))
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        if_match: Option<&str>,
    ) -> Result<Written, StoreError> {
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key))
            .content_type(if key.ends_with(".json") {
                "application/json"
            } else {
                "application/octet-stream"
            })
            .body(ByteStream::from(bytes));
        let req = match if_match {
            None => req.if_none_match("*"),
            Some(etag) => req.if_match(etag),
        };
        match req.send().await {
            Ok(_) => Ok(Written::Yes),
            // 412: the condition failed; 409: a concurrent conditional write
            // to the same key is in progress. Either way, someone else won.
            Err(e) if matches!(status(&e), Some(412 | 409)) => Ok(Written::Conflict),
            Err(e) => Err(self.error("write", key, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let full = self.key(prefix);
        let strip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error("list", prefix, e))?;
            out.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .map(|k| k[strip..].to_owned()),
            );
        }
        out.sort();
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.key(key))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.error("remove", key, e))
    }
}
